//! The platform's seal CA: for development and for governments without their own, the platform
//! runs a CA that certifies each department's seal key. The CA's key is sealed at rest under the
//! seal key file; a real CA's seal certificates can be imported instead (see `registry`).
//!
//! Seal certificates carry keyUsage digitalSignature + nonRepudiation (validators such as
//! pyHanko want non-repudiation on document signatures), the department's name as CN and
//! organisation, and its code as OU.

use chrono::{DateTime, Datelike, Utc};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, SerialNumber,
};
use ring::rand::{SecureRandom, SystemRandom};

/// A freshly issued key pair and certificate.
pub struct Issued {
    /// PKCS#8 DER of the private key.
    pub key_pkcs8: Vec<u8>,
    pub certificate_der: Vec<u8>,
    pub serial_hex: String,
}

#[derive(Debug, thiserror::Error)]
pub enum AuthorityError {
    #[error("certificate generation: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("the system random generator failed")]
    Random,
}

fn serial() -> Result<(SerialNumber, String), AuthorityError> {
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| AuthorityError::Random)?;
    // A positive INTEGER: clear the top bit.
    bytes[0] &= 0x7f;
    Ok((SerialNumber::from_slice(&bytes), hex::encode(bytes)))
}

fn validity(params: &mut CertificateParams, from: DateTime<Utc>, years: i32) {
    let year = from.year();
    params.not_before = rcgen::date_time_ymd(year, from.month() as u8, from.day().min(28) as u8);
    params.not_after =
        rcgen::date_time_ymd(year + years, from.month() as u8, from.day().min(28) as u8);
}

/// A new self-signed root for the platform's seal CA (ECDSA P-256, 20 years).
pub fn new_root(name: &str, now: DateTime<Utc>) -> Result<Issued, AuthorityError> {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, "CN");
    dn.push(DnType::OrganizationName, name);
    dn.push(DnType::CommonName, name);
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let (serial, serial_hex) = serial()?;
    params.serial_number = Some(serial);
    validity(&mut params, now, 20);
    let certificate = params.self_signed(&key)?;
    Ok(Issued {
        key_pkcs8: key.serialize_der(),
        certificate_der: certificate.der().to_vec(),
        serial_hex,
    })
}

/// What a seal certificate names.
pub struct SealSubject<'a> {
    pub department_name: &'a str,
    pub department_code: &'a str,
    /// e.g. 行政审批专用章
    pub label: &'a str,
}

/// A new seal key pair certified by the CA whose certificate and key are given (5 years).
pub fn issue_seal(
    ca_certificate_der: &[u8],
    ca_key_pkcs8: &[u8],
    subject: &SealSubject<'_>,
    now: DateTime<Utc>,
) -> Result<Issued, AuthorityError> {
    let ca_key = KeyPair::try_from(ca_key_pkcs8)?;
    let issuer = Issuer::from_ca_cert_der(&ca_certificate_der.into(), ca_key)?;
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, "CN");
    dn.push(DnType::OrganizationName, subject.department_name);
    dn.push(DnType::OrganizationalUnitName, subject.department_code);
    dn.push(
        DnType::CommonName,
        format!("{}{}", subject.department_name, subject.label),
    );
    params.distinguished_name = dn;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::ContentCommitment,
    ];
    params.use_authority_key_identifier_extension = true;
    let (serial, serial_hex) = serial()?;
    params.serial_number = Some(serial);
    validity(&mut params, now, 5);
    let certificate = params.signed_by(&key, &issuer)?;
    Ok(Issued {
        key_pkcs8: key.serialize_der(),
        certificate_der: certificate.der().to_vec(),
        serial_hex,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::prelude::*;

    #[test]
    fn seal_certificates_chain_to_the_root_and_allow_non_repudiation() {
        // A fixed instant: no test depends on the real date.
        let now = DateTime::parse_from_rfc3339("2026-11-16T10:00:00+08:00")
            .unwrap()
            .with_timezone(&Utc);
        let root = new_root("指尖办电子印章测试根CA", now).unwrap();
        let seal = issue_seal(
            &root.certificate_der,
            &root.key_pkcs8,
            &SealSubject {
                department_name: "大安市市场监督管理局",
                department_code: "DA-SCJG",
                label: "行政审批专用章",
            },
            now,
        )
        .unwrap();
        let (_, ca) = X509Certificate::from_der(&root.certificate_der).unwrap();
        let (_, cert) = X509Certificate::from_der(&seal.certificate_der).unwrap();
        cert.verify_signature(Some(ca.public_key())).unwrap();
        let usage = cert.key_usage().unwrap().unwrap().value;
        assert!(usage.digital_signature() && usage.non_repudiation());
        assert!(!cert.is_ca());
        assert!(ca.is_ca());
        let cn = cert.subject().iter_common_name().next().unwrap();
        assert_eq!(cn.as_str().unwrap(), "大安市市场监督管理局行政审批专用章");
        assert_eq!(seal.serial_hex.len(), 32);
    }
}
