//! Real-name verification (实名核验): does this name belong to this citizen ID number, according
//! to an identity authority (the 公安部 citizen identity check, reached through a licensed
//! adapter)? The authority answers one of three verdicts: consistent, inconsistent, or no such
//! record.
//!
//! Providers implement [`RealNameProvider`]: [`HttpRealNameProvider`] speaks the signed JSON
//! interface described in [`http`] (the interface an upstream adapter implements), and
//! [`DemoRealNameProvider`] accepts everyone and exists for development only (the server refuses
//! it in production). [`RealNameConfig::build`] wraps the chosen provider in [`CachedRealName`],
//! because each upstream check is billed and slow, and a verdict does not change within a day.

pub mod http;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use ring::digest;
use serde::Deserialize;

use crate::identity::citizen_id::CitizenIdNumber;
use crate::secret::Secret;

pub use http::{HttpRealNameConfig, HttpRealNameProvider};

pub type VerifyFuture<'a> =
    Pin<Box<dyn Future<Output = Result<RealNameVerdict, RealNameError>> + Send + 'a>>;

/// The authority's answer for a (name, ID number) pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RealNameVerdict {
    /// 一致: the record of this ID number carries this name.
    Match,
    /// 不一致: the ID number exists with another name.
    Mismatch,
    /// 库中无此号: no record of this ID number.
    NotFound,
}

impl RealNameVerdict {
    /// The wire and storage spelling: `match`, `mismatch`, `not_found`.
    pub fn as_str(&self) -> &'static str {
        match self {
            RealNameVerdict::Match => "match",
            RealNameVerdict::Mismatch => "mismatch",
            RealNameVerdict::NotFound => "not_found",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "match" => Some(RealNameVerdict::Match),
            "mismatch" => Some(RealNameVerdict::Mismatch),
            "not_found" => Some(RealNameVerdict::NotFound),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RealNameError {
    /// Worth retrying later: network error, timeout, 5xx, 429. Tell the user to try again.
    #[error("the identity authority is unavailable: {0}")]
    Unavailable(String),
    /// Retrying will not help until an operator acts: credentials refused (401/403), a request
    /// the authority calls malformed, or a response that fails its signature check.
    #[error("the identity authority refused the request: {0}")]
    Rejected(String),
}

/// The one trait of real-name verification providers (boxed futures, so that it can be used as
/// `Arc<dyn RealNameProvider>`, like `notify::provider::Provider`).
pub trait RealNameProvider: Send + Sync {
    /// Stable name for configuration, metrics and logs (`http`, `demo`).
    fn name(&self) -> &'static str;
    /// Whether this provider verifies nothing (refused in production mode).
    fn is_demo_only(&self) -> bool {
        false
    }
    /// Checks `name` against the authority's record of `id`. `name` is sent as given: callers
    /// trim it (and keep the middle dot `·` of minority names as the ID card prints it).
    fn verify<'a>(&'a self, name: &'a str, id: &'a CitizenIdNumber) -> VerifyFuture<'a>;
}

/// Accepts any non-empty name with any (valid) ID number. Development only.
#[derive(Debug, Default, Clone, Copy)]
pub struct DemoRealNameProvider;

impl RealNameProvider for DemoRealNameProvider {
    fn name(&self) -> &'static str {
        "demo"
    }

    fn is_demo_only(&self) -> bool {
        true
    }

    fn verify<'a>(&'a self, name: &'a str, _id: &'a CitizenIdNumber) -> VerifyFuture<'a> {
        let verdict = if name.trim().is_empty() {
            RealNameVerdict::Mismatch
        } else {
            RealNameVerdict::Match
        };
        Box::pin(std::future::ready(Ok(verdict)))
    }
}

/// Caches verdicts (never errors) of an inner provider, keyed by SHA-256 of `name ‖ NUL ‖ id`,
/// so that neither the cache nor a heap dump holds ID numbers in clear. Concurrent checks of
/// the same pair wait for one upstream call.
pub struct CachedRealName {
    inner: Arc<dyn RealNameProvider>,
    cache: moka::future::Cache<[u8; 32], RealNameVerdict>,
}

impl std::fmt::Debug for CachedRealName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedRealName")
            .field("inner", &self.inner.name())
            .field("entries", &self.cache.entry_count())
            .finish()
    }
}

impl CachedRealName {
    pub fn new(inner: Arc<dyn RealNameProvider>, ttl: Duration, capacity: u64) -> Self {
        CachedRealName {
            inner,
            cache: moka::future::Cache::builder()
                .max_capacity(capacity)
                .time_to_live(ttl)
                .build(),
        }
    }

