//! Enterprise login with a CA-issued certificate (企业数字证书登录).
//!
//! The client sends its certificate chain and a signature over a server-issued challenge; the
//! [`CertificateVerifier`] builds the path to a configured trust anchor, checks validity, CA
//! constraints, key usages and revocation (CRLs from files and distribution points), verifies the
//! challenge signature (RSA, ECDSA, SM2) and reads the enterprise's unified social credit code.
//! Options follow Keycloak's X.509 authenticator (REFERENCE.md "Enterprise certificates").

mod crl;
pub mod enterprise_code;
pub mod mtls;
mod parsed;
mod signature;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use chrono::{DateTime, TimeZone, Utc};
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::identity::credit_code::EnterpriseCode;
use crate::identity::errors::IdentityProblem;
use crl::{Crl, CrlStore};
use parsed::ParsedCert;
use signature::{SignatureFailure, verify_challenge, verify_signed_object};

pub use enterprise_code::{ExtractedCode, extract_enterprise_code};

/// Longest accepted path, leaf and anchor included.
const MAX_PATH_LENGTH: usize = 8;

#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CertificateLoginConfig {
    /// PEM files with the trusted root CA certificates.
    pub trust_anchors: Vec<PathBuf>,
    /// PEM files with extra intermediate CA certificates (clients usually send theirs).
    pub intermediates: Vec<PathBuf>,
    /// CRLs loaded from files (PEM or DER).
    pub crl_files: Vec<PathBuf>,
    /// Fetch CRLs from the certificates' CRL distribution points.
    pub crl_from_distribution_points: bool,
    /// Refuse when the only CRL to be had is past its nextUpdate.
    pub fail_if_crl_stale: bool,
    /// Refuse when no CRL for an issuer can be had.
    pub require_crl: bool,
    /// How long a fetched CRL is reused (never past its nextUpdate).
    pub crl_cache_seconds: u64,
    pub crl_fetch_timeout_seconds: u64,
    /// Check the intermediates' revocation too, not only the leaf's.
    pub check_intermediate_revocation: bool,
    /// Prefix rewrites applied to distribution point URLs before fetching (`from` → `to`), for a
    /// local mirror of a CA's CRLs or for tests.
    pub crl_url_rewrite: BTreeMap<String, String>,
    /// If non-empty, the leaf must carry one of these extended key usage OIDs.
    pub extended_key_usage: Vec<String>,
    /// If non-empty, the leaf must carry one of these certificate policy OIDs.
    pub certificate_policies: Vec<String>,
    /// Legacy credit codes accepted despite a failing check digit.
    pub credit_code_exceptions: Vec<String>,
}

impl Default for CertificateLoginConfig {
    fn default() -> Self {
        CertificateLoginConfig {
            trust_anchors: Vec::new(),
            intermediates: Vec::new(),
            crl_files: Vec::new(),
            crl_from_distribution_points: true,
            fail_if_crl_stale: true,
            require_crl: true,
            crl_cache_seconds: 3600,
            crl_fetch_timeout_seconds: 10,
            check_intermediate_revocation: true,
            crl_url_rewrite: BTreeMap::new(),
            extended_key_usage: Vec::new(),
            certificate_policies: Vec::new(),
            credit_code_exceptions: Vec::new(),
        }
    }
}

