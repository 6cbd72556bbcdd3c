//! Licence rows and share links. The case service enters a licence when an approval issues one,
//! through [`insert`], in the decision's transaction.

use std::sync::LazyLock;

use chrono::{DateTime, NaiveDate, Utc};
use tokio_postgres::{GenericClient, Row};
use uuid::Uuid;

use crate::db::prepared::Prepare;
use crate::identity::account_claims::ApplicantKind;

/// A licence as recorded, with its issuing department and sealed document.
#[derive(Debug, Clone)]
pub struct LicenceRecord {
    pub id: Uuid,
    pub number: String,
    pub licence_type: String,
    pub case_id: Uuid,
    pub document_id: Uuid,
    pub holder_kind: String,
    pub holder_subject: Option<String>,
    pub holder_name: String,
    pub holder_id_masked: String,
    pub department_id: Uuid,
    pub department_name: String,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoked_reason: Option<String>,
    pub sha256: String,
    pub verify_token: String,
    pub issued_at: DateTime<Utc>,
}

/// valid, revoked or expired — revocation first: a revoked licence stays revoked after its
/// term.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LicenceStatus {
    Valid,
    Revoked,
    Expired,
}

impl LicenceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            LicenceStatus::Valid => "valid",
            LicenceStatus::Revoked => "revoked",
            LicenceStatus::Expired => "expired",
        }
    }
}

impl LicenceRecord {
    /// The status on `today` (China's date): valid through the last day of validity.
    pub fn status(&self, today: NaiveDate) -> LicenceStatus {
        if self.revoked_at.is_some() {
            LicenceStatus::Revoked
        } else if self.valid_to.is_some_and(|to| to < today) {
            LicenceStatus::Expired
        } else {
            LicenceStatus::Valid
        }
    }
}

/// A licence to enter into the library.
pub struct NewLicence<'a> {
    pub id: Uuid,
    /// 证照编号.
    pub number: &'a str,
    pub licence_type: &'a str,
    pub case_id: Uuid,
    /// The sealed licence PDF in the document register.
    pub document_id: Uuid,
    pub region_code: &'a str,
    pub holder_kind: ApplicantKind,
    pub holder_subject: Option<&'a str>,
    pub holder_name: &'a str,
    pub holder_id_masked: &'a str,
    pub department_id: Uuid,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
}

/// Enters `licence`, in the caller's transaction (the approval's).
pub async fn insert(
    client: &impl GenericClient,
    licence: &NewLicence<'_>,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "INSERT INTO licence (id, number, licence_type, case_id, document_id, region_code,
                 holder_kind, holder_subject, holder_name, holder_id_masked, department_id,
                 valid_from, valid_to)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
            &[
                &licence.id,
                &licence.number,
                &licence.licence_type,
                &licence.case_id,
                &licence.document_id,
                &licence.region_code,
                &licence.holder_kind.as_str(),
                &licence.holder_subject,
                &licence.holder_name,
                &licence.holder_id_masked,
                &licence.department_id,
                &licence.valid_from,
                &licence.valid_to,
            ],
        )
        .await?;
    Ok(())
}

/// Gives the unheld licences of `case_ids` (window cases whose applicant has just proven an
/// account) to `subject`, in the caller's transaction; returns the case of each licence moved.
pub async fn give_to_holder(
    client: &impl GenericClient,
    subject: &str,
    case_ids: &[Uuid],
) -> Result<Vec<Uuid>, tokio_postgres::Error> {
    if case_ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows = client
        .query(
            "UPDATE licence SET holder_subject = $1
              WHERE holder_subject IS NULL AND case_id = ANY($2)
             RETURNING case_id",
            &[&subject, &case_ids],
        )
        .await?;
    Ok(rows.iter().map(|row| row.get(0)).collect())
}

const SELECT: &str = "SELECT l.id, l.number, l.licence_type, l.case_id, l.document_id,
        l.holder_kind, l.holder_subject, l.holder_name, l.holder_id_masked, l.department_id,
        dep.name, l.valid_from, l.valid_to, l.revoked_at, l.revoked_reason, d.sha256,
        d.verify_token, d.signed_at
    FROM licence l
    JOIN department dep ON dep.id = l.department_id
    JOIN case_document d ON d.id = l.document_id";

