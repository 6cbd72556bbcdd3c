//! Running the server programs: as the server's user, in a clean environment, with a
//! time limit and their output captured.

use std::ffi::OsStr;
use std::time::Duration;

use super::{EmbeddedCluster, EmbeddedError, io_err};

/// Upper bound for `initdb` (and slack on top of the pg_ctl waits).
pub(super) const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);

impl EmbeddedCluster {
    /// A command for one of the server programs, run as the server's user
    /// from inside the data directory, with client-side PG* variables that
    /// could redirect it removed.
    pub(super) fn command(&self, program: &str) -> tokio::process::Command {
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
}

/// Runs `cmd` to completion with output captured; non-zero exit becomes
/// [`EmbeddedError::Command`].
pub(super) async fn run(
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
