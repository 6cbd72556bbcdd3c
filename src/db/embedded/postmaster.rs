//! The `postmaster.pid` of a server already running on the data directory: reusing that
//! server, or clearing a stale pid file.

use tracing::{debug, warn};

use super::{EmbeddedCluster, EmbeddedError, io_err};

impl EmbeddedCluster {
    /// `Some((pid, port))` when a live postmaster owns the data directory.
    pub(super) fn live_postmaster(&self) -> Result<Option<(i32, u16)>, EmbeddedError> {
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

pub(super) fn pid_alive(pid: i32) -> bool {
    pid_state(pid) == PidState::Running
}
