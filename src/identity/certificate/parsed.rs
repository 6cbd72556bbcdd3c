//! An owned digest of one X.509 certificate: what the chain checks need, so that path building
//! does not juggle the borrowed `x509_parser` structures.

use x509_parser::extensions::{DistributionPointName, GeneralName, ParsedExtension};
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::signature_algorithm::SignatureAlgorithm;
use x509_parser::x509::{AlgorithmIdentifier, SubjectPublicKeyInfo};

use super::CertificateError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

/// The signature algorithm a certificate or CRL was signed with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SignatureAlg {
    RsaPkcs1(Hash),
    RsaPss(Hash),
    Ecdsa(Hash),
    Sm2Sm3,
    Unsupported(String),
}

/// The kind of a subject public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeyAlg {
    Rsa,
    EcP256,
    EcP384,
    Sm2,
    Unsupported(String),
}

impl KeyAlg {
    pub(crate) fn label(&self) -> &'static str {
        match self {
            KeyAlg::Rsa => "RSA",
            KeyAlg::EcP256 => "ECDSA P-256",
            KeyAlg::EcP384 => "ECDSA P-384",
            KeyAlg::Sm2 => "SM2",
            KeyAlg::Unsupported(_) => "unsupported",
        }
    }
}

/// A subject public key: its kind and the bytes ring/sm2 take (RSAPublicKey DER, or the SEC1 point).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PublicKey {
    pub alg: KeyAlg,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone)]
pub(crate) struct ParsedCert {
    pub der: Vec<u8>,
    pub tbs: Vec<u8>,
    pub signature_alg: SignatureAlg,
    pub signature: Vec<u8>,
    pub subject_raw: Vec<u8>,
    pub issuer_raw: Vec<u8>,
    pub subject: String,
    pub issuer: String,
    pub spki_raw: Vec<u8>,
    pub public_key: PublicKey,
    pub not_before: i64,
    pub not_after: i64,
    /// basicConstraints: (cA, pathLenConstraint), `None` when absent.
    pub basic_constraints: Option<(bool, Option<u32>)>,
    /// keyUsage: (digitalSignature, keyCertSign, cRLSign), `None` when absent.
    pub key_usage: Option<(bool, bool, bool)>,
    /// extendedKeyUsage purposes as dotted OIDs, `None` when absent.
    pub extended_key_usage: Option<Vec<String>>,
    pub policies: Vec<String>,
    /// http(s) URLs of the CRL distribution points.
    pub crl_urls: Vec<String>,
    /// Critical extensions this verifier does not process.
    pub unknown_critical: Vec<String>,
    /// The serial number's INTEGER content, leading zero bytes removed.
    pub serial: Vec<u8>,
}

const OID_RSA: &str = "1.2.840.113549.1.1.1";
const OID_EC: &str = "1.2.840.10045.2.1";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_P384: &str = "1.3.132.0.34";
const OID_SM2_CURVE: &str = "1.2.156.10197.1.301";

/// Extensions whose criticality we honour by checking them (RFC 5280 §4.2: an unrecognised
/// critical extension must make the certificate be rejected).
const PROCESSED_EXTENSIONS: &[&str] = &[
    "2.5.29.15", // keyUsage
    "2.5.29.19", // basicConstraints
    "2.5.29.37", // extendedKeyUsage
    "2.5.29.32", // certificatePolicies
    "2.5.29.31", // cRLDistributionPoints
    "2.5.29.14", // subjectKeyIdentifier
    "2.5.29.35", // authorityKeyIdentifier
    "2.5.29.17", // subjectAltName (informational here)
];

pub(crate) fn strip_leading_zeros(bytes: &[u8]) -> Vec<u8> {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    bytes[start..].to_vec()
}

pub(crate) fn hash_of(oid: &str) -> Option<Hash> {
    match oid {
        "2.16.840.1.101.3.4.2.1" => Some(Hash::Sha256),
        "2.16.840.1.101.3.4.2.2" => Some(Hash::Sha384),
        "2.16.840.1.101.3.4.2.3" => Some(Hash::Sha512),
        _ => None,
    }
}

pub(crate) fn signature_alg(alg: &AlgorithmIdentifier<'_>) -> SignatureAlg {
    let oid = alg.algorithm.to_id_string();
    match oid.as_str() {
        "1.2.840.113549.1.1.11" => SignatureAlg::RsaPkcs1(Hash::Sha256),
        "1.2.840.113549.1.1.12" => SignatureAlg::RsaPkcs1(Hash::Sha384),
        "1.2.840.113549.1.1.13" => SignatureAlg::RsaPkcs1(Hash::Sha512),
        "1.2.840.10045.4.3.2" => SignatureAlg::Ecdsa(Hash::Sha256),
        "1.2.840.10045.4.3.3" => SignatureAlg::Ecdsa(Hash::Sha384),
        "1.2.840.10045.4.3.4" => SignatureAlg::Ecdsa(Hash::Sha512),
        "1.2.156.10197.1.501" => SignatureAlg::Sm2Sm3,
        "1.2.840.113549.1.1.10" => match SignatureAlgorithm::try_from(alg) {
            Ok(SignatureAlgorithm::RSASSA_PSS(params)) => {
                match hash_of(&params.hash_algorithm_oid().to_id_string()) {
                    Some(hash) => SignatureAlg::RsaPss(hash),
                    None => SignatureAlg::Unsupported(format!(
                        "RSA-PSS with hash {}",
                        params.hash_algorithm_oid().to_id_string()
                    )),
                }
            }
            _ => SignatureAlg::Unsupported("RSA-PSS without parameters".to_owned()),
        },
        _ => SignatureAlg::Unsupported(oid),
    }
}