    /// The cache key of a pair: SHA-256 of the name, a NUL byte (which neither part can
    /// contain, so `("ab", "c…")` and `("a", "bc…")` differ), and the ID number.
    pub fn cache_key(name: &str, id: &CitizenIdNumber) -> [u8; 32] {
        let mut context = digest::Context::new(&digest::SHA256);
        context.update(name.as_bytes());
        context.update(&[0]);
        context.update(id.expose().as_bytes());
        let mut key = [0u8; 32];
        key.copy_from_slice(context.finish().as_ref());
        key
    }

    /// Drops every cached verdict (e.g. after a correction at the authority).
    pub fn invalidate_all(&self) {
        self.cache.invalidate_all();
    }
}

impl RealNameProvider for CachedRealName {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn is_demo_only(&self) -> bool {
        self.inner.is_demo_only()
    }

    fn verify<'a>(&'a self, name: &'a str, id: &'a CitizenIdNumber) -> VerifyFuture<'a> {
        Box::pin(async move {
            let key = Self::cache_key(name, id);
            // `try_get_with` stores only `Ok` values and shares one call among concurrent callers;
            // the inner call is made inside the async block, so only on a miss.
            self.cache
                .try_get_with(key, async { self.inner.verify(name, id).await })
                .await
                .map_err(|e| (*e).clone())
        })
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RealNameProviderKind {
    /// Accepts everyone; refused in production.
    #[default]
    Demo,
    /// The signed HTTP interface of [`http`].
    Http,
}

fn default_timeout_seconds() -> u64 {
    5
}

fn default_cache_seconds() -> u64 {
    86_400
}

fn default_cache_capacity() -> u64 {
    100_000
}

/// `[identity.realname]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RealNameConfig {
    #[serde(default)]
    pub provider: RealNameProviderKind,
    /// The adapter's verification URL (for `http`), e.g. `https://idcheck.example.gov.cn/v1/verify`.
    #[serde(default)]
    pub url: Option<String>,
    /// Our key id at the adapter (for `http`).
    #[serde(default)]
    pub key_id: Option<String>,
    /// The shared HMAC secret (for `http`).
    #[serde(default)]
    pub secret: Option<Secret>,
    /// Limit on each upstream call, connection included.
    #[serde(default = "default_timeout_seconds")]
    pub timeout_seconds: u64,
    /// How long a verdict is reused; 0 disables the cache.
    #[serde(default = "default_cache_seconds")]
    pub cache_seconds: u64,
    /// Most verdicts kept.
    #[serde(default = "default_cache_capacity")]
    pub cache_capacity: u64,
}

impl Default for RealNameConfig {
    fn default() -> Self {
        RealNameConfig {
            provider: RealNameProviderKind::Demo,
            url: None,
            key_id: None,
            secret: None,
            timeout_seconds: default_timeout_seconds(),
            cache_seconds: default_cache_seconds(),
            cache_capacity: default_cache_capacity(),
        }
    }
}

