//! An Ed25519 signing key (audit checkpoints, access tokens): loading it from (or creating it in) a PKCS#8
//! file readable by its owner only.

use std::fmt;
use std::fs::{self, DirBuilder, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use ring::rand::SystemRandom;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};

#[derive(Debug, thiserror::Error)]
pub enum SignerError {
    #[error("cannot read the signing key {}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("cannot write the signing key {}: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
    #[error("{} is not an Ed25519 PKCS#8 key", path.display())]
    InvalidKey { path: PathBuf },
    #[error("could not generate an Ed25519 key")]
    Generate,
}

/// Signs checkpoints. `Debug` shows the public key only.
pub struct SigningKey {
    key: Ed25519KeyPair,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("public_key", &self.public_key_hex())
            .finish()
    }
}

impl SigningKey {
    /// Reads the PKCS#8 document (raw DER bytes) at `path`, or, when there is no file, generates
    /// a key and writes it there with mode 0600 (creating parent directories with mode 0700).
    /// The file is written under a temporary name and hard-linked into place, so concurrent
    /// starters agree on one key and a crash never leaves a half-written key behind.
    pub fn load_or_create(path: &Path) -> Result<SigningKey, SignerError> {
        match fs::read(path) {
            Ok(bytes) => return Self::from_file_bytes(path, &bytes),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(SignerError::Read {
                    path: path.to_owned(),
                    source,
                });
            }
        }
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .map_err(|_| SignerError::Generate)?;
        match create_secret_file(path, pkcs8.as_ref()) {
            Ok(true) => {
                tracing::info!(path = %path.display(), "created a new signing key");
                Self::from_file_bytes(path, pkcs8.as_ref())
            }
            // Another process created the key meanwhile: use theirs.
            Ok(false) => Self::load(path),
            Err(source) => Err(SignerError::Write {
                path: path.to_owned(),
                source,
            }),
        }
    }

    /// Reads an existing key; never creates one (for `audit verify`).
    pub fn load(path: &Path) -> Result<SigningKey, SignerError> {
        let bytes = fs::read(path).map_err(|source| SignerError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_file_bytes(path, &bytes)
    }

    /// A key from PKCS#8 bytes (v1 or v2 documents, as written by ring or OpenSSL).
    pub fn from_pkcs8(bytes: &[u8]) -> Option<SigningKey> {
        Ed25519KeyPair::from_pkcs8_maybe_unchecked(bytes)
            .ok()
            .map(|key| SigningKey { key })
    }

    /// A fresh key that lives in memory only (tests, tools).
    pub fn generate() -> Result<SigningKey, SignerError> {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .map_err(|_| SignerError::Generate)?;
        Self::from_pkcs8(pkcs8.as_ref()).ok_or(SignerError::Generate)
    }

    fn from_file_bytes(path: &Path, bytes: &[u8]) -> Result<SigningKey, SignerError> {
        if let Ok(meta) = fs::metadata(path)
            && meta.mode() & 0o077 != 0
        {
            tracing::warn!(path = %path.display(), mode = format!("{:o}", meta.mode() & 0o777),
                "a signing key is readable by other users; it should be mode 0600");
        }
        Self::from_pkcs8(bytes).ok_or_else(|| SignerError::InvalidKey {
            path: path.to_owned(),
        })
    }

    /// The raw 32-byte Ed25519 public key.
    pub fn public_key(&self) -> &[u8] {
        self.key.public_key().as_ref()
    }

    pub fn public_key_hex(&self) -> String {
        hex::encode(self.public_key())
    }

    /// A 64-byte Ed25519 signature of `message`.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.key.sign(message).as_ref().to_vec()
    }
}

/// Whether `signature` is a valid Ed25519 signature of `message` under `public_key` (raw 32 bytes).
pub fn signature_is_valid(public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
    UnparsedPublicKey::new(&ED25519, public_key)
        .verify(message, signature)
        .is_ok()
}

/// Writes `contents` to a new file at `path` that only its owner may read (mode 0600; missing
/// parent directories 0700). The file is written under a temporary name and hard-linked into
/// place, so concurrent creators agree on one file and a crash never leaves half a key behind.
/// `Ok(false)`: another process created the file meanwhile — use theirs.
pub fn create_secret_file(path: &Path, contents: &[u8]) -> io::Result<bool> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)?;
    }
    let tmp = temporary_sibling(path);
    let written = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        fs::hard_link(&tmp, path)
    })();
    let _ = fs::remove_file(&tmp);
    match written {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    }
}

fn temporary_sibling(path: &Path) -> PathBuf {
    // Unique among concurrent writers: the process and a random suffix.
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(
        ".tmp.{}.{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    path.with_file_name(name)
}

/// `N` random bytes from the OS generator, URL-safe base64 without padding: tokens handed to
/// the public (QR codes, share links) that must not be guessable.
pub fn random_url_token<const N: usize>() -> anyhow::Result<String> {
    use base64::Engine;
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; N];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| anyhow::anyhow!("the system random generator failed"))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_a_private_key_file_and_reloads_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/nested/audit.pk8");
        let first = SigningKey::load_or_create(&path).unwrap();
        let mode = fs::metadata(&path).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let again = SigningKey::load_or_create(&path).unwrap();
        assert_eq!(first.public_key_hex(), again.public_key_hex());
        assert_eq!(first.public_key().len(), 32);
        let loaded = SigningKey::load(&path).unwrap();
        assert_eq!(loaded.public_key_hex(), first.public_key_hex());
        // No temporary files left behind.
        assert_eq!(fs::read_dir(path.parent().unwrap()).unwrap().count(), 1);

        let sig = first.sign(b"message");
        assert!(signature_is_valid(first.public_key(), b"message", &sig));
        assert!(!signature_is_valid(first.public_key(), b"messagE", &sig));
        let other = SigningKey::generate().unwrap();
        assert!(!signature_is_valid(other.public_key(), b"message", &sig));
    }

    #[test]
    fn rejects_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.pk8");
        fs::write(&path, b"not a key").unwrap();
        assert!(matches!(
            SigningKey::load_or_create(&path),
            Err(SignerError::InvalidKey { .. })
        ));
    }
}
