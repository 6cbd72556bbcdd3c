//! Citizens: SMS codes through the notification hub, registration with real name and ID number,
//! login by code, and the real-name check that lifts an account from L1 to L2.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use deadpool_postgres::Pool;
use serde_json::{Map, json};
use uuid::Uuid;

use super::account_claims::{self, AccountProven, ApplicantKind};
use super::citizen_id::CitizenIdNumber;
use super::model::{Assurance, Subject};
use super::otp::{self, OtpPurpose, RecentSends, SendLimits};
use super::pii::IdentityKeys;
use super::realname::{RealNameProvider, RealNameVerdict};
use super::sessions::{self, ClientInfo, IssuedTokens, SessionSettings};
use super::tokens::TokenSigner;
use crate::audit::{self, AuditEntry};
use crate::http::HttpProblem;
use crate::http::problem::{AppError, AppResult};
use crate::identity::errors::IdentityProblem;
use crate::notify::model::{Channel, parse_mainland_mobile};
use crate::notify::outbox::{self, NewNotification, OutboxSettings, Recipient};

/// The template the SMS login and registration codes go out with. Housekeeping scrubs the codes
/// from the outbox once spent.
pub const OTP_TEMPLATE: &str = "identity.otp";

#[derive(Debug, Clone, Copy)]
pub struct OtpSettings {
    pub ttl: Duration,
    pub limits: SendLimits,
    pub max_attempts: i32,
}

/// Everything the citizen use cases need.
#[derive(Clone)]
pub struct Citizens {
    pub pool: Pool,
    pub signer: Arc<TokenSigner>,
    pub keys: Arc<IdentityKeys>,
    pub realname: Arc<dyn RealNameProvider>,
    pub outbox: OutboxSettings,
    pub otp: OtpSettings,
    pub sessions: SessionSettings,
    /// Told when an account is proven: window cases join it.
    pub claims: Arc<dyn AccountProven>,
}

/// A code was sent (or queued to be sent) to a phone.
#[derive(Debug, Clone)]
pub struct OtpSent {
    pub expires_at: DateTime<Utc>,
    pub resend_after_seconds: i64,
}

/// The outcome of a real-name check, as stored on the account.
fn realname_status(
    verdict: &Result<RealNameVerdict, super::realname::RealNameError>,
) -> &'static str {
    match verdict {
        Ok(RealNameVerdict::Match) => "verified",
        Ok(RealNameVerdict::Mismatch) => "mismatch",
        Ok(RealNameVerdict::NotFound) => "not_found",
        Err(_) => "unavailable",
    }
}

pub fn parse_phone(field: &str, input: &str) -> AppResult<String> {
    parse_mainland_mobile(input).ok_or_else(|| {
        AppError::invalid_field(
            field,
            IdentityProblem::InvalidPhone,
            "a mainland China mobile number: 11 digits starting with 1[3-9], optionally +86",
        )
    })
}

/// Personal names: 2–50 characters, letters (any script), the middle dot of minority names
/// (·), and spaces between words.
pub fn check_name(input: &str) -> AppResult<String> {
    let name = input.trim();
    let count = name.chars().count();
    let allowed = name
        .chars()
        .all(|c| c.is_alphabetic() || matches!(c, '·' | '•' | ' ' | '.'));
    if !(2..=50).contains(&count) || !allowed {
        return Err(AppError::invalid_field(
            "name",
            IdentityProblem::InvalidName,
            "2–50 letters; '·' between the parts of a name is allowed",
        ));
    }
    Ok(name.to_owned())
}

pub fn parse_id_number(input: &str) -> AppResult<CitizenIdNumber> {
    CitizenIdNumber::parse(input)
        .map_err(|e| AppError::invalid_field("id_number", e.problem(), e.field_detail()))
}

