//! The licence library (证照库): holders list, download and share their licences; anyone
//! verifies a sealed document by its QR code or by uploading the PDF; the issuing department
//! revokes a licence with a reason, audited and told to the holder.

use std::sync::Arc;

use chrono::{Duration, Utc};
use deadpool_postgres::Pool;
use serde_json::{Map, json};
use uuid::Uuid;

use super::store::{self, LicenceRecord};
use super::views::*;
use crate::audit::{self, AuditEntry};
use crate::blobs::{BlobStore, sha256_hex};
use crate::clock::Clock;
use crate::document_register::DocumentRecord;
use crate::document_register::records as documents;
use crate::http::{AppError, AppResult};
use crate::identity::model::{Principal, Role};
use crate::licences::errors::LicenceProblem;
use crate::masking::mask_code;
use crate::masking::mask_name;
use crate::notify::model::Channel;
use crate::notify::outbox::{self, NewNotification, OutboxSettings, Recipient};

/// Share links last 72 hours unless the holder says otherwise, 30 days at most.
pub const DEFAULT_SHARE_HOURS: u32 = 72;
pub const MAX_SHARE_HOURS: u32 = 720;

#[derive(Clone)]
pub struct LicenceService {
    pool: Pool,
    blobs: Arc<dyn BlobStore>,
    outbox: OutboxSettings,
    public_base_url: String,
    clock: Clock,
}

fn licence_not_found() -> AppError {
    AppError::new(LicenceProblem::LicenceNotFound, "no such licence")
}

fn document_not_found() -> AppError {
    AppError::new(
        LicenceProblem::DocumentNotFound,
        "no document has this verification code",
    )
}

impl LicenceService {
    pub fn new(
        pool: Pool,
        blobs: Arc<dyn BlobStore>,
        outbox: OutboxSettings,
        public_base_url: &str,
        clock: Clock,
    ) -> Self {
        LicenceService {
            clock,
            pool,
            blobs,
            outbox,
            public_base_url: public_base_url.trim_end_matches('/').to_owned(),
        }
    }

    fn view(&self, record: LicenceRecord) -> LicenceView {
        LicenceView {
            status: record.status(self.clock.today()).as_str().to_owned(),
            verification_url: documents::verification_url(
                &self.public_base_url,
                &record.verify_token,
            ),
            id: record.id,
            number: record.number,
            licence_type: record.licence_type,
            holder_kind: record.holder_kind,
            holder_name: record.holder_name,
            holder_id: record.holder_id_masked,
            department: record.department_name,
            valid_from: record.valid_from,
            valid_to: record.valid_to,
            revoked_at: record.revoked_at,
            revoked_reason: record.revoked_reason,
            case_id: record.case_id,
            issued_at: record.issued_at,
            sha256: record.sha256,
        }
    }

    async fn pdf(&self, sha256: &str) -> AppResult<Vec<u8>> {
        Ok(crate::blobs::get_existing(&*self.blobs, sha256).await?)
    }

    // ----- the holder -------------------------------------------------------------------

    pub async fn my_licences(&self, principal: &Principal) -> AppResult<LicenceList> {
        let client = self.pool.get().await?;
        let records = store::for_holder(&**client, &principal.subject.to_string()).await?;
        Ok(LicenceList {
            licences: records.into_iter().map(|r| self.view(r)).collect(),
        })
    }

    async fn mine(&self, principal: &Principal, id: Uuid) -> AppResult<LicenceRecord> {
        let client = self.pool.get().await?;
        let subject = principal.subject.to_string();
        store::load(&**client, id)
            .await?
            .filter(|r| r.holder_subject.as_deref() == Some(subject.as_str()))
            .ok_or_else(licence_not_found)
    }

    pub async fn my_licence(&self, principal: &Principal, id: Uuid) -> AppResult<LicenceView> {
        Ok(self.view(self.mine(principal, id).await?))
    }

    /// The sealed PDF and its file name.
    pub async fn my_licence_pdf(
        &self,
        principal: &Principal,
        id: Uuid,
    ) -> AppResult<(String, Vec<u8>)> {
        let record = self.mine(principal, id).await?;
        let bytes = self.pdf(&record.sha256).await?;
        Ok((licence_file_name(&record), bytes))
    }