/// What a successful certificate login established.
#[derive(Debug, Clone)]
pub struct VerifiedCertificate {
    pub enterprise_code: EnterpriseCode,
    /// Where the code was found, e.g. "extension 1.2.156.10260.4.1.4", "subject CN (CFCA)",
    /// "subject serialNumber", "subject OU".
    pub matched_field: &'static str,
    /// Subject O, or the name part of a CFCA CN.
    pub organisation_name: Option<String>,
    pub subject: String,
    pub issuer: String,
    pub serial_hex: String,
    /// Hex SHA-256 over the leaf's DER.
    pub fingerprint_sha256: String,
    /// "RSA", "ECDSA P-256", "ECDSA P-384" or "SM2".
    pub key_algorithm: &'static str,
    pub not_after: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum CertificateError {
    #[error("malformed certificate: {0}")]
    Malformed(String),
    #[error("no path to a trusted root: {0}")]
    Untrusted(String),
    #[error("certificate {subject} expired at {not_after}")]
    Expired {
        subject: String,
        not_after: DateTime<Utc>,
    },
    #[error("certificate {subject} is not valid before {not_before}")]
    NotYetValid {
        subject: String,
        not_before: DateTime<Utc>,
    },
    #[error("certificate {subject} (serial {serial_hex}) was revoked at {revoked_at}")]
    Revoked {
        subject: String,
        serial_hex: String,
        revoked_at: DateTime<Utc>,
    },
    #[error("no CRL available for {issuer}: {reason}")]
    CrlUnavailable { issuer: String, reason: String },
    #[error("the CRL of {issuer} from {source_name} is out of date (nextUpdate {next_update})")]
    CrlStale {
        issuer: String,
        source_name: String,
        next_update: DateTime<Utc>,
    },
    #[error("the challenge signature does not verify with the certificate's key")]
    BadSignature,
    #[error("the signature on certificate {subject} does not verify with its issuer's key")]
    ChainSignatureInvalid { subject: String },
    #[error("key usage: {0}")]
    KeyUsage(String),
    #[error("certificate {subject} issues certificates but is not a CA")]
    NotCa { subject: String },
    #[error("CA {subject} allows {allowed} intermediate CA(s) below it, the chain has {found}")]
    PathLength {
        subject: String,
        allowed: u32,
        found: usize,
    },
    #[error("the certificate has none of the required extended key usages {required:?}")]
    ExtendedKeyUsage { required: Vec<String> },
    #[error("the certificate has none of the required policies {required:?}")]
    Policy { required: Vec<String> },
    #[error("certificate {subject} has an unsupported critical extension {oid}")]
    UnsupportedCriticalExtension { subject: String, oid: String },
    #[error("the certificate carries no enterprise code")]
    NoEnterpriseCode,
    #[error("the enterprise code {value:?} in the {field} is invalid: {reason}")]
    InvalidEnterpriseCode {
        field: &'static str,
        value: String,
        reason: String,
    },
    #[error("unsupported algorithm: {0}")]
    UnsupportedAlgorithm(String),
}

impl CertificateError {
    /// The declared problem it is sent as.
    pub fn problem(&self) -> IdentityProblem {
        match self {
            CertificateError::Malformed(_) => IdentityProblem::CertificateMalformed,
            CertificateError::Untrusted(_) => IdentityProblem::CertificateUntrusted,
            CertificateError::Expired { .. } => IdentityProblem::CertificateExpired,
            CertificateError::NotYetValid { .. } => IdentityProblem::CertificateNotYetValid,
            CertificateError::Revoked { .. } => IdentityProblem::CertificateRevoked,
            CertificateError::CrlUnavailable { .. } => IdentityProblem::CertificateCrlUnavailable,
            CertificateError::CrlStale { .. } => IdentityProblem::CertificateCrlStale,
            CertificateError::BadSignature => IdentityProblem::CertificateBadSignature,
            CertificateError::ChainSignatureInvalid { .. } => {
                IdentityProblem::CertificateChainSignatureInvalid
            }
            CertificateError::KeyUsage(_) => IdentityProblem::CertificateKeyUsage,
            CertificateError::NotCa { .. } => IdentityProblem::CertificateNotCa,
            CertificateError::PathLength { .. } => IdentityProblem::CertificatePathLength,
            CertificateError::ExtendedKeyUsage { .. } => IdentityProblem::CertificateEku,
            CertificateError::Policy { .. } => IdentityProblem::CertificatePolicy,
            CertificateError::UnsupportedCriticalExtension { .. } => {
                IdentityProblem::CertificateUnsupportedExtension
            }
            CertificateError::NoEnterpriseCode => IdentityProblem::CertificateNoEnterpriseCode,
            CertificateError::InvalidEnterpriseCode { .. } => {
                IdentityProblem::CertificateInvalidEnterpriseCode
            }
            CertificateError::UnsupportedAlgorithm(_) => {
                IdentityProblem::CertificateUnsupportedAlgorithm
            }
        }
    }

