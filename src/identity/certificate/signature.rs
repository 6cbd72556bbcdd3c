//! Signature checks: chain links and CRLs (algorithm named by the signed object) and login
//! challenges (algorithm inferred from the leaf's key). RSA and ECDSA through ring, SM2/SM3
//! through the RustCrypto `sm2` crate with the GM/T 0009 default distinguishing ID.

use ring::signature::{self as ring_sig, UnparsedPublicKey, VerificationAlgorithm};
use sm2::dsa::signature::Verifier as _;

use super::parsed::{Hash, KeyAlg, PublicKey, SignatureAlg};

/// GM/T 0009-2012 default user ID, used by CAs and by OpenSSL's `distid:` default.
pub(crate) const SM2_DISTINGUISHING_ID: &str = "1234567812345678";

#[derive(Debug)]
pub(crate) enum SignatureFailure {
    /// The key/algorithm combination is not supported (named).
    Unsupported(String),
    /// The signature does not verify.
    Invalid,
}

fn ring_verify(
    alg: &'static dyn VerificationAlgorithm,
    key: &[u8],
    message: &[u8],
    signature: &[u8],
) -> bool {
    UnparsedPublicKey::new(alg, key)
        .verify(message, signature)
        .is_ok()
}

fn sm2_verify(key: &[u8], message: &[u8], signature: &[u8]) -> Result<bool, SignatureFailure> {
    let verifying_key = sm2::dsa::VerifyingKey::from_sec1_bytes(SM2_DISTINGUISHING_ID, key)
        .map_err(|_| SignatureFailure::Unsupported("SM2 public key not on the curve".to_owned()))?;
    // DER (what certificates and most clients produce), or the fixed 64-byte r||s.
    let parsed = sm2::dsa::Signature::from_der(signature)
        .or_else(|_| sm2::dsa::Signature::from_slice(signature));
    Ok(match parsed {
        Ok(sig) => verifying_key.verify(message, &sig).is_ok(),
        Err(_) => false,
    })
}

/// Verifies a certificate's or CRL's signature, `alg` as named by the signed object, with the
/// issuer's key.
pub(crate) fn verify_signed_object(
    key: &PublicKey,
    alg: &SignatureAlg,
    message: &[u8],
    signature: &[u8],
) -> Result<(), SignatureFailure> {
    let ring_alg: &'static dyn VerificationAlgorithm = match (alg, &key.alg) {
        (SignatureAlg::RsaPkcs1(Hash::Sha256), KeyAlg::Rsa) => {
            &ring_sig::RSA_PKCS1_2048_8192_SHA256
        }
        (SignatureAlg::RsaPkcs1(Hash::Sha384), KeyAlg::Rsa) => {
            &ring_sig::RSA_PKCS1_2048_8192_SHA384
        }
        (SignatureAlg::RsaPkcs1(Hash::Sha512), KeyAlg::Rsa) => {
            &ring_sig::RSA_PKCS1_2048_8192_SHA512
        }
        (SignatureAlg::RsaPss(Hash::Sha256), KeyAlg::Rsa) => &ring_sig::RSA_PSS_2048_8192_SHA256,
        (SignatureAlg::RsaPss(Hash::Sha384), KeyAlg::Rsa) => &ring_sig::RSA_PSS_2048_8192_SHA384,
        (SignatureAlg::RsaPss(Hash::Sha512), KeyAlg::Rsa) => &ring_sig::RSA_PSS_2048_8192_SHA512,
        (SignatureAlg::Ecdsa(Hash::Sha256), KeyAlg::EcP256) => &ring_sig::ECDSA_P256_SHA256_ASN1,
        (SignatureAlg::Ecdsa(Hash::Sha384), KeyAlg::EcP256) => &ring_sig::ECDSA_P256_SHA384_ASN1,
        (SignatureAlg::Ecdsa(Hash::Sha256), KeyAlg::EcP384) => &ring_sig::ECDSA_P384_SHA256_ASN1,
        (SignatureAlg::Ecdsa(Hash::Sha384), KeyAlg::EcP384) => &ring_sig::ECDSA_P384_SHA384_ASN1,
        (SignatureAlg::Sm2Sm3, KeyAlg::Sm2) => {
            return match sm2_verify(&key.bytes, message, signature)? {
                true => Ok(()),
                false => Err(SignatureFailure::Invalid),
            };
        }
        (alg, key_alg) => {
            return Err(SignatureFailure::Unsupported(format!(
                "signature algorithm {alg:?} with a {} key",
                match key_alg {
                    KeyAlg::Unsupported(name) => name.as_str(),
                    other => other.label(),
                }
            )));
        }
    };
    if ring_verify(ring_alg, &key.bytes, message, signature) {
        Ok(())
    } else {
        Err(SignatureFailure::Invalid)
    }
}

/// Verifies a login challenge signed with the leaf's key. The client does not name the
/// algorithm, so every secure scheme that fits the key is tried: RSA PKCS#1 v1.5 SHA-256 and
/// RSA-PSS SHA-256; ECDSA with the curve's hash (and SHA-256 on P-384), DER or fixed r||s; SM2.
pub(crate) fn verify_challenge(
    key: &PublicKey,
    message: &[u8],
    signature: &[u8],
) -> Result<(), SignatureFailure> {
    let candidates: &[&'static dyn VerificationAlgorithm] = match &key.alg {
        KeyAlg::Rsa => &[
            &ring_sig::RSA_PKCS1_2048_8192_SHA256,
            &ring_sig::RSA_PSS_2048_8192_SHA256,
        ],
        KeyAlg::EcP256 => &[
            &ring_sig::ECDSA_P256_SHA256_ASN1,
            &ring_sig::ECDSA_P256_SHA256_FIXED,
        ],
        KeyAlg::EcP384 => &[
            &ring_sig::ECDSA_P384_SHA384_ASN1,
            &ring_sig::ECDSA_P384_SHA384_FIXED,
            &ring_sig::ECDSA_P384_SHA256_ASN1,
        ],
        KeyAlg::Sm2 => {
            return match sm2_verify(&key.bytes, message, signature)? {
                true => Ok(()),
                false => Err(SignatureFailure::Invalid),
            };
        }
        KeyAlg::Unsupported(name) => {
            return Err(SignatureFailure::Unsupported(format!(
                "key algorithm {name}"
            )));
        }
    };
    if candidates
        .iter()
        .any(|alg| ring_verify(*alg, &key.bytes, message, signature))
    {
        Ok(())
    } else {
        Err(SignatureFailure::Invalid)
    }
}
