//! SQL for departments.

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use uuid::Uuid;

use super::model::{Department, Level, NewDepartment};

const SELECT: &str =
    "SELECT d.id, d.code, d.name, d.level, d.region_code, p.code AS parent_code, d.phone, d.address,
        d.comprehensive_window
    FROM department d LEFT JOIN department p ON p.id = d.parent_id";

fn from_row(row: &Row) -> (Uuid, Department) {
    let level: String = row.get("level");
    (
        row.get("id"),
        Department {
            code: row.get("code"),
            name: row.get("name"),
            // The CHECK constraint admits only the four levels.
            level: Level::parse(&level).unwrap_or(Level::Town),
            region_code: row.get("region_code"),
            parent_code: row.get("parent_code"),
            phone: row.get("phone"),
            address: row.get("address"),
            comprehensive_window: row.get("comprehensive_window"),
        },
    )
}

pub async fn find_by_code(
    client: &impl GenericClient,
    code: &str,
) -> Result<Option<(Uuid, Department)>, tokio_postgres::Error> {
    let row = client
        .query_opt(&format!("{SELECT} WHERE d.code = $1"), &[&code])
        .await?;
    Ok(row.as_ref().map(from_row))
}

pub async fn list(client: &impl GenericClient) -> Result<Vec<Department>, tokio_postgres::Error> {
    let rows = client
        .query(
            &format!("{SELECT} ORDER BY d.region_code, d.level, d.code"),
            &[],
        )
        .await?;
    Ok(rows.iter().map(|r| from_row(r).1).collect())
}

/// Inserts; `None` when the code is taken.
pub async fn insert(
    client: &impl GenericClient,
    dept: &NewDepartment,
    parent_id: Option<Uuid>,
) -> Result<Option<Uuid>, tokio_postgres::Error> {
    let id = Uuid::new_v4();
    let inserted = client
        .execute(
            "INSERT INTO department (id, code, name, level, region_code, parent_id, phone, address,
                 comprehensive_window)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (code) DO NOTHING",
            &[
                &id,
                &dept.code,
                &dept.name.trim(),
                &dept.level.as_str(),
                &dept.region_code,
                &parent_id,
                &dept.phone,
                &dept.address,
                &dept.comprehensive_window,
            ],
        )
        .await?;
    Ok((inserted == 1).then_some(id))
}

/// Codes → ids for the given codes (unknown codes are simply absent).
pub async fn ids_by_code(
    client: &impl tokio_postgres::GenericClient,
    codes: &[String],
) -> Result<Vec<(String, Uuid)>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT code, id FROM department WHERE code = ANY($1)",
            &[&codes],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Flags a department as the comprehensive window (or not); false when there is no such
/// department.
pub async fn set_comprehensive_window(
    client: &impl GenericClient,
    code: &str,
    enabled: bool,
) -> Result<Option<Uuid>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "UPDATE department SET comprehensive_window = $2, updated_at = now()
             WHERE code = $1 RETURNING id",
            &[&code, &enabled],
        )
        .await?;
    Ok(row.map(|r| r.get(0)))
}

/// Which of `ids` are comprehensive windows (一窗受理), with their codes.
pub async fn comprehensive_windows_among(
    client: &impl tokio_postgres::GenericClient,
    ids: &[Uuid],
) -> Result<Vec<(Uuid, String)>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT id, code FROM department WHERE id = ANY($1) AND comprehensive_window
             ORDER BY code",
            &[&ids],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Ids → (code, name) for the given ids (unknown ids are simply absent): how a case timeline
/// names the department an event was taken in.
pub async fn codes_and_names(
    client: &impl tokio_postgres::GenericClient,
    ids: &[Uuid],
) -> Result<std::collections::HashMap<Uuid, (String, String)>, tokio_postgres::Error> {
    if ids.is_empty() {
        return Ok(std::collections::HashMap::new());
    }
    let rows = client
        .query(
            "SELECT id, code, name FROM department WHERE id = ANY($1)",
            &[&ids],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2))))
        .collect())
}
