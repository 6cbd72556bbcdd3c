//! `[identity]` in fingertip.toml: keys, token lifetimes, one-time-code limits, lockout, the
//! real-name provider and certificate login.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IdentityConfig {
    /// Ed25519 PKCS#8 key signing access tokens; `<data_dir>/keys/token-ed25519.pk8` by default,
    /// created on first start. Instances sharing a database must share it.
    pub token_key_file: Option<PathBuf>,
    /// 32-byte master key (base64) for ID-number encryption and blind indexes;
    /// `<data_dir>/keys/pii.key` by default, created on first start in development mode only.
    pub pii_key_file: Option<PathBuf>,
    pub access_token_seconds: i64,
    pub refresh_token_days: i64,
    /// One-time SMS codes.
    pub otp: OtpConfig,
    /// Failed passwords before a staff account locks, and for how long.
    pub max_failed_logins: i32,
    pub lockout_minutes: i64,
    /// Failed password logins per client address per hour before 429.
    pub login_failures_per_ip_hourly: i64,
    /// Staff accounts created by `--demo-data` get this password (development only).
    pub demo_password: String,
    /// The upstream identity authority that checks name + ID number pairs.
    pub realname: crate::identity::realname::RealNameConfig,
    /// Enterprise certificate login; absent: the certificate endpoints answer 501.
    pub certificates: Option<crate::identity::certificate::CertificateLoginConfig>,
    /// Optional second listener for certificate login by TLS client authentication.
    pub mtls: Option<MtlsListenerConfig>,
    /// How often cached CRLs are fetched again (certificate login).
    pub crl_refresh_seconds: u64,
    /// How long an applicant's verified token and live session may be remembered between
    /// requests (revocations are heard through `LISTEN` and take effect at once regardless);
    /// 0 reads the session from the database on every request.
    pub session_cache_seconds: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OtpConfig {
    pub ttl_seconds: i64,
    /// Minimum seconds between two codes for one phone.
    pub resend_seconds: i64,
    pub per_phone_daily: i64,
    pub per_ip_hourly: i64,
    /// Wrong guesses before a code is burnt.
    pub max_attempts: i32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MtlsListenerConfig {
    pub listen: SocketAddr,
    /// The server's own certificate chain and key (PEM).
    pub certificate_file: PathBuf,
    pub key_file: PathBuf,
}

impl Default for OtpConfig {
    fn default() -> Self {
        OtpConfig {
            ttl_seconds: 300,
            resend_seconds: 60,
            per_phone_daily: 10,
            per_ip_hourly: 30,
            max_attempts: 5,
        }
    }
}

impl Default for IdentityConfig {
    fn default() -> Self {
        IdentityConfig {
            token_key_file: None,
            pii_key_file: None,
            access_token_seconds: 15 * 60,
            refresh_token_days: 30,
            otp: OtpConfig::default(),
            max_failed_logins: 5,
            lockout_minutes: 15,
            login_failures_per_ip_hourly: 50,
            demo_password: "Demo-password-2026".to_owned(),
            realname: Default::default(),
            certificates: None,
            mtls: None,
            crl_refresh_seconds: 900,
            session_cache_seconds: 300,
        }
    }
}
