//! Starting the server with `pg_ctl` on a free port and waiting until it accepts
//! connections.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::time::{Duration, Instant};

use tracing::{debug, warn};

use super::postmaster::pid_alive;
use super::process::{COMMAND_TIMEOUT, run};
use super::{EmbeddedCluster, EmbeddedError, io_err};

/// How long to wait for the server to accept connections.
pub(super) const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// `pg_ctl start -t`: start-up may include crash recovery.
const START_WAIT_SECS: u64 = 120;

/// Attempts at starting when the chosen port was taken in the meantime, or
/// processes of a killed postmaster still hold its shared memory.
const START_ATTEMPTS: u32 = 5;

/// Longest Unix socket path (sun_path is 108 bytes including the NUL).
const MAX_SOCKET_PATH: usize = 107;

impl EmbeddedCluster {
    /// `pg_ctl start` on a free port; retries with another port if the one
    /// picked was taken between choosing it and the server binding it.
    pub(super) async fn pg_ctl_start(&mut self) -> Result<(), EmbeddedError> {
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
    pub(super) async fn wait_ready(&self, watch_pid: Option<i32>) -> Result<(), NotReady> {
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
pub(super) enum NotReady {
    /// The watched postmaster exited.
    Died,
    /// No connection within [`READY_TIMEOUT`]; the last connection error.
    TimedOut(String),
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
pub(super) fn socket_dir_option(data_dir: &Path) -> String {
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