    /// A link that shows the licence to whoever has it, until it expires. Only the token's
    /// hash is kept; the holder's sharing is on the licence's audit chain.
    pub async fn share(
        &self,
        principal: &Principal,
        id: Uuid,
        request: &ShareRequest,
    ) -> AppResult<ShareView> {
        let hours = request.hours.unwrap_or(DEFAULT_SHARE_HOURS);
        if !(1..=MAX_SHARE_HOURS).contains(&hours) {
            return Err(AppError::invalid_field(
                "hours",
                LicenceProblem::ShareHoursOutOfRange,
                format!("a link lasts 1 to {MAX_SHARE_HOURS} hours"),
            ));
        }
        let record = self.mine(principal, id).await?;
        if record.revoked_at.is_some() {
            return Err(AppError::new(
                LicenceProblem::LicenceRevoked,
                "a revoked licence cannot be shared",
            ));
        }
        // 256 random bits; only the hash is kept.
        let token = crate::keys::random_url_token::<32>()?;
        let expires_at = self.clock.now() + Duration::hours(i64::from(hours));
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        tx.execute(
            "INSERT INTO licence_share (token_hash, licence_id, expires_at) VALUES ($1, $2, $3)",
            &[&token_hash(&token), &record.id, &expires_at],
        )
        .await?;
        audit::append(
            &tx,
            AuditEntry {
                aggregate_type: "licence",
                aggregate_id: &record.id.to_string(),
                actor: &principal.subject.to_string(),
                action: "licence.share",
                before: None,
                after: None,
                details: json!({"expires_at": expires_at, "hours": hours}),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(ShareView {
            url: format!(
                "{}/api/v1/public/shared-licences/{token}",
                self.public_base_url
            ),
            expires_at,
        })
    }

    async fn shared_record(
        &self,
        token: &str,
    ) -> AppResult<(LicenceRecord, chrono::DateTime<Utc>)> {
        let client = self.pool.get().await?;
        // An unknown token and an expired one look the same.
        store::by_share(&**client, &token_hash(token))
            .await?
            .ok_or_else(|| {
                AppError::new(
                    LicenceProblem::ShareNotFound,
                    "this link does not exist or has expired",
                )
            })
    }

    pub async fn shared(&self, token: &str) -> AppResult<SharedLicenceView> {
        let (record, link_expires_at) = self.shared_record(token).await?;
        Ok(SharedLicenceView {
            licence: self.view(record),
            link_expires_at,
        })
    }

    /// The shared licence's PDF; a licence revoked since the link was made is not handed out
    /// (410), its view still says why.
    pub async fn shared_pdf(&self, token: &str) -> AppResult<(String, Vec<u8>)> {
        let (record, _) = self.shared_record(token).await?;
        if record.revoked_at.is_some() {
            return Err(AppError::new(
                LicenceProblem::LicenceRevokedGone,
                "the licence has been revoked",
            ));
        }
        let bytes = self.pdf(&record.sha256).await?;
        Ok((licence_file_name(&record), bytes))
    }

    // ----- public verification ----------------------------------------------------------

    /// The public facts of `document`, reading its licence (if it is one) on `client`.
    async fn verification(
        &self,
        client: &impl crate::db::prepared::Prepare,
        document: DocumentRecord,
    ) -> AppResult<VerificationView> {
        let licence = if document.kind == "licence" {
            store::by_document(client, document.id).await?
        } else {
            None
        };
        let status = licence
            .as_ref()
            .map_or("valid", |l| l.status(self.clock.today()).as_str());
        Ok(VerificationView {
            status: status.to_owned(),
            kind: document.kind,
            title: document.title,
            document_number: document.document_number,
            department: document.department_name,
            signed_at: document.signed_at,
            holder_name: mask_name(&document.applicant_name),
            holder_id: mask_code(&document.applicant_id_masked),
            sha256: document.sha256,
            licence: licence.map(|l| LicenceFacts {
                number: l.number,
                licence_type: l.licence_type,
                valid_from: l.valid_from,
                valid_to: l.valid_to,
                revoked_at: l.revoked_at,
                revoked_reason: l.revoked_reason,
            }),
        })
    }

    /// What the QR code's link answers.
    pub async fn verify(&self, token: &str) -> AppResult<VerificationView> {
        // Tokens are 22 URL-safe characters; anything else cannot match (and is not looked up).
        if token.len() != 22
            || !token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(document_not_found());
        }
        let client = self.pool.get().await?;
        let document = documents::by_token(&client, token)
            .await?
            .ok_or_else(document_not_found)?;
        self.verification(&client, document).await
    }

    /// Whether `bytes` are exactly an issued document.
    pub async fn verify_upload(&self, bytes: &[u8]) -> AppResult<UploadVerification> {
        let sha256 = sha256_hex(bytes);
        let client = self.pool.get().await?;
        let document = documents::by_sha256(&client, &sha256).await?;
        Ok(match document {
            Some(document) => UploadVerification {
                issued: true,
                sha256,
                document: Some(self.verification(&client, document).await?),
            },
            None => UploadVerification {
                issued: false,
                sha256,
                document: None,
            },
        })
    }

    // ----- the issuing department -------------------------------------------------------

    /// Revokes a licence: an approver of the issuing department, with a reason; audited and
    /// told to the holder in the same transaction.
    pub async fn revoke(
        &self,
        principal: &Principal,
        id: Uuid,
        reason: &str,
    ) -> AppResult<LicenceView> {
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(AppError::invalid_field(
                "reason",
                LicenceProblem::ReasonRequired,
                "a revocation needs its reason",
            ));
        }
        if reason.chars().count() > 500 {
            return Err(AppError::invalid_field(
                "reason",
                LicenceProblem::ReasonTooLong,
                "at most 500 characters",
            ));
        }
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let record = store::load(&*tx, id)
            .await?
            .filter(|r| {
                principal
                    .grants
                    .iter()
                    .any(|g| g.department_id == Some(r.department_id))
            })
            .ok_or_else(licence_not_found)?;
        if !principal.has_role_in(Role::Approver, record.department_id) {
            return Err(AppError::new(
                LicenceProblem::ApproverRequired,
                "only an approver of the issuing department revokes its licences",
            ));
        }
        let revoked = tx
            .execute(
                "UPDATE licence SET revoked_at = clock_now(), revoked_reason = $2
                 WHERE id = $1 AND revoked_at IS NULL",
                &[&id, &reason],
            )
            .await?;
        if revoked == 0 {
            return Err(AppError::new(
                LicenceProblem::LicenceAlreadyRevoked,
                "the licence is already revoked",
            ));
        }
        audit::append(
            &tx,
            AuditEntry {
                aggregate_type: "licence",
                aggregate_id: &id.to_string(),
                actor: &principal.subject.to_string(),
                action: "licence.revoke",
                before: Some(&json!({"status": record.status(self.clock.today()).as_str()})),
                after: Some(&json!({"status": "revoked"})),
                details: json!({"number": record.number, "reason": reason}),
            },
        )
        .await?;
        self.notify_revoked(&tx, &record, reason).await?;
        let after = store::load(&*tx, id).await?.ok_or_else(licence_not_found)?;
        tx.commit().await?;
        Ok(self.view(after))
    }

