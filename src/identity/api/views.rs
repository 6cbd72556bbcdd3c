//! What the identity endpoints show: issued tokens, the caller's own account (citizen,
//! enterprise, staff roles), staff records and grants, and the endpoints' response enums, with
//! the conversions from the identity records into them.

use chrono::{DateTime, Utc};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object};
use uuid::Uuid;

use crate::identity::model::Role;
use crate::identity::sessions::IssuedTokens;
use crate::identity::staff;

#[derive(Debug, Clone, Object)]
pub struct OtpSentView {
    pub expires_at: DateTime<Utc>,
    /// Seconds before another code may be asked for this phone.
    pub resend_after_seconds: i64,
}

#[derive(Debug, Clone, Object)]
pub struct ChallengeView {
    pub challenge: String,
    pub expires_at: DateTime<Utc>,
}

/// A login's or refresh's result.
#[derive(Debug, Clone, Object)]
pub struct TokensView {
    /// Ed25519-signed JWT for `Authorization: Bearer`.
    pub access_token: String,
    pub token_type: String,
    /// Seconds the access token lives.
    pub expires_in: i64,
    /// Single use: each refresh returns a new one; presenting a used one ends the session.
    pub refresh_token: String,
    pub refresh_expires_at: DateTime<Utc>,
    pub session_id: Uuid,
    /// `citizen:<id>`, `enterprise:<id>` or `staff:<id>`.
    pub subject: String,
    /// 1 phone proven, 2 real name verified, 3 certificate.
    pub assurance_level: i16,
    /// After registration: the real-name check's outcome (`verified`, `mismatch`, `not_found`,
    /// `unavailable`).
    #[oai(skip_serializing_if_is_none)]
    pub realname_status: Option<String>,
    /// After certificate login: the enterprise identified.
    #[oai(skip_serializing_if_is_none)]
    pub enterprise: Option<EnterpriseView>,
}

impl TokensView {
    pub(super) fn from(issued: IssuedTokens) -> TokensView {
        TokensView {
            access_token: issued.access_token,
            token_type: "Bearer".to_owned(),
            expires_in: issued.expires_in,
            refresh_token: issued.refresh_token,
            refresh_expires_at: issued.refresh_expires_at,
            session_id: issued.session_id,
            subject: issued.subject.to_string(),
            assurance_level: issued.assurance.level(),
            realname_status: None,
            enterprise: None,
        }
    }
}

#[derive(Debug, Clone, Object)]
pub struct EnterpriseView {
    /// Unified social credit code (or legacy organisation code).
    pub code: String,
    /// `uscc` or `organisation`.
    pub code_kind: String,
    #[oai(skip_serializing_if_is_none)]
    pub name: Option<String>,
    /// Which certificate field carried the code (certificate login only).
    #[oai(skip_serializing_if_is_none)]
    pub matched_field: Option<String>,
}

#[derive(Debug, Clone, Object)]
pub struct CitizenView {
    pub name: String,
    pub phone: String,
    /// The full number: this view is shown to its owner only.
    pub id_number: String,
    pub realname_status: String,
    pub registered_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Object)]
pub struct GrantView {
    #[oai(nullable)]
    pub id: Option<Uuid>,
    pub role: Role,
    #[oai(skip_serializing_if_is_none)]
    pub department_id: Option<Uuid>,
    #[oai(skip_serializing_if_is_none)]
    pub item_code: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub step: Option<String>,
    /// Held as the AB backup of this staff member, until `until`.
    #[oai(skip_serializing_if_is_none)]
    pub covering_for: Option<Uuid>,
    #[oai(skip_serializing_if_is_none)]
    pub until: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Object)]
pub struct MeView {
    pub subject: String,
    pub assurance_level: i16,
    #[oai(skip_serializing_if_is_none)]
    pub citizen: Option<CitizenView>,
    #[oai(skip_serializing_if_is_none)]
    pub enterprise: Option<EnterpriseView>,
    /// Staff: the roles in force now.
    #[oai(skip_serializing_if_is_empty, default)]
    pub roles: Vec<GrantView>,
}

#[derive(Debug, Clone, Object)]
pub struct SessionsEnded {
    pub sessions_ended: u64,
}

#[derive(Debug, Clone, Object)]
pub struct RealNameResult {
    pub realname_status: String,
}

#[derive(Debug, Clone, Object)]
pub struct CreatedId {
    pub id: Uuid,
}

#[derive(Debug, Clone, Object)]
pub struct StaffView {
    pub id: Uuid,
    pub username: String,
    pub display_name: String,
    pub active: bool,
    #[oai(skip_serializing_if_is_none)]
    pub locked_until: Option<DateTime<Utc>>,
    pub roles: Vec<GrantView>,
}

#[derive(ApiResponse)]
pub enum OtpAccepted {
    /// The code is on its way.
    #[oai(status = 202)]
    Accepted(Json<OtpSentView>),
}

#[derive(ApiResponse)]
pub enum Registered {
    #[oai(status = 201)]
    Created(Json<TokensView>),
}

#[derive(ApiResponse)]
pub enum ChallengeIssued {
    #[oai(status = 201)]
    Created(Json<ChallengeView>),
}

#[derive(ApiResponse)]
pub enum Done {
    #[oai(status = 204)]
    NoContent,
}

#[derive(ApiResponse)]
pub enum IdCreated {
    #[oai(status = 201)]
    Created(Json<CreatedId>),
}

pub(super) fn enterprise_view(
    verified: &crate::identity::certificate::VerifiedCertificate,
) -> EnterpriseView {
    use crate::identity::credit_code::EnterpriseCode;
    let (code, kind) = match &verified.enterprise_code {
        EnterpriseCode::Uscc(code) => (code.as_str().to_owned(), "uscc"),
        EnterpriseCode::Organisation(code) => (code.as_str().to_owned(), "organisation"),
    };
    EnterpriseView {
        code,
        code_kind: kind.to_owned(),
        name: verified.organisation_name.clone(),
        matched_field: Some(verified.matched_field.to_owned()),
    }
}

pub(super) fn grant_view(grant: &crate::identity::model::Grant) -> GrantView {
    GrantView {
        id: None,
        role: grant.role,
        department_id: grant.department_id,
        item_code: grant.item_code.clone(),
        step: grant.step.clone(),
        covering_for: grant.covering_for,
        until: grant.until,
    }
}

pub(super) fn staff_view(record: staff::StaffRecord) -> StaffView {
    StaffView {
        id: record.id,
        username: record.username,
        display_name: record.display_name,
        active: record.active,
        locked_until: record.locked_until,
        roles: record
            .grants
            .into_iter()
            .map(|(id, grant)| GrantView {
                id: Some(id),
                ..grant_view(&grant)
            })
            .collect(),
    }
}
