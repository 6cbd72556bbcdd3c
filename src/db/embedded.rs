//! An embedded PostgreSQL cluster, run from the PostgreSQL server binaries
//! installed on the machine (`initdb`, `pg_ctl`, `postgres`).
//!
//! [`EmbeddedCluster::start`] initialises a cluster in a data directory on
//! first use and starts it; later calls reuse the data. The server listens
//! only on 127.0.0.1, on a free port chosen at each start, and authenticates
//! the superuser `fingertip` with a random password (scram-sha-256) that is
//! generated at `initdb` time and kept in `<data_dir>/pg-password` (mode 0600).
//!
//! Running as root: PostgreSQL refuses to run as root, so when the effective
//! uid is 0 every server program runs as the unprivileged system user
//! `postgres` (created by the distribution's `postgresql` package), and the
//! data directory belongs to that user. All parent directories of the data
//! directory must then be traversable by `postgres`; we never chmod them and
//! fail with [`EmbeddedError::NotTraversable`] instead.
//!
//! A server that is already running on the data directory (e.g. left behind
//! by a crashed or still-running earlier process) is reused: see
//! [`EmbeddedCluster::start`]. Dropping an [`EmbeddedCluster`] does not stop
//! the server; call [`EmbeddedCluster::stop`].
//!
//! Concurrent `start` calls on one data directory, from any number of
//! processes, are serialised by an exclusive lock on `<parent>/.<name>.lock`.

use std::ffi::OsStr;
use std::fmt;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ring::rand::{SecureRandom, SystemRandom};
use tracing::{debug, info, warn};

/// The superuser that `initdb` creates and that clients connect as.
const SUPERUSER: &str = "fingertip";
/// File, inside the data directory, holding the superuser's password.
const PASSWORD_FILE: &str = "pg-password";
/// Server log, relative to the data directory.
const LOG_DIR: &str = "log";
const LOG_FILE: &str = "server.log";
/// Where Debian/Ubuntu install versioned server binaries.
const VERSIONED_ROOT: &str = "/usr/lib/postgresql";
/// How long to wait for the server to accept connections.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// `pg_ctl start -t`: start-up may include crash recovery.
const START_WAIT_SECS: u64 = 120;
/// `pg_ctl stop -t`: a fast shutdown waits for a checkpoint already in
/// progress, which can take minutes on a cluster holding many databases
/// (e.g. one per test) on a slow disk.
const STOP_WAIT_SECS: u64 = 300;
/// Upper bound for `initdb` (and slack on top of the pg_ctl waits).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);
/// Attempts at starting when the chosen port was taken in the meantime, or
/// processes of a killed postmaster still hold its shared memory.
const START_ATTEMPTS: u32 = 5;
/// Longest Unix socket path (sun_path is 108 bytes including the NUL).
const MAX_SOCKET_PATH: usize = 107;

#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    #[error(
        "PostgreSQL server binaries (initdb, pg_ctl) not found on PATH or under /usr/lib/postgresql/*/bin; install them, e.g. `apt-get install postgresql`, or set DATABASE_URL (searched: {searched})"
    )]
    NoBinaries { searched: String },

    #[error(
        "running as root, but PostgreSQL refuses to run as root and there is no `postgres` system user to run it as; install the postgresql package (which creates that user), run as an unprivileged user, or set DATABASE_URL"
    )]
    NoPostgresUser,

    #[error(
        "directory {dir} is not traversable by the `postgres` user (uid {uid}), which must run the server because we are root; put the data directory elsewhere (e.g. under /tmp or /var/lib) or grant search permission yourself (e.g. `chmod o+x {dir}`)"
    )]
    NotTraversable { dir: PathBuf, uid: u32 },

    #[error("data directory {path}: {reason}")]
    BadDataDir { path: PathBuf, reason: String },

    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },

    #[error("`{cmd}` failed ({status}): {stderr}")]
    Command {
        cmd: String,
        status: String,
        stderr: String,
    },

    #[error("timed out after {secs} s waiting for {what}")]
    Timeout { what: String, secs: u64 },

    #[error(
        "a postmaster (pid {pid}) is running on {data_dir} but does not accept connections on 127.0.0.1:{port}: {last_error}"
    )]
    Unresponsive {
        pid: i32,
        port: u16,
        data_dir: PathBuf,
        last_error: String,
    },

    #[error("could not get random bytes from the system")]
    Random,
}

