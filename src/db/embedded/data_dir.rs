//! The data directory: resolving its path, the lock serialising `start` on it, and
//! creating or checking it (and its log directory) before the server uses it.

use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::privileges::{RunAs, chown_to};
use super::{EmbeddedCluster, EmbeddedError, LOG_DIR, io_err};

/// Absolute data directory path with its parent created and canonicalised.
pub(super) fn resolve_data_dir(data_dir: &Path) -> Result<PathBuf, EmbeddedError> {
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

pub(super) fn parent_of(path: &Path) -> Result<PathBuf, EmbeddedError> {
    path.parent()
        .map(Path::to_path_buf)
        .ok_or_else(|| EmbeddedError::BadDataDir {
            path: path.to_path_buf(),
            reason: "has no parent directory".to_owned(),
        })
}

pub(super) fn lock_path(data_dir: &Path) -> Result<PathBuf, EmbeddedError> {
    let parent = parent_of(data_dir)?;
    let name = data_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(parent.join(format!(".{name}.lock")))
}

/// Opens `path` and takes an exclusive `flock` on it (blocking in a
/// blocking-pool thread). The lock is released when the file is dropped.
pub(super) async fn lock_exclusive(path: &Path) -> Result<std::fs::File, EmbeddedError> {
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

/// Creates the data directory (owner: server user, mode 0700) or checks an
/// existing one.
pub(super) fn prepare_data_dir(
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

impl EmbeddedCluster {
    pub(super) fn ensure_log_dir(&self) -> Result<(), EmbeddedError> {
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
}
