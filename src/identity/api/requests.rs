//! The bodies the identity endpoints accept: asking for an SMS code, registering and logging in
//! (citizen, enterprise certificate, staff), refreshing a session, and the staff administration
//! requests (new account, role grant, AB-post backup, certificate binding).

use chrono::{DateTime, Utc};
use poem_openapi::Object;
use serde::Deserialize;
use uuid::Uuid;

use crate::identity::model::Role;
use crate::identity::otp::OtpPurpose;

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtpRequest {
    /// Mainland mobile number (+86 optional).
    pub phone: String,
    pub purpose: OtpPurpose,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CitizenRegistration {
    pub phone: String,
    /// The six-digit SMS code (purpose `register`).
    pub code: String,
    /// Real name as on the ID card.
    pub name: String,
    /// 18-character citizen ID number (GB 11643).
    pub id_number: String,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CitizenLogin {
    pub phone: String,
    /// The six-digit SMS code (purpose `login`).
    pub code: String,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaffLogin {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateBinding {
    /// The staff member's certificate chain, leaf first, each as base64 DER or PEM.
    pub certificate_chain: Vec<String>,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnterpriseLogin {
    /// The challenge exactly as issued; its UTF-8 bytes are what was signed.
    pub challenge: String,
    /// The certificate chain, leaf first, each as base64 DER or PEM.
    pub certificate_chain: Vec<String>,
    /// The signature over the challenge by the leaf's key, base64 (RSA PKCS#1 v1.5 or PSS with
    /// SHA-256, ECDSA P-256/P-384 DER or r‖s, SM2 with SM3).
    pub signature: String,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewStaffRequest {
    pub username: String,
    pub display_name: String,
    /// At least 10 characters from 3 of: lowercase, uppercase, digits, symbols.
    pub password: String,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantRequest {
    pub role: Role,
    /// Required for department roles; absent for platform_admin, supervisor, observer.
    #[serde(default)]
    #[oai(nullable)]
    pub department_code: Option<String>,
    /// Handling roles only: narrow the grant to one item…
    #[serde(default)]
    #[oai(nullable)]
    pub item_code: Option<String>,
    /// …and one step of it.
    #[serde(default)]
    #[oai(nullable)]
    pub step: Option<String>,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupRequest {
    /// The staff member who covers (B岗).
    pub backup_id: Uuid,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub reason: String,
}
