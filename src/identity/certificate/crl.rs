//! Certificate revocation lists: loaded from files and fetched from CRL distribution points,
//! verified against the issuing CA's key where they are used, and cached until the earlier of
//! `crl_cache_seconds` and the CRL's nextUpdate.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use anyhow::Context;
use rustls::pki_types::CertificateRevocationListDer;
use rustls::pki_types::pem::PemObject;
use x509_parser::prelude::FromDer;
use x509_parser::revocation_list::CertificateRevocationList;

use super::parsed::{ParsedCert, SignatureAlg, signature_alg, strip_leading_zeros};
use super::signature::verify_signed_object;

/// A CRL larger than this is refused (a national CA's full CRL is a few MB).
const MAX_CRL_BYTES: usize = 64 * 1024 * 1024;

/// One parsed CRL, owned.
#[derive(Debug)]
pub(crate) struct Crl {
    pub issuer_raw: Vec<u8>,
    pub issuer: String,
    pub this_update: i64,
    pub next_update: Option<i64>,
    tbs: Vec<u8>,
    signature_alg: SignatureAlg,
    signature: Vec<u8>,
    /// Revoked serial (leading zeros stripped) → revocation time.
    revoked: HashMap<Vec<u8>, i64>,
    /// Where it came from (file path or URL), for messages.
    pub source: String,
}

impl Crl {
    pub(crate) fn from_der(der: &[u8], source: &str) -> anyhow::Result<Crl> {
        let (_, crl) = CertificateRevocationList::from_der(der)
            .map_err(|e| anyhow::anyhow!("{source}: not a DER CRL: {e}"))?;
        let revoked = crl
            .iter_revoked_certificates()
            .map(|r| {
                (
                    strip_leading_zeros(r.raw_serial()),
                    r.revocation_date.timestamp(),
                )
            })
            .collect();
        Ok(Crl {
            issuer_raw: crl.issuer().as_raw().to_vec(),
            issuer: crl.issuer().to_string(),
            this_update: crl.last_update().timestamp(),
            next_update: crl.next_update().map(|t| t.timestamp()),
            tbs: crl.tbs_cert_list.as_ref().to_vec(),
            signature_alg: signature_alg(&crl.signature_algorithm),
            signature: crl.signature_value.data.to_vec(),
            revoked,
            source: source.to_owned(),
        })
    }

    /// Every CRL of a PEM bundle, or the single CRL of a DER body.
    pub(crate) fn parse_any(bytes: &[u8], source: &str) -> anyhow::Result<Vec<Crl>> {
        if bytes.len() > MAX_CRL_BYTES {
            anyhow::bail!("{source}: CRL larger than {MAX_CRL_BYTES} bytes");
        }
        let trimmed = bytes.trim_ascii_start();
        if trimmed.starts_with(b"-----BEGIN") {
            let ders: Vec<CertificateRevocationListDer<'static>> =
                CertificateRevocationListDer::pem_slice_iter(trimmed)
                    .collect::<Result<_, _>>()
                    .with_context(|| format!("{source}: reading PEM CRLs"))?;
            anyhow::ensure!(!ders.is_empty(), "{source}: no CRL in the PEM file");
            ders.iter()
                .map(|der| Crl::from_der(der.as_ref(), source))
                .collect()
        } else {
            Ok(vec![Crl::from_der(bytes, source)?])
        }
    }

    /// Whether this CRL is the one `issuer` issued for `cert`: names chain and the signature
    /// verifies with the issuer's key.
    pub(crate) fn covers(&self, cert: &ParsedCert, issuer: &ParsedCert) -> bool {
        self.issuer_raw == cert.issuer_raw
            && verify_signed_object(
                &issuer.public_key,
                &self.signature_alg,
                &self.tbs,
                &self.signature,
            )
            .is_ok()
    }

    pub(crate) fn is_stale(&self, now: i64) -> bool {
        self.next_update.is_some_and(|next| next < now)
    }

    /// The revocation time of `cert`, if it is listed.
    pub(crate) fn revocation_of(&self, cert: &ParsedCert) -> Option<i64> {
        self.revoked.get(&cert.serial).copied()
    }
}

/// Entries live until the earlier of the configured cache time and the CRL's nextUpdate.
struct CrlExpiry {
    max: Duration,
}

impl CrlExpiry {
    fn ttl(&self, crl: &Crl) -> Duration {
        let now = crate::clock::system_time().timestamp();
        match crl.next_update {
            Some(next) => {
                let until_next = Duration::from_secs(u64::try_from(next - now).unwrap_or(0));
                self.max.min(until_next)
            }
            None => self.max,
        }
    }
}

impl moka::Expiry<String, Arc<Crl>> for CrlExpiry {
    fn expire_after_create(
        &self,
        _key: &String,
        value: &Arc<Crl>,
        _created_at: Instant,
    ) -> Option<Duration> {
        Some(self.ttl(value))
    }

    fn expire_after_update(
        &self,
        _key: &String,
        value: &Arc<Crl>,
        _updated_at: Instant,
        _duration_until_expiry: Option<Duration>,
    ) -> Option<Duration> {
        Some(self.ttl(value))
    }
}

