//! The sealed documents of cases: the insert the case service makes when it seals one, a case's
//! list, one document, and the public lookups by QR token and by content.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use poem_openapi::Object;
use tokio_postgres::GenericClient;
use tokio_postgres::Row;
use uuid::Uuid;

use crate::db::prepared::Prepare;

/// A sealed document as recorded.
#[derive(Debug, Clone)]
pub struct DocumentRecord {
    pub id: Uuid,
    pub case_id: Uuid,
    pub kind: String,
    pub title: String,
    pub document_number: String,
    pub sha256: String,
    pub size_bytes: i64,
    pub signed_at: DateTime<Utc>,
    pub verify_token: String,
    pub department_name: String,
    pub acceptance_number: Option<String>,
    pub applicant_kind: String,
    pub applicant_name: String,
    pub applicant_id_masked: String,
}

const SELECT: &str = "SELECT d.id, d.case_id, d.kind, d.title, d.document_number, d.sha256,
        d.size_bytes, d.signed_at, d.verify_token, dep.name, c.acceptance_number,
        c.applicant_kind, c.applicant_name, c.applicant_id_masked
    FROM case_document d
    JOIN seal s ON s.id = d.seal_id
    JOIN department dep ON dep.id = s.department_id
    JOIN cases c ON c.id = d.case_id";

fn record(row: &Row) -> DocumentRecord {
    DocumentRecord {
        id: row.get(0),
        case_id: row.get(1),
        kind: row.get(2),
        title: row.get(3),
        document_number: row.get(4),
        sha256: row.get(5),
        size_bytes: row.get(6),
        signed_at: row.get(7),
        verify_token: row.get(8),
        department_name: row.get(9),
        acceptance_number: row.get(10),
        applicant_kind: row.get(11),
        applicant_name: row.get(12),
        applicant_id_masked: row.get(13),
    }
}

/// A sealed document to enter into the register.
pub struct NewDocument<'a> {
    pub id: Uuid,
    pub case_id: Uuid,
    pub region_code: &'a str,
    /// `DocumentKind::code()`: acceptance_notice, approval_decision, licence…
    pub kind: &'a str,
    pub document_number: &'a str,
    pub sha256: &'a str,
    pub size_bytes: i64,
    pub seal_id: Uuid,
    pub signed_at: DateTime<Utc>,
    pub verify_token: &'a str,
    pub title: &'a str,
}

/// Enters `document`, in the caller's transaction (the decision's: a document exists exactly
/// when the decision that issued it does).
pub async fn insert(
    client: &impl GenericClient,
    document: &NewDocument<'_>,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "INSERT INTO case_document (id, case_id, region_code, kind, document_number, sha256,
                 size_bytes, seal_id, signed_at, verify_token, title)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            &[
                &document.id,
                &document.case_id,
                &document.region_code,
                &document.kind,
                &document.document_number,
                &document.sha256,
                &document.size_bytes,
                &document.seal_id,
                &document.signed_at,
                &document.verify_token,
                &document.title,
            ],
        )
        .await?;
    Ok(())
}

pub async fn for_case(
    client: &impl GenericClient,
    case_id: Uuid,
) -> Result<Vec<DocumentRecord>, tokio_postgres::Error> {
    let rows = client
        .query(
            &format!("{SELECT} WHERE d.case_id = $1 ORDER BY d.signed_at, d.kind = 'licence', d.document_number"),
            &[&case_id],
        )
        .await?;
    Ok(rows.iter().map(record).collect())
}

pub async fn one(
    client: &impl GenericClient,
    case_id: Uuid,
    document_id: Uuid,
) -> Result<Option<DocumentRecord>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            &format!("{SELECT} WHERE d.case_id = $1 AND d.id = $2"),
            &[&case_id, &document_id],
        )
        .await?;
    Ok(row.as_ref().map(record))
}

/// The public lookups' statements: anyone may send them, as often as they like, so they are
/// prepared once per connection.
static BY_TOKEN: LazyLock<String> = LazyLock::new(|| format!("{SELECT} WHERE d.verify_token = $1"));
static BY_SHA256: LazyLock<String> =
    LazyLock::new(|| format!("{SELECT} WHERE d.sha256 = $1 ORDER BY d.signed_at LIMIT 1"));

pub async fn by_token(
    client: &impl Prepare,
    token: &str,
) -> Result<Option<DocumentRecord>, tokio_postgres::Error> {
    let row = client.query_opt_prepared(&BY_TOKEN, &[&token]).await?;
    Ok(row.as_ref().map(record))
}

pub async fn by_sha256(
    client: &impl Prepare,
    sha256: &str,
) -> Result<Option<DocumentRecord>, tokio_postgres::Error> {
    let row = client.query_opt_prepared(&BY_SHA256, &[&sha256]).await?;
    Ok(row.as_ref().map(record))
}

/// A sealed document in a case's view.
#[derive(Debug, Clone, Object)]
pub struct DocumentView {
    pub id: Uuid,
    /// acceptance_notice, correction_notice, rejection_decision, approval_decision, licence,
    /// denial_decision.
    pub kind: String,
    /// The printed title (受理通知书, 食品经营许可证…).
    pub title: String,
    /// 文号 (for a licence: its number).
    pub document_number: String,
    /// When the seal was applied.
    pub signed_at: DateTime<Utc>,
    /// SHA-256 of the sealed PDF, hex.
    pub sha256: String,
    pub size_bytes: i64,
    /// The QR code's target: anyone can verify the document there.
    pub verification_url: String,
}

impl DocumentView {
    pub fn of(record: DocumentRecord, public_base_url: &str) -> DocumentView {
        DocumentView {
            verification_url: verification_url(public_base_url, &record.verify_token),
            id: record.id,
            kind: record.kind,
            title: record.title,
            document_number: record.document_number,
            signed_at: record.signed_at,
            sha256: record.sha256,
            size_bytes: record.size_bytes,
        }
    }
}

/// `<base>/api/v1/public/documents/<token>`: what the QR code encodes.
pub fn verification_url(public_base_url: &str, token: &str) -> String {
    format!(
        "{}/api/v1/public/documents/{token}",
        public_base_url.trim_end_matches('/')
    )
}

/// The PDF's file name for downloads: its title and number.
pub fn file_name(record: &DocumentRecord) -> String {
    format!("{}-{}.pdf", record.title, record.document_number)
}
