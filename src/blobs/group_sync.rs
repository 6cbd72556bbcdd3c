//! Group commit for the blob store's durability: instead of two `fsync`s per blob (the file,
//! then its directory), every writer waits for one `syncfs` of the store's filesystem that
//! *started after* its write. Concurrent uploads share that one call, so N blobs written at
//! once cost one filesystem sync instead of 2N file syncs; a lone upload still costs one.
//!
//! `syncfs` reports writeback errors that happened on the filesystem since the descriptor was
//! opened (Linux 5.8+), so a failed write is not taken for durable.

use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::{Condvar, Mutex, PoisonError};

pub struct GroupSync {
    /// Any descriptor on the store's filesystem: `syncfs` flushes the whole filesystem.
    anchor: File,
    state: Mutex<Rounds>,
    finished: Condvar,
}

#[derive(Default)]
struct Rounds {
    /// Syncs started so far; the one running (if any) is number `started`.
    started: u64,
    /// Syncs finished so far (a prefix: they run one at a time).
    finished: u64,
    running: bool,
    /// The last round that failed, and how. A waiter for round n fails when this is n or later:
    /// never a false success (a later round's success does not prove round n's data reached the
    /// disk, since the kernel reports a writeback error once), at worst a false failure when a
    /// later round failed before the waiter woke, which the client retries.
    failed: Option<(u64, io::ErrorKind, String)>,
}

impl GroupSync {
    pub fn open(root: &Path) -> io::Result<GroupSync> {
        Ok(GroupSync {
            anchor: File::open(root)?,
            state: Mutex::new(Rounds::default()),
            finished: Condvar::new(),
        })
    }

    /// Blocks until everything written to the filesystem before this call is durable. Call it
    /// from a blocking thread (`spawn_blocking`), never on the async runtime.
    pub fn wait_durable(&self) -> io::Result<()> {
        let mut rounds = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        // A round already running may have started before our write: only the next one counts.
        let needed = rounds.started + 1;
        loop {
            if rounds.finished >= needed {
                return match &rounds.failed {
                    Some((round, kind, message)) if *round >= needed => {
                        Err(io::Error::new(*kind, message.clone()))
                    }
                    _ => Ok(()),
                };
            }
            if !rounds.running {
                // Nobody is syncing: this thread runs round `needed` for everyone waiting.
                rounds.running = true;
                rounds.started += 1;
                let round = rounds.started;
                drop(rounds);
                let outcome = nix::unistd::syncfs(&self.anchor);
                rounds = self.state.lock().unwrap_or_else(PoisonError::into_inner);
                rounds.running = false;
                rounds.finished = round;
                if let Err(errno) = outcome {
                    let error = io::Error::from(errno);
                    rounds.failed = Some((round, error.kind(), error.to_string()));
                }
                self.finished.notify_all();
                continue;
            }
            rounds = self
                .finished
                .wait(rounds)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn concurrent_writers_share_rounds_and_each_waits_for_one_started_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let sync = Arc::new(GroupSync::open(dir.path()).unwrap());
        let threads: Vec<_> = (0..32)
            .map(|i| {
                let (sync, dir) = (sync.clone(), dir.path().to_owned());
                std::thread::spawn(move || {
                    std::fs::write(dir.join(format!("f{i}")), b"x").unwrap();
                    let before = sync.state.lock().unwrap().started;
                    sync.wait_durable().unwrap();
                    let after = sync.state.lock().unwrap().finished;
                    assert!(
                        after > before,
                        "a round that started after the write finished"
                    );
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let rounds = sync.state.lock().unwrap();
        assert!(!rounds.running);
        assert!(rounds.finished >= 1 && rounds.finished <= 32);
        assert_eq!(rounds.started, rounds.finished);
    }
}
