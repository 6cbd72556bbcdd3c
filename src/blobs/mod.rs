//! Content-addressed blob store: files (form templates now, application materials and sealed
//! PDFs later) are named by their SHA-256 and written atomically, so a crash never leaves a
//! half-written file under a valid name. A trait leaves room for an S3-compatible store.

use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use ring::digest;

pub type BlobFuture<'a, T> = Pin<Box<dyn Future<Output = io::Result<T>> + Send + 'a>>;

pub trait BlobStore: Send + Sync {
    /// Stores `bytes`, returning their lowercase hex SHA-256 (the blob's name).
    fn put<'a>(&'a self, bytes: &'a [u8]) -> BlobFuture<'a, String>;
    /// The blob's bytes, or `None` when no blob has that name.
    fn get<'a>(&'a self, sha256: &'a str) -> BlobFuture<'a, Option<Vec<u8>>>;
}

/// A blob a database row promises: its absence is a server fault (500), not a client's.
pub async fn get_existing(store: &dyn BlobStore, sha256: &str) -> anyhow::Result<Vec<u8>> {
    store
        .get(sha256)
        .await?
        .ok_or_else(|| anyhow::anyhow!("blob {sha256} is missing from the blob store"))
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(digest::digest(&digest::SHA256, bytes))
}

fn is_sha256_hex(name: &str) -> bool {
    name.len() == 64
        && name
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

mod group_sync;

use group_sync::GroupSync;

/// Blobs under `<root>/<first two hex>/<sha256>`.
///
/// A blob is written to a temporary name and renamed into place, then made durable by a
/// [`GroupSync`] round shared with every other upload in flight, before `put` returns: the
/// caller records the blob in the database only after that, so a committed row never names a
/// blob that a crash could take back. A crash before the round can leave a name whose bytes
/// never reached the disk; no row names it, and the next `put` of those bytes finds that the
/// file does not hold them and writes it again.
pub struct FileBlobStore(Arc<Shelves>);

/// Blobs up to this size are written by the async worker that stores them, larger ones on the
/// blocking pool: a material photo or scan of a few hundred kilobytes is one `write` into the
/// page cache, while a worker must not stall for a multi-megabyte file.
const WRITTEN_IN_PLACE_UP_TO: usize = 256 * 1024;

/// The store's state, shared with the blocking threads that write.
struct Shelves {
    root: PathBuf,
    sync: std::sync::OnceLock<GroupSync>,
}

impl FileBlobStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        FileBlobStore(Arc::new(Shelves {
            root: root.into(),
            sync: std::sync::OnceLock::new(),
        }))
    }
}

impl Shelves {
    fn path_for(&self, sha256: &str) -> PathBuf {
        self.root.join(&sha256[..2]).join(sha256)
    }

    /// The store's durability rounds, opened on the first write (the root may not exist before).
    fn group_sync(&self) -> io::Result<&GroupSync> {
        if let Some(sync) = self.sync.get() {
            return Ok(sync);
        }
        std::fs::create_dir_all(&self.root)?;
        let opened = GroupSync::open(&self.root)?;
        Ok(self.sync.get_or_init(|| opened))
    }

    /// Stores `bytes` as `sha256`, not yet durably (blocking: the blocking pool).
    fn write_blocking(&self, sha256: &str, bytes: &[u8]) -> io::Result<()> {
        self.group_sync()?;
        let target = self.path_for(sha256);
        if !holds(&target, bytes)? {
            write_in_place(&target, bytes)?;
        }
        Ok(())
    }
}

/// Whether the file at `path` exists and holds exactly `bytes`.
fn holds(path: &Path, bytes: &[u8]) -> io::Result<bool> {
    match std::fs::read(path) {
        Ok(found) => Ok(found == bytes),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Writes `bytes` under a temporary name beside `target` and renames it into place: readers see
/// the whole file or none. Durability is the caller's ([`GroupSync`]).
fn write_in_place(target: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = target
        .parent()
        .ok_or_else(|| io::Error::other("a blob path has its shard directory"))?;
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".tmp-{}", uuid::Uuid::new_v4().simple()));
    let result = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, target));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

impl BlobStore for FileBlobStore {
    fn put<'a>(&'a self, bytes: &'a [u8]) -> BlobFuture<'a, String> {
        Box::pin(async move {
            let name = sha256_hex(bytes);
            if bytes.len() <= WRITTEN_IN_PLACE_UP_TO && self.0.sync.get().is_some() {
                // A small blob into the page cache costs tens of microseconds, less than the
                // trip to the blocking pool and back (about 0.8 ms under load, measured): the
                // worker writes it itself. The wait for the disk is async below.
                self.0.write_blocking(&name, bytes)?;
            } else {
                // One trip to the blocking pool for the check and the write (and for opening
                // the store's durability rounds on the first write, which creates directories).
                let (shelves, sha256, data) = (self.0.clone(), name.clone(), bytes.to_vec());
                tokio::task::spawn_blocking(move || shelves.write_blocking(&sha256, &data))
                    .await
                    .map_err(io::Error::other)??;
            }
            // Also when the file was there: it may be another upload's, not yet durable.
            self.0.group_sync()?.wait_durable().await?;
            Ok(name)
        })
    }

    fn get<'a>(&'a self, sha256: &'a str) -> BlobFuture<'a, Option<Vec<u8>>> {
        Box::pin(async move {
            if !is_sha256_hex(sha256) {
                return Ok(None);
            }
            match tokio::fs::read(self.0.path_for(sha256)).await {
                Ok(bytes) => Ok(Some(bytes)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn stores_by_content_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileBlobStore::new(dir.path());
        let name = store.put(b"hello").await.unwrap();
        assert_eq!(
            name,
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        assert_eq!(store.put(b"hello").await.unwrap(), name);
        assert_eq!(store.get(&name).await.unwrap().unwrap(), b"hello");
        assert!(store.get(&"0".repeat(64)).await.unwrap().is_none());
        assert!(store.get("../../etc/passwd").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_name_left_without_its_bytes_is_written_again() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileBlobStore::new(dir.path());
        let name = sha256_hex(b"hello");
        // What a crash between the rename and the durability round can leave behind.
        let shard = dir.path().join(&name[..2]);
        std::fs::create_dir_all(&shard).unwrap();
        std::fs::write(shard.join(&name), b"").unwrap();
        assert_eq!(store.put(b"hello").await.unwrap(), name);
        assert_eq!(store.get(&name).await.unwrap().unwrap(), b"hello");
        let leftovers: Vec<_> = std::fs::read_dir(&shard).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file stays behind");
    }
}
