//! Content-addressed blob store: files (form templates now, application materials and sealed
//! PDFs later) are named by their SHA-256 and written atomically, so a crash never leaves a
//! half-written file under a valid name. A trait leaves room for an S3-compatible store.

use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;

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

/// Blobs under `<root>/<first two hex>/<sha256>`.
pub struct FileBlobStore {
    root: PathBuf,
}

impl FileBlobStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        FileBlobStore { root: root.into() }
    }

    fn path_for(&self, sha256: &str) -> PathBuf {
        self.root.join(&sha256[..2]).join(sha256)
    }
}

fn write_atomically(dir: &Path, target: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".tmp-{}", uuid::Uuid::new_v4().simple()));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, target)?;
        // Make the rename itself durable.
        std::fs::File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

impl BlobStore for FileBlobStore {
    fn put<'a>(&'a self, bytes: &'a [u8]) -> BlobFuture<'a, String> {
        Box::pin(async move {
            let name = sha256_hex(bytes);
            let target = self.path_for(&name);
            let dir = self.root.join(&name[..2]);
            let data = bytes.to_vec();
            // One trip to the blocking pool for the existence check and the write.
            tokio::task::spawn_blocking(move || {
                if target.try_exists()? {
                    return Ok(());
                }
                write_atomically(&dir, &target, &data)
            })
            .await
            .map_err(io::Error::other)??;
            Ok(name)
        })
    }

    fn get<'a>(&'a self, sha256: &'a str) -> BlobFuture<'a, Option<Vec<u8>>> {
        Box::pin(async move {
            if !is_sha256_hex(sha256) {
                return Ok(None);
            }
            match tokio::fs::read(self.path_for(sha256)).await {
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
}