impl RealNameConfig {
    /// The configured provider, behind the verdict cache (unless `cache_seconds` is 0).
    pub fn build(&self) -> anyhow::Result<Arc<dyn RealNameProvider>> {
        anyhow::ensure!(
            self.timeout_seconds > 0,
            "identity.realname.timeout_seconds must be positive"
        );
        let inner: Arc<dyn RealNameProvider> = match self.provider {
            RealNameProviderKind::Demo => Arc::new(DemoRealNameProvider),
            RealNameProviderKind::Http => {
                let missing = |key: &str| {
                    anyhow::anyhow!("identity.realname.{key} is required with provider = \"http\"")
                };
                let config = HttpRealNameConfig {
                    url: self.url.clone().ok_or_else(|| missing("url"))?,
                    key_id: self.key_id.clone().ok_or_else(|| missing("key_id"))?,
                    secret: self.secret.clone().ok_or_else(|| missing("secret"))?,
                };
                Arc::new(HttpRealNameProvider::new(
                    config,
                    Duration::from_secs(self.timeout_seconds),
                )?)
            }
        };
        if self.cache_seconds == 0 {
            return Ok(inner);
        }
        Ok(Arc::new(CachedRealName::new(
            inner,
            Duration::from_secs(self.cache_seconds),
            self.cache_capacity,
        )))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn id() -> CitizenIdNumber {
        CitizenIdNumber::parse("11010519491231002X").unwrap()
    }

    /// Answers from a script, counting calls.
    struct Scripted {
        calls: AtomicUsize,
        answers: std::sync::Mutex<Vec<Result<RealNameVerdict, RealNameError>>>,
    }

    impl RealNameProvider for Scripted {
        fn name(&self) -> &'static str {
            "scripted"
        }

        fn verify<'a>(&'a self, _: &'a str, _: &'a CitizenIdNumber) -> VerifyFuture<'a> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let answer = self.answers.lock().unwrap().remove(0);
            Box::pin(async move { answer })
        }
    }

    #[tokio::test]
    async fn demo_accepts_any_name_and_says_so() {
        let demo = DemoRealNameProvider;
        assert!(demo.is_demo_only());
        assert_eq!(demo.name(), "demo");
        assert_eq!(demo.verify("张三", &id()).await, Ok(RealNameVerdict::Match));
        assert_eq!(demo.verify(" ", &id()).await, Ok(RealNameVerdict::Mismatch));
    }

    #[tokio::test]
    async fn cache_keeps_verdicts_not_errors() {
        let inner = Arc::new(Scripted {
            calls: AtomicUsize::new(0),
            answers: std::sync::Mutex::new(vec![
                Err(RealNameError::Unavailable("down".to_owned())),
                Ok(RealNameVerdict::Mismatch),
                Ok(RealNameVerdict::Match),
            ]),
        });
        let cached = CachedRealName::new(inner.clone(), Duration::from_secs(60), 10);
        assert!(matches!(
            cached.verify("张三", &id()).await,
            Err(RealNameError::Unavailable(_))
        ));
        assert_eq!(
            cached.verify("张三", &id()).await,
            Ok(RealNameVerdict::Mismatch)
        );
        assert_eq!(
            cached.verify("张三", &id()).await,
            Ok(RealNameVerdict::Mismatch)
        );
        assert_eq!(inner.calls.load(Ordering::SeqCst), 2);
        // Another name is another key.
        assert_eq!(
            cached.verify("李四", &id()).await,
            Ok(RealNameVerdict::Match)
        );
        assert_eq!(inner.calls.load(Ordering::SeqCst), 3);
        assert_eq!(cached.name(), "scripted");
        assert!(!cached.is_demo_only());
    }

    #[test]
    fn cache_key_separates_name_and_number() {
        let a = CachedRealName::cache_key("张三", &id());
        assert_eq!(a, CachedRealName::cache_key("张三", &id()));
        assert_ne!(a, CachedRealName::cache_key("张三丰", &id()));
        // The key is a hash, not the number.
        assert!(!hex::encode(a).contains("11010519491231002"));
    }

    #[test]
    fn verdict_spellings() {
        for verdict in [
            RealNameVerdict::Match,
            RealNameVerdict::Mismatch,
            RealNameVerdict::NotFound,
        ] {
            assert_eq!(RealNameVerdict::parse(verdict.as_str()), Some(verdict));
        }
        assert_eq!(RealNameVerdict::parse("MATCH"), None);
    }

    #[test]
    fn config_defaults_and_keys() {
        let config: RealNameConfig = toml::from_str("").unwrap();
        assert_eq!(config, RealNameConfig::default());
        assert_eq!(config.provider, RealNameProviderKind::Demo);
        assert_eq!(config.timeout_seconds, 5);
        assert_eq!(config.cache_seconds, 86_400);
        let provider = config.build().unwrap();
        assert!(provider.is_demo_only());

        let config: RealNameConfig = toml::from_str(
            r#"
            provider = "http"
            url = "https://idcheck.example.gov.cn/v1/verify"
            key_id = "fingertip-01"
            secret = "s3cret"
            timeout_seconds = 3
            cache_seconds = 0
            "#,
        )
        .unwrap();
        assert!(!format!("{config:?}").contains("s3cret"));
        let provider = config.build().unwrap();
        assert_eq!(provider.name(), "http");
        assert!(!provider.is_demo_only());

        assert!(toml::from_str::<RealNameConfig>("urll = \"x\"").is_err());
        assert!(toml::from_str::<RealNameConfig>("provider = \"ldap\"").is_err());
        let incomplete: RealNameConfig = toml::from_str("provider = \"http\"").unwrap();
        let Err(err) = incomplete.build() else {
            panic!("an http provider without url was built")
        };
        let err = err.to_string();
        assert!(err.contains("identity.realname.url"), "{err}");
    }
}