fn record(row: &Row) -> LicenceRecord {
    LicenceRecord {
        id: row.get(0),
        number: row.get(1),
        licence_type: row.get(2),
        case_id: row.get(3),
        document_id: row.get(4),
        holder_kind: row.get(5),
        holder_subject: row.get(6),
        holder_name: row.get(7),
        holder_id_masked: row.get(8),
        department_id: row.get(9),
        department_name: row.get(10),
        valid_from: row.get(11),
        valid_to: row.get(12),
        revoked_at: row.get(13),
        revoked_reason: row.get(14),
        sha256: row.get(15),
        verify_token: row.get(16),
        issued_at: row.get(17),
    }
}

pub async fn for_holder(
    client: &impl GenericClient,
    subject: &str,
) -> Result<Vec<LicenceRecord>, tokio_postgres::Error> {
    let rows = client
        .query(
            &format!("{SELECT} WHERE l.holder_subject = $1 ORDER BY d.signed_at DESC LIMIT 500"),
            &[&subject],
        )
        .await?;
    Ok(rows.iter().map(record).collect())
}

pub async fn load(
    client: &impl GenericClient,
    id: Uuid,
) -> Result<Option<LicenceRecord>, tokio_postgres::Error> {
    let row = client
        .query_opt(&format!("{SELECT} WHERE l.id = $1"), &[&id])
        .await?;
    Ok(row.as_ref().map(record))
}

/// The licence a document is (public verification: prepared once per connection).
pub async fn by_document(
    client: &impl Prepare,
    document_id: Uuid,
) -> Result<Option<LicenceRecord>, tokio_postgres::Error> {
    static BY_DOCUMENT: LazyLock<String> =
        LazyLock::new(|| format!("{SELECT} WHERE l.document_id = $1"));
    let row = client
        .query_opt_prepared(&BY_DOCUMENT, &[&document_id])
        .await?;
    Ok(row.as_ref().map(record))
}

/// The licence an unexpired share token opens, and when the link expires.
pub async fn by_share(
    client: &impl GenericClient,
    token_hash: &[u8],
) -> Result<Option<(LicenceRecord, DateTime<Utc>)>, tokio_postgres::Error> {
    let Some(share) = client
        .query_opt(
            "SELECT licence_id, expires_at FROM licence_share
             WHERE token_hash = $1 AND expires_at > clock_now()",
            &[&token_hash],
        )
        .await?
    else {
        return Ok(None);
    };
    let expires_at: DateTime<Utc> = share.get(1);
    Ok(load(client, share.get(0)).await?.map(|l| (l, expires_at)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fixed instant: no test depends on the real date.
    fn test_now() -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::parse_from_rfc3339("2026-11-16T10:00:00+08:00")
            .unwrap()
            .with_timezone(&chrono::Utc)
    }

    fn licence(valid_to: Option<NaiveDate>, revoked: bool) -> LicenceRecord {
        let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        LicenceRecord {
            id: Uuid::nil(),
            number: "220882202600000001".into(),
            licence_type: "食品经营许可证".into(),
            case_id: Uuid::nil(),
            document_id: Uuid::nil(),
            holder_kind: "citizen".into(),
            holder_subject: None,
            holder_name: "张三".into(),
            holder_id_masked: "1101**********002X".into(),
            department_id: Uuid::nil(),
            department_name: "大安市市场监督管理局".into(),
            valid_from: day("2026-11-23"),
            valid_to,
            revoked_at: revoked.then(test_now),
            revoked_reason: revoked.then(|| "以欺骗手段取得许可".into()),
            sha256: "0".repeat(64),
            verify_token: "t".into(),
            issued_at: test_now(),
        }
    }

    #[test]
    fn valid_through_the_last_day_then_expired_and_revoked_wins() {
        let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let l = licence(Some(day("2031-11-22")), false);
        assert_eq!(l.status(day("2031-11-22")), LicenceStatus::Valid);
        assert_eq!(l.status(day("2031-11-23")), LicenceStatus::Expired);
        assert_eq!(
            licence(None, false).status(day("2099-01-01")),
            LicenceStatus::Valid
        );
        let revoked = licence(Some(day("2020-01-01")), true);
        assert_eq!(revoked.status(day("2031-11-23")), LicenceStatus::Revoked);
    }
}
