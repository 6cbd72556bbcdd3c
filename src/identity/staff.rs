//! Staff accounts: password login with lockout, and the administration of accounts, roles
//! (per department, and for handling per item step) and AB-backup designations. Every change and
//! every login attempt goes to the audit log with who did it.

use chrono::{DateTime, Duration, Utc};
use deadpool_postgres::Pool;
use serde_json::json;
use uuid::Uuid;

use super::model::{Actor, Assurance, Role, Subject};
use super::password;
use super::sessions::{self, ClientInfo, IssuedTokens, SessionSettings};
use super::tokens::TokenSigner;
use crate::audit::{self, AuditEntry};
use crate::http::HttpProblem;
use crate::http::problem::{AppError, AppResult};
use crate::identity::errors::IdentityProblem;

#[derive(Debug, Clone, Copy)]
pub struct LockoutSettings {
    pub max_failed_logins: i32,
    pub lockout: Duration,
    pub failures_per_ip_hourly: i64,
}

fn invalid_credentials() -> AppError {
    AppError::new(
        IdentityProblem::InvalidCredentials,
        "wrong username or password",
    )
}

/// Password login. Unknown usernames cost the same time as wrong passwords, and failures count
/// both per account (lockout) and per client address (429).
pub async fn login(
    pool: &Pool,
    signer: &TokenSigner,
    sessions_settings: SessionSettings,
    lockout: LockoutSettings,
    username: &str,
    password_text: &str,
    client: &ClientInfo,
) -> AppResult<IssuedTokens> {
    let mut db = pool.get().await?;
    if let Some(ip) = &client.ip {
        let row = db
            .query_one(
                "SELECT count(*), min(at) FROM login_failure
                  WHERE client_ip = $1 AND at > now() - interval '1 hour'",
                &[ip],
            )
            .await?;
        let failures: i64 = row.get(0);
        if failures >= lockout.failures_per_ip_hourly {
            let oldest: Option<DateTime<Utc>> = row.get(1);
            let retry = oldest.map_or(3600, |t| {
                (t + Duration::hours(1) - crate::clock::system_time())
                    .num_seconds()
                    .max(1)
            });
            return Err(AppError::TooManyRequests {
                retry_after_seconds: retry as u64,
            });
        }
    }
    let tx = db.transaction().await?;
    let row = tx
        .query_opt(
            "SELECT id, password_hash, active, failed_attempts, locked_until
               FROM staff WHERE username = $1 FOR UPDATE",
            &[&username],
        )
        .await?;
    let Some(row) = row else {
        password::verify_against_dummy_blocking(password_text.to_owned()).await;
        record_failure(&tx, client, username, None, "unknown_user").await?;
        tx.commit().await?;
        return Err(invalid_credentials());
    };
    let staff_id: Uuid = row.get(0);
    let hash: String = row.get(1);
    let active: bool = row.get(2);
    let failed_attempts: i32 = row.get(3);
    let locked_until: Option<DateTime<Utc>> = row.get(4);
    let now = crate::clock::system_time();
    if let Some(until) = locked_until.filter(|u| *u > now) {
        record_failure(&tx, client, username, Some(staff_id), "locked").await?;
        tx.commit().await?;
        return Err(AppError::new(
            IdentityProblem::AccountLocked,
            format!(
                "too many failed passwords; the account is locked until {}",
                until.to_rfc3339()
            ),
        ));
    }
    if !password::verify_password_blocking(password_text.to_owned(), hash).await {
        let attempts = failed_attempts + 1;
        if attempts >= lockout.max_failed_logins {
            let until = now + lockout.lockout;
            tx.execute(
                "UPDATE staff SET failed_attempts = 0, locked_until = $2 WHERE id = $1",
                &[&staff_id, &until],
            )
            .await?;
            audit::append(
                &tx,
                AuditEntry {
                    aggregate_type: "account",
                    aggregate_id: &Subject::Staff(staff_id).to_string(),
                    actor: "system",
                    action: "login.lockout",
                    before: None,
                    after: None,
                    details: json!({ "until": until, "ip": client.ip, "failures": attempts }),
                },
            )
            .await?;
        } else {
            tx.execute(
                "UPDATE staff SET failed_attempts = $2 WHERE id = $1",
                &[&staff_id, &attempts],
            )
            .await?;
        }
        record_failure(&tx, client, username, Some(staff_id), "wrong_password").await?;
        tx.commit().await?;
        return Err(invalid_credentials());
    }
    if !active {
        record_failure(&tx, client, username, Some(staff_id), "disabled").await?;
        tx.commit().await?;
        return Err(AppError::new(
            IdentityProblem::AccountDisabled,
            "this staff account is disabled",
        ));
    }
    tx.execute(
        "UPDATE staff SET failed_attempts = 0, locked_until = NULL WHERE id = $1",
        &[&staff_id],
    )
    .await?;
    let issued = sessions::start(
        &tx,
        signer,
        sessions_settings,
        Subject::Staff(staff_id),
        Assurance::PhoneProven,
        "password",
        client,
    )
    .await?;
    tx.commit().await?;
    Ok(issued)
}

