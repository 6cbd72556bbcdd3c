//! The owner's email address for notifications (`/api/v1/me/notification-preferences/email`):
//! set it, prove it with the six-digit code emailed to it, or remove it. Only a proven address is
//! ever used (the outbox reads `owner_email`); a new address being proven leaves the old one in
//! use until its code is confirmed. Addresses are never logged in full.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use deadpool_postgres::Pool;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use serde::Deserialize;
use serde_json::{Map, json};
use tokio_postgres::GenericClient;
use uuid::Uuid;

use super::model::{self, Channel};
use super::outbox::{self, NewNotification, OutboxSettings, Recipient};
use super::setup::EmailVerificationConfig;
use crate::audit::{self, AuditEntry};
use crate::http::{ApiTags, AppError, AppResult, JsonBody};
use crate::http::{HttpProblem, ProblemKind};
use crate::identity::gate::{AccessToken, Gate};
use crate::identity::otp;
use crate::identity::pii::IdentityKeys;
use crate::identity::policy::Rule;
use crate::notify::errors::NotifyProblem;

/// The template of the code email (migration 0011).
pub const CODE_TEMPLATE: &str = "notify.email_code";

pub struct NotifyEmailApi {
    pub pool: Pool,
    pub gate: Gate,
    /// Codes are stored as an HMAC under the identity index key, like SMS codes.
    pub keys: Arc<IdentityKeys>,
    pub outbox: OutboxSettings,
    pub settings: EmailVerificationConfig,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailAddressRequest {
    /// The address to receive notifications at (at most 254 characters); a code is emailed to it.
    pub address: String,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailCodeConfirmation {
    /// The six digits emailed to the pending address.
    pub code: String,
}

#[derive(Debug, Clone, Object)]
pub struct EmailAddressView {
    /// The verified address my email notifications go to; absent when none.
    #[oai(skip_serializing_if_is_none)]
    pub address: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub verified_at: Option<DateTime<Utc>>,
    /// An address waiting for its code (confirm before `pending_expires_at`); absent when none.
    #[oai(skip_serializing_if_is_none)]
    pub pending_address: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub pending_expires_at: Option<DateTime<Utc>>,
    /// Wrong codes still allowed for the pending address.
    #[oai(skip_serializing_if_is_none)]
    pub pending_attempts_left: Option<i32>,
}

#[derive(ApiResponse)]
pub enum CodeSent {
    /// The code is on its way to the pending address.
    #[oai(status = 202)]
    Accepted(Json<EmailAddressView>),
}

#[derive(ApiResponse)]
pub enum EmailRemoved {
    /// No email address any more (nor a pending one).
    #[oai(status = 204)]
    Removed,
}

/// `z***@example.cn`: enough for logs and the audit log, not an address.
pub fn mask_email(address: &str) -> String {
    match address.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".to_owned(),
    }
}

fn code_hash(keys: &IdentityKeys, owner: &str, address: &str, code: &str) -> Vec<u8> {
    keys.blind_index(&code_input(owner, address, code))
}

fn code_input(owner: &str, address: &str, code: &str) -> String {
    format!("email-code\u{0}{owner}\u{0}{address}\u{0}{code}")
}

fn code_error(kind: impl Into<ProblemKind>, detail: &str) -> AppError {
    AppError::invalid_field("code", kind, detail)
}

/// The view of an owner's verified and pending addresses.
async fn view(
    client: &impl GenericClient,
    owner: &str,
    max_attempts: i32,
) -> Result<EmailAddressView, tokio_postgres::Error> {
    let verified = client
        .query_opt(
            "SELECT address, verified_at FROM owner_email WHERE owner = $1",
            &[&owner],
        )
        .await?;
    let pending = client
        .query_opt(
            "SELECT address, expires_at, attempts FROM owner_email_code
              WHERE owner = $1 AND consumed_at IS NULL AND expires_at > now()
              ORDER BY created_at DESC LIMIT 1",
            &[&owner],
        )
        .await?;
    Ok(EmailAddressView {
        address: verified.as_ref().map(|r| r.get(0)),
        verified_at: verified.as_ref().map(|r| r.get(1)),
        pending_address: pending.as_ref().map(|r| r.get(0)),
        pending_expires_at: pending.as_ref().map(|r| r.get(1)),
        pending_attempts_left: pending
            .as_ref()
            .map(|r| (max_attempts - r.get::<_, i32>(2)).max(0)),
    })
}

/// Serialises one owner's code requests and confirmations.
async fn lock_owner(client: &impl GenericClient, owner: &str) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "SELECT pg_advisory_xact_lock(hashtextextended('owner_email:' || $1, 0))",
            &[&owner],
        )
        .await?;
    Ok(())
}

