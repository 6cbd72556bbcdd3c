//! One typed configuration: built-in defaults, then `fingertip.toml` (optional), then
//! `FINGERTIP_*` environment variables (and the conventional `DATABASE_URL`).
//! Secrets are wrapped in [`Secret`] so that no `Debug` or log line can print them.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use crate::mode::Mode;
pub use crate::secret::Secret;

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    /// Embedded cluster (`<data_dir>/pg`), keys and files live here.
    pub data_dir: PathBuf,
    /// An external PostgreSQL server; with none the embedded cluster is used.
    pub database_url: Option<Secret>,
    /// Extra CA certificate(s), PEM, trusted for TLS to the `DATABASE_URL` server.
    pub database_ca_file: Option<PathBuf>,
    pub mode: Mode,
    /// Load the demo catalog into an empty database (never in production).
    pub demo_data: bool,
    pub max_body_bytes: usize,
    /// A connection that sends nothing and receives less than 64 bytes for this long is
    /// closed: a client that opens connections and never finishes a request, or trickles a body
    /// a byte at a time, cannot hold them (and their file descriptors) forever.
    pub http_idle_timeout_seconds: u64,
    /// A request head (request line and headers) must arrive whole within this long, however
    /// steadily it trickles in: a client that sends a byte every few seconds keeps the idle
    /// timeout at bay but not this one (slowloris). hyper starts the clock when it begins
    /// waiting for a head, so a keep-alive connection with no next request is closed after this
    /// long too.
    pub http_header_timeout_seconds: u64,
    pub db_pool_size: usize,
    /// How often the audit checkpoint signs the set of chain heads.
    pub audit_checkpoint_seconds: u64,
    /// `json` (default) or `pretty`.
    pub log_format: String,
    /// Ed25519 PKCS#8 key signing audit checkpoints; `<data_dir>/keys/audit-ed25519.pk8` by
    /// default, created on first start. Instances sharing a database must share this key.
    pub audit_key_file: Option<PathBuf>,
    /// The notification hub's providers and limits (`[notify]`).
    pub notify: crate::notify::setup::NotifyConfig,
    /// Logins, sessions, keys and limits (`[identity]`).
    pub identity: crate::identity::config::IdentityConfig,
    /// Cases and their materials (`[cases]`).
    pub cases: CasesConfig,
    /// The bearer token a metrics scraper presents to `/metrics`. Required in production (the
    /// figures tell an outsider how busy each route is); unset in development leaves
    /// `/metrics` open.
    pub metrics_token: Option<Secret>,
    /// Start the application's clock at this instant instead of the system time (development
    /// and tests only: a demo of the dates past the published calendar). Refused in production.
    pub clock_start: Option<chrono::DateTime<chrono::FixedOffset>>,
}

/// The shortest metrics token accepted: 32 characters, about 190 bits when random.
const MIN_METRICS_TOKEN_CHARS: usize = 32;

/// `[cases]` in fingertip.toml.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CasesConfig {
    /// The largest material file an applicant or a window clerk may upload, in bytes. Material
    /// uploads are exempt from `max_body_bytes` (a scan is far larger than any JSON body) and
    /// read under this limit instead.
    pub max_material_bytes: usize,
    /// The key sealing the seal CA's and the departments' private seal keys at rest;
    /// `<data_dir>/keys/seal.key` by default (created on first start in development; in
    /// production the file must exist).
    pub seal_key_file: Option<PathBuf>,
    /// The name of the platform's own seal CA (used when no real CA was imported).
    pub seal_ca_name: String,
    /// Where the public reaches this server: the QR code of every sealed document points at
    /// `<public_base_url>/api/v1/public/documents/<token>`.
    pub public_base_url: String,
    /// The CJK TrueType font (or collection, face 0) the documents are set in; Debian's
    /// `fonts-wqy-microhei` by default. The server does not start without it.
    pub document_font: PathBuf,
    /// How many working days a suspension for a special step the item's guide gives no limit
    /// may run before it must be extended with a reason (see `cases::suspension`).
    pub max_suspension_working_days: u32,
}

/// The default upload limit for one material file: 20 MiB (a multi-page scan at 300 dpi).
pub const DEFAULT_MAX_MATERIAL_BYTES: usize = 20 * 1024 * 1024;

