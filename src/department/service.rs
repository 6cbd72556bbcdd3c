//! Department use cases.

use deadpool_postgres::Pool;
use serde_json::json;

use super::model::{Department, NewDepartment, check_new};
use super::store;
use crate::audit::{self, AuditEntry};
use crate::department::errors::DepartmentProblem;
use crate::http::HttpProblem;
use crate::http::{AppError, AppResult};
use crate::identity::model::Actor;

/// Creates a department under its parent, audited.
pub async fn create(pool: &Pool, actor: &Actor, new: NewDepartment) -> AppResult<Department> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let parent = match &new.parent_code {
        Some(code) => store::find_by_code(&tx, code).await?,
        None => None,
    };
    check_new(&new, parent.as_ref().map(|(_, d)| d))
        .map_err(|errors| AppError::invalid(HttpProblem::ValidationFailed, errors))?;
    let Some(id) = store::insert(&tx, &new, parent.map(|(id, _)| id)).await? else {
        return Err(AppError::new(
            DepartmentProblem::DepartmentExists,
            format!("department {} already exists", new.code),
        ));
    };
    let after = serde_json::to_value(&new).map_err(anyhow::Error::from)?;
    audit::append(
        &tx,
        AuditEntry {
            aggregate_type: "department",
            aggregate_id: &id.to_string(),
            actor: &actor.0,
            action: "department.create",
            before: None,
            after: Some(&after),
            details: json!({ "code": new.code }),
        },
    )
    .await?;
    let (_, created) = store::find_by_code(&tx, &new.code)
        .await?
        .ok_or_else(|| anyhow::anyhow!("department vanished inside its own transaction"))?;
    tx.commit().await?;
    Ok(created)
}

/// Flags `code` as the comprehensive window (一窗受理) or not, audited.
pub async fn set_comprehensive_window(
    pool: &Pool,
    actor: &Actor,
    code: &str,
    enabled: bool,
) -> AppResult<Department> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let Some(id) = store::set_comprehensive_window(&tx, code, enabled).await? else {
        return Err(AppError::new(
            DepartmentProblem::DepartmentNotFound,
            format!("no department {code}"),
        ));
    };
    audit::append(
        &tx,
        AuditEntry {
            aggregate_type: "department",
            aggregate_id: &id.to_string(),
            actor: &actor.0,
            action: "department.comprehensive_window",
            before: None,
            after: Some(&json!({ "comprehensive_window": enabled })),
            details: json!({ "code": code }),
        },
    )
    .await?;
    let (_, department) = store::find_by_code(&tx, code)
        .await?
        .ok_or_else(|| anyhow::anyhow!("department vanished inside its own transaction"))?;
    tx.commit().await?;
    Ok(department)
}