    async fn notify_revoked(
        &self,
        tx: &tokio_postgres::Transaction<'_>,
        record: &LicenceRecord,
        reason: &str,
    ) -> AppResult<()> {
        let phone: Option<String> = tx
            .query_one(
                "SELECT applicant_phone FROM cases WHERE id = $1",
                &[&record.case_id],
            )
            .await?
            .get(0);
        let (recipient, channels) = match (&record.holder_subject, phone) {
            (Some(owner), phone) => (
                Recipient::Owner {
                    owner: owner.clone(),
                    phone,
                    email: None,
                },
                vec![Channel::Push, Channel::Sms],
            ),
            (None, Some(phone)) => (Recipient::Phone(phone), vec![Channel::Sms]),
            (None, None) => return Ok(()),
        };
        let mut variables = Map::new();
        variables.insert("licence_type".to_owned(), json!(record.licence_type));
        variables.insert("number".to_owned(), json!(record.number));
        variables.insert("department".to_owned(), json!(record.department_name));
        variables.insert("reason".to_owned(), json!(reason));
        outbox::enqueue(
            tx,
            &NewNotification {
                template_key: "licence.revoked".to_owned(),
                variables,
                recipient,
                channels,
                must_reach: true,
                priority: 5,
                idempotency_key: format!("licence:{}:revoked", record.id),
            },
            &self.outbox,
        )
        .await
        .map_err(|e| anyhow::anyhow!("enqueueing licence.revoked: {e}"))?;
        Ok(())
    }
}

/// `<type>-<number>.pdf`.
fn licence_file_name(record: &LicenceRecord) -> String {
    format!("{}-{}.pdf", record.licence_type, record.number)
}

fn token_hash(token: &str) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, token.as_bytes())
        .as_ref()
        .to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_ids_show_four_and_four() {
        assert_eq!(mask_code("220882********1234"), "2208**********1234");
        assert_eq!(mask_code("91220882MA0Y1234X5"), "9122**********34X5");
        assert_eq!(mask_code("short"), "*****");
    }

    #[test]
    fn share_tokens_hash_to_32_bytes_and_differ() {
        let a = crate::keys::random_url_token::<32>().unwrap();
        assert_eq!(a.len(), 43);
        assert_ne!(a, crate::keys::random_url_token::<32>().unwrap());
        assert_eq!(token_hash(&a).len(), 32);
    }
}