#[OpenApi(prefix_path = "/api/v1/me", tag = "ApiTags::App")]
impl NotifyEmailApi {
    /// My notification email address: the verified one in use, and one waiting for its code.
    #[oai(path = "/notification-preferences/email", method = "get")]
    async fn email_address(&self, auth: AccessToken) -> AppResult<Json<EmailAddressView>> {
        let principal = self.gate.require(&auth, Rule::Authenticated).await?;
        let client = self.pool.get().await?;
        let owner = principal.subject.to_string();
        Ok(Json(
            view(&**client, &owner, self.settings.max_attempts).await?,
        ))
    }

    /// Set my notification email address: a six-digit code goes to it, valid 15 minutes; the
    /// address is used once the code is confirmed (until then a verified address stays in use).
    /// Asking again sends a new code and kills the old one; at most 5 codes an hour (429 with
    /// `Retry-After` beyond).
    #[oai(path = "/notification-preferences/email", method = "put")]
    async fn set_email_address(
        &self,
        auth: AccessToken,
        body: JsonBody<EmailAddressRequest>,
    ) -> AppResult<CodeSent> {
        let principal = self.gate.require(&auth, Rule::Authenticated).await?;
        let owner = principal.subject.to_string();
        let req = body.parse()?;
        let address = req.address.trim().to_owned();
        if !model::is_email(&address) || address.chars().any(char::is_control) {
            return Err(AppError::invalid_field(
                "address",
                NotifyProblem::InvalidEmail,
                "an email address like name@example.cn, at most 254 characters",
            ));
        }
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        lock_owner(&*tx, &owner).await?;
        if let Some(current) = outbox::verified_email(&*tx, &owner).await?
            && current.eq_ignore_ascii_case(&address)
        {
            return Err(AppError::invalid_field(
                "address",
                NotifyProblem::EmailAlreadyVerified,
                "this address is already verified",
            ));
        }
        let recent = tx
            .query_one(
                "SELECT count(*), min(created_at) FROM owner_email_code
                  WHERE owner = $1 AND created_at > now() - interval '1 hour'",
                &[&owner],
            )
            .await?;
        let (count, oldest): (i64, Option<DateTime<Utc>>) = (recent.get(0), recent.get(1));
        if count >= self.settings.codes_per_hour {
            let now = crate::clock::system_time();
            let until = oldest.unwrap_or(now) + Duration::hours(1);
            return Err(AppError::TooManyRequests {
                retry_after_seconds: (until - now).num_seconds().max(1) as u64,
            });
        }
        let code = otp::generate_code()
            .ok_or_else(|| anyhow::anyhow!("the system random generator failed"))?;
        let id = Uuid::new_v4();
        let ttl = Duration::seconds(self.settings.code_ttl_seconds as i64);
        // Only the newest code counts: an older one still in a mailbox stops working.
        tx.execute(
            "UPDATE owner_email_code SET consumed_at = now() WHERE owner = $1 AND consumed_at IS NULL",
            &[&owner],
        )
        .await?;
        tx.execute(
            "INSERT INTO owner_email_code (id, owner, address, code_hash, expires_at)
             VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5::float8))",
            &[
                &id,
                &owner,
                &address,
                &code_hash(&self.keys, &owner, &address, &code),
                &(ttl.num_seconds() as f64),
            ],
        )
        .await?;
        let mut variables = Map::new();
        variables.insert("code".to_owned(), json!(code));
        variables.insert("minutes".to_owned(), json!(ttl.num_minutes()));
        outbox::enqueue(
            &*tx,
            &NewNotification {
                template_key: CODE_TEMPLATE.to_owned(),
                variables,
                // Not the owner's: the address is not theirs until proven, and a code is never
                // in the inbox.
                recipient: Recipient::Email(address.clone()),
                channels: vec![Channel::Email],
                must_reach: false,
                priority: 10,
                idempotency_key: format!("email-code:{id}"),
            },
            &self.outbox,
        )
        .await
        .map_err(|e| anyhow::anyhow!("enqueueing the email code: {e}"))?;
        tx.commit().await?;
        tracing::info!(owner = %owner, to = %mask_email(&address), "email verification code sent");
        Ok(CodeSent::Accepted(Json(
            view(&**client, &owner, self.settings.max_attempts).await?,
        )))
    }

    /// Confirm the pending address with its code; from then on my email notifications go to
    /// it. A wrong code counts: after 5, ask for a new one. Errors are 422 on `code`:
    /// `email_code_not_requested`, `email_code_expired`, `email_code_attempts_exceeded`,
    /// `email_code_invalid`.
    #[oai(path = "/notification-preferences/email/confirm", method = "post")]
    async fn confirm_email_address(
        &self,
        auth: AccessToken,
        body: JsonBody<EmailCodeConfirmation>,
    ) -> AppResult<Json<EmailAddressView>> {
        let principal = self.gate.require(&auth, Rule::Authenticated).await?;
        let owner = principal.subject.to_string();
        let req = body.parse()?;
        let code = req.code.trim();
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(code_error(
                HttpProblem::InvalidFormat,
                "the code is six digits",
            ));
        }
        let max_attempts = self.settings.max_attempts;
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        lock_owner(&*tx, &owner).await?;
        let row = tx
            .query_opt(
                "SELECT id, address, code_hash, attempts, expires_at <= now() FROM owner_email_code
                  WHERE owner = $1 AND consumed_at IS NULL
                  ORDER BY created_at DESC LIMIT 1",
                &[&owner],
            )
            .await?
            .ok_or_else(|| {
                code_error(
                    NotifyProblem::EmailCodeNotRequested,
                    "no code is waiting: set the address first",
                )
            })?;
        let (id, address, stored, attempts, expired): (Uuid, String, Vec<u8>, i32, bool) =
            (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
        if expired {
            return Err(code_error(
                NotifyProblem::EmailCodeExpired,
                "the code has expired; ask for a new one",
            ));
        }
        if attempts >= max_attempts {
            return Err(code_error(
                NotifyProblem::EmailCodeAttemptsExceeded,
                "too many wrong codes; ask for a new one",
            ));
        }
        if !self
            .keys
            .blind_index_matches(&code_input(&owner, &address, code), &stored)
        {
            tx.execute(
                "UPDATE owner_email_code SET attempts = attempts + 1 WHERE id = $1",
                &[&id],
            )
            .await?;
            tx.commit().await?;
            let left = max_attempts - attempts - 1;
            return Err(if left <= 0 {
                code_error(
                    NotifyProblem::EmailCodeAttemptsExceeded,
                    "too many wrong codes; ask for a new one",
                )
            } else {
                code_error(
                    NotifyProblem::EmailCodeInvalid,
                    &format!("the code is wrong; {left} more tries"),
                )
            });
        }
        tx.execute(
            "UPDATE owner_email_code SET consumed_at = now() WHERE id = $1",
            &[&id],
        )
        .await?;
        tx.execute(
            "INSERT INTO owner_email (owner, address, verified_at) VALUES ($1, $2, now())
             ON CONFLICT (owner) DO UPDATE SET address = EXCLUDED.address, verified_at = now()",
            &[&owner, &address],
        )
        .await?;
        audit::append(
            &tx,
            AuditEntry {
                aggregate_type: "account",
                aggregate_id: &owner,
                actor: &owner,
                action: "notify.email_verified",
                before: None,
                after: None,
                details: json!({ "address": mask_email(&address) }),
            },
        )
        .await?;
        tx.commit().await?;
        tracing::info!(owner = %owner, to = %mask_email(&address), "notification email verified");
        Ok(Json(view(&**client, &owner, max_attempts).await?))
    }

    /// Remove my notification email address (and any pending one): no more email.
    #[oai(path = "/notification-preferences/email", method = "delete")]
    async fn remove_email_address(&self, auth: AccessToken) -> AppResult<EmailRemoved> {
        let principal = self.gate.require(&auth, Rule::Authenticated).await?;
        let owner = principal.subject.to_string();
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        lock_owner(&*tx, &owner).await?;
        tx.execute(
            "UPDATE owner_email_code SET consumed_at = now() WHERE owner = $1 AND consumed_at IS NULL",
            &[&owner],
        )
        .await?;
        let removed = tx
            .query_opt(
                "DELETE FROM owner_email WHERE owner = $1 RETURNING address",
                &[&owner],
            )
            .await?;
        if let Some(row) = removed {
            audit::append(
                &tx,
                AuditEntry {
                    aggregate_type: "account",
                    aggregate_id: &owner,
                    actor: &owner,
                    action: "notify.email_removed",
                    before: None,
                    after: None,
                    details: json!({ "address": mask_email(row.get(0)) }),
                },
            )
            .await?;
        }
        tx.commit().await?;
        Ok(EmailRemoved::Removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_addresses_keep_only_the_first_letter_and_the_domain() {
        assert_eq!(mask_email("zhangsan@example.cn"), "z***@example.cn");
        assert_eq!(mask_email("张三@例子.中国"), "张***@例子.中国");
        assert_eq!(mask_email("nonsense"), "***");
    }

    #[test]
    fn codes_are_bound_to_owner_and_address() {
        let keys = IdentityKeys::from_master_key(&[7u8; 32]);
        let a = code_hash(&keys, "citizen:1", "a@b.cn", "123456");
        assert_eq!(a, code_hash(&keys, "citizen:1", "a@b.cn", "123456"));
        assert_ne!(a, code_hash(&keys, "citizen:2", "a@b.cn", "123456"));
        assert_ne!(a, code_hash(&keys, "citizen:1", "c@b.cn", "123456"));
        assert_ne!(a, code_hash(&keys, "citizen:1", "a@b.cn", "123457"));
    }
}
