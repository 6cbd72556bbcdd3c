//! Importing a seal made by a real CA: the department's PKCS#8 key and the certificate chain
//! the CA issued for it, checked before anything is stored — the key is an ECDSA P-256 key (the
//! signer this platform runs), the leaf certificate certifies exactly that key, may sign
//! (digitalSignature or nonRepudiation) and is valid now, and every certificate is signed by the
//! next, up to a self-signed root (which `GET /api/v1/public/seal-root` then also serves).

use chrono::{DateTime, Utc};
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use x509_parser::prelude::*;

use crate::http::FieldError;

/// A checked import: ready to seal and store.
#[derive(Debug, Clone)]
pub struct ImportedSeal {
    pub key_pkcs8: Vec<u8>,
    pub certificate_der: Vec<u8>,
    /// The issuers, nearest first, ending with the root.
    pub chain_der: Vec<Vec<u8>>,
    pub serial_hex: String,
}

fn error(field: impl Into<String>, code: &'static str, detail: impl Into<String>) -> FieldError {
    FieldError::new(field, code, detail)
}

/// The DER contents of the one PEM block labelled `label` in `text`.
fn pem_block(text: &str, label: &str, field: &str) -> Result<Vec<u8>, FieldError> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(text.trim().as_bytes())
        .map_err(|_| error(field, "invalid_pem", format!("a PEM block ({label})")))?;
    if pem.label != label {
        return Err(error(
            field,
            "invalid_pem",
            format!("a PEM block labelled {label}, not {}", pem.label),
        ));
    }
    Ok(pem.contents)
}

/// Checks `key_pem` (`PRIVATE KEY`, PKCS#8) against `chain_pem` (the seal's certificate
/// first, then its issuers up to the root) at `now`.
pub fn check_import(
    key_pem: &str,
    chain_pem: &[String],
    now: DateTime<Utc>,
) -> Result<ImportedSeal, FieldError> {
    let key_pkcs8 = pem_block(key_pem, "PRIVATE KEY", "key_pem")?;
    let rng = ring::rand::SystemRandom::new();
    let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &key_pkcs8, &rng).map_err(
        |_| {
            error(
                "key_pem",
                "unsupported_seal_key",
                "an unencrypted PKCS#8 ECDSA P-256 key (SM2 and RSA seals are not supported yet)",
            )
        },
    )?;
    if chain_pem.is_empty() || chain_pem.len() > 5 {
        return Err(error(
            "certificate_chain",
            "invalid_chain_length",
            "the seal's certificate, then its issuers up to the root: 1 to 5 certificates",
        ));
    }
    let ders: Vec<Vec<u8>> = chain_pem
        .iter()
        .enumerate()
        .map(|(i, text)| pem_block(text, "CERTIFICATE", &format!("certificate_chain[{i}]")))
        .collect::<Result<_, _>>()?;
    let mut certificates = Vec::new();
    for (i, der) in ders.iter().enumerate() {
        let (_, certificate) = X509Certificate::from_der(der).map_err(|_| {
            error(
                format!("certificate_chain[{i}]"),
                "invalid_certificate",
                "not an X.509 certificate",
            )
        })?;
        certificates.push(certificate);
    }
    let leaf = &certificates[0];
    if leaf.public_key().subject_public_key.data.as_ref() != key.public_key().as_ref() {
        return Err(error(
            "certificate_chain[0]",
            "key_certificate_mismatch",
            "the first certificate does not certify this key",
        ));
    }
    let at = ASN1Time::from_timestamp(now.timestamp()).map_err(|_| {
        error(
            "certificate_chain[0]",
            "certificate_not_valid_now",
            "the time is outside X.509's range",
        )
    })?;
    if !leaf.validity().is_valid_at(at) {
        return Err(error(
            "certificate_chain[0]",
            "certificate_not_valid_now",
            "the seal certificate is not valid now",
        ));
    }
    let may_sign = match leaf.key_usage() {
        Ok(Some(usage)) => usage.value.digital_signature() || usage.value.non_repudiation(),
        Ok(None) => true,
        Err(_) => false,
    };
    if !may_sign {
        return Err(error(
            "certificate_chain[0]",
            "certificate_key_usage",
            "the seal certificate's key usage allows no signing",
        ));
    }
    for i in 0..certificates.len() {
        let issuer = certificates.get(i + 1).unwrap_or(&certificates[i]);
        let last = i + 1 == certificates.len();
        if certificates[i]
            .verify_signature(Some(issuer.public_key()))
            .is_err()
        {
            return Err(if last {
                error(
                    format!("certificate_chain[{i}]"),
                    "chain_incomplete",
                    "the chain must end with the self-signed root",
                )
            } else {
                error(
                    format!("certificate_chain[{i}]"),
                    "chain_broken",
                    "not signed by the next certificate of the chain",
                )
            });
        }
    }
    Ok(ImportedSeal {
        serial_hex: leaf.raw_serial_as_string().replace(':', ""),
        key_pkcs8,
        certificate_der: ders[0].clone(),
        chain_der: ders[1..].to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fixed instant: no test depends on the real date.
    fn test_now() -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::parse_from_rfc3339("2026-11-16T10:00:00+08:00")
            .unwrap()
            .with_timezone(&chrono::Utc)
    }
    use crate::seals::authority::{self, SealSubject};
    use crate::seals::registry::pem;

    fn issued() -> (String, Vec<String>) {
        let root = authority::new_root("测试印章根CA", test_now()).unwrap();
        let root_der = root.certificate_der;
        let seal = authority::issue_seal(
            &root_der,
            &root.key_pkcs8,
            &SealSubject {
                department_name: "大安市市场监督管理局",
                department_code: "DA-SCJG",
                label: "行政审批专用章",
            },
            test_now(),
        )
        .unwrap();
        (
            pem("PRIVATE KEY", &seal.key_pkcs8),
            vec![
                pem("CERTIFICATE", &seal.certificate_der),
                pem("CERTIFICATE", &root_der),
            ],
        )
    }

    #[test]
    fn a_key_with_its_chain_to_a_root_is_accepted() {
        let (key, chain) = issued();
        let imported = check_import(&key, &chain, test_now()).unwrap();
        assert_eq!(imported.chain_der.len(), 1);
        assert!(!imported.serial_hex.is_empty());
    }

    #[test]
    fn another_key_a_missing_root_and_garbage_are_refused() {
        let (key, chain) = issued();
        let (other_key, _) = issued();
        let err = check_import(&other_key, &chain, test_now()).unwrap_err();
        assert_eq!(err.code, "key_certificate_mismatch");
        let err = check_import(&key, &chain[..1], test_now()).unwrap_err();
        assert_eq!(err.code, "chain_incomplete");
        let err = check_import("not pem", &chain, test_now()).unwrap_err();
        assert_eq!(err.field, "key_pem");
        let err = check_import(&key, &[], test_now()).unwrap_err();
        assert_eq!(err.code, "invalid_chain_length");
        let (_, other_chain) = issued();
        let err = check_import(
            &key,
            &[chain[0].clone(), other_chain[1].clone()],
            test_now(),
        )
        .unwrap_err();
        assert_eq!(err.code, "chain_broken");
        let later = test_now() + chrono::Duration::days(365 * 30);
        let err = check_import(&key, &chain, later).unwrap_err();
        assert_eq!(err.code, "certificate_not_valid_now");
    }
}