    /// Stable machine code.
    pub fn code(&self) -> &'static str {
        self.problem().code()
    }

    /// Short Chinese explanation for the person logging in.
    pub fn title_zh(&self) -> &'static str {
        match self {
            CertificateError::Malformed(_) => "证书格式错误",
            CertificateError::Untrusted(_) => "证书不是由受信任的证书机构签发",
            CertificateError::Expired { .. } => "证书已过期",
            CertificateError::NotYetValid { .. } => "证书尚未生效",
            CertificateError::Revoked { .. } => "证书已被吊销",
            CertificateError::CrlUnavailable { .. } => "暂时无法获取证书吊销列表，请稍后再试",
            CertificateError::CrlStale { .. } => "证书吊销列表已过期，请稍后再试",
            CertificateError::BadSignature => "签名验证失败",
            CertificateError::ChainSignatureInvalid { .. } => "证书链签名无效",
            CertificateError::KeyUsage(_) => "证书密钥用途不允许登录",
            CertificateError::NotCa { .. } | CertificateError::PathLength { .. } => {
                "证书链不符合要求"
            }
            CertificateError::ExtendedKeyUsage { .. } => "证书扩展密钥用途不允许登录",
            CertificateError::Policy { .. } => "证书策略不允许登录",
            CertificateError::UnsupportedCriticalExtension { .. } => "证书包含无法识别的关键扩展",
            CertificateError::NoEnterpriseCode => "证书中没有统一社会信用代码",
            CertificateError::InvalidEnterpriseCode { .. } => "证书中的统一社会信用代码无效",
            CertificateError::UnsupportedAlgorithm(_) => "不支持的证书算法",
        }
    }
}

