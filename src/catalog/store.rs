//! SQL for items, their immutable published versions and the uploaded form files.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use serde_json::Value;
use uuid::Uuid;

use super::model::{Category, Guide, GuideDraft};

/// An item's row as the service needs it.
#[derive(Debug, Clone)]
pub struct ItemRow {
    pub id: Uuid,
    pub code: String,
    pub lead_department_id: Uuid,
    pub lead_department_code: String,
    pub status: String,
    pub draft: GuideDraft,
    pub draft_revision: i32,
    pub current_version: Option<i32>,
    pub cancel_reason: Option<String>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct VersionRow {
    pub version: i32,
    pub guide: Guide,
    pub guide_sha256: String,
    pub published_at: DateTime<Utc>,
    pub published_by: String,
}

fn decode<T: serde::de::DeserializeOwned>(value: Value) -> anyhow::Result<T> {
    Ok(serde_json::from_value(value)?)
}

const ITEM_SELECT: &str =
    "SELECT i.id, i.code, i.lead_department_id, d.code AS lead_code, i.status, i.draft,
        i.draft_revision, i.current_version, i.cancel_reason, i.updated_at
    FROM item i JOIN department d ON d.id = i.lead_department_id";

fn item_from_row(row: &tokio_postgres::Row) -> anyhow::Result<ItemRow> {
    Ok(ItemRow {
        id: row.get("id"),
        code: row.get("code"),
        lead_department_id: row.get("lead_department_id"),
        lead_department_code: row.get("lead_code"),
        status: row.get("status"),
        draft: decode(row.get("draft"))?,
        draft_revision: row.get("draft_revision"),
        current_version: row.get("current_version"),
        cancel_reason: row.get("cancel_reason"),
        updated_at: row.get("updated_at"),
    })
}

/// The item by code; `lock` takes its row lock (for edits, publication and cancellation).
pub async fn find_item(
    client: &impl GenericClient,
    code: &str,
    lock: bool,
) -> anyhow::Result<Option<ItemRow>> {
    let sql = format!(
        "{ITEM_SELECT} WHERE i.code = $1{}",
        if lock { " FOR UPDATE OF i" } else { "" }
    );
    let row = client.query_opt(&sql, &[&code]).await?;
    row.as_ref().map(item_from_row).transpose()
}

/// Inserts a new draft item; `false` when the code is taken.
pub async fn insert_item(
    client: &impl GenericClient,
    id: Uuid,
    code: &str,
    lead_department_id: Uuid,
    draft: &GuideDraft,
) -> anyhow::Result<bool> {
    let draft = serde_json::to_value(draft)?;
    let n = client
        .execute(
            "INSERT INTO item (id, code, lead_department_id, region_code, status, draft)
             SELECT $1, $2, d.id, d.region_code, 'draft', $4 FROM department d WHERE d.id = $3
             ON CONFLICT (code) DO NOTHING",
            &[&id, &code, &lead_department_id, &draft],
        )
        .await?;
    Ok(n == 1)
}

pub async fn update_draft(
    client: &impl GenericClient,
    id: Uuid,
    draft: &GuideDraft,
) -> anyhow::Result<i32> {
    let draft = serde_json::to_value(draft)?;
    let row = client
        .query_one(
            "UPDATE item SET draft = $2, draft_revision = draft_revision + 1, updated_at = clock_now()
             WHERE id = $1 RETURNING draft_revision",
            &[&id, &draft],
        )
        .await?;
    Ok(row.get(0))
}

pub struct NewVersion<'a> {
    pub item_id: Uuid,
    pub version: i32,
    pub guide: &'a Guide,
    pub guide_json: &'a Value,
    pub guide_sha256: &'a str,
    pub department_ids: &'a [Uuid],
    pub published_by: &'a str,
}

pub async fn insert_version(
    client: &impl GenericClient,
    v: NewVersion<'_>,
) -> anyhow::Result<DateTime<Utc>> {
    let row = client
        .query_one(
            "INSERT INTO item_version (item_id, version, name, category, parent_code, department_ids, guide, guide_sha256, published_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING published_at",
            &[
                &v.item_id,
                &v.version,
                &v.guide.name,
                &v.guide.category.as_str(),
                &v.guide.parent_code,
                &v.department_ids,
                v.guide_json,
                &v.guide_sha256,
                &v.published_by,
            ],
        )
        .await?;
    client
        .execute(
            "UPDATE item SET status = 'published', current_version = $2, cancel_reason = NULL, updated_at = clock_now()
             WHERE id = $1",
            &[&v.item_id, &v.version],
        )
        .await?;
    Ok(row.get(0))
}

pub async fn cancel_item(
    client: &impl GenericClient,
    id: Uuid,
    reason: &str,
) -> anyhow::Result<()> {
    client
        .execute(
            "UPDATE item SET status = 'cancelled', cancel_reason = $2, updated_at = clock_now() WHERE id = $1",
            &[&id, &reason],
        )
        .await?;
    Ok(())
}

pub async fn versions(
    client: &impl GenericClient,
    item_id: Uuid,
) -> anyhow::Result<Vec<VersionRow>> {
    let rows = client
        .query(
            "SELECT version, guide, guide_sha256, published_at, published_by FROM item_version
             WHERE item_id = $1 ORDER BY version",
            &[&item_id],
        )
        .await?;
    rows.iter().map(version_from_row).collect()
}

fn version_from_row(row: &tokio_postgres::Row) -> anyhow::Result<VersionRow> {
    Ok(VersionRow {
        version: row.get("version"),
        guide: decode(row.get("guide"))?,
        guide_sha256: row.get("guide_sha256"),
        published_at: row.get("published_at"),
        published_by: row.get("published_by"),
    })
}