impl Citizens {
    /// Sends a code to `phone` (priority lane of the notification hub) unless a limit says wait.
    pub async fn send_code(
        &self,
        phone_input: &str,
        purpose: OtpPurpose,
        client: &ClientInfo,
    ) -> AppResult<OtpSent> {
        let phone = parse_phone("phone", phone_input)?;
        let mut db = self.pool.get().await?;
        let tx = db.transaction().await?;
        // One sender per phone at a time, so two concurrent requests cannot both pass the limit.
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended('otp:' || $1, 0))",
            &[&phone],
        )
        .await?;
        let phone_row = tx
            .query_one(
                "SELECT max(created_at), min(created_at), count(*) FROM otp_code
                  WHERE phone = $1 AND created_at > now() - interval '1 day'",
                &[&phone],
            )
            .await?;
        let mut recent = RecentSends {
            phone_last: phone_row.get(0),
            phone_oldest_today: phone_row.get(1),
            phone_count_today: phone_row.get(2),
            ..Default::default()
        };
        if let Some(ip) = &client.ip {
            let ip_row = tx
                .query_one(
                    "SELECT min(created_at), count(*) FROM otp_code
                      WHERE client_ip = $1 AND created_at > now() - interval '1 hour'",
                    &[ip],
                )
                .await?;
            recent.ip_oldest_hour = ip_row.get(0);
            recent.ip_count_hour = ip_row.get(1);
        }
        let now = crate::clock::system_time();
        if let Err(wait) = otp::may_send(&self.otp.limits, &recent, now) {
            return Err(AppError::TooManyRequests {
                retry_after_seconds: wait,
            });
        }
        let code = otp::generate_code()
            .ok_or_else(|| anyhow::anyhow!("the system random generator failed"))?;
        let id = Uuid::new_v4();
        let expires_at = now + self.otp.ttl;
        // Only the newest code is valid: an older one still in an SMS inbox stops working.
        tx.execute(
            "UPDATE otp_code SET consumed_at = now()
              WHERE phone = $1 AND purpose = $2 AND consumed_at IS NULL",
            &[&phone, &purpose.as_str()],
        )
        .await?;
        tx.execute(
            "INSERT INTO otp_code (id, phone, purpose, code_hash, client_ip, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &id,
                &phone,
                &purpose.as_str(),
                &otp::code_hash(&self.keys, &phone, purpose, &code),
                &client.ip,
                &expires_at,
            ],
        )
        .await?;
        let mut variables = Map::new();
        variables.insert("code".to_owned(), json!(code));
        variables.insert("minutes".to_owned(), json!(self.otp.ttl.num_minutes()));
        outbox::enqueue(
            &*tx,
            &NewNotification {
                template_key: OTP_TEMPLATE.to_owned(),
                variables,
                recipient: Recipient::Phone(phone.clone()),
                channels: vec![Channel::Sms],
                must_reach: false,
                priority: 10,
                idempotency_key: format!("otp:{id}"),
            },
            &self.outbox,
        )
        .await
        .map_err(|e| anyhow::anyhow!("enqueueing the code SMS: {e}"))?;
        tx.commit().await?;
        Ok(OtpSent {
            expires_at,
            resend_after_seconds: self.otp.limits.resend_after.num_seconds(),
        })
    }

    /// Checks a code without using it up; a wrong guess counts against the code.
    async fn check_code(&self, phone: &str, purpose: OtpPurpose, code: &str) -> AppResult<Uuid> {
        let invalid = || {
            AppError::new(
                IdentityProblem::OtpInvalid,
                "the code is wrong or was replaced by a newer one",
            )
        };
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(AppError::invalid_field(
                "code",
                HttpProblem::InvalidFormat,
                "six digits",
            ));
        }
        let mut db = self.pool.get().await?;
        let tx = db.transaction().await?;
        let row = tx
            .query_opt(
                "SELECT id, code_hash, attempts, expires_at FROM otp_code
                  WHERE phone = $1 AND purpose = $2 AND consumed_at IS NULL
                  ORDER BY created_at DESC LIMIT 1
                    FOR UPDATE",
                &[&phone, &purpose.as_str()],
            )
            .await?
            .ok_or_else(invalid)?;
        let id: Uuid = row.get(0);
        let stored: Vec<u8> = row.get(1);
        let attempts: i32 = row.get(2);
        let expires_at: DateTime<Utc> = row.get(3);
        if expires_at <= crate::clock::system_time() {
            return Err(AppError::new(
                IdentityProblem::OtpExpired,
                "the code has expired; ask for a new one",
            ));
        }
        if attempts >= self.otp.max_attempts {
            return Err(AppError::new(
                IdentityProblem::OtpAttemptsExceeded,
                "too many wrong codes; ask for a new one",
            ));
        }
        if !otp::code_matches(&self.keys, phone, purpose, code, &stored) {
            tx.execute(
                "UPDATE otp_code SET attempts = attempts + 1 WHERE id = $1",
                &[&id],
            )
            .await?;
            // Chained under a keyed digest of the phone: guessing shows in one place, and the
            // audit log holds no phone number.
            let aggregate = format!(
                "phone:{}",
                hex::encode(&self.keys.blind_index(&format!("phone:{phone}"))[..12])
            );
            audit::append(
                &tx,
                AuditEntry {
                    aggregate_type: "account",
                    aggregate_id: &aggregate,
                    actor: "anonymous",
                    action: "login.failure",
                    before: None,
                    after: None,
                    details: json!({ "method": "sms_otp", "reason": "wrong_code",
                                     "attempt": attempts + 1, "purpose": purpose.as_str() }),
                },
            )
            .await?;
            tx.commit().await?;
            return Err(invalid());
        }
        Ok(id)
    }

    /// Checks and uses up a code in one step (for a code that only unlocks a read, such as the
    /// public progress query).
    pub async fn use_code(&self, phone: &str, purpose: OtpPurpose, code: &str) -> AppResult<()> {
        let id = self.check_code(phone, purpose, code).await?;
        let mut db = self.pool.get().await?;
        let tx = db.transaction().await?;
        Self::consume_code(&tx, id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Uses up a checked code inside the transaction that acts on it.
    async fn consume_code(tx: &tokio_postgres::Transaction<'_>, id: Uuid) -> AppResult<()> {
        let used = tx
            .execute(
                "UPDATE otp_code SET consumed_at = now() WHERE id = $1 AND consumed_at IS NULL",
                &[&id],
            )
            .await?;
        if used == 1 {
            Ok(())
        } else {
            Err(AppError::new(
                IdentityProblem::OtpInvalid,
                "the code was already used",
            ))
        }
    }

    /// Registers a citizen: the phone proven by `code`, then the name + ID pair checked by the
    /// identity authority. The account is created in one transaction either way — at L2 when
    /// the authority confirms, at L1 otherwise (never half-created) — and the caller is logged in.
    pub async fn register(
        &self,
        phone_input: &str,
        code: &str,
        name: &str,
        id_input: &str,
        client: &ClientInfo,
    ) -> AppResult<(IssuedTokens, &'static str)> {
        let phone = parse_phone("phone", phone_input)?;
        let name = check_name(name)?;
        let id_number = parse_id_number(id_input)?;
        let code_id = self.check_code(&phone, OtpPurpose::Register, code).await?;
        let index = self.keys.blind_index(id_number.expose());
        {
            // Both uniqueness checks in one read, before asking the identity authority.
            let db = self.pool.get().await?;
            let taken = db
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM citizen WHERE phone = $1),
                            EXISTS (SELECT 1 FROM citizen WHERE id_number_index = $2)",
                    &[&phone, &index],
                )
                .await?;
            if taken.get::<_, bool>(0) {
                return Err(phone_registered());
            }
            if taken.get::<_, bool>(1) {
                return Err(id_registered());
            }
        }
        let verdict = self.realname.verify(&name, &id_number).await;
        if let Err(e) = &verdict {
            tracing::warn!(error = %e, "the real-name check failed; the account stays at L1");
        }
        let status = realname_status(&verdict);
        let assurance = if status == "verified" {
            Assurance::RealNameVerified
        } else {
            Assurance::PhoneProven
        };
        let citizen_id = Uuid::new_v4();
        let sealed = self
            .keys
            .encrypt(id_number.expose().as_bytes(), citizen_id.as_bytes())
            .map_err(|e| anyhow::anyhow!("sealing an ID number: {e}"))?;
        let mut db = self.pool.get().await?;
        let tx = db.transaction().await?;
        Self::consume_code(&tx, code_id).await?;
        let inserted = tx
            .execute(
                "INSERT INTO citizen (id, phone, name, id_number_sealed, id_number_index,
                                      id_number_masked, assurance, realname_status, realname_checked_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now())
                 ON CONFLICT DO NOTHING",
                &[
                    &citizen_id,
                    &phone,
                    &name,
                    &sealed,
                    &index,
                    &id_number.masked(),
                    &assurance.level(),
                    &status,
                ],
            )
            .await?;
        if inserted == 0 {
            // Lost a race with another registration of the same phone or ID number.
            return Err(phone_registered());
        }
        let subject = Subject::Citizen(citizen_id);
        if assurance >= Assurance::RealNameVerified {
            // Window cases under this ID number join the account: its real name was verified.
            self.claims
                .account_proven(&tx, &subject, ApplicantKind::Citizen, &index)
                .await?;
        }
        audit::append(
            &tx,
            AuditEntry {
                aggregate_type: "account",
                aggregate_id: &subject.to_string(),
                actor: &subject.to_string(),
                action: "citizen.register",
                before: None,
                after: Some(&json!({
                    "id_number": id_number.masked(), "assurance": assurance.level(),
                    "realname": status,
                })),
                details: json!({ "ip": client.ip }),
            },
        )
        .await?;
        let issued = sessions::start(
            &tx,
            &self.signer,
            self.sessions,
            subject,
            assurance,
            "sms_otp",
            client,
        )
        .await?;
        tx.commit().await?;
        Ok((issued, status))
    }

    /// Logs a registered citizen in by SMS code. An unregistered phone is told so without
    /// using up the code (the app goes on to registration with it).
    pub async fn login(
        &self,
        phone_input: &str,
        code: &str,
        client: &ClientInfo,
    ) -> AppResult<IssuedTokens> {
        let phone = parse_phone("phone", phone_input)?;
        let code_id = self.check_code(&phone, OtpPurpose::Login, code).await?;
        let mut db = self.pool.get().await?;
        let tx = db.transaction().await?;
        let row = tx
            .query_opt(
                "SELECT id, assurance FROM citizen WHERE phone = $1",
                &[&phone],
            )
            .await?
            .ok_or_else(|| {
                AppError::new(
                    IdentityProblem::AccountNotFound,
                    "no account with this phone; register first",
                )
            })?;
        let citizen_id: Uuid = row.get(0);
        let assurance = Assurance::from_level(row.get(1)).unwrap_or(Assurance::PhoneProven);
        Self::consume_code(&tx, code_id).await?;
        let issued = sessions::start(
            &tx,
            &self.signer,
            self.sessions,
            Subject::Citizen(citizen_id),
            assurance,
            "sms_otp",
            client,
        )
        .await?;
        tx.commit().await?;
        Ok(issued)
    }

    /// The citizen's own profile, with the full ID number (only the owner sees it).
    pub async fn profile(&self, citizen_id: Uuid) -> AppResult<CitizenProfile> {
        let db = self.pool.get().await?;
        let row = db
            .query_opt(
                "SELECT phone, name, id_number_sealed, assurance, realname_status, created_at
                   FROM citizen WHERE id = $1",
                &[&citizen_id],
            )
            .await?
            .ok_or_else(|| AppError::new(IdentityProblem::AccountNotFound, "no such account"))?;
        let sealed: Vec<u8> = row.get(2);
        let id_number = self
            .keys
            .decrypt(&sealed, citizen_id.as_bytes())
            .ok()
            .and_then(|plain| String::from_utf8(plain).ok())
            .ok_or_else(|| anyhow::anyhow!("the ID number of {citizen_id} does not decrypt"))?;
        Ok(CitizenProfile {
            id: citizen_id,
            phone: row.get(0),
            name: row.get(1),
            id_number,
            assurance: row.get(3),
            realname_status: row.get(4),
            created_at: row.get(5),
        })
    }

    /// Runs the real-name check again (after the authority was unavailable, or a corrected
    /// name); on a match the account and its live sessions move to L2.
    pub async fn recheck_realname(&self, citizen_id: Uuid) -> AppResult<&'static str> {
        let profile = self.profile(citizen_id).await?;
        let id_number = parse_id_number(&profile.id_number)?;
        let verdict = self.realname.verify(&profile.name, &id_number).await;
        let status = realname_status(&verdict);
        if let Err(e) = &verdict {
            tracing::warn!(error = %e, "the real-name check failed");
        }
        let mut db = self.pool.get().await?;
        let tx = db.transaction().await?;
        let subject = Subject::Citizen(citizen_id);
        if status == "verified" {
            tx.execute(
                "UPDATE citizen SET assurance = greatest(assurance, 2), realname_status = $2,
                        realname_checked_at = now(), updated_at = now() WHERE id = $1",
                &[&citizen_id, &status],
            )
            .await?;
            tx.execute(
                "UPDATE auth_session SET assurance = greatest(assurance, 2)
                  WHERE subject = $1 AND revoked_at IS NULL",
                &[&subject.to_string()],
            )
            .await?;
            // Now provably this person's: window cases under the ID number join the account.
            let index = account_claims::citizen_index(&self.keys, &id_number);
            self.claims
                .account_proven(&tx, &subject, ApplicantKind::Citizen, &index)
                .await?;
        } else {
            tx.execute(
                "UPDATE citizen SET realname_status = $2, realname_checked_at = now(),
                        updated_at = now() WHERE id = $1",
                &[&citizen_id, &status],
            )
            .await?;
        }
        audit::append(
            &tx,
            AuditEntry {
                aggregate_type: "account",
                aggregate_id: &subject.to_string(),
                actor: &subject.to_string(),
                action: "citizen.realname_check",
                before: None,
                after: Some(&json!({ "realname": status })),
                details: json!({}),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(status)
    }
}

fn phone_registered() -> AppError {
    AppError::new(
        IdentityProblem::PhoneRegistered,
        "an account with this phone or ID number exists; log in instead",
    )
}

fn id_registered() -> AppError {
    AppError::new(
        IdentityProblem::IdNumberRegistered,
        "an account with this ID number exists; log in with its phone",
    )
}

/// The owner's view of their account.
#[derive(Debug, Clone)]
pub struct CitizenProfile {
    pub id: Uuid,
    pub phone: String,
    pub name: String,
    pub id_number: String,
    pub assurance: i16,
    pub realname_status: String,
    pub created_at: DateTime<Utc>,
}
