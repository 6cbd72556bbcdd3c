//! Finding the PostgreSQL server programs (`initdb`, `pg_ctl`, `postgres`) of one version.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::EmbeddedError;

/// Where Debian/Ubuntu install versioned server binaries.
const VERSIONED_ROOT: &str = "/usr/lib/postgresql";

/// Finds a directory holding `initdb`, `pg_ctl` and `postgres` of one
/// version. Order: `/usr/lib/postgresql/<data dir's version>/bin`, then the
/// other `/usr/lib/postgresql/<ver>/bin` from the highest version down, then
/// PATH entries (each resolved through symlinks first, since e.g.
/// /usr/local/bin/initdb may be a link into a versioned directory).
pub(super) fn find_bin_dir(data_version: Option<&str>) -> Result<PathBuf, EmbeddedError> {
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
