//! Builds the identity gateway from configuration: keys, the real-name provider, the certificate
//! verifier, and the settings every use case reads.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use chrono::Duration;
use deadpool_postgres::Pool;

use super::account_claims::AccountProven;
use super::api::{IdentityApi, session_settings};
use super::certificate::CertificateVerifier;
use super::citizens::{Citizens, OtpSettings};
use super::config::IdentityConfig;
use super::enterprises::Enterprises;
use super::gate::Gate;
use super::otp::SendLimits;
use super::pii::IdentityKeys;
use super::session_cache::SessionCache;
use super::staff::LockoutSettings;
use super::tokens::TokenSigner;
use crate::keys::SigningKey;
use crate::mode::Mode;
use crate::notify::outbox::OutboxSettings;

/// The identity gateway's keys: the access-token signing key and the ID-number master key.
pub struct IdentitySecrets {
    pub token_key: SigningKey,
    pub pii: IdentityKeys,
    /// Seals the seal CA's and the departments' seal keys at rest (a separate key file, so
    /// the ID-number key never protects signing keys).
    pub seal: IdentityKeys,
}

impl IdentityConfig {
    pub fn token_key_path(&self, data_dir: &std::path::Path) -> PathBuf {
        self.token_key_file
            .clone()
            .unwrap_or_else(|| data_dir.join("keys").join("token-ed25519.pk8"))
    }

    pub fn pii_key_path(&self, data_dir: &std::path::Path) -> PathBuf {
        self.pii_key_file
            .clone()
            .unwrap_or_else(|| data_dir.join("keys").join("pii.key"))
    }
}

impl IdentitySecrets {
    /// Reads the keys, creating missing ones (production mode has already insisted that the
    /// ID-number key file is named in config; see `Config::check`).
    /// `seal_path`: the seal key file (the cases configuration names it).
    pub fn load(
        identity: &IdentityConfig,
        data_dir: &Path,
        mode: Mode,
        seal_path: &Path,
    ) -> anyhow::Result<IdentitySecrets> {
        let token_key = SigningKey::load_or_create(&identity.token_key_path(data_dir))
            .context("access-token signing key")?;
        let pii_path = identity.pii_key_path(data_dir);
        let pii = if mode == Mode::Production {
            IdentityKeys::load(&pii_path)
        } else {
            IdentityKeys::load_or_create(&pii_path)
        }
        .with_context(|| format!("ID-number key {}", pii_path.display()))?;
        let seal = if mode == Mode::Production {
            IdentityKeys::load(seal_path)
        } else {
            IdentityKeys::load_or_create(seal_path)
        }
        .with_context(|| format!("seal key {}", seal_path.display()))?;
        Ok(IdentitySecrets {
            token_key,
            pii,
            seal,
        })
    }

    /// Keys that live in memory only (the OpenAPI document, tools).
    pub fn ephemeral() -> anyhow::Result<IdentitySecrets> {
        Ok(IdentitySecrets {
            token_key: SigningKey::generate()?,
            pii: IdentityKeys::from_master_key(&[0u8; 32]),
            seal: IdentityKeys::from_master_key(&[1u8; 32]),
        })
    }
}

/// Production verifies real names for real: the demo provider (which confirms everyone) is
/// refused.
pub fn refuse_demo_realname(
    mode: Mode,
    provider: &dyn super::realname::RealNameProvider,
) -> anyhow::Result<()> {
    if mode == Mode::Production && provider.is_demo_only() {
        anyhow::bail!(
            "production mode refuses the demo real-name provider: configure [identity.realname] with provider = \"http\""
        );
    }
    Ok(())
}

/// How many applicants' tokens and sessions the gate remembers at most (each kind).
const SESSION_CACHE_CAPACITY: u64 = 100_000;

/// The identity endpoints and the gate every other endpoint uses.
pub fn build(
    identity: &IdentityConfig,
    pool: Pool,
    outbox: OutboxSettings,
    token_key: SigningKey,
    pii: IdentityKeys,
    claims: Arc<dyn AccountProven>,
) -> anyhow::Result<IdentityApi> {
    let signer = Arc::new(TokenSigner::new(token_key, identity.access_token_seconds));
    let session_cache = Arc::new(SessionCache::new(
        std::time::Duration::from_secs(identity.session_cache_seconds),
        SESSION_CACHE_CAPACITY,
    ));
    let gate = Gate::new(signer.clone(), pool.clone(), session_cache);
    let sessions = session_settings(identity.refresh_token_days);
    let realname = identity.realname.build().context("real-name provider")?;
    let citizens = Citizens {
        pool: pool.clone(),
        signer: signer.clone(),
        keys: Arc::new(pii),
        realname,
        outbox,
        otp: OtpSettings {
            ttl: Duration::seconds(identity.otp.ttl_seconds),
            limits: SendLimits {
                resend_after: Duration::seconds(identity.otp.resend_seconds),
                per_phone_daily: identity.otp.per_phone_daily,
                per_ip_hourly: identity.otp.per_ip_hourly,
            },
            max_attempts: identity.otp.max_attempts,
        },
        sessions,
        claims: claims.clone(),
    };
    let enterprises = match &identity.certificates {
        Some(certificates) => Some(Enterprises {
            pool: pool.clone(),
            signer: signer.clone(),
            verifier: Arc::new(
                CertificateVerifier::new(certificates).context("certificate login")?,
            ),
            sessions,
            challenge_lifetime: Duration::minutes(5),
            claims,
        }),
        None => None,
    };
    Ok(IdentityApi {
        pool,
        gate,
        citizens,
        enterprises,
        sessions,
        lockout: LockoutSettings {
            max_failed_logins: identity.max_failed_logins,
            lockout: Duration::minutes(identity.lockout_minutes),
            failures_per_ip_hourly: identity.login_failures_per_ip_hourly,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::realname::DemoRealNameProvider;

    #[test]
    fn production_refuses_the_demo_real_name_provider() {
        assert!(refuse_demo_realname(Mode::Development, &DemoRealNameProvider).is_ok());
        let err = refuse_demo_realname(Mode::Production, &DemoRealNameProvider).unwrap_err();
        assert!(err.to_string().contains("demo real-name provider"), "{err}");
    }
}
