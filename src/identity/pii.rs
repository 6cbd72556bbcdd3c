//! Personal data at rest: ID numbers, phone numbers and names are stored encrypted with
//! AES-256-GCM, and found again through a blind index (an HMAC of the normalised value), so the
//! database never holds them in clear and still supports "find the account of this ID number".
//!
//! Both keys are derived with HKDF-SHA256 from one 32-byte master key, so operators keep (and
//! back up) a single secret. Distinct `info` strings make the two keys independent: knowing the
//! blind-index key reveals nothing about the encryption key.
//!
//! Sealed format: `version (1 byte, 0x01) ‖ nonce (12 random bytes) ‖ ciphertext ‖ tag (16)`.
//! Callers pass associated data that ties a ciphertext to its place (e.g. `"citizen.id_number:"
//! + account id`), so a value copied into another row or column fails to decrypt.

use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use anyhow::Context;
use base64::Engine as _;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::hkdf;
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};

/// The first byte of every sealed value.
pub const SEALED_VERSION: u8 = 1;
/// Length of the master key and of each derived key.
pub const KEY_LEN: usize = 32;
const HKDF_SALT: &[u8] = b"fingertip identity pii v1";
const INFO_ENCRYPTION: &[u8] = b"fingertip/pii/aes-256-gcm/v1";
const INFO_BLIND_INDEX: &[u8] = b"fingertip/pii/blind-index/hmac-sha256/v1";
const TAG_LEN: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PiiError {
    /// Too short, or an unknown version byte.
    #[error("sealed value is malformed")]
    Malformed,
    /// Wrong key, wrong associated data, or tampered with.
    #[error("sealed value could not be decrypted (wrong key, wrong context or tampered)")]
    Decrypt,
    /// No fresh nonce (the system random generator failed) or a plaintext beyond GCM's limit:
    /// nothing is sealed rather than risk a reused nonce.
    #[error("the value could not be sealed: {0}")]
    Seal(&'static str),
}

/// The encryption key and the blind-index key, derived from one master key.
pub struct IdentityKeys {
    encryption: LessSafeKey,
    blind_index: hmac::Key,
    rng: SystemRandom,
}

impl std::fmt::Debug for IdentityKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdentityKeys([redacted])")
    }
}