impl Default for CasesConfig {
    fn default() -> Self {
        CasesConfig {
            max_material_bytes: DEFAULT_MAX_MATERIAL_BYTES,
            seal_key_file: None,
            seal_ca_name: "指尖办电子印章根CA（开发）".to_owned(),
            public_base_url: "http://127.0.0.1:8080".to_owned(),
            document_font: PathBuf::from(crate::documents::DEFAULT_FONT_PATH),
            max_suspension_working_days:
                crate::cases::suspension::DEFAULT_MAX_SUSPENSION_WORKING_DAYS,
        }
    }
}

impl CasesConfig {
    pub fn seal_key_path(&self, data_dir: &std::path::Path) -> PathBuf {
        self.seal_key_file
            .clone()
            .unwrap_or_else(|| data_dir.join("keys").join("seal.key"))
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./var"),
            database_url: None,
            database_ca_file: None,
            mode: Mode::Development,
            demo_data: false,
            max_body_bytes: 1024 * 1024,
            http_idle_timeout_seconds: 60,
            http_header_timeout_seconds: 30,
            db_pool_size: 16,
            audit_checkpoint_seconds: 300,
            log_format: "json".to_owned(),
            audit_key_file: None,
            notify: Default::default(),
            identity: Default::default(),
            cases: Default::default(),
            metrics_token: None,
            clock_start: None,
        }
    }
}

/// The file layer: every key optional, unknown keys refused so typos are caught.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileLayer {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    database_url: Option<Secret>,
    database_ca_file: Option<PathBuf>,
    mode: Option<Mode>,
    demo_data: Option<bool>,
    max_body_bytes: Option<usize>,
    http_idle_timeout_seconds: Option<u64>,
    http_header_timeout_seconds: Option<u64>,
    db_pool_size: Option<usize>,
    audit_checkpoint_seconds: Option<u64>,
    log_format: Option<String>,
    audit_key_file: Option<PathBuf>,
    notify: Option<crate::notify::setup::NotifyConfig>,
    identity: Option<crate::identity::config::IdentityConfig>,
    cases: Option<CasesConfig>,
    metrics_token: Option<Secret>,
    clock_start: Option<chrono::DateTime<chrono::FixedOffset>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("invalid value for {key}: {message}")]
    Env { key: String, message: String },
    #[error("{0}")]
    Rule(String),
}