fn io_err(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> EmbeddedError {
    let context = context.into();
    move |source| EmbeddedError::Io { context, source }
}

/// The unprivileged account the server programs run as when we are root.
#[derive(Debug, Clone, Copy)]
struct RunAs {
    uid: u32,
    gid: u32,
}

/// A running PostgreSQL server on a local data directory.
pub struct EmbeddedCluster {
    data_dir: PathBuf,
    port: u16,
    password: String,
    bin_dir: PathBuf,
    run_as: Option<RunAs>,
    already_running: bool,
}

impl fmt::Debug for EmbeddedCluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmbeddedCluster")
            .field("data_dir", &self.data_dir)
            .field("port", &self.port)
            .field("password", &"<redacted>")
            .field("bin_dir", &self.bin_dir)
            .field("run_as", &self.run_as)
            .field("already_running", &self.already_running)
            .finish()
    }
}

impl EmbeddedCluster {
    /// Starts (initialising on first use) a cluster whose data lives in
    /// `data_dir` (e.g. `./var/pg`). Returns once the server accepts
    /// connections.
    ///
    /// - No `PG_VERSION` in `data_dir`: the directory must be missing or
    ///   empty; it is created (mode 0700) and `initdb` runs with a fresh
    ///   random password.
    /// - A `postmaster.pid` whose process is alive (a server left running by
    ///   an earlier or concurrent process): that server is reused on the port
    ///   recorded in the pid file (line 4) instead of failing, and
    ///   [`was_already_running`](Self::was_already_running) returns true.
    ///   If the pid was recycled by an unrelated process (its name is not
    ///   `postgres`) the stale pid file is removed and the server started.
    ///   A pid file whose process is dead is left to `postgres`, which
    ///   replaces stale lock files itself.
    /// - Otherwise `pg_ctl start` runs on a free port.
    pub async fn start(data_dir: &Path) -> Result<EmbeddedCluster, EmbeddedError> {
        let data_dir = resolve_data_dir(data_dir)?;
        let parent = parent_of(&data_dir)?;
        let _lock = lock_exclusive(&lock_path(&data_dir)?).await?;

        let run_as = run_as_user()?;
        if let Some(run_as) = run_as {
            check_traversable(&parent, run_as)?;
        }

        let pg_version_file = data_dir.join("PG_VERSION");
        let initialised = pg_version_file.exists();
        let data_version = if initialised {
            std::fs::read_to_string(&pg_version_file)
                .ok()
                .map(|v| v.trim().to_owned())
        } else {
            None
        };
        let bin_dir = find_bin_dir(data_version.as_deref())?;
        debug!(bin_dir = %bin_dir.display(), "using PostgreSQL binaries");

        prepare_data_dir(&data_dir, run_as, initialised)?;

        let mut cluster = EmbeddedCluster {
            data_dir,
            port: 0,
            password: String::new(),
            bin_dir,
            run_as,
            already_running: false,
        };

        if initialised {
            cluster.password = cluster.read_password()?;
        } else {
            cluster.password = cluster.initdb(&parent).await?;
        }
        cluster.ensure_log_dir()?;

        if let Some((pid, port)) = cluster.live_postmaster()? {
            info!(
                data_dir = %cluster.data_dir.display(),
                pid,
                port,
                "PostgreSQL is already running on this data directory; reusing it"
            );
            cluster.port = port;
            cluster.already_running = true;
            match cluster.wait_ready(Some(pid)).await {
                Ok(()) => return Ok(cluster),
                // It was on its way out (e.g. killed, or shutting down):
                // start a new one.
                Err(NotReady::Died) => {
                    info!(pid, "that postmaster exited; starting PostgreSQL");
                    cluster.already_running = false;
                }
                Err(NotReady::TimedOut(last_error)) => {
                    return Err(EmbeddedError::Unresponsive {
                        pid,
                        port,
                        data_dir: cluster.data_dir.clone(),
                        last_error,
                    });
                }
            }
        }

        cluster.pg_ctl_start().await?;
        if let Err(not_ready) = cluster.wait_ready(None).await {
            let last_error = match not_ready {
                NotReady::TimedOut(e) => e,
                NotReady::Died => "server exited".to_owned(),
            };
            warn!(error = %last_error, "PostgreSQL started but does not accept connections");
            return Err(EmbeddedError::Timeout {
                what: format!(
                    "PostgreSQL on 127.0.0.1:{} to accept connections (last error: {last_error}; see {})",
                    cluster.port,
                    cluster.log_file().display()
                ),
                secs: READY_TIMEOUT.as_secs(),
            });
        }
        info!(
            data_dir = %cluster.data_dir.display(),
            port = cluster.port,
            "PostgreSQL started"
        );
        Ok(cluster)
    }

