//! Running the server as the `postgres` user when we are root, and the ownership and
//! traversal checks that requires.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::{EmbeddedError, io_err};

/// The unprivileged account the server programs run as when we are root.
#[derive(Debug, Clone, Copy)]
pub(super) struct RunAs {
    pub(super) uid: u32,
    pub(super) gid: u32,
}

/// `Some(postgres user)` when running as root, `None` otherwise.
pub(super) fn run_as_user() -> Result<Option<RunAs>, EmbeddedError> {
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
pub(super) fn check_traversable(dir: &Path, run_as: RunAs) -> Result<(), EmbeddedError> {
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

pub(super) fn chown_to(path: &Path, run_as: Option<RunAs>) -> Result<(), EmbeddedError> {
    if let Some(r) = run_as {
        std::os::unix::fs::chown(path, Some(r.uid), Some(r.gid))
            .map_err(io_err(format!("chown {}", path.display())))?;
    }
    Ok(())
}