pub(crate) fn public_key(spki: &SubjectPublicKeyInfo<'_>) -> PublicKey {
    let oid = spki.algorithm.algorithm.to_id_string();
    let bytes = spki.subject_public_key.data.to_vec();
    let alg = match oid.as_str() {
        OID_RSA => KeyAlg::Rsa,
        OID_EC => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|o| o.to_id_string())
                .unwrap_or_default();
            match curve.as_str() {
                OID_P256 => KeyAlg::EcP256,
                OID_P384 => KeyAlg::EcP384,
                OID_SM2_CURVE => KeyAlg::Sm2,
                other => KeyAlg::Unsupported(format!("EC curve {other}")),
            }
        }
        // Some SM2 certificates name the key algorithm by the SM2 OID itself.
        OID_SM2_CURVE => KeyAlg::Sm2,
        other => KeyAlg::Unsupported(other.to_owned()),
    };
    PublicKey { alg, bytes }
}

impl ParsedCert {
    pub(crate) fn from_der(der: &[u8]) -> Result<Self, CertificateError> {
        let (rest, cert) = X509Certificate::from_der(der)
            .map_err(|e| CertificateError::Malformed(format!("not a DER certificate: {e}")))?;
        if !rest.is_empty() {
            return Err(CertificateError::Malformed(
                "trailing bytes after the certificate".to_owned(),
            ));
        }
        Self::from_x509(&cert)
    }

    pub(crate) fn from_x509(cert: &X509Certificate<'_>) -> Result<Self, CertificateError> {
        let subject = cert.subject().to_string();
        let malformed = |what: &str, e: &dyn std::fmt::Display| {
            CertificateError::Malformed(format!("{subject}: {what}: {e}"))
        };
        let basic_constraints = cert
            .basic_constraints()
            .map_err(|e| malformed("basicConstraints", &e))?
            .map(|b| (b.value.ca, b.value.path_len_constraint));
        let key_usage = cert
            .key_usage()
            .map_err(|e| malformed("keyUsage", &e))?
            .map(|k| {
                (
                    k.value.digital_signature(),
                    k.value.key_cert_sign(),
                    k.value.crl_sign(),
                )
            });
        let extended_key_usage = cert
            .extended_key_usage()
            .map_err(|e| malformed("extendedKeyUsage", &e))?
            .map(|e| {
                let eku = e.value;
                let mut oids: Vec<String> = Vec::new();
                let named = [
                    (eku.any, "2.5.29.37.0"),
                    (eku.server_auth, "1.3.6.1.5.5.7.3.1"),
                    (eku.client_auth, "1.3.6.1.5.5.7.3.2"),
                    (eku.code_signing, "1.3.6.1.5.5.7.3.3"),
                    (eku.email_protection, "1.3.6.1.5.5.7.3.4"),
                    (eku.time_stamping, "1.3.6.1.5.5.7.3.8"),
                    (eku.ocsp_signing, "1.3.6.1.5.5.7.3.9"),
                ];
                oids.extend(
                    named
                        .iter()
                        .filter(|(on, _)| *on)
                        .map(|(_, o)| (*o).to_owned()),
                );
                oids.extend(eku.other.iter().map(|o| o.to_id_string()));
                oids
            });
        let mut policies = Vec::new();
        let mut crl_urls = Vec::new();
        let mut unknown_critical = Vec::new();
        for ext in cert.extensions() {
            let oid = ext.oid.to_id_string();
            match ext.parsed_extension() {
                ParsedExtension::CertificatePolicies(list) => {
                    policies.extend(list.iter().map(|p| p.policy_id.to_id_string()));
                }
                ParsedExtension::CRLDistributionPoints(points) => {
                    for point in points.iter() {
                        if let Some(DistributionPointName::FullName(names)) =
                            &point.distribution_point
                        {
                            for name in names {
                                if let GeneralName::URI(uri) = name
                                    && (uri.starts_with("http://") || uri.starts_with("https://"))
                                {
                                    crl_urls.push((*uri).to_owned());
                                }
                            }
                        }
                    }
                }
                ParsedExtension::ParseError { error } => {
                    return Err(malformed(&format!("extension {oid}"), error));
                }
                _ => {}
            }
            if ext.critical && !PROCESSED_EXTENSIONS.contains(&oid.as_str()) {
                unknown_critical.push(oid);
            }
        }
        Ok(ParsedCert {
            der: cert.as_raw().to_vec(),
            tbs: cert.tbs_certificate.as_ref().to_vec(),
            signature_alg: signature_alg(&cert.signature_algorithm),
            signature: cert.signature_value.data.to_vec(),
            subject_raw: cert.subject().as_raw().to_vec(),
            issuer_raw: cert.issuer().as_raw().to_vec(),
            issuer: cert.issuer().to_string(),
            spki_raw: cert.public_key().raw.to_vec(),
            public_key: public_key(cert.public_key()),
            not_before: cert.validity().not_before.timestamp(),
            not_after: cert.validity().not_after.timestamp(),
            basic_constraints,
            key_usage,
            extended_key_usage,
            policies,
            crl_urls,
            unknown_critical,
            serial: strip_leading_zeros(cert.tbs_certificate.raw_serial()),
            subject,
        })
    }

    /// Same certificate or the same subject with the same key (a re-issued root).
    pub(crate) fn same_entity(&self, other: &ParsedCert) -> bool {
        self.der == other.der
            || (self.subject_raw == other.subject_raw && self.spki_raw == other.spki_raw)
    }

    pub(crate) fn is_self_issued(&self) -> bool {
        self.subject_raw == self.issuer_raw
    }
}
