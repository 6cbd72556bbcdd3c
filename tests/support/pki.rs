//! The development PKI in `certs/dev/` (made by `certs/make-dev-pki.sh`) as the tests use it:
//! files, the chain a client sends, challenge signatures made the way a USB key makes them, and
//! verifier configurations.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use fingertip::identity::certificate::CertificateLoginConfig;
use ring::rand::SystemRandom;
use ring::signature::{self as ring_sig, EcdsaKeyPair, RsaKeyPair};

/// The CRL distribution point URLs in the dev certificates start with this.
pub const DP_BASE: &str = "http://127.0.0.1:18080/crl/";

pub fn dev(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("certs/dev")
        .join(name)
}

pub fn der(name: &str) -> Vec<u8> {
    std::fs::read(dev(&format!("{name}.der"))).unwrap()
}

pub fn key(name: &str) -> Vec<u8> {
    std::fs::read(dev(&format!("{name}.key.der"))).unwrap()
}

/// Trusts the dev roots (RSA/ECDSA and SM2); CRLs only from files, no fetching.
pub fn file_config(crls: &[&str]) -> CertificateLoginConfig {
    CertificateLoginConfig {
        trust_anchors: vec![dev("root-ca.pem"), dev("sm2-root-ca.pem")],
        crl_files: crls.iter().map(|c| dev(c)).collect(),
        crl_from_distribution_points: false,
        ..CertificateLoginConfig::default()
    }
}

/// Every current dev CRL, from files.
pub fn standard_files() -> CertificateLoginConfig {
    file_config(&[
        "root.crl.pem",
        "intermediate.crl",
        "sm2-root.crl.pem",
        "sm2-intermediate.crl",
        "sub.crl",
        "not-a-ca.crl",
    ])
}

/// The chain a client sends: leaf, then its intermediate(s).
pub fn chain(leaf: &str) -> Vec<Vec<u8>> {
    let intermediates: &[&str] = match leaf {
        "enterprise-sm2" => &["sm2-intermediate-ca"],
        "enterprise-wrong-root" => &["wrong-root-ca"],
        "enterprise-path-too-long" => &["sub-ca", "intermediate-ca"],
        "enterprise-under-not-a-ca" => &["not-a-ca"],
        _ => &["intermediate-ca"],
    };
    std::iter::once(der(leaf))
        .chain(intermediates.iter().map(|i| der(i)))
        .collect()
}

/// Signs `message` with the leaf's private key the way a client would (DER signatures).
pub fn sign(leaf: &str, message: &[u8]) -> Vec<u8> {
    let pkcs8 = key(leaf);
    let rng = SystemRandom::new();
    if let Ok(rsa) = RsaKeyPair::from_pkcs8(&pkcs8) {
        let mut signature = vec![0; rsa.public().modulus_len()];
        rsa.sign(&ring_sig::RSA_PKCS1_SHA256, &rng, message, &mut signature)
            .unwrap();
        return signature;
    }
    if let Ok(ec) =
        EcdsaKeyPair::from_pkcs8(&ring_sig::ECDSA_P256_SHA256_ASN1_SIGNING, &pkcs8, &rng)
    {
        return ec.sign(&rng, message).unwrap().as_ref().to_vec();
    }
    if let Ok(ec) =
        EcdsaKeyPair::from_pkcs8(&ring_sig::ECDSA_P384_SHA384_ASN1_SIGNING, &pkcs8, &rng)
    {
        return ec.sign(&rng, message).unwrap().as_ref().to_vec();
    }
    sm2_sign(&pkcs8, message).to_der().as_bytes().to_vec()
}

pub fn sm2_sign(pkcs8: &[u8], message: &[u8]) -> sm2::dsa::Signature {
    use sm2::dsa::signature::Signer as _;
    use sm2::pkcs8::DecodePrivateKey as _;
    let secret = sm2::SecretKey::from_pkcs8_der(pkcs8).expect("an SM2 PKCS#8 key");
    let signing = sm2::dsa::SigningKey::new("1234567812345678", &secret).unwrap();
    signing.sign(message)
}

/// An HTTPS client trusting the dev root, presenting `identity`'s certificate chain and key
/// (`certs/dev/<identity>.chain.pem` / `.key.pem`) as its TLS client certificate, if any.
pub fn mtls_client(identity: Option<&str>) -> reqwest::Client {
    use std::sync::Arc;

    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(dev("root-ca.pem")).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots);
    let config = match identity {
        Some(name) => {
            let chain: Vec<CertificateDer<'static>> =
                CertificateDer::pem_file_iter(dev(&format!("{name}.chain.pem")))
                    .unwrap()
                    .map(|c| c.unwrap())
                    .collect();
            let key = PrivateKeyDer::from_pem_file(dev(&format!("{name}.key.pem"))).unwrap();
            builder.with_client_auth_cert(chain, key).unwrap()
        }
        None => builder.with_no_client_auth(),
    };
    reqwest::Client::builder()
        .use_preconfigured_tls(config)
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .unwrap()
}