impl IdentityKeys {
    #[allow(clippy::panic)]
    pub fn from_master_key(master: &[u8; KEY_LEN]) -> Self {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, HKDF_SALT).extract(master);
        // `expand` only fails when asked for more than 255 hash lengths; 32 bytes never do.
        let encryption = prk
            .expand(&[INFO_ENCRYPTION], &AES_256_GCM)
            .map(UnboundKey::from)
            .map(LessSafeKey::new);
        let blind_index = prk
            .expand(&[INFO_BLIND_INDEX], hmac::HMAC_SHA256)
            .map(hmac::Key::from);
        match (encryption, blind_index) {
            (Ok(encryption), Ok(blind_index)) => IdentityKeys {
                encryption,
                blind_index,
                rng: SystemRandom::new(),
            },
            // Unreachable (see above); keys from a fixed fallback would be worse than stopping.
            _ => panic!("HKDF-SHA256 refused to derive 32-byte keys"),
        }
    }

    /// A master key given as standard base64 (surrounding whitespace ignored).
    pub fn from_base64(text: &str) -> anyhow::Result<Self> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .context("the identity master key is not base64")?;
        let master: [u8; KEY_LEN] = bytes.as_slice().try_into().map_err(|_| {
            anyhow::anyhow!(
                "the identity master key must be {KEY_LEN} bytes, found {}",
                bytes.len()
            )
        })?;
        Ok(Self::from_master_key(&master))
    }

    /// A fresh random master key, base64 (what [`load_or_create`](Self::load_or_create) writes).
    pub fn generate_master_key_base64() -> anyhow::Result<String> {
        let mut master = [0u8; KEY_LEN];
        SystemRandom::new()
            .fill(&mut master)
            .map_err(|_| anyhow::anyhow!("the system random generator failed"))?;
        Ok(base64::engine::general_purpose::STANDARD.encode(master))
    }

    /// Reads the master key (base64) from `path`, or — for development, where no key was
    /// provisioned — creates one there with mode 0600 (parent directories 0700). The file is
    /// written under a temporary name and hard-linked into place, so concurrent starters agree on
    /// one key and a crash never leaves half a key. Losing this file loses every encrypted value.
    pub fn load_or_create(path: &Path) -> anyhow::Result<Self> {
        match fs::read_to_string(path) {
            Ok(text) => return Self::load_text(path, &text),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("reading the identity key file {}", path.display()));
            }
        }
        let encoded = Self::generate_master_key_base64()?;
        let created = crate::keys::create_secret_file(path, format!("{encoded}\n").as_bytes())
            .with_context(|| format!("writing the identity key file {}", path.display()))?;
        if created {
            tracing::info!(path = %path.display(), "created a new identity master key");
            Self::from_base64(&encoded)
        } else {
            // Another process created the key meanwhile: use theirs.
            Self::load(path)
        }
    }

    /// Reads a provisioned master key; never creates one (production).
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = fs::read_to_string(path)
            .with_context(|| format!("reading the identity key file {}", path.display()))?;
        Self::load_text(path, &text)
    }

    fn load_text(path: &Path, text: &str) -> anyhow::Result<Self> {
        if let Ok(meta) = fs::metadata(path)
            && meta.mode() & 0o077 != 0
        {
            tracing::warn!(
                path = %path.display(),
                mode = format!("{:o}", meta.mode() & 0o777),
                "the identity key file is readable by group or others; it should be 0600"
            );
        }
        Self::from_base64(text).with_context(|| format!("in {}", path.display()))
    }

    /// Encrypts `plaintext` bound to `associated` (which is authenticated, not stored).
    pub fn encrypt(&self, plaintext: &[u8], associated: &[u8]) -> Result<Vec<u8>, PiiError> {
        let mut nonce_bytes = [0u8; NONCE_LEN];
        // SystemRandom reads the OS generator; if that fails nothing may be sealed: reusing a
        // nonce under GCM would be catastrophic.
        self.rng
            .fill(&mut nonce_bytes)
            .map_err(|_| PiiError::Seal("the system random generator failed"))?;
        let mut sealed = Vec::with_capacity(1 + NONCE_LEN + plaintext.len() + TAG_LEN);
        sealed.push(SEALED_VERSION);
        sealed.extend_from_slice(&nonce_bytes);
        let mut in_out = plaintext.to_vec();
        let nonce = Nonce::assume_unique_for_key(nonce_bytes);
        // Only plaintexts beyond GCM's 64 GiB limit are refused.
        self.encryption
            .seal_in_place_append_tag(nonce, Aad::from(associated), &mut in_out)
            .map_err(|_| PiiError::Seal("AES-GCM refused the plaintext"))?;
        sealed.extend_from_slice(&in_out);
        Ok(sealed)
    }

    pub fn decrypt(&self, sealed: &[u8], associated: &[u8]) -> Result<Vec<u8>, PiiError> {
        let (&version, rest) = sealed.split_first().ok_or(PiiError::Malformed)?;
        if version != SEALED_VERSION || rest.len() < NONCE_LEN + TAG_LEN {
            return Err(PiiError::Malformed);
        }
        let (nonce_bytes, ciphertext) = rest.split_at(NONCE_LEN);
        let nonce =
            Nonce::try_assume_unique_for_key(nonce_bytes).map_err(|_| PiiError::Malformed)?;
        let mut in_out = ciphertext.to_vec();
        let plaintext = self
            .encryption
            .open_in_place(nonce, Aad::from(associated), &mut in_out)
            .map_err(|_| PiiError::Decrypt)?;
        Ok(plaintext.to_vec())
    }

    /// [`encrypt`](Self::encrypt) for text.
    pub fn encrypt_str(&self, plaintext: &str, associated: &[u8]) -> Result<Vec<u8>, PiiError> {
        self.encrypt(plaintext.as_bytes(), associated)
    }

    /// [`decrypt`](Self::decrypt) for text sealed by [`encrypt_str`](Self::encrypt_str).
    pub fn decrypt_string(&self, sealed: &[u8], associated: &[u8]) -> Result<String, PiiError> {
        String::from_utf8(self.decrypt(sealed, associated)?).map_err(|_| PiiError::Malformed)
    }

    /// HMAC-SHA256 of a normalised value (32 bytes), for equality lookups. Callers normalise
    /// first (an ID number via `CitizenIdNumber::as_str`, a phone number as 11 digits) and should
    /// prefix a domain (`"id:"`, `"phone:"`) so equal strings of different kinds do not collide.
    pub fn blind_index(&self, normalized: &str) -> Vec<u8> {
        hmac::sign(&self.blind_index, normalized.as_bytes())
            .as_ref()
            .to_vec()
    }

    /// Whether `stored` is the blind index of `normalized`, compared in constant time (ring's
    /// HMAC verification): a wrong guess at a code or an ID tail takes as long however much of
    /// it was right.
    pub fn blind_index_matches(&self, normalized: &str, stored: &[u8]) -> bool {
        hmac::verify(&self.blind_index, normalized.as_bytes(), stored).is_ok()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn keys(seed: u8) -> IdentityKeys {
        IdentityKeys::from_master_key(&[seed; KEY_LEN])
    }

    #[test]
    fn round_trip() {
        let k = keys(1);
        let sealed = k.encrypt(b"11010519491231002X", b"citizen:42").unwrap();
        assert_eq!(sealed[0], SEALED_VERSION);
        assert_eq!(sealed.len(), 1 + NONCE_LEN + 18 + TAG_LEN);
        assert_eq!(
            k.decrypt(&sealed, b"citizen:42").unwrap(),
            b"11010519491231002X"
        );
        let text = k.encrypt_str("张三", b"").unwrap();
        assert_eq!(k.decrypt_string(&text, b"").unwrap(), "张三");
        // Empty plaintext works too.
        assert_eq!(
            k.decrypt(&k.encrypt(b"", b"x").unwrap(), b"x").unwrap(),
            b""
        );
    }

    #[test]
    fn tampering_is_detected() {
        let k = keys(1);
        let sealed = k.encrypt(b"secret", b"ctx").unwrap();
        for index in 1..sealed.len() {
            let mut bad = sealed.clone();
            bad[index] ^= 0x01;
            assert_eq!(
                k.decrypt(&bad, b"ctx"),
                Err(PiiError::Decrypt),
                "byte {index}"
            );
        }
        let mut bad = sealed.clone();
        bad[0] = 2;
        assert_eq!(k.decrypt(&bad, b"ctx"), Err(PiiError::Malformed));
        assert_eq!(
            k.decrypt(&sealed[..sealed.len() - 1], b"ctx"),
            Err(PiiError::Decrypt)
        );
        assert_eq!(k.decrypt(&sealed[..10], b"ctx"), Err(PiiError::Malformed));
        assert_eq!(k.decrypt(b"", b"ctx"), Err(PiiError::Malformed));
    }

    #[test]
    fn wrong_associated_data_or_key_fails() {
        let k = keys(1);
        let sealed = k.encrypt(b"secret", b"citizen:42").unwrap();
        assert_eq!(k.decrypt(&sealed, b"citizen:43"), Err(PiiError::Decrypt));
        assert_eq!(
            keys(2).decrypt(&sealed, b"citizen:42"),
            Err(PiiError::Decrypt)
        );
    }

    #[test]
    fn nonces_differ() {
        let k = keys(1);
        let a = k.encrypt(b"same", b"").unwrap();
        let b = k.encrypt(b"same", b"").unwrap();
        assert_ne!(a[1..1 + NONCE_LEN], b[1..1 + NONCE_LEN]);
        assert_ne!(a, b);
    }

    #[test]
    fn blind_index_is_deterministic_and_key_dependent() {
        let k = keys(1);
        let a = k.blind_index("id:11010519491231002X");
        assert_eq!(a.len(), 32);
        assert_eq!(a, keys(1).blind_index("id:11010519491231002X"));
        assert_ne!(a, k.blind_index("id:440524188001010014"));
        assert_ne!(a, keys(2).blind_index("id:11010519491231002X"));
    }

    #[test]
    fn encryption_and_index_keys_are_independent_of_the_master_bytes() {
        // The blind index is not a plain HMAC keyed by the master key.
        let master = [7u8; KEY_LEN];
        let direct = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &master), b"x");
        assert_ne!(
            IdentityKeys::from_master_key(&master).blind_index("x"),
            direct.as_ref()
        );
    }

    #[test]
    fn base64_keys() {
        let encoded = IdentityKeys::generate_master_key_base64().unwrap();
        let a = IdentityKeys::from_base64(&encoded).unwrap();
        let b = IdentityKeys::from_base64(&format!(" {encoded}\n")).unwrap();
        assert_eq!(a.blind_index("x"), b.blind_index("x"));
        assert!(IdentityKeys::from_base64("not base64!").is_err());
        assert!(IdentityKeys::from_base64("AAAA").is_err());
    }

    #[test]
    fn debug_prints_nothing_secret() {
        assert_eq!(format!("{:?}", keys(1)), "IdentityKeys([redacted])");
    }

    #[test]
    fn load_or_create_persists_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/identity.key");
        let first = IdentityKeys::load_or_create(&path).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let parent_mode = fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(parent_mode, 0o700);
        let sealed = first.encrypt(b"persisted", b"ctx").unwrap();
        let second = IdentityKeys::load_or_create(&path).unwrap();
        assert_eq!(second.decrypt(&sealed, b"ctx").unwrap(), b"persisted");
        assert_eq!(first.blind_index("a"), second.blind_index("a"));
        // No temporary file left behind.
        assert_eq!(fs::read_dir(path.parent().unwrap()).unwrap().count(), 1);
    }

    #[test]
    fn load_or_create_reads_a_provisioned_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("identity.key");
        let encoded = base64::engine::general_purpose::STANDARD.encode([9u8; KEY_LEN]);
        fs::write(&path, format!("{encoded}\n")).unwrap();
        let loaded = IdentityKeys::load_or_create(&path).unwrap();
        assert_eq!(loaded.blind_index("a"), keys(9).blind_index("a"));

        fs::write(&path, "garbage").unwrap();
        assert!(IdentityKeys::load_or_create(&path).is_err());
    }
}