fn utc(timestamp: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(timestamp, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// Verifies enterprise certificate chains and login challenges. Cheap to share in an `Arc`.
pub struct CertificateVerifier {
    anchors: Vec<ParsedCert>,
    intermediates: Vec<ParsedCert>,
    crls: CrlStore,
    config: CertificateLoginConfig,
}

fn read_certificates(paths: &[PathBuf]) -> anyhow::Result<Vec<ParsedCert>> {
    let mut certs = Vec::new();
    for path in paths {
        for der in crate::tls::read_pem_certificates(path)? {
            let cert = ParsedCert::from_der(der.as_ref())
                .with_context(|| format!("a certificate in {}", path.display()))?;
            certs.push(cert);
        }
    }
    Ok(certs)
}

impl CertificateVerifier {
    /// Reads the trust anchors, extra intermediates and CRL files.
    pub fn new(config: &CertificateLoginConfig) -> anyhow::Result<Self> {
        let anchors = read_certificates(&config.trust_anchors).context("trust anchors")?;
        anyhow::ensure!(
            !anchors.is_empty(),
            "certificate login needs at least one trust anchor"
        );
        let intermediates = read_certificates(&config.intermediates).context("intermediates")?;
        let crls = CrlStore::new(
            &config.crl_files,
            config.crl_cache_seconds,
            config.crl_fetch_timeout_seconds,
            &config.crl_url_rewrite,
        )?;
        Ok(CertificateVerifier {
            anchors,
            intermediates,
            crls,
            config: config.clone(),
        })
    }

    /// Verifies the chain (leaf first, then intermediates as sent by the client) up to a trusted
    /// root at `now`.
    pub async fn verify_chain(
        &self,
        chain_der: &[Vec<u8>],
        now: DateTime<Utc>,
    ) -> Result<VerifiedCertificate, CertificateError> {
        let path = self.checked_path(chain_der, now)?;
        self.check_revocation(&path, now).await?;
        self.identify(&path[0])
    }

    /// [`Self::verify_chain`], then verifies `signature` over `message` with the leaf's key
    /// (RSA PKCS#1 v1.5 or PSS with SHA-256; ECDSA DER or r||s; SM2 with SM3).
    pub async fn verify_signed_challenge(
        &self,
        chain_der: &[Vec<u8>],
        message: &[u8],
        signature: &[u8],
        now: DateTime<Utc>,
    ) -> Result<VerifiedCertificate, CertificateError> {
        let verified = self.verify_chain(chain_der, now).await?;
        let leaf = ParsedCert::from_der(&chain_der[0])?;
        match verify_challenge(&leaf.public_key, message, signature) {
            Ok(()) => Ok(verified),
            Err(SignatureFailure::Invalid) => Err(CertificateError::BadSignature),
            Err(SignatureFailure::Unsupported(what)) => {
                Err(CertificateError::UnsupportedAlgorithm(what))
            }
        }
    }

    /// For personal certificates (staff): the chain, revocation and the challenge signature, with
    /// no enterprise code required; the account is found by the leaf's fingerprint.
    pub async fn verify_personal_challenge(
        &self,
        chain_der: &[Vec<u8>],
        message: &[u8],
        signature: &[u8],
        now: DateTime<Utc>,
    ) -> Result<PersonalCertificate, CertificateError> {
        let path = self.checked_path(chain_der, now)?;
        self.check_revocation(&path, now).await?;
        let leaf = &path[0];
        match verify_challenge(&leaf.public_key, message, signature) {
            Ok(()) => Ok(PersonalCertificate::of(leaf)),
            Err(SignatureFailure::Invalid) => Err(CertificateError::BadSignature),
            Err(SignatureFailure::Unsupported(what)) => {
                Err(CertificateError::UnsupportedAlgorithm(what))
            }
        }
    }

    /// The chain and revocation of a personal certificate an administrator binds to an account.
    pub async fn verify_personal_chain(
        &self,
        chain_der: &[Vec<u8>],
        now: DateTime<Utc>,
    ) -> Result<PersonalCertificate, CertificateError> {
        let path = self.checked_path(chain_der, now)?;
        self.check_revocation(&path, now).await?;
        Ok(PersonalCertificate::of(&path[0]))
    }

    /// The synchronous variant (for TLS handshakes): CRLs only from files and from what earlier
    /// fetches or [`Self::refresh_crls`] cached; nothing is fetched.
    pub fn verify_chain_cached(
        &self,
        chain_der: &[Vec<u8>],
        now: DateTime<Utc>,
    ) -> Result<VerifiedCertificate, CertificateError> {
        let path = self.checked_path(chain_der, now)?;
        for (cert, issuer) in self.revocation_pairs(&path) {
            let mut candidates = self.file_candidates(cert, issuer);
            if self.config.crl_from_distribution_points && !has_fresh(&candidates, now) {
                for url in &cert.crl_urls {
                    if let Some(crl) = self.crls.last_fetched(&self.crls.rewrite_url(url))
                        && crl.covers(cert, issuer)
                    {
                        candidates.push(crl);
                    }
                }
            }
            self.judge(cert, candidates, now, "no CRL cached".to_owned())?;
        }
        self.identify(&path[0])
    }

    /// The subjects (DER) of the trust anchors, e.g. as TLS client-certificate hints.
    pub fn anchor_subjects(&self) -> Vec<Vec<u8>> {
        self.anchors.iter().map(|a| a.subject_raw.clone()).collect()
    }

    /// Re-reads the CRL files and re-fetches every distribution point fetched so far; for a
    /// periodic job. Failures keep the previous CRLs and are logged.
    pub async fn refresh_crls(&self) {
        self.crls.refresh().await;
    }

    /// Parses, builds the path and checks everything but revocation.
    fn checked_path(
        &self,
        chain_der: &[Vec<u8>],
        now: DateTime<Utc>,
    ) -> Result<Vec<ParsedCert>, CertificateError> {
        let (leaf_der, rest) = chain_der
            .split_first()
            .ok_or_else(|| CertificateError::Malformed("empty certificate chain".to_owned()))?;
        let leaf = ParsedCert::from_der(leaf_der)?;
        let presented = rest
            .iter()
            .map(|der| ParsedCert::from_der(der))
            .collect::<Result<Vec<_>, _>>()?;
        let path = self.build_path(leaf, &presented)?;
        self.check_path(&path, now.timestamp())?;
        Ok(path)
    }

    /// Leaf → … → anchor. Anchors are preferred as issuers, so a root the client sent along is
    /// replaced by the configured one.
    fn build_path(
        &self,
        leaf: ParsedCert,
        presented: &[ParsedCert],
    ) -> Result<Vec<ParsedCert>, CertificateError> {
        let mut path = vec![leaf];
        'extend: loop {
            let Some(current) = path.last() else {
                return Err(CertificateError::Malformed("empty path".to_owned()));
            };
            if path.len() >= MAX_PATH_LENGTH {
                return Err(CertificateError::Untrusted(format!(
                    "no trusted root within {MAX_PATH_LENGTH} certificates"
                )));
            }
            let mut bad_signature = false;
            let mut unsupported = None;
            let mut try_issuer = |candidate: &ParsedCert| -> bool {
                if candidate.subject_raw != current.issuer_raw {
                    return false;
                }
                match verify_signed_object(
                    &candidate.public_key,
                    &current.signature_alg,
                    &current.tbs,
                    &current.signature,
                ) {
                    Ok(()) => true,
                    Err(SignatureFailure::Invalid) => {
                        bad_signature = true;
                        false
                    }
                    Err(SignatureFailure::Unsupported(what)) => {
                        unsupported = Some(what);
                        false
                    }
                }
            };
            if let Some(anchor) = self.anchors.iter().find(|a| try_issuer(a)) {
                // A self-signed anchor presented as the leaf is not a login certificate.
                if path.len() == 1 && anchor.same_entity(&path[0]) {
                    return Err(CertificateError::Untrusted(
                        "a CA certificate cannot log in".to_owned(),
                    ));
                }
                path.push(anchor.clone());
                return Ok(path);
            }
            let issuer = presented
                .iter()
                .chain(self.intermediates.iter())
                .filter(|c| !path.iter().any(|p| p.same_entity(c)))
                .find(|c| try_issuer(c))
                .cloned();
            if let Some(issuer) = issuer {
                path.push(issuer);
                continue 'extend;
            }
            let subject = current.subject.clone();
            let issuer_name = current.issuer.clone();
            if bad_signature {
                return Err(CertificateError::ChainSignatureInvalid { subject });
            }
            if let Some(what) = unsupported {
                return Err(CertificateError::UnsupportedAlgorithm(what));
            }
            return Err(CertificateError::Untrusted(format!(
                "the issuer {issuer_name} of {subject} is neither a trust anchor nor a known intermediate"
            )));
        }
    }

    fn check_path(&self, path: &[ParsedCert], now: i64) -> Result<(), CertificateError> {
        for cert in path {
            if now < cert.not_before {
                return Err(CertificateError::NotYetValid {
                    subject: cert.subject.clone(),
                    not_before: utc(cert.not_before),
                });
            }
            if now > cert.not_after {
                return Err(CertificateError::Expired {
                    subject: cert.subject.clone(),
                    not_after: utc(cert.not_after),
                });
            }
        }
        let anchor_index = path.len() - 1;
        for (index, cert) in path.iter().enumerate() {
            // The anchor is configured, not checked (RFC 5280 §6.1: trust anchor information is
            // an input of path validation).
            if index == anchor_index {
                if let Some((false, _)) = cert.basic_constraints {
                    return Err(CertificateError::NotCa {
                        subject: cert.subject.clone(),
                    });
                }
                continue;
            }
            if let Some(oid) = cert.unknown_critical.first() {
                return Err(CertificateError::UnsupportedCriticalExtension {
                    subject: cert.subject.clone(),
                    oid: oid.clone(),
                });
            }
            if index == 0 {
                continue;
            }
            match cert.basic_constraints {
                Some((true, path_len)) => {
                    if let Some(allowed) = path_len {
                        // Intermediate CAs between this one and the leaf (self-issued ones do
                        // not count, RFC 5280 §4.2.1.9).
                        let found = path[1..index]
                            .iter()
                            .filter(|c| !c.is_self_issued())
                            .count();
                        if found > allowed as usize {
                            return Err(CertificateError::PathLength {
                                subject: cert.subject.clone(),
                                allowed,
                                found,
                            });
                        }
                    }
                }
                _ => {
                    return Err(CertificateError::NotCa {
                        subject: cert.subject.clone(),
                    });
                }
            }
            if let Some((_, false, _)) = cert.key_usage {
                return Err(CertificateError::KeyUsage(format!(
                    "the CA {} may not sign certificates (no keyCertSign)",
                    cert.subject
                )));
            }
        }
        // Checks on the anchor's keyUsage too, when it states one.
        if path.len() > 1
            && let Some((_, false, _)) = path[anchor_index].key_usage
        {
            return Err(CertificateError::KeyUsage(format!(
                "the root {} may not sign certificates (no keyCertSign)",
                path[anchor_index].subject
            )));
        }
        let leaf = &path[0];
        if let Some((false, _, _)) = leaf.key_usage {
            return Err(CertificateError::KeyUsage(
                "the certificate may not make digital signatures (no digitalSignature)".to_owned(),
            ));
        }
        if !self.config.extended_key_usage.is_empty() {
            let carried = leaf.extended_key_usage.as_deref().unwrap_or(&[]);
            if !self
                .config
                .extended_key_usage
                .iter()
                .any(|required| carried.contains(required))
            {
                return Err(CertificateError::ExtendedKeyUsage {
                    required: self.config.extended_key_usage.clone(),
                });
            }
        }
        if !self.config.certificate_policies.is_empty()
            && !self
                .config
                .certificate_policies
                .iter()
                .any(|required| leaf.policies.contains(required))
        {
            return Err(CertificateError::Policy {
                required: self.config.certificate_policies.clone(),
            });
        }
        Ok(())
    }

    /// (certificate, its issuer) for every certificate whose revocation is checked.
    fn revocation_pairs<'a>(
        &self,
        path: &'a [ParsedCert],
    ) -> impl Iterator<Item = (&'a ParsedCert, &'a ParsedCert)> {
        let checked = if self.config.check_intermediate_revocation {
            path.len().saturating_sub(1)
        } else {
            path.len().min(2).saturating_sub(1)
        };
        path.windows(2)
            .take(checked)
            .map(|pair| (&pair[0], &pair[1]))
    }

    fn file_candidates(&self, cert: &ParsedCert, issuer: &ParsedCert) -> Vec<Arc<Crl>> {
        self.crls
            .file_crls()
            .into_iter()
            .filter(|crl| crl.covers(cert, issuer))
            .collect()
    }

    async fn check_revocation(
        &self,
        path: &[ParsedCert],
        now: DateTime<Utc>,
    ) -> Result<(), CertificateError> {
        for (cert, issuer) in self.revocation_pairs(path) {
            let mut candidates = self.file_candidates(cert, issuer);
            let mut reasons = Vec::new();
            if self.config.crl_from_distribution_points && !has_fresh(&candidates, now) {
                if cert.crl_urls.is_empty() {
                    reasons.push("the certificate names no CRL distribution point".to_owned());
                }
                for url in &cert.crl_urls {
                    let url = self.crls.rewrite_url(url);
                    match self.crls.get_or_fetch(&url).await {
                        Ok(crl) if crl.covers(cert, issuer) => candidates.push(crl),
                        Ok(_) => reasons.push(format!(
                            "the CRL at {url} is not signed by {}",
                            issuer.subject
                        )),
                        Err(error) => reasons.push(error),
                    }
                }
            }
            if !self.config.crl_from_distribution_points {
                reasons.push("no CRL file for this issuer".to_owned());
            }
            self.judge(cert, candidates, now, reasons.join("; "))?;
        }
        Ok(())
    }

    /// Picks the freshest CRL among the candidates and applies the stale/missing policy.
    fn judge(
        &self,
        cert: &ParsedCert,
        candidates: Vec<Arc<Crl>>,
        now: DateTime<Utc>,
        reason: String,
    ) -> Result<(), CertificateError> {
        let now = now.timestamp();
        let best = candidates.into_iter().max_by_key(|crl| {
            // Fresh first, then the most recent.
            (!crl.is_stale(now), crl.this_update)
        });
        let Some(crl) = best else {
            if self.config.require_crl {
                return Err(CertificateError::CrlUnavailable {
                    issuer: cert.issuer.clone(),
                    reason: if reason.is_empty() {
                        "no CRL found".to_owned()
                    } else {
                        reason
                    },
                });
            }
            return Ok(());
        };
        if crl.is_stale(now) && self.config.fail_if_crl_stale {
            return Err(CertificateError::CrlStale {
                issuer: crl.issuer.clone(),
                source_name: crl.source.clone(),
                next_update: utc(crl.next_update.unwrap_or_default()),
            });
        }
        if let Some(revoked_at) = crl.revocation_of(cert) {
            return Err(CertificateError::Revoked {
                subject: cert.subject.clone(),
                serial_hex: hex::encode(&cert.serial),
                revoked_at: utc(revoked_at),
            });
        }
        Ok(())
    }

    fn identify(&self, leaf: &ParsedCert) -> Result<VerifiedCertificate, CertificateError> {
        let (_, cert) = X509Certificate::from_der(&leaf.der)
            .map_err(|e| CertificateError::Malformed(e.to_string()))?;
        let found = extract_enterprise_code(&cert, &self.config.credit_code_exceptions)?;
        if let parsed::KeyAlg::Unsupported(what) = &leaf.public_key.alg {
            return Err(CertificateError::UnsupportedAlgorithm(format!(
                "key algorithm {what}"
            )));
        }
        Ok(VerifiedCertificate {
            enterprise_code: found.code,
            matched_field: found.matched_field,
            organisation_name: found.organisation_name,
            subject: leaf.subject.clone(),
            issuer: leaf.issuer.clone(),
            serial_hex: hex::encode(&leaf.serial),
            fingerprint_sha256: hex::encode(ring::digest::digest(&ring::digest::SHA256, &leaf.der)),
            key_algorithm: leaf.public_key.alg.label(),
            not_after: utc(leaf.not_after),
        })
    }
}

/// A verified certificate of a person (no enterprise code needed).
#[derive(Debug, Clone)]
pub struct PersonalCertificate {
    pub subject: String,
    pub issuer: String,
    pub serial_hex: String,
    pub fingerprint_sha256: String,
    pub not_after: DateTime<Utc>,
}

impl PersonalCertificate {
    fn of(leaf: &ParsedCert) -> PersonalCertificate {
        PersonalCertificate {
            subject: leaf.subject.clone(),
            issuer: leaf.issuer.clone(),
            serial_hex: hex::encode(&leaf.serial),
            fingerprint_sha256: hex::encode(ring::digest::digest(&ring::digest::SHA256, &leaf.der)),
            not_after: utc(leaf.not_after),
        }
    }
}

fn has_fresh(candidates: &[Arc<Crl>], now: DateTime<Utc>) -> bool {
    let now = now.timestamp();
    candidates.iter().any(|crl| !crl.is_stale(now))
}