async fn record_failure(
    tx: &tokio_postgres::Transaction<'_>,
    client: &ClientInfo,
    username: &str,
    staff_id: Option<Uuid>,
    reason: &str,
) -> AppResult<()> {
    if let Some(ip) = &client.ip {
        tx.execute("INSERT INTO login_failure (client_ip) VALUES ($1)", &[ip])
            .await?;
    }
    // Unknown usernames are chained under the name tried, so guessing shows in one place.
    let aggregate_id = staff_id.map_or_else(
        || format!("username:{}", username.chars().take(64).collect::<String>()),
        |id| Subject::Staff(id).to_string(),
    );
    audit::append(
        tx,
        AuditEntry {
            aggregate_type: "account",
            aggregate_id: &aggregate_id,
            actor: "anonymous",
            action: "login.failure",
            before: None,
            after: None,
            details: json!({ "method": "password", "reason": reason, "ip": client.ip }),
        },
    )
    .await?;
    Ok(())
}

/// Binds a verified personal certificate to a staff account (replacing any earlier one).
pub async fn bind_certificate(
    pool: &Pool,
    actor: &Actor,
    staff_id: Uuid,
    certificate: &super::certificate::PersonalCertificate,
) -> AppResult<()> {
    let mut db = pool.get().await?;
    let tx = db.transaction().await?;
    ensure_staff_exists(&tx, staff_id).await?;
    let taken = tx
        .query_opt(
            "SELECT id FROM staff WHERE certificate_fingerprint = $1 AND id <> $2",
            &[&certificate.fingerprint_sha256, &staff_id],
        )
        .await?;
    if taken.is_some() {
        return Err(AppError::new(
            IdentityProblem::CertificateBoundElsewhere,
            "this certificate is bound to another staff account",
        ));
    }
    tx.execute(
        "UPDATE staff SET certificate_fingerprint = $2, updated_at = now() WHERE id = $1",
        &[&staff_id, &certificate.fingerprint_sha256],
    )
    .await?;
    audit::append(
        &tx,
        AuditEntry {
            aggregate_type: "account",
            aggregate_id: &Subject::Staff(staff_id).to_string(),
            actor: &actor.0,
            action: "staff.certificate.bind",
            before: None,
            after: Some(&json!({
                "fingerprint": certificate.fingerprint_sha256, "subject": certificate.subject,
                "issuer": certificate.issuer, "not_after": certificate.not_after,
            })),
            details: json!({}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Certificate login of a staff member whose certificate an administrator bound (L3).
pub async fn certificate_login(
    pool: &Pool,
    signer: &TokenSigner,
    sessions_settings: SessionSettings,
    certificate: &super::certificate::PersonalCertificate,
    client: &ClientInfo,
) -> AppResult<IssuedTokens> {
    let mut db = pool.get().await?;
    let tx = db.transaction().await?;
    let row = tx
        .query_opt(
            "SELECT id, active, locked_until FROM staff WHERE certificate_fingerprint = $1
                FOR UPDATE",
            &[&certificate.fingerprint_sha256],
        )
        .await?
        .ok_or_else(|| {
            AppError::new(
                IdentityProblem::CertificateNotBound,
                "this certificate is not bound to a staff account",
            )
        })?;
    let staff_id: Uuid = row.get(0);
    let active: bool = row.get(1);
    let locked_until: Option<DateTime<Utc>> = row.get(2);
    if !active {
        return Err(AppError::new(
            IdentityProblem::AccountDisabled,
            "this staff account is disabled",
        ));
    }
    if locked_until.is_some_and(|u| u > crate::clock::system_time()) {
        return Err(AppError::new(
            IdentityProblem::AccountLocked,
            "the account is locked",
        ));
    }
    let issued = sessions::start(
        &tx,
        signer,
        sessions_settings,
        Subject::Staff(staff_id),
        Assurance::Certificate,
        "certificate_challenge",
        client,
    )
    .await?;
    tx.commit().await?;
    Ok(issued)
}

/// A new staff account (no roles yet).
pub struct NewStaff {
    pub username: String,
    pub display_name: String,
    pub password: String,
}

pub async fn create(pool: &Pool, actor: &Actor, new: NewStaff) -> AppResult<Uuid> {
    let username = new.username.trim().to_lowercase();
    if !valid_username(&username) {
        return Err(AppError::invalid_field(
            "username",
            HttpProblem::InvalidFormat,
            "3–64 characters: lowercase letters, digits, '.', '_' or '-', starting with a letter or digit",
        ));
    }
    let display_name = new.display_name.trim().to_owned();
    if display_name.is_empty() || display_name.chars().count() > 50 {
        return Err(AppError::invalid_field(
            "display_name",
            HttpProblem::InvalidLength,
            "1–50 characters",
        ));
    }
    password::check_password_policy(&new.password)
        .map_err(|e| AppError::invalid_field("password", e.problem(), e.to_string()))?;
    let hash = password::hash_password_blocking(new.password)
        .await
        .map_err(|e| anyhow::anyhow!("hashing a password: {e}"))?;
    let id = Uuid::new_v4();
    let mut db = pool.get().await?;
    let tx = db.transaction().await?;
    let inserted = tx
        .execute(
            "INSERT INTO staff (id, username, display_name, password_hash) VALUES ($1, $2, $3, $4)
             ON CONFLICT (username) DO NOTHING",
            &[&id, &username, &display_name, &hash],
        )
        .await?;
    if inserted == 0 {
        return Err(AppError::new(
            IdentityProblem::UsernameTaken,
            format!("a staff account named {username} exists"),
        ));
    }
    audit::append(
        &tx,
        AuditEntry {
            aggregate_type: "account",
            aggregate_id: &Subject::Staff(id).to_string(),
            actor: &actor.0,
            action: "staff.create",
            before: None,
            after: Some(&json!({ "username": username, "display_name": display_name })),
            details: json!({}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

pub fn valid_username(username: &str) -> bool {
    let bytes = username.as_bytes();
    (3..=64).contains(&bytes.len())
        && bytes[0].is_ascii_alphanumeric()
        && bytes.iter().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        })
}

/// A role to grant.
pub struct NewGrant {
    pub role: Role,
    pub department_id: Option<Uuid>,
    pub item_code: Option<String>,
    pub step: Option<String>,
}

/// Checks a grant's shape: platform-wide roles have no department, the others need one, and
/// only handling roles narrow to an item step.
pub fn check_grant(grant: &NewGrant) -> AppResult<()> {
    if grant.role.is_platform_wide() && grant.department_id.is_some() {
        return Err(AppError::invalid_field(
            "department_code",
            HttpProblem::NotAllowed,
            "platform-wide roles are not held in a department",
        ));
    }
    if !grant.role.is_platform_wide() && grant.department_id.is_none() {
        return Err(AppError::invalid_field(
            "department_code",
            HttpProblem::Required,
            "this role is held in a department",
        ));
    }
    if !grant.role.is_handling() && (grant.item_code.is_some() || grant.step.is_some()) {
        return Err(AppError::invalid_field(
            "item_code",
            HttpProblem::NotAllowed,
            "only handling roles (window_clerk, reviewer, approver) narrow to an item step",
        ));
    }
    if grant.step.is_some() && grant.item_code.is_none() {
        return Err(AppError::invalid_field(
            "item_code",
            HttpProblem::Required,
            "a step belongs to an item",
        ));
    }
    Ok(())
}

pub async fn grant(pool: &Pool, actor: &Actor, staff_id: Uuid, grant: NewGrant) -> AppResult<Uuid> {
    check_grant(&grant)?;
    let mut db = pool.get().await?;
    let tx = db.transaction().await?;
    ensure_staff_exists(&tx, staff_id).await?;
    let id = Uuid::new_v4();
    tx.execute(
        "INSERT INTO staff_role (id, staff_id, role, department_id, item_code, step, granted_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            &id,
            &staff_id,
            &grant.role.as_str(),
            &grant.department_id,
            &grant.item_code,
            &grant.step,
            &actor.0,
        ],
    )
    .await?;
    audit::append(
        &tx,
        AuditEntry {
            aggregate_type: "account",
            aggregate_id: &Subject::Staff(staff_id).to_string(),
            actor: &actor.0,
            action: "staff.role.grant",
            before: None,
            after: Some(&json!({
                "grant": id, "role": grant.role.as_str(), "department": grant.department_id,
                "item_code": grant.item_code, "step": grant.step,
            })),
            details: json!({}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

async fn ensure_staff_exists(
    tx: &tokio_postgres::Transaction<'_>,
    staff_id: Uuid,
) -> AppResult<()> {
    let exists = tx
        .query_opt("SELECT 1 FROM staff WHERE id = $1", &[&staff_id])
        .await?
        .is_some();
    if exists {
        Ok(())
    } else {
        Err(AppError::new(
            IdentityProblem::StaffNotFound,
            "no such staff account",
        ))
    }
}

/// The department a live grant is held in (for the caller's authorization), or 404.
pub async fn grant_department(
    pool: &Pool,
    staff_id: Uuid,
    grant_id: Uuid,
) -> AppResult<Option<Uuid>> {
    let db = pool.get().await?;
    db.query_opt(
        "SELECT department_id FROM staff_role WHERE id = $1 AND staff_id = $2 AND revoked_at IS NULL",
        &[&grant_id, &staff_id],
    )
    .await?
    .map(|row| row.get(0))
    .ok_or_else(|| AppError::new(IdentityProblem::GrantNotFound, "no such live role grant"))
}

pub async fn revoke_grant(
    pool: &Pool,
    actor: &Actor,
    staff_id: Uuid,
    grant_id: Uuid,
) -> AppResult<()> {
    let mut db = pool.get().await?;
    let tx = db.transaction().await?;
    let revoked = tx
        .execute(
            "UPDATE staff_role SET revoked_at = now()
              WHERE id = $1 AND staff_id = $2 AND revoked_at IS NULL",
            &[&grant_id, &staff_id],
        )
        .await?;
    if revoked == 0 {
        return Err(AppError::new(
            IdentityProblem::GrantNotFound,
            "no such live role grant",
        ));
    }
    audit::append(
        &tx,
        AuditEntry {
            aggregate_type: "account",
            aggregate_id: &Subject::Staff(staff_id).to_string(),
            actor: &actor.0,
            action: "staff.role.revoke",
            before: Some(&json!({ "grant": grant_id })),
            after: None,
            details: json!({}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The departments in which `staff_id` holds handling roles (an AB backup covers those).
pub async fn handling_departments(pool: &Pool, staff_id: Uuid) -> AppResult<Vec<Uuid>> {
    let db = pool.get().await?;
    let rows = db
        .query(
            "SELECT DISTINCT department_id FROM staff_role
              WHERE staff_id = $1 AND revoked_at IS NULL AND department_id IS NOT NULL
                AND role IN ('window_clerk', 'reviewer', 'approver')",
            &[&staff_id],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

pub struct NewBackup {
    pub backup_id: Uuid,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub reason: String,
}

/// Designates an AB backup: while it lasts, `backup_id` acts with the principal's handling roles.
pub async fn designate_backup(
    pool: &Pool,
    actor: &Actor,
    principal_id: Uuid,
    new: NewBackup,
) -> AppResult<Uuid> {
    if new.backup_id == principal_id {
        return Err(AppError::invalid_field(
            "backup_id",
            IdentityProblem::SamePerson,
            "a staff member cannot be their own backup",
        ));
    }
    if new.ends_at <= new.starts_at {
        return Err(AppError::invalid_field(
            "ends_at",
            IdentityProblem::BeforeStart,
            "the designation must end after it starts",
        ));
    }
    let reason = new.reason.trim().to_owned();
    if reason.is_empty() || reason.chars().count() > 200 {
        return Err(AppError::invalid_field(
            "reason",
            HttpProblem::InvalidLength,
            "1–200 characters",
        ));
    }
    let mut db = pool.get().await?;
    let tx = db.transaction().await?;
    ensure_staff_exists(&tx, principal_id).await?;
    let backup_active: Option<bool> = tx
        .query_opt("SELECT active FROM staff WHERE id = $1", &[&new.backup_id])
        .await?
        .map(|r| r.get(0));
    if backup_active != Some(true) {
        return Err(AppError::invalid_field(
            "backup_id",
            HttpProblem::NotFound,
            "no active staff account with this id",
        ));
    }
    let id = Uuid::new_v4();
    tx.execute(
        "INSERT INTO staff_backup (id, principal_id, backup_id, starts_at, ends_at, reason, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[&id, &principal_id, &new.backup_id, &new.starts_at, &new.ends_at, &reason, &actor.0],
    )
    .await?;
    audit::append(
        &tx,
        AuditEntry {
            aggregate_type: "account",
            aggregate_id: &Subject::Staff(principal_id).to_string(),
            actor: &actor.0,
            action: "staff.backup.designate",
            before: None,
            after: Some(&json!({
                "designation": id, "backup": new.backup_id, "starts_at": new.starts_at,
                "ends_at": new.ends_at, "reason": reason,
            })),
            details: json!({}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Lifts a lockout.
pub async fn unlock(pool: &Pool, actor: &Actor, staff_id: Uuid) -> AppResult<()> {
    set_account_flags(
        pool,
        actor,
        staff_id,
        "staff.unlock",
        "failed_attempts = 0, locked_until = NULL",
    )
    .await
}

/// Disables an account; its sessions end at once.
pub async fn disable(pool: &Pool, actor: &Actor, staff_id: Uuid) -> AppResult<()> {
    set_account_flags(pool, actor, staff_id, "staff.disable", "active = false").await?;
    sessions::end_all(
        pool,
        &Subject::Staff(staff_id),
        "account_disabled",
        &actor.0,
    )
    .await?;
    Ok(())
}

async fn set_account_flags(
    pool: &Pool,
    actor: &Actor,
    staff_id: Uuid,
    action: &str,
    assignments: &'static str,
) -> AppResult<()> {
    let mut db = pool.get().await?;
    let tx = db.transaction().await?;
    let updated = tx
        .execute(
            &format!("UPDATE staff SET {assignments}, updated_at = now() WHERE id = $1"),
            &[&staff_id],
        )
        .await?;
    if updated == 0 {
        return Err(AppError::new(
            IdentityProblem::StaffNotFound,
            "no such staff account",
        ));
    }
    audit::append(
        &tx,
        AuditEntry {
            aggregate_type: "account",
            aggregate_id: &Subject::Staff(staff_id).to_string(),
            actor: &actor.0,
            action,
            before: None,
            after: None,
            details: json!({}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Creates a platform administrator from the command line (`fingertip staff create-admin`).
pub async fn create_platform_admin(
    pool: &Pool,
    username: &str,
    display_name: &str,
    password_text: String,
) -> anyhow::Result<Uuid> {
    let actor = Actor("cli".to_owned());
    let failed = |e: AppError| anyhow::anyhow!("{}", e.to_problem().detail);
    let id = create(
        pool,
        &actor,
        NewStaff {
            username: username.to_owned(),
            display_name: display_name.to_owned(),
            password: password_text,
        },
    )
    .await
    .map_err(failed)?;
    grant(
        pool,
        &actor,
        id,
        NewGrant {
            role: Role::PlatformAdmin,
            department_id: None,
            item_code: None,
            step: None,
        },
    )
    .await
    .map_err(failed)?;
    Ok(id)
}

/// The display names of the staff accounts `ids`, in one read: how a case timeline names the
/// staff who acted (accounts are never deleted, so every id that acted is found).
pub async fn display_names(
    client: &impl tokio_postgres::GenericClient,
    ids: &[Uuid],
) -> Result<std::collections::HashMap<Uuid, String>, tokio_postgres::Error> {
    if ids.is_empty() {
        return Ok(std::collections::HashMap::new());
    }
    let rows = client
        .query(
            "SELECT id, display_name FROM staff WHERE id = ANY($1)",
            &[&ids],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// A staff account with its live grants (own roles; AB cover shows on `/me`).
pub struct StaffRecord {
    pub id: Uuid,
    pub username: String,
    pub display_name: String,
    pub active: bool,
    pub locked_until: Option<DateTime<Utc>>,
    pub grants: Vec<(Uuid, super::model::Grant)>,
}

pub async fn list(pool: &Pool) -> AppResult<Vec<StaffRecord>> {
    let db = pool.get().await?;
    let rows = db
        .query(
            "SELECT s.id, s.username, s.display_name, s.active, s.locked_until,
                    r.id, r.role, r.department_id, r.item_code, r.step
               FROM staff s
               LEFT JOIN staff_role r ON r.staff_id = s.id AND r.revoked_at IS NULL
              ORDER BY s.username, r.granted_at",
            &[],
        )
        .await?;
    let mut out: Vec<StaffRecord> = Vec::new();
    for row in rows {
        let id: Uuid = row.get(0);
        if out.last().is_none_or(|last| last.id != id) {
            out.push(StaffRecord {
                id,
                username: row.get(1),
                display_name: row.get(2),
                active: row.get(3),
                locked_until: row.get(4),
                grants: Vec::new(),
            });
        }
        let grant_id: Option<Uuid> = row.get(5);
        let role = row.get::<_, Option<&str>>(6).and_then(Role::parse);
        if let (Some(grant_id), Some(role), Some(last)) = (grant_id, role, out.last_mut()) {
            last.grants.push((
                grant_id,
                super::model::Grant {
                    role,
                    department_id: row.get(7),
                    item_code: row.get(8),
                    step: row.get(9),
                    covering_for: None,
                    until: None,
                },
            ));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_lowercase_words() {
        assert!(valid_username("zhang.san"));
        assert!(valid_username("clerk_01"));
        assert!(!valid_username("ab"));
        assert!(!valid_username("Zhang"));
        assert!(!valid_username("-lead"));
        assert!(!valid_username("张三"));
    }

    #[test]
    fn grants_must_have_the_right_shape() {
        let department = Some(Uuid::new_v4());
        let shape = |role, department_id, item: Option<&str>, step: Option<&str>| {
            check_grant(&NewGrant {
                role,
                department_id,
                item_code: item.map(str::to_owned),
                step: step.map(str::to_owned),
            })
        };
        assert!(shape(Role::PlatformAdmin, None, None, None).is_ok());
        assert!(shape(Role::PlatformAdmin, department, None, None).is_err());
        assert!(shape(Role::Reviewer, None, None, None).is_err());
        assert!(shape(Role::Reviewer, department, Some("FOOD-01"), Some("review")).is_ok());
        assert!(shape(Role::Reviewer, department, None, Some("review")).is_err());
        assert!(shape(Role::DepartmentAdmin, department, Some("FOOD-01"), None).is_err());
    }
}
