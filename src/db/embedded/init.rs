//! First-use initialisation (`initdb`) and the superuser's password file.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use ring::rand::{SecureRandom, SystemRandom};
use tracing::{info, warn};

use super::privileges::{RunAs, chown_to};
use super::process::{COMMAND_TIMEOUT, run};
use super::{EmbeddedCluster, EmbeddedError, SUPERUSER, io_err};

/// File, inside the data directory, holding the superuser's password.
const PASSWORD_FILE: &str = "pg-password";

impl EmbeddedCluster {
    fn password_file(&self) -> PathBuf {
        self.data_dir.join(PASSWORD_FILE)
    }

    pub(super) fn read_password(&self) -> Result<String, EmbeddedError> {
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
    pub(super) async fn initdb(&self, parent: &Path) -> Result<String, EmbeddedError> {
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
