//! Group commit for the blob store's durability: instead of two `fsync`s per blob (the file,
//! then its directory), every writer waits for one `syncfs` of the store's filesystem that
//! *started after* its write. Concurrent uploads share that one call, so N blobs written at
//! once cost one filesystem sync instead of 2N file syncs; a lone upload still costs one.
//!
//! The rounds run on one thread of their own, woken only when someone needs a new round; the
//! writers wait for it as tasks, not as blocked threads, so an upload's blocking-pool thread is
//! free again as soon as its bytes are written, and a finished round wakes its waiters through
//! the async runtime instead of one parked thread each.
//!
//! `syncfs` reports writeback errors that happened on the filesystem since the descriptor was
//! opened (Linux 5.8+), so a failed write is not taken for durable.

use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use tokio::sync::watch;

pub struct GroupSync {
    shared: Arc<Shared>,
    finished: watch::Receiver<Finished>,
}

struct Shared {
    /// Any descriptor on the store's filesystem: `syncfs` flushes the whole filesystem.
    anchor: File,
    rounds: Mutex<Rounds>,
    /// Wakes the syncing thread when a round is wanted (or the store goes away).
    wanted: Condvar,
    finished: watch::Sender<Finished>,
}

#[derive(Default)]
struct Rounds {
    /// Rounds started so far; the one running (if any) is number `started`.
    started: u64,
    /// The highest round anyone waits for.
    wanted: u64,
    /// The store is gone: the thread ends.
    closing: bool,
}

/// What the rounds have come to, published to the waiters.
#[derive(Clone, Default)]
struct Finished {
    /// Rounds finished so far (a prefix: they run one at a time).
    round: u64,
    /// The last round that failed, and how. A waiter for round n fails when this is n or later:
    /// never a false success (a later round's success does not prove round n's data reached the
    /// disk, since the kernel reports a writeback error once), at worst a false failure when a
    /// later round failed before the waiter looked, which the client retries.
    failed: Option<(u64, io::ErrorKind, String)>,
}

impl GroupSync {
    /// Opens the store's filesystem and starts the thread that runs the rounds.
    pub fn open(root: &Path) -> io::Result<GroupSync> {
        let (sender, finished) = watch::channel(Finished::default());
        let shared = Arc::new(Shared {
            anchor: File::open(root)?,
            rounds: Mutex::new(Rounds::default()),
            wanted: Condvar::new(),
            finished: sender,
        });
        let runner = shared.clone();
        std::thread::Builder::new()
            .name("blob-sync".to_owned())
            .spawn(move || runner.run_rounds())?;
        Ok(GroupSync { shared, finished })
    }

    /// Returns once everything written to the filesystem before this call is durable.
    pub async fn wait_durable(&self) -> io::Result<()> {
        let needed = {
            let mut rounds = self.shared.lock();
            // A round already running may have started before our write: only the next counts.
            let needed = rounds.started + 1;
            rounds.wanted = rounds.wanted.max(needed);
            needed
        };
        self.shared.wanted.notify_one();
        let mut finished = self.finished.clone();
        let outcome = finished
            .wait_for(|f| f.round >= needed)
            .await
            .map_err(|_| io::Error::other("the blob store's sync thread has stopped"))?;
        outcome.for_waiter_of(needed)
    }
}

impl Finished {
    /// What a waiter for round `needed` is told once that round has finished.
    fn for_waiter_of(&self, needed: u64) -> io::Result<()> {
        match &self.failed {
            Some((round, kind, message)) if *round >= needed => {
                Err(io::Error::new(*kind, message.clone()))
            }
            _ => Ok(()),
        }
    }
}

impl Drop for GroupSync {
    fn drop(&mut self) {
        self.shared.lock().closing = true;
        self.shared.wanted.notify_one();
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Rounds> {
        self.rounds.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The syncing thread: one round at a time, each started only when someone waits for it.
    fn run_rounds(&self) {
        loop {
            let round = {
                let mut rounds = self.lock();
                while rounds.wanted <= rounds.started && !rounds.closing {
                    rounds = self
                        .wanted
                        .wait(rounds)
                        .unwrap_or_else(PoisonError::into_inner);
                }
                if rounds.wanted <= rounds.started {
                    return;
                }
                rounds.started += 1;
                rounds.started
            };
            let outcome = nix::unistd::syncfs(&self.anchor);
            self.finished.send_modify(|finished| {
                finished.round = round;
                if let Err(errno) = outcome {
                    let error = io::Error::from(errno);
                    finished.failed = Some((round, error.kind(), error.to_string()));
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writers_share_rounds_and_each_waits_for_one_started_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let sync = Arc::new(GroupSync::open(dir.path()).unwrap());
        let writers: Vec<_> = (0..32)
            .map(|i| {
                let (sync, dir) = (sync.clone(), dir.path().to_owned());
                tokio::spawn(async move {
                    std::fs::write(dir.join(format!("f{i}")), b"x").unwrap();
                    let before = sync.shared.lock().started;
                    sync.wait_durable().await.unwrap();
                    let after = sync.finished.borrow().round;
                    assert!(
                        after > before,
                        "a round that started after the write finished"
                    );
                })
            })
            .collect();
        for writer in writers {
            writer.await.unwrap();
        }
        let rounds = sync.shared.lock();
        assert!(rounds.started >= 1 && rounds.started <= 32);
        assert_eq!(rounds.started, sync.finished.borrow().round);
    }

    #[test]
    fn a_failed_round_fails_its_waiters_and_those_of_earlier_rounds_but_not_later_ones() {
        let finished = Finished {
            round: 5,
            failed: Some((4, io::ErrorKind::Other, "writeback failed".to_owned())),
        };
        assert!(finished.for_waiter_of(3).is_err());
        assert!(finished.for_waiter_of(4).is_err());
        assert!(finished.for_waiter_of(5).is_ok());
        assert!(Finished::default().for_waiter_of(1).is_ok());
    }

    #[tokio::test]
    async fn the_sync_thread_ends_with_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let sync = GroupSync::open(dir.path()).unwrap();
        sync.wait_durable().await.unwrap();
        let shared = Arc::downgrade(&sync.shared);
        drop(sync);
        for _ in 0..100 {
            if shared.strong_count() == 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert_eq!(
            shared.strong_count(),
            0,
            "the sync thread still holds the store after it was dropped"
        );
    }
}