/// A published version of an item with its lead department, whatever the item's status now.
pub async fn version_of(
    client: &impl GenericClient,
    code: &str,
    version: Option<i32>,
) -> anyhow::Result<Option<(ItemRow, VersionRow)>> {
    let Some(item) = find_item(client, code, false).await? else {
        return Ok(None);
    };
    let wanted = match version {
        Some(v) => v,
        None if item.status == "published" => match item.current_version {
            Some(v) => v,
            None => return Ok(None),
        },
        None => return Ok(None),
    };
    let row = client
        .query_opt(
            "SELECT version, guide, guide_sha256, published_at, published_by FROM item_version
             WHERE item_id = $1 AND version = $2",
            &[&item.id, &wanted],
        )
        .await?;
    match row {
        Some(row) => Ok(Some((item, version_from_row(&row)?))),
        None => Ok(None),
    }
}

/// Codes of the published sub-items of a main item.
pub async fn sub_item_codes(
    client: &impl GenericClient,
    parent_code: &str,
) -> anyhow::Result<Vec<String>> {
    let rows = client
        .query(
            "SELECT i.code FROM item i JOIN item_version v ON v.item_id = i.id AND v.version = i.current_version
             WHERE i.status = 'published' AND v.parent_code = $1 ORDER BY i.code",
            &[&parent_code],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Whether `code` is a published item that is itself a main item (has no parent).
pub async fn is_published_main_item(
    client: &impl GenericClient,
    code: &str,
) -> anyhow::Result<bool> {
    let row = client
        .query_opt(
            "SELECT 1 FROM item i JOIN item_version v ON v.item_id = i.id AND v.version = i.current_version
             WHERE i.code = $1 AND i.status = 'published' AND v.parent_code IS NULL",
            &[&code],
        )
        .await?;
    Ok(row.is_some())
}

/// Filters for the public list.
#[derive(Debug, Default, Clone)]
pub struct ListFilter {
    pub text: Option<String>,
    pub category: Option<Category>,
    pub department_id: Option<Uuid>,
    /// Keyset pagination: codes strictly after this one.
    pub after_code: Option<String>,
    pub limit: i64,
}

pub struct SummaryRow {
    pub code: String,
    pub version: i32,
    pub guide: Guide,
    pub lead_department_code: String,
    pub lead_department_name: String,
}

fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

pub async fn list_published(
    client: &impl GenericClient,
    filter: &ListFilter,
) -> anyhow::Result<Vec<SummaryRow>> {
    let pattern = filter.text.as_deref().map(escape_like);
    let category = filter.category.map(Category::as_str);
    let rows = client
        .query(
            "SELECT i.code, v.version, v.guide, d.code AS dept_code, d.name AS dept_name
             FROM item i
             JOIN item_version v ON v.item_id = i.id AND v.version = i.current_version
             JOIN department d ON d.id = i.lead_department_id
             WHERE i.status = 'published'
               AND ($1::text IS NULL OR v.name ILIKE $1 OR i.code ILIKE $1)
               AND ($2::text IS NULL OR v.category = $2)
               AND ($3::uuid IS NULL OR $3 = ANY (v.department_ids))
               AND ($4::text IS NULL OR i.code > $4)
             ORDER BY i.code
             LIMIT $5",
            &[
                &pattern,
                &category,
                &filter.department_id,
                &filter.after_code,
                &filter.limit,
            ],
        )
        .await?;
    rows.iter()
        .map(|row| {
            Ok(SummaryRow {
                code: row.get("code"),
                version: row.get("version"),
                guide: decode(row.get("guide"))?,
                lead_department_code: row.get("dept_code"),
                lead_department_name: row.get("dept_name"),
            })
        })
        .collect()
}

pub async fn department_names(
    client: &impl GenericClient,
    codes: &[String],
) -> anyhow::Result<Vec<(String, String)>> {
    let rows = client
        .query(
            "SELECT code, name FROM department WHERE code = ANY($1)",
            &[&codes],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

pub async fn record_file(
    client: &impl GenericClient,
    sha256: &str,
    size: i64,
    content_type: &str,
    uploaded_by: &str,
) -> anyhow::Result<()> {
    client
        .execute(
            "INSERT INTO stored_file (sha256, size_bytes, content_type, uploaded_by) VALUES ($1, $2, $3, $4)
             ON CONFLICT (sha256) DO NOTHING",
            &[&sha256, &size, &content_type, &uploaded_by],
        )
        .await?;
    Ok(())
}

pub async fn known_files(
    client: &impl GenericClient,
    hashes: &[String],
) -> anyhow::Result<Vec<String>> {
    let rows = client
        .query(
            "SELECT sha256 FROM stored_file WHERE sha256 = ANY($1)",
            &[&hashes],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

pub async fn count_items(client: &impl GenericClient) -> anyhow::Result<i64> {
    Ok(client
        .query_one("SELECT count(*) FROM item", &[])
        .await?
        .get(0))
}

/// The longest promised limit (working days) among published items' versions in force; 0 with
/// none published. The working-day calendar must reach at least this far (metrics).
pub async fn longest_promised_limit(client: &impl GenericClient) -> anyhow::Result<i64> {
    Ok(client
        .query_one(
            "SELECT COALESCE(max((v.guide->>'promised_limit_days')::int8), 0)
             FROM item i
             JOIN item_version v ON v.item_id = i.id AND v.version = i.current_version
             WHERE i.status = 'published'",
            &[],
        )
        .await?
        .get(0))
}