    /// tokio-postgres key=value connection string for database `dbname`.
    pub fn connection_string(&self, dbname: &str) -> String {
        format!(
            "host=127.0.0.1 port={} user={} password={} dbname={}",
            self.port,
            SUPERUSER,
            self.password,
            quote_conninfo_value(dbname)
        )
    }

    /// `postgres://` URL form of [`connection_string`](Self::connection_string).
    pub fn url(&self, dbname: &str) -> String {
        format!(
            "postgres://{}:{}@127.0.0.1:{}/{}",
            SUPERUSER,
            self.password,
            self.port,
            percent_encode(dbname)
        )
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Directory holding `initdb`, `pg_ctl`, `postgres` (and, on Debian,
    /// `pgbench`, `psql`, ...) of one PostgreSQL version.
    pub fn bin_dir(&self) -> &Path {
        &self.bin_dir
    }

    /// Absolute path of the data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The superuser name used in connection strings.
    pub fn user(&self) -> &str {
        SUPERUSER
    }

    /// True when `start` found a server already running on the data
    /// directory and reused it rather than starting one.
    pub fn was_already_running(&self) -> bool {
        self.already_running
    }

    /// Fast shutdown (`pg_ctl stop -m fast`), waiting for it to complete.
    /// Succeeds if the server is not running.
    pub async fn stop(&self) -> Result<(), EmbeddedError> {
        let mut cmd = self.command("pg_ctl");
        cmd.arg("stop")
            .arg("-D")
            .arg(&self.data_dir)
            .args(["-m", "fast", "-w", "-t"])
            .arg(STOP_WAIT_SECS.to_string());
        let limit = Duration::from_secs(STOP_WAIT_SECS) + COMMAND_TIMEOUT;
        match run(cmd, "pg_ctl stop", limit).await {
            Ok(_) => {
                info!(data_dir = %self.data_dir.display(), "PostgreSQL stopped");
                Ok(())
            }
            Err(EmbeddedError::Command { stderr, .. }) if stderr.contains("Is server running?") => {
                debug!(data_dir = %self.data_dir.display(), "PostgreSQL was not running");
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    fn log_file(&self) -> PathBuf {
        self.data_dir.join(LOG_DIR).join(LOG_FILE)
    }

    fn password_file(&self) -> PathBuf {
        self.data_dir.join(PASSWORD_FILE)
    }

    /// A command for one of the server programs, run as the server's user
    /// from inside the data directory, with client-side PG* variables that
    /// could redirect it removed.
    fn command(&self, program: &str) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(self.bin_dir.join(program));
        if let Some(run_as) = self.run_as {
            cmd.uid(run_as.uid).gid(run_as.gid);
        }
        cmd.current_dir(&self.data_dir)
            .stdin(std::process::Stdio::null())
            .env_remove("PGDATA")
            .env_remove("PGPORT")
            .env_remove("PGHOST")
            .env_remove("PGUSER")
            .env_remove("PGOPTIONS");
        cmd
    }

    fn read_password(&self) -> Result<String, EmbeddedError> {
        let path = self.password_file();
        match std::fs::read_to_string(&path) {
            Ok(s) if !s.trim().is_empty() => Ok(s.trim().to_owned()),
            Ok(_) => Err(EmbeddedError::BadDataDir {
                path: self.data_dir.clone(),
                reason: format!(
                    "password file {} is empty; delete the data directory to re-initialise",
                    path.display()
                ),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(EmbeddedError::BadDataDir {
                path: self.data_dir.clone(),
                reason: format!(
                    "is a PostgreSQL data directory but has no password file {} (not created by fingertip, or initialisation was interrupted); delete it to re-initialise",
                    path.display()
                ),
            }),
            Err(e) => Err(io_err(format!("reading {}", path.display()))(e)),
        }
    }

    /// Runs `initdb`, returning the new superuser password (also written to
    /// the password file).
    async fn initdb(&self, parent: &Path) -> Result<String, EmbeddedError> {
        info!(data_dir = %self.data_dir.display(), "initialising PostgreSQL cluster");
        let password = random_hex(32)?;

        // initdb needs an empty data directory, so the password is handed
        // over through a temporary file beside it.
        let name = self
            .data_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let pwfile = parent.join(format!(".{name}.pwfile-{}", random_hex(8)?));
        write_private_file(&pwfile, &password, self.run_as)?;
        let result = self.run_initdb(&pwfile).await;
        if let Err(e) = std::fs::remove_file(&pwfile) {
            warn!(path = %pwfile.display(), error = %e, "could not remove temporary password file");
        }
        result?;

        write_private_file(&self.password_file(), &password, self.run_as)?;
        info!(data_dir = %self.data_dir.display(), "PostgreSQL cluster initialised");
        Ok(password)
    }

    async fn run_initdb(&self, pwfile: &Path) -> Result<(), EmbeddedError> {
        match self.run_initdb_with_locale(pwfile, "C.UTF-8").await {
            // initdb empties the directory it failed in, so retrying with
            // the always-available C locale is safe.
            Err(EmbeddedError::Command { stderr, .. })
                if stderr.to_lowercase().contains("locale") =>
            {
                warn!("initdb rejected --locale=C.UTF-8; retrying with --locale=C");
                self.run_initdb_with_locale(pwfile, "C").await
            }
            other => other,
        }
    }

    async fn run_initdb_with_locale(
        &self,
        pwfile: &Path,
        locale: &str,
    ) -> Result<(), EmbeddedError> {
        let mut cmd = self.command("initdb");
        cmd.arg("-D")
            .arg(&self.data_dir)
            .arg(format!("--username={SUPERUSER}"))
            .arg("--auth=scram-sha-256")
            .arg(format!("--pwfile={}", pwfile.display()))
            .arg("--encoding=UTF8")
            .arg(format!("--locale={locale}"));
        run(cmd, "initdb", COMMAND_TIMEOUT).await.map(|_| ())
    }

    fn ensure_log_dir(&self) -> Result<(), EmbeddedError> {
        let dir = self.data_dir.join(LOG_DIR);
        if !dir.is_dir() {
            std::fs::DirBuilder::new()
                .mode(0o700)
                .create(&dir)
                .map_err(io_err(format!("creating {}", dir.display())))?;
            chown_to(&dir, self.run_as)?;
        }
        Ok(())
    }

    /// `Some((pid, port))` when a live postmaster owns the data directory.
    fn live_postmaster(&self) -> Result<Option<(i32, u16)>, EmbeddedError> {
        let pid_file = self.data_dir.join("postmaster.pid");
        let text = match std::fs::read_to_string(&pid_file) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err(format!("reading {}", pid_file.display()))(e)),
        };
        let lines: Vec<&str> = text.lines().collect();
        let pid: i32 = match lines.first().and_then(|l| l.trim().parse().ok()) {
            Some(p) if p > 0 => p,
            _ => return Ok(None),
        };
        let remove_stale = || {
            std::fs::remove_file(&pid_file)
                .map_err(io_err(format!("removing stale {}", pid_file.display())))
        };
        match pid_state(pid) {
            PidState::Gone => {
                debug!(
                    pid,
                    "stale postmaster.pid (process gone); postgres will replace it"
                );
                return Ok(None);
            }
            // postgres itself would take a zombie for a live postmaster and
            // refuse to start. Orphaned backends of the dead postmaster, if
            // any, are still detected by postgres through its shared memory.
            PidState::Zombie => {
                warn!(
                    pid,
                    "postmaster.pid names a dead (zombie) postmaster; removing the stale pid file"
                );
                remove_stale()?;
                return Ok(None);
            }
            PidState::Running => {}
        }
        if let Ok(comm) = std::fs::read_to_string(format!("/proc/{pid}/comm")) {
            let comm = comm.trim();
            if comm != "postgres" && comm != "postmaster" {
                warn!(
                    pid,
                    process = comm,
                    "postmaster.pid names a live process that is not PostgreSQL (pid reused after a crash); removing the stale pid file"
                );
                remove_stale()?;
                return Ok(None);
            }
        }
        match lines.get(3).and_then(|l| l.trim().parse::<u16>().ok()) {
            Some(port) if port > 0 => Ok(Some((pid, port))),
            _ => Err(EmbeddedError::BadDataDir {
                path: self.data_dir.clone(),
                reason: format!(
                    "a postmaster (pid {pid}) is running but {} records no port; stop it (pg_ctl stop -D ...) and retry",
                    pid_file.display()
                ),
            }),
        }
    }

    /// `pg_ctl start` on a free port; retries with another port if the one
    /// picked was taken between choosing it and the server binding it.
    async fn pg_ctl_start(&mut self) -> Result<(), EmbeddedError> {
        let log_file = self.log_file();
        let socket_dir = socket_dir_option(&self.data_dir);
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.port = free_port()?;
            let log_start = std::fs::metadata(&log_file).map(|m| m.len()).unwrap_or(0);
            // pg_ctl hands -o to the shell: only digits and a shell-safe
            // path (see socket_dir_option) go in here.
            let options = format!(
                "-p {} -c listen_addresses=127.0.0.1 -c max_connections=200 -c unix_socket_directories={socket_dir}",
                self.port
            );
            let mut cmd = self.command("pg_ctl");
            cmd.arg("start")
                .arg("-D")
                .arg(&self.data_dir)
                .arg("-l")
                .arg(&log_file)
                .args(["-w", "-t"])
                .arg(START_WAIT_SECS.to_string())
                .arg("-o")
                .arg(options);
            debug!(port = self.port, attempt, "starting PostgreSQL");
            let limit = Duration::from_secs(START_WAIT_SECS) + COMMAND_TIMEOUT;
            match run(cmd, "pg_ctl start", limit).await {
                Ok(_) => return Ok(()),
                Err(EmbeddedError::Command {
                    cmd,
                    status,
                    stderr,
                }) => {
                    let log = read_from(&log_file, log_start);
                    let port_taken =
                        log.contains("could not bind") || log.contains("Address already in use");
                    if port_taken && attempt < START_ATTEMPTS {
                        warn!(port = self.port, "port was taken; retrying with another");
                        continue;
                    }
                    // Backends of a postmaster that was just killed exit
                    // within moments; until then postgres refuses to start.
                    let orphans = log.contains("pre-existing shared memory block");
                    if orphans && attempt < START_ATTEMPTS {
                        warn!("processes of a previous postmaster are still exiting; retrying");
                        tokio::time::sleep(Duration::from_secs(2)).await;
                        continue;
                    }
                    let tail: Vec<&str> = log.lines().rev().take(20).collect();
                    let tail: Vec<&str> = tail.into_iter().rev().collect();
                    return Err(EmbeddedError::Command {
                        cmd,
                        status,
                        stderr: format!(
                            "{}\n--- {} ---\n{}",
                            stderr.trim(),
                            log_file.display(),
                            tail.join("\n")
                        ),
                    });
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Waits until a connection to database `postgres` succeeds. With
    /// `watch_pid`, gives up early once that process has exited.
    async fn wait_ready(&self, watch_pid: Option<i32>) -> Result<(), NotReady> {
        let conn = self.connection_string("postgres");
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let attempt = tokio::time::timeout(Duration::from_secs(5), async {
                let (client, connection) =
                    tokio_postgres::connect(&conn, tokio_postgres::NoTls).await?;
                let task = tokio::spawn(connection);
                let result = client.simple_query("select 1").await.map(|_| ());
                drop(client);
                let _ = task.await;
                result
            })
            .await;
            let last_error = match attempt {
                Ok(Ok(())) => return Ok(()),
                Ok(Err(e)) => error_chain(&e),
                Err(_) => "connection attempt timed out".to_owned(),
            };
            if watch_pid.is_some_and(|pid| !pid_alive(pid)) {
                return Err(NotReady::Died);
            }
            if Instant::now() >= deadline {
                return Err(NotReady::TimedOut(last_error));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Why [`EmbeddedCluster::wait_ready`] failed.
enum NotReady {
    /// The watched postmaster exited.
    Died,
    /// No connection within [`READY_TIMEOUT`]; the last connection error.
    TimedOut(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PidState {
    Gone,
    /// Dead but not yet reaped: a killed postmaster lingers like this until
    /// its new parent (often a container's pid 1) reaps it.
    Zombie,
    Running,
}

fn pid_state(pid: i32) -> PidState {
    let exists = match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None) {
        Ok(()) => true,
        Err(nix::errno::Errno::EPERM) => true,
        Err(_) => false,
    };
    if !exists {
        return PidState::Gone;
    }
    // /proc/<pid>/stat: "pid (comm) state ..."; comm may contain ')'.
    let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let rest = stat.get(stat.rfind(')')? + 1..)?;
            rest.trim_start().chars().next()
        })
        .is_some_and(|state| matches!(state, 'Z' | 'X'));
    if zombie {
        PidState::Zombie
    } else {
        PidState::Running
    }
}

fn pid_alive(pid: i32) -> bool {
    pid_state(pid) == PidState::Running
}

/// An error with its chain of sources, e.g. "error connecting to server:
/// Connection refused (os error 111)".
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// Absolute data directory path with its parent created and canonicalised.
fn resolve_data_dir(data_dir: &Path) -> Result<PathBuf, EmbeddedError> {
    let abs = std::path::absolute(data_dir)
        .map_err(io_err(format!("resolving {}", data_dir.display())))?;
    let name = abs
        .file_name()
        .ok_or_else(|| EmbeddedError::BadDataDir {
            path: abs.clone(),
            reason: "must name a directory (not `/` or end in `..`)".to_owned(),
        })?
        .to_owned();
    let parent = parent_of(&abs)?;
    std::fs::create_dir_all(&parent).map_err(io_err(format!("creating {}", parent.display())))?;
    let parent = parent
        .canonicalize()
        .map_err(io_err(format!("resolving {}", parent.display())))?;
    Ok(parent.join(name))
}

fn parent_of(path: &Path) -> Result<PathBuf, EmbeddedError> {
    path.parent()
        .map(Path::to_path_buf)
        .ok_or_else(|| EmbeddedError::BadDataDir {
            path: path.to_path_buf(),
            reason: "has no parent directory".to_owned(),
        })
}

fn lock_path(data_dir: &Path) -> Result<PathBuf, EmbeddedError> {
    let parent = parent_of(data_dir)?;
    let name = data_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(parent.join(format!(".{name}.lock")))
}

/// Opens `path` and takes an exclusive `flock` on it (blocking in a
/// blocking-pool thread). The lock is released when the file is dropped.
async fn lock_exclusive(path: &Path) -> Result<std::fs::File, EmbeddedError> {
    let path = path.to_path_buf();
    let context = format!("locking {}", path.display());
    tokio::task::spawn_blocking(move || {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&path)?;
        file.lock()?;
        Ok::<_, std::io::Error>(file)
    })
    .await
    .map_err(|e| EmbeddedError::Io {
        context: context.clone(),
        source: std::io::Error::other(e),
    })?
    .map_err(io_err(context))
}

/// `Some(postgres user)` when running as root, `None` otherwise.
fn run_as_user() -> Result<Option<RunAs>, EmbeddedError> {
    if !nix::unistd::geteuid().is_root() {
        return Ok(None);
    }
    match nix::unistd::User::from_name("postgres") {
        Ok(Some(user)) if !user.uid.is_root() => Ok(Some(RunAs {
            uid: user.uid.as_raw(),
            gid: user.gid.as_raw(),
        })),
        Ok(_) => Err(EmbeddedError::NoPostgresUser),
        Err(e) => Err(EmbeddedError::Io {
            context: "looking up the `postgres` user".to_owned(),
            source: std::io::Error::from(e),
        }),
    }
}

/// Checks that `run_as` may search every directory from `/` down to `dir`,
/// using its uid and primary gid only (std drops supplementary groups when
/// root switches uid).
fn check_traversable(dir: &Path, run_as: RunAs) -> Result<(), EmbeddedError> {
    for ancestor in dir.ancestors() {
        let meta = std::fs::metadata(ancestor)
            .map_err(io_err(format!("inspecting {}", ancestor.display())))?;
        let mode = meta.mode();
        let ok = if meta.uid() == run_as.uid {
            mode & 0o100 != 0
        } else if meta.gid() == run_as.gid {
            mode & 0o010 != 0
        } else {
            mode & 0o001 != 0
        };
        if !ok {
            return Err(EmbeddedError::NotTraversable {
                dir: ancestor.to_path_buf(),
                uid: run_as.uid,
            });
        }
    }
    Ok(())
}

/// Creates the data directory (owner: server user, mode 0700) or checks an
/// existing one.
fn prepare_data_dir(
    data_dir: &Path,
    run_as: Option<RunAs>,
    initialised: bool,
) -> Result<(), EmbeddedError> {
    let bad = |reason: String| EmbeddedError::BadDataDir {
        path: data_dir.to_path_buf(),
        reason,
    };
    match std::fs::symlink_metadata(data_dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::DirBuilder::new()
                .mode(0o700)
                .create(data_dir)
                .map_err(io_err(format!("creating {}", data_dir.display())))?;
            // DirBuilder's mode is filtered by the umask.
            std::fs::set_permissions(data_dir, std::fs::Permissions::from_mode(0o700))
                .map_err(io_err(format!("chmod 0700 {}", data_dir.display())))?;
            chown_to(data_dir, run_as)
        }
        Err(e) => Err(io_err(format!("inspecting {}", data_dir.display()))(e)),
        Ok(meta) if !meta.is_dir() => Err(bad("exists and is not a directory".to_owned())),
        Ok(meta) => {
            let empty = std::fs::read_dir(data_dir)
                .map_err(io_err(format!("listing {}", data_dir.display())))?
                .next()
                .is_none();
            if !initialised && !empty {
                return Err(bad(
                    "exists, is not empty and is not a PostgreSQL data directory (no PG_VERSION); empty or remove it".to_owned(),
                ));
            }
            let expected_uid = match run_as {
                Some(r) => r.uid,
                None => nix::unistd::geteuid().as_raw(),
            };
            if meta.uid() != expected_uid {
                if empty {
                    chown_to(data_dir, run_as)?;
                } else {
                    return Err(bad(format!(
                        "is owned by uid {} but the server runs as uid {expected_uid}; chown -R it or remove it",
                        meta.uid()
                    )));
                }
            }
            if meta.mode() & 0o777 != 0o700 && meta.mode() & 0o777 != 0o750 {
                std::fs::set_permissions(data_dir, std::fs::Permissions::from_mode(0o700))
                    .map_err(io_err(format!("chmod 0700 {}", data_dir.display())))?;
            }
            Ok(())
        }
    }
}

fn chown_to(path: &Path, run_as: Option<RunAs>) -> Result<(), EmbeddedError> {
    if let Some(r) = run_as {
        std::os::unix::fs::chown(path, Some(r.uid), Some(r.gid))
            .map_err(io_err(format!("chown {}", path.display())))?;
    }
    Ok(())
}

/// Writes `contents` to a new file with mode 0600 owned by the server user.
fn write_private_file(
    path: &Path,
    contents: &str,
    run_as: Option<RunAs>,
) -> Result<(), EmbeddedError> {
    let context = format!("writing {}", path.display());
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(io_err(context.clone()))?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(io_err(context.clone()))?;
    file.write_all(contents.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(io_err(context))?;
    chown_to(path, run_as)
}

fn random_hex(bytes: usize) -> Result<String, EmbeddedError> {
    let mut buf = vec![0u8; bytes];
    SystemRandom::new()
        .fill(&mut buf)
        .map_err(|_| EmbeddedError::Random)?;
    Ok(hex::encode(buf))
}

fn free_port() -> Result<u16, EmbeddedError> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))
        .map_err(io_err("binding 127.0.0.1:0 to find a free port"))?;
    let port = listener
        .local_addr()
        .map_err(io_err("reading the free port"))?
        .port();
    Ok(port)
}

/// Value for `unix_socket_directories`: the data directory when its path is
/// shell-safe (pg_ctl passes -o through `sh`) and short enough for a socket
/// path, else `''` (no Unix socket; TCP on 127.0.0.1 only).
fn socket_dir_option(data_dir: &Path) -> String {
    let s = data_dir.to_string_lossy();
    let safe = s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/._-".contains(&b));
    if safe && s.len() + "/.s.PGSQL.65535".len() <= MAX_SOCKET_PATH {
        s.into_owned()
    } else {
        debug!(data_dir = %s, "data directory unsuitable for a Unix socket; TCP only");
        "''".to_owned()
    }
}

/// The part of `path` from byte `offset` on (lossy UTF-8; empty on error).
fn read_from(path: &Path, offset: u64) -> String {
    let mut buf = Vec::new();
    if let Ok(mut f) = std::fs::File::open(path) {
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        let offset = if offset > len { 0 } else { offset };
        if f.seek(SeekFrom::Start(offset)).is_ok() {
            let _ = f.read_to_end(&mut buf);
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}

/// Runs `cmd` to completion with output captured; non-zero exit becomes
/// [`EmbeddedError::Command`].
async fn run(
    mut cmd: tokio::process::Command,
    name: &str,
    limit: Duration,
) -> Result<String, EmbeddedError> {
    let shown = describe(&cmd);
    let output = tokio::time::timeout(limit, cmd.output())
        .await
        .map_err(|_| EmbeddedError::Timeout {
            what: name.to_owned(),
            secs: limit.as_secs(),
        })?
        .map_err(io_err(format!("running {shown}")))?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if output.status.success() {
        Ok(stdout)
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr);
        Err(EmbeddedError::Command {
            cmd: shown,
            status: output.status.to_string(),
            stderr: format!(
                "{}{}",
                stderr.trim(),
                if stderr.trim().is_empty() {
                    stdout.trim()
                } else {
                    ""
                }
            ),
        })
    }
}

fn describe(cmd: &tokio::process::Command) -> String {
    let std_cmd = cmd.as_std();
    std::iter::once(std_cmd.get_program())
        .chain(std_cmd.get_args())
        .map(OsStr::to_string_lossy)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Quotes a libpq key=value value when needed.
fn quote_conninfo_value(v: &str) -> String {
    if !v.is_empty()
        && !v
            .chars()
            .any(|c| c.is_whitespace() || c == '\'' || c == '\\')
    {
        return v.to_owned();
    }
    let mut out = String::with_capacity(v.len() + 2);
    out.push('\'');
    for c in v.chars() {
        if c == '\'' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('\'');
    out
}

fn percent_encode(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Finds a directory holding `initdb`, `pg_ctl` and `postgres` of one
/// version. Order: `/usr/lib/postgresql/<data dir's version>/bin`, then the
/// other `/usr/lib/postgresql/<ver>/bin` from the highest version down, then
/// PATH entries (each resolved through symlinks first, since e.g.
/// /usr/local/bin/initdb may be a link into a versioned directory).
fn find_bin_dir(data_version: Option<&str>) -> Result<PathBuf, EmbeddedError> {
    let mut candidates: Vec<PathBuf> = Vec::new();

    let mut versions: Vec<(Vec<u64>, String)> = std::fs::read_dir(VERSIONED_ROOT)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let key: Option<Vec<u64>> = name.split('.').map(|p| p.parse().ok()).collect();
            key.map(|k| (k, name))
        })
        .collect();
    versions.sort_by(|a, b| b.0.cmp(&a.0));
    if let Some(v) = data_version
        && let Some(pos) = versions.iter().position(|(_, name)| name == v)
    {
        let preferred = versions.remove(pos);
        versions.insert(0, preferred);
    }
    candidates.extend(
        versions
            .into_iter()
            .map(|(_, name)| Path::new(VERSIONED_ROOT).join(name).join("bin")),
    );

    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let initdb = dir.join("initdb");
            if let Ok(real) = initdb.canonicalize()
                && let Some(real_dir) = real.parent()
            {
                candidates.push(real_dir.to_path_buf());
            }
            candidates.push(dir);
        }
    }

    let found = candidates.iter().find(|dir| {
        ["initdb", "pg_ctl", "postgres"]
            .iter()
            .all(|p| is_executable(&dir.join(p)))
    });
    match found {
        Some(dir) => Ok(dir.clone()),
        None => {
            let mut searched: Vec<String> = Vec::new();
            for c in &candidates {
                let s = c.display().to_string();
                if !searched.contains(&s) {
                    searched.push(s);
                }
            }
            if searched.is_empty() {
                searched.push(format!("{VERSIONED_ROOT}/*/bin (none), PATH (unset)"));
            }
            Err(EmbeddedError::NoBinaries {
                searched: searched.join(", "),
            })
        }
    }
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conninfo_quoting() {
        assert_eq!(quote_conninfo_value("test_abc"), "test_abc");
        assert_eq!(quote_conninfo_value("a b"), "'a b'");
        assert_eq!(quote_conninfo_value("it's"), "'it\\'s'");
        assert_eq!(quote_conninfo_value(""), "''");
    }

    #[test]
    fn url_encoding() {
        assert_eq!(percent_encode("test_abc"), "test_abc");
        assert_eq!(percent_encode("a b/c"), "a%20b%2Fc");
    }

    #[test]
    fn socket_dir_falls_back_for_unsafe_or_long_paths() {
        assert_eq!(socket_dir_option(Path::new("/tmp/x/pg")), "/tmp/x/pg");
        assert_eq!(socket_dir_option(Path::new("/tmp/a b/pg")), "''");
        let long = format!("/tmp/{}", "x".repeat(100));
        assert_eq!(socket_dir_option(Path::new(&long)), "''");
    }

    /// Starts a cluster in a temporary directory, queries it, stops it,
    /// starts it again (reusing the data) and stops it. Needs PostgreSQL
    /// server binaries; run with `cargo test -- --ignored embedded`.
    #[tokio::test]
    #[ignore = "needs PostgreSQL server binaries; slow"]
    async fn start_query_stop_restart() -> Result<(), Box<dyn std::error::Error>> {
        let tmp = tempfile::tempdir()?;
        // tempdir is 0700; the `postgres` user must be able to traverse it
        // when we are root.
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755))?;
        let data = tmp.path().join("pg");

        let cluster = EmbeddedCluster::start(&data).await?;
        let (client, conn) = tokio_postgres::connect(
            &cluster.connection_string("postgres"),
            tokio_postgres::NoTls,
        )
        .await?;
        tokio::spawn(conn);
        let one: i32 = client.query_one("select 1", &[]).await?.get(0);
        assert_eq!(one, 1);
        drop(client);

        // A second start while running reuses the live server.
        let again = EmbeddedCluster::start(&data).await?;
        assert!(again.was_already_running());
        assert_eq!(again.port(), cluster.port());
        cluster.stop().await?;

        // Restart after a stop reuses the data and password.
        let restarted = EmbeddedCluster::start(&data).await?;
        assert!(!restarted.was_already_running());
        let (client, conn) =
            tokio_postgres::connect(&restarted.url("postgres"), tokio_postgres::NoTls).await?;
        tokio::spawn(conn);
        let one: i32 = client.query_one("select 1", &[]).await?.get(0);
        assert_eq!(one, 1);
        drop(client);
        restarted.stop().await?;
        // Stopping a stopped server is fine.
        restarted.stop().await?;
        Ok(())
    }
}
