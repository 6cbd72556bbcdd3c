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

mod binaries;
mod conninfo;
mod data_dir;
mod init;
mod launch;
mod postmaster;
mod privileges;
mod process;
#[cfg(test)]
mod tests;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tracing::{debug, info, warn};

use binaries::find_bin_dir;
use conninfo::{percent_encode, quote_conninfo_value};
use data_dir::{lock_exclusive, lock_path, parent_of, prepare_data_dir, resolve_data_dir};
use launch::{NotReady, READY_TIMEOUT};
use privileges::{RunAs, check_traversable, run_as_user};
use process::{COMMAND_TIMEOUT, run};

/// The superuser that `initdb` creates and that clients connect as.
const SUPERUSER: &str = "fingertip";

/// Server log, relative to the data directory.
const LOG_DIR: &str = "log";
const LOG_FILE: &str = "server.log";

/// `pg_ctl stop -t`: a fast shutdown waits for a checkpoint already in
/// progress, which can take minutes on a cluster holding many databases
/// (e.g. one per test) on a slow disk.
const STOP_WAIT_SECS: u64 = 300;

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

    pub(super) fn log_file(&self) -> PathBuf {
        self.data_dir.join(LOG_DIR).join(LOG_FILE)
    }
}
