//! How many files the process may hold open. Every connection is a file descriptor, and so is
//! every blob being written, every PostgreSQL connection and the embedded cluster's sockets.
//! Linux starts a service with a soft limit of 1,024 (the hard limit is usually far higher): a
//! thousand idle keep-alive clients would then leave no descriptor to accept the next
//! connection or to write a blob. The soft limit is raised to the hard limit at start, as web
//! servers do; the hard limit stays the operator's (systemd's `LimitNOFILE`).

use nix::sys::resource::{Resource, getrlimit, setrlimit};

/// Raises the soft limit on open files to the hard limit; returns the limit in force after.
pub fn raise_to_hard_limit() -> nix::Result<u64> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    if soft < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard)?;
    }
    Ok(getrlimit(Resource::RLIMIT_NOFILE)?.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_soft_limit_ends_at_the_hard_limit() {
        let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
        // Start below it, as a service does (not so low that a test running beside this one
        // could run out).
        setrlimit(Resource::RLIMIT_NOFILE, soft.min(4096), hard).unwrap();
        assert_eq!(raise_to_hard_limit().unwrap(), hard);
        assert_eq!(getrlimit(Resource::RLIMIT_NOFILE).unwrap(), (hard, hard));
    }
}