impl Config {
    /// Loads defaults → `path` (or `./fingertip.toml` when it exists) → the environment.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        Self::load_from(path, &env)
    }

    pub fn load_from(path: Option<&Path>, env: &[(String, String)]) -> Result<Config, ConfigError> {
        let mut config = Config::default();
        let default_path = PathBuf::from("fingertip.toml");
        let file = match path {
            Some(p) => Some(p.to_path_buf()),
            None if default_path.exists() => Some(default_path),
            None => None,
        };
        if let Some(path) = file {
            let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
                path: path.clone(),
                source,
            })?;
            let layer: FileLayer = toml::from_str(&text).map_err(|e| ConfigError::File {
                path: path.clone(),
                message: e.message().to_owned(),
            })?;
            config.apply_file(layer);
        }
        config.apply_env(env)?;
        config.check()?;
        Ok(config)
    }

    fn apply_file(&mut self, f: FileLayer) {
        macro_rules! take {
            ($($field:ident),*) => { $( if let Some(v) = f.$field { self.$field = v; } )* };
        }
        take!(
            listen,
            data_dir,
            mode,
            demo_data,
            max_body_bytes,
            http_idle_timeout_seconds,
            http_header_timeout_seconds,
            db_pool_size,
            audit_checkpoint_seconds,
            log_format
        );
        if let Some(notify) = f.notify {
            self.notify = notify;
        }
        if f.database_ca_file.is_some() {
            self.database_ca_file = f.database_ca_file;
        }
        if f.audit_key_file.is_some() {
            self.audit_key_file = f.audit_key_file;
        }
        if f.database_url.is_some() {
            self.database_url = f.database_url;
        }
        if let Some(identity) = f.identity {
            self.identity = identity;
        }
        if let Some(cases) = f.cases {
            self.cases = cases;
        }
        if f.metrics_token.is_some() {
            self.metrics_token = f.metrics_token;
        }
        if f.clock_start.is_some() {
            self.clock_start = f.clock_start;
        }
    }

    fn apply_env(&mut self, env: &[(String, String)]) -> Result<(), ConfigError> {
        for (key, value) in env {
            let bad = |message: String| ConfigError::Env {
                key: key.clone(),
                message,
            };
            match key.as_str() {
                "FINGERTIP_LISTEN" => {
                    self.listen = value.parse().map_err(|e| bad(format!("{e}")))?
                }
                "FINGERTIP_DATA_DIR" => self.data_dir = PathBuf::from(value),
                "DATABASE_URL" | "FINGERTIP_DATABASE_URL" if !value.is_empty() => {
                    self.database_url = Some(Secret::new(value.clone()))
                }
                "FINGERTIP_MODE" => {
                    self.mode = match value.as_str() {
                        "development" => Mode::Development,
                        "production" => Mode::Production,
                        other => {
                            return Err(bad(format!(
                                "expected development or production, got {other:?}"
                            )));
                        }
                    }
                }
                "FINGERTIP_DATABASE_CA_FILE" if !value.is_empty() => {
                    self.database_ca_file = Some(PathBuf::from(value))
                }
                "FINGERTIP_DEMO_DATA" => self.demo_data = parse_bool(value).map_err(bad)?,
                "FINGERTIP_TOKEN_KEY_FILE" if !value.is_empty() => {
                    self.identity.token_key_file = Some(PathBuf::from(value))
                }
                "FINGERTIP_PII_KEY_FILE" if !value.is_empty() => {
                    self.identity.pii_key_file = Some(PathBuf::from(value))
                }
                "FINGERTIP_MAX_BODY_BYTES" => {
                    self.max_body_bytes = value.parse().map_err(|e| bad(format!("{e}")))?
                }
                "FINGERTIP_PUBLIC_BASE_URL" if !value.is_empty() => {
                    self.cases.public_base_url = value.trim_end_matches('/').to_owned()
                }
                "FINGERTIP_SEAL_CA_NAME" if !value.is_empty() => {
                    self.cases.seal_ca_name = value.to_owned()
                }
                "FINGERTIP_MAX_MATERIAL_BYTES" => {
                    self.cases.max_material_bytes =
                        value.parse().map_err(|e| bad(format!("{e}")))?
                }
                "FINGERTIP_HTTP_IDLE_TIMEOUT_SECONDS" => {
                    self.http_idle_timeout_seconds =
                        value.parse().map_err(|e| bad(format!("{e}")))?
                }
                "FINGERTIP_HTTP_HEADER_TIMEOUT_SECONDS" => {
                    self.http_header_timeout_seconds =
                        value.parse().map_err(|e| bad(format!("{e}")))?
                }
                "FINGERTIP_DB_POOL_SIZE" => {
                    self.db_pool_size = value.parse().map_err(|e| bad(format!("{e}")))?
                }
                "FINGERTIP_AUDIT_CHECKPOINT_SECONDS" => {
                    self.audit_checkpoint_seconds =
                        value.parse().map_err(|e| bad(format!("{e}")))?
                }
                "FINGERTIP_LOG_FORMAT" => self.log_format = value.clone(),
                "FINGERTIP_METRICS_TOKEN" if !value.is_empty() => {
                    self.metrics_token = Some(Secret::new(value.clone()))
                }
                "FINGERTIP_CLOCK_START" if !value.is_empty() => {
                    self.clock_start =
                        Some(chrono::DateTime::parse_from_rfc3339(value).map_err(|e| {
                            bad(format!("{e} (RFC 3339, e.g. 2027-01-04T09:00:00+08:00)"))
                        })?)
                }
                "FINGERTIP_AUDIT_KEY_FILE" if !value.is_empty() => {
                    self.audit_key_file = Some(PathBuf::from(value))
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The application's clock: the system's, or started at `clock_start`.
    /// What the database room needs.
    pub fn database(&self) -> crate::db::DatabaseSettings<'_> {
        crate::db::DatabaseSettings {
            url: self.database_url.as_ref().map(|url| url.expose()),
            data_dir: &self.data_dir,
            pool_size: self.db_pool_size,
            ca_file: self.database_ca_file.as_deref(),
            clock: self.clock(),
        }
    }

    pub fn clock(&self) -> crate::clock::Clock {
        self.clock_start.map_or_else(
            crate::clock::Clock::system,
            crate::clock::Clock::starting_at,
        )
    }

    pub fn audit_key_path(&self) -> PathBuf {
        self.audit_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("keys").join("audit-ed25519.pk8"))
    }

    /// Rules that make a configuration unsafe to run with.
    fn check(&self) -> Result<(), ConfigError> {
        if self.mode == Mode::Production {
            if self.demo_data {
                return Err(ConfigError::Rule(
                    "demo data is never loaded in production mode (unset FINGERTIP_DEMO_DATA)"
                        .to_owned(),
                ));
            }
            // A key made on first start would be lost with the machine, and every stored ID
            // number with it: production names a key file that is provisioned and backed up.
            if self.identity.pii_key_file.is_none() {
                return Err(ConfigError::Rule(
                    "production mode needs identity.pii_key_file (FINGERTIP_PII_KEY_FILE): the key that encrypts ID numbers"
                        .to_owned(),
                ));
            }
            if self.clock_start.is_some() {
                return Err(ConfigError::Rule(
                    "production mode runs on the system clock (unset FINGERTIP_CLOCK_START)"
                        .to_owned(),
                ));
            }
            if self.metrics_token.is_none() {
                return Err(ConfigError::Rule(
                    "production mode needs metrics_token (FINGERTIP_METRICS_TOKEN): the bearer token a metrics scraper presents"
                        .to_owned(),
                ));
            }
            // Every sealed document prints a QR code to this address, for good: a loopback or
            // plain-http address would make every document ever issued unverifiable.
            let url = &self.cases.public_base_url;
            if !url.starts_with("https://") || *url == CasesConfig::default().public_base_url {
                return Err(ConfigError::Rule(format!(
                    "production mode needs [cases] public_base_url (FINGERTIP_PUBLIC_BASE_URL): the https address where the public verifies sealed documents, got {url:?}"
                )));
            }
            if self.cases.seal_ca_name.contains("开发") {
                return Err(ConfigError::Rule(
                    "production mode needs [cases] seal_ca_name (FINGERTIP_SEAL_CA_NAME) naming the platform's seal CA: the default is marked 开发 (development)"
                        .to_owned(),
                ));
            }
        }
        if let Some(token) = &self.metrics_token
            && token.expose().chars().count() < MIN_METRICS_TOKEN_CHARS
        {
            return Err(ConfigError::Rule(format!(
                "metrics_token must be at least {MIN_METRICS_TOKEN_CHARS} characters"
            )));
        }
        if self.http_idle_timeout_seconds == 0 {
            return Err(ConfigError::Rule(
                "http_idle_timeout_seconds must be at least 1".to_owned(),
            ));
        }
        if self.http_header_timeout_seconds == 0 {
            return Err(ConfigError::Rule(
                "http_header_timeout_seconds must be at least 1".to_owned(),
            ));
        }
        if self.db_pool_size == 0 {
            return Err(ConfigError::Rule(
                "db_pool_size must be at least 1".to_owned(),
            ));
        }
        if self.cases.max_material_bytes == 0 {
            return Err(ConfigError::Rule(
                "cases.max_material_bytes must be at least 1".to_owned(),
            ));
        }
        if !matches!(self.log_format.as_str(), "json" | "pretty") {
            return Err(ConfigError::Rule(
                "log_format must be json or pretty".to_owned(),
            ));
        }
        Ok(())
    }
}

fn parse_bool(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" | "" => Ok(false),
        other => Err(format!("expected true or false, got {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn environment_overrides_file_which_overrides_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fingertip.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:9000\"\ndemo_data = true\nlog_format = \"pretty\"\n",
        )
        .unwrap();
        let config =
            Config::load_from(Some(&path), &env(&[("FINGERTIP_LISTEN", "127.0.0.1:9100")]))
                .unwrap();
        assert_eq!(config.listen.port(), 9100);
        assert!(config.demo_data);
        assert_eq!(config.log_format, "pretty");
        assert_eq!(config.data_dir, PathBuf::from("./var"));
    }

    #[test]
    fn secrets_never_appear_in_debug_output() {
        let config =
            Config::load_from(None, &env(&[("DATABASE_URL", "postgres://u:hunter2@db/x")]))
                .unwrap();
        let printed = format!("{config:?}");
        assert!(!printed.contains("hunter2"), "{printed}");
    }

    const SCRAPE_TOKEN: &str = "scrape-0123456789abcdef0123456789";

    #[test]
    fn production_refuses_demo_data_and_a_missing_pii_key() {
        assert!(
            Config::load_from(
                None,
                &env(&[
                    ("FINGERTIP_MODE", "production"),
                    ("FINGERTIP_DEMO_DATA", "1")
                ])
            )
            .is_err()
        );
        assert!(Config::load_from(None, &env(&[("FINGERTIP_MODE", "production"),])).is_err());
        assert!(
            Config::load_from(
                None,
                &env(&[
                    ("FINGERTIP_MODE", "production"),
                    ("FINGERTIP_PII_KEY_FILE", "/etc/fingertip/pii.key"),
                    ("FINGERTIP_METRICS_TOKEN", SCRAPE_TOKEN),
                    ("FINGERTIP_PUBLIC_BASE_URL", "https://zwfw.daan.gov.cn/"),
                    ("FINGERTIP_SEAL_CA_NAME", "大安市电子印章根CA"),
                ])
            )
            .is_ok()
        );
        assert!(Config::load_from(None, &env(&[("FINGERTIP_MODE", "staging")])).is_err());
    }

    #[test]
    fn production_refuses_a_dead_verification_address_and_a_development_seal_ca() {
        let production = [
            ("FINGERTIP_MODE", "production"),
            ("FINGERTIP_PII_KEY_FILE", "/etc/fingertip/pii.key"),
            ("FINGERTIP_METRICS_TOKEN", SCRAPE_TOKEN),
            ("FINGERTIP_SEAL_CA_NAME", "大安市电子印章根CA"),
        ];
        let err = Config::load_from(None, &env(&production)).unwrap_err();
        assert!(err.to_string().contains("public_base_url"), "{err}");
        let mut plain_http = production.to_vec();
        plain_http.push(("FINGERTIP_PUBLIC_BASE_URL", "http://zwfw.daan.gov.cn"));
        assert!(Config::load_from(None, &env(&plain_http)).is_err());
        let mut development_ca = production[..3].to_vec();
        development_ca.push(("FINGERTIP_PUBLIC_BASE_URL", "https://zwfw.daan.gov.cn"));
        let err = Config::load_from(None, &env(&development_ca)).unwrap_err();
        assert!(err.to_string().contains("seal_ca_name"), "{err}");
        let mut good = development_ca.clone();
        good.push(("FINGERTIP_SEAL_CA_NAME", "大安市电子印章根CA"));
        let config = Config::load_from(None, &env(&good)).unwrap();
        assert_eq!(config.cases.public_base_url, "https://zwfw.daan.gov.cn");
        // Development keeps its defaults.
        assert!(Config::load_from(None, &env(&[])).is_ok());
    }

    #[test]
    fn production_needs_a_metrics_token_and_no_token_may_be_short() {
        let production = [
            ("FINGERTIP_MODE", "production"),
            ("FINGERTIP_PII_KEY_FILE", "/etc/fingertip/pii.key"),
            ("FINGERTIP_PUBLIC_BASE_URL", "https://zwfw.daan.gov.cn"),
            ("FINGERTIP_SEAL_CA_NAME", "大安市电子印章根CA"),
        ];
        let err = Config::load_from(None, &env(&production)).unwrap_err();
        assert!(err.to_string().contains("FINGERTIP_METRICS_TOKEN"), "{err}");
        let short = "scrape-0123456789abcdef01234567";
        assert_eq!(short.len(), MIN_METRICS_TOKEN_CHARS - 1);
        let err = Config::load_from(None, &env(&[("FINGERTIP_METRICS_TOKEN", short)])).unwrap_err();
        assert!(err.to_string().contains("at least 32"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fingertip.toml");
        std::fs::write(&path, format!("metrics_token = \"{SCRAPE_TOKEN}\"\n")).unwrap();
        let config = Config::load_from(Some(&path), &env(&production)).unwrap();
        assert_eq!(config.metrics_token.unwrap().expose(), SCRAPE_TOKEN);
        // The token is a secret: it never shows in the configuration's debug output.
        let config = Config::load_from(None, &env(&[("FINGERTIP_METRICS_TOKEN", SCRAPE_TOKEN)]));
        assert!(!format!("{config:?}").contains(SCRAPE_TOKEN));
    }

    #[test]
    fn the_material_limit_comes_from_cases_or_the_environment() {
        assert_eq!(Config::default().cases.max_material_bytes, 20 * 1024 * 1024);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.toml");
        std::fs::write(&path, "[cases]\nmax_material_bytes = 5000\n").unwrap();
        let config = Config::load_from(Some(&path), &[]).unwrap();
        assert_eq!(config.cases.max_material_bytes, 5000);
        let config = Config::load_from(
            Some(&path),
            &env(&[("FINGERTIP_MAX_MATERIAL_BYTES", "7000")]),
        )
        .unwrap();
        assert_eq!(config.cases.max_material_bytes, 7000);
        std::fs::write(&path, "[cases]\nmax_material_byte = 5000\n").unwrap();
        assert!(Config::load_from(Some(&path), &[]).is_err());
        assert!(Config::load_from(None, &env(&[("FINGERTIP_MAX_MATERIAL_BYTES", "0")])).is_err());
    }

    #[test]
    fn unknown_file_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.toml");
        std::fs::write(&path, "lisen = \"127.0.0.1:9000\"\n").unwrap();
        assert!(matches!(
            Config::load_from(Some(&path), &[]),
            Err(ConfigError::File { .. })
        ));
    }
}