pub(crate) struct CrlStore {
    files: Vec<PathBuf>,
    from_files: RwLock<Vec<Arc<Crl>>>,
    /// Fetched CRLs by (rewritten) URL, with TTL.
    fetched: moka::future::Cache<String, Arc<Crl>>,
    /// The last CRL fetched from each URL, without TTL: what the synchronous (TLS handshake) path
    /// can use, and the list of URLs `refresh` re-fetches. Staleness still applies to it.
    last_fetched: RwLock<HashMap<String, Arc<Crl>>>,
    http: reqwest::Client,
    /// (from prefix, to prefix), longest prefix first.
    rewrite: Vec<(String, String)>,
}

fn load_files(files: &[PathBuf]) -> anyhow::Result<Vec<Arc<Crl>>> {
    let mut crls = Vec::new();
    for path in files {
        let bytes = std::fs::read(path)
            .with_context(|| format!("reading the CRL file {}", path.display()))?;
        for crl in Crl::parse_any(&bytes, &path.display().to_string())? {
            crls.push(Arc::new(crl));
        }
    }
    Ok(crls)
}

impl CrlStore {
    pub(crate) fn new(
        files: &[PathBuf],
        cache_seconds: u64,
        fetch_timeout_seconds: u64,
        rewrite: &BTreeMap<String, String>,
    ) -> anyhow::Result<Self> {
        let from_files = load_files(files)?;
        let mut rewrite: Vec<(String, String)> = rewrite
            .iter()
            .map(|(a, b)| (a.clone(), b.clone()))
            .collect();
        rewrite.sort_by_key(|(from, _)| std::cmp::Reverse(from.len()));
        let fetched = moka::future::Cache::builder()
            .max_capacity(1024)
            .expire_after(CrlExpiry {
                max: Duration::from_secs(cache_seconds),
            })
            .build();
        Ok(CrlStore {
            files: files.to_vec(),
            from_files: RwLock::new(from_files),
            fetched,
            last_fetched: RwLock::new(HashMap::new()),
            http: crate::tls::http_client(Duration::from_secs(fetch_timeout_seconds.max(1)))?,
            rewrite,
        })
    }

    pub(crate) fn file_crls(&self) -> Vec<Arc<Crl>> {
        match self.from_files.read() {
            Ok(crls) => crls.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The distribution point URL after the configured prefix rewrite.
    pub(crate) fn rewrite_url(&self, url: &str) -> String {
        for (from, to) in &self.rewrite {
            if let Some(rest) = url.strip_prefix(from.as_str()) {
                return format!("{to}{rest}");
            }
        }
        url.to_owned()
    }

    /// The cached CRL of `url`, fetching it when missing or expired. Concurrent callers for the
    /// same URL share one fetch.
    pub(crate) async fn get_or_fetch(&self, url: &str) -> Result<Arc<Crl>, String> {
        self.fetched
            .try_get_with(url.to_owned(), self.fetch(url))
            .await
            .map_err(|e| format!("{e:#}"))
    }

    /// The last CRL fetched from `url`, without fetching.
    pub(crate) fn last_fetched(&self, url: &str) -> Option<Arc<Crl>> {
        let map = match self.last_fetched.read() {
            Ok(map) => map,
            Err(poisoned) => poisoned.into_inner(),
        };
        map.get(url).cloned()
    }

    async fn fetch(&self, url: &str) -> anyhow::Result<Arc<Crl>> {
        let response = self
            .http
            .get(url)
            .send()
            .await
            .with_context(|| format!("fetching the CRL {url}"))?;
        let status = response.status();
        anyhow::ensure!(status.is_success(), "fetching the CRL {url}: HTTP {status}");
        let body = response
            .bytes()
            .await
            .with_context(|| format!("reading the CRL {url}"))?;
        let crl = Crl::parse_any(&body, url)?
            .into_iter()
            .next()
            .ok_or_else(|| anyhow::anyhow!("{url}: no CRL in the response"))?;
        let crl = Arc::new(crl);
        let mut map = match self.last_fetched.write() {
            Ok(map) => map,
            Err(poisoned) => poisoned.into_inner(),
        };
        map.insert(url.to_owned(), crl.clone());
        Ok(crl)
    }

    /// Re-reads the CRL files and re-fetches every URL fetched so far. Failures keep the previous
    /// CRL and are logged.
    pub(crate) async fn refresh(&self) {
        match load_files(&self.files) {
            Ok(crls) => {
                let mut current = match self.from_files.write() {
                    Ok(current) => current,
                    Err(poisoned) => poisoned.into_inner(),
                };
                *current = crls;
            }
            Err(error) => tracing::warn!(error = format!("{error:#}"), "CRL files not reloaded"),
        }
        let urls: Vec<String> = {
            let map = match self.last_fetched.read() {
                Ok(map) => map,
                Err(poisoned) => poisoned.into_inner(),
            };
            map.keys().cloned().collect()
        };
        for url in urls {
            match self.fetch(&url).await {
                Ok(crl) => self.fetched.insert(url, crl).await,
                Err(error) => {
                    tracing::warn!(url, error = format!("{error:#}"), "CRL not refreshed");
                }
            }
        }
    }
}
