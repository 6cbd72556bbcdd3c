//! What the licence library and the public verification answer.

use chrono::{DateTime, NaiveDate, Utc};
use poem_openapi::Object;
use serde::Deserialize;
use uuid::Uuid;

/// A licence in its holder's library.
#[derive(Debug, Clone, Object)]
pub struct LicenceView {
    pub id: Uuid,
    /// 证照编号.
    pub number: String,
    /// The licence type (e.g. 食品经营许可证).
    pub licence_type: String,
    /// valid, revoked or expired.
    pub status: String,
    /// citizen or enterprise.
    pub holder_kind: String,
    pub holder_name: String,
    /// The holder's ID number (masked) or credit code.
    pub holder_id: String,
    /// The issuing department (发证机关).
    pub department: String,
    pub valid_from: NaiveDate,
    /// `null`: without a time limit.
    #[oai(skip_serializing_if_is_none)]
    pub valid_to: Option<NaiveDate>,
    #[oai(skip_serializing_if_is_none)]
    pub revoked_at: Option<DateTime<Utc>>,
    #[oai(skip_serializing_if_is_none)]
    pub revoked_reason: Option<String>,
    /// The case that issued it.
    pub case_id: Uuid,
    pub issued_at: DateTime<Utc>,
    /// SHA-256 of the sealed PDF, hex.
    pub sha256: String,
    /// The QR code's target.
    pub verification_url: String,
}

#[derive(Debug, Clone, Object)]
pub struct LicenceList {
    pub licences: Vec<LicenceView>,
}

/// A time-limited link to one licence.
#[derive(Debug, Clone, Object, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ShareRequest {
    /// How long the link works, in hours: 1 to 720 (30 days); 72 when absent.
    #[oai(nullable, default)]
    #[serde(default)]
    pub hours: Option<u32>,
}

#[derive(Debug, Clone, Object)]
pub struct ShareView {
    /// Give this URL to whom the licence is for (a bank, a landlord…): it shows the licence
    /// and its PDF (append `/pdf`) until it expires. Shown once; only its hash is kept.
    pub url: String,
    pub expires_at: DateTime<Utc>,
}

/// What a share link shows.
#[derive(Debug, Clone, Object)]
pub struct SharedLicenceView {
    pub licence: LicenceView,
    pub link_expires_at: DateTime<Utc>,
}

/// A licence's own facts on a verification.
#[derive(Debug, Clone, Object)]
pub struct LicenceFacts {
    pub number: String,
    pub licence_type: String,
    pub valid_from: NaiveDate,
    #[oai(skip_serializing_if_is_none)]
    pub valid_to: Option<NaiveDate>,
    #[oai(skip_serializing_if_is_none)]
    pub revoked_at: Option<DateTime<Utc>>,
    #[oai(skip_serializing_if_is_none)]
    pub revoked_reason: Option<String>,
}

/// The public verification of a sealed document (the QR code's answer).
#[derive(Debug, Clone, Object)]
pub struct VerificationView {
    /// valid, revoked or expired (the last two for licences only).
    pub status: String,
    /// acceptance_notice, correction_notice, rejection_decision, approval_decision, licence,
    /// denial_decision.
    pub kind: String,
    pub title: String,
    /// 文号 (a licence: its number).
    pub document_number: String,
    /// The department whose seal it carries.
    pub department: String,
    pub signed_at: DateTime<Utc>,
    /// The holder's or applicant's name, masked.
    pub holder_name: String,
    /// Their ID number (masked) or credit code, masked.
    pub holder_id: String,
    /// SHA-256 of the issued PDF, hex: a copy with other bytes is not the issued document.
    pub sha256: String,
    #[oai(skip_serializing_if_is_none)]
    pub licence: Option<LicenceFacts>,
}

/// Whether an uploaded PDF is exactly an issued one.
#[derive(Debug, Clone, Object)]
pub struct UploadVerification {
    /// true: these bytes are an issued document, byte for byte.
    pub issued: bool,
    /// SHA-256 of the uploaded bytes, hex.
    pub sha256: String,
    #[oai(skip_serializing_if_is_none)]
    pub document: Option<VerificationView>,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeLicenceRequest {
    /// Why (told to the holder, shown on verification); mandatory.
    pub reason: String,
}
