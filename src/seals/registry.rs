//! The seal registry: creating a department's seal (key pair + certificate from the platform's
//! seal CA), changing its status (suspended seals sign nothing until reactivated; revoked ones
//! never again), and handing out a seal's key for one signing — which the caller audits in the
//! transaction that uses it. Private keys never leave the database unsealed.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use poem_openapi::{Enum, Object};
use serde::Deserialize;
use serde_json::json;
use tokio_postgres::GenericClient;
use uuid::Uuid;

use super::authority::{self, SealSubject};
use crate::audit::{self, AuditEntry};
use crate::clock::Clock;
use crate::http::{AppError, AppResult};
use crate::identity::pii::IdentityKeys;
use crate::seals::errors::SealProblem;

/// What a seal is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Deserialize)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum SealPurpose {
    /// 行政审批专用章: decisions and licences, applied only by an approver of the deciding
    /// department at the decision step.
    Decision,
    /// 受理专用章: acceptance, correction and non-acceptance notices issued at the window.
    Acceptance,
}

impl SealPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            SealPurpose::Decision => "decision",
            SealPurpose::Acceptance => "acceptance",
        }
    }

    /// The standard text under the star.
    pub fn default_label(self) -> &'static str {
        match self {
            SealPurpose::Decision => "行政审批专用章",
            SealPurpose::Acceptance => "受理专用章",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Deserialize)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum SealStatus {
    Active,
    Suspended,
    Revoked,
}

impl SealStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SealStatus::Active => "active",
            SealStatus::Suspended => "suspended",
            SealStatus::Revoked => "revoked",
        }
    }
}

#[derive(Debug, Clone, Object)]
pub struct SealView {
    pub id: Uuid,
    pub department_code: String,
    pub department_name: String,
    pub purpose: String,
    pub label: String,
    pub algorithm: String,
    /// Certificate serial number (hex).
    pub serial: String,
    /// The seal certificate, PEM.
    pub certificate_pem: String,
    pub status: String,
    #[oai(skip_serializing_if_is_none)]
    pub status_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A seal ready to sign once: its key (PKCS#8) and its certificate chain, leaf first.
pub struct LoadedSeal {
    pub id: Uuid,
    pub key_pkcs8: Vec<u8>,
    pub chain_der: Vec<Vec<u8>>,
    pub department_name: String,
    pub label: String,
}

pub fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// A seal's key material, made here or imported.
struct NewSealKey<'a> {
    key_pkcs8: &'a [u8],
    certificate_der: &'a [u8],
    chain_der: &'a [Vec<u8>],
    serial_hex: &'a str,
    imported: bool,
}

/// The text under the star: given (at most 12 characters) or the purpose's standard one.
fn seal_label(purpose: SealPurpose, label: Option<&str>) -> AppResult<String> {
    let label = label
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .unwrap_or(purpose.default_label())
        .to_owned();
    if label.chars().count() > 12 {
        return Err(AppError::invalid_field(
            "label",
            SealProblem::SealLabelTooLong,
            "at most 12 characters fit under the star",
        ));
    }
    Ok(label)
}

#[derive(Clone)]
pub struct SealRegistry {
    pool: Pool,
    keys: Arc<IdentityKeys>,
    ca_name: String,
    clock: Clock,
}

const SEAL_VIEW: &str =
    "SELECT s.id, d.code, d.name, s.purpose, s.label, s.algorithm, s.serial_hex,
        s.certificate_der, s.status, s.status_reason, s.created_at, s.updated_at
    FROM seal s JOIN department d ON d.id = s.department_id";

/// The seal as the admin API shows it, read inside the transaction that changed it.
async fn view_of(tx: &tokio_postgres::Transaction<'_>, id: Uuid) -> AppResult<SealView> {
    let row = tx
        .query_one(&format!("{SEAL_VIEW} WHERE s.id = $1"), &[&id])
        .await?;
    Ok(view(&row))
}

fn view(row: &tokio_postgres::Row) -> SealView {
    let der: Vec<u8> = row.get(7);
    SealView {
        id: row.get(0),
        department_code: row.get(1),
        department_name: row.get(2),
        purpose: row.get(3),
        label: row.get(4),
        algorithm: row.get(5),
        serial: row.get(6),
        certificate_pem: pem("CERTIFICATE", &der),
        status: row.get(8),
        status_reason: row.get(9),
        created_at: row.get(10),
        updated_at: row.get(11),
    }
}

impl SealRegistry {
    pub fn new(pool: Pool, keys: Arc<IdentityKeys>, ca_name: String, clock: Clock) -> Self {
        SealRegistry {
            pool,
            keys,
            ca_name,
            clock,
        }
    }

    /// The application's clock: seal certificates are valid from the moment the documents they
    /// seal are signed at.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// The seal CA's certificate and key, created on first use (one creator at a time).
    async fn authority(&self, client: &impl GenericClient) -> AppResult<(Vec<u8>, Vec<u8>)> {
        client
            .execute(
                "SELECT pg_advisory_xact_lock(hashtextextended('seal-authority', 0))",
                &[],
            )
            .await?;
        let existing = client
            .query_opt(
                "SELECT id, certificate_der, key_sealed FROM seal_authority
                 WHERE key_sealed IS NOT NULL ORDER BY created_at LIMIT 1",
                &[],
            )
            .await?;
        if let Some(row) = existing {
            let id: Uuid = row.get(0);
            let sealed: Vec<u8> = row.get(2);
            let key = self
                .keys
                .decrypt(&sealed, id.as_bytes())
                .map_err(|e| anyhow::anyhow!("opening the seal CA key: {e}"))?;
            return Ok((row.get(1), key));
        }
        let issued = authority::new_root(&self.ca_name, self.clock.now())
            .map_err(|e| anyhow::anyhow!("creating the seal CA: {e}"))?;
        let id = Uuid::new_v4();
        let sealed = self
            .keys
            .encrypt(&issued.key_pkcs8, id.as_bytes())
            .map_err(|e| anyhow::anyhow!("sealing the seal CA key: {e}"))?;
        client
            .execute(
                "INSERT INTO seal_authority (id, certificate_der, key_sealed, subject)
                 VALUES ($1, $2, $3, $4)",
                &[&id, &issued.certificate_der, &sealed, &self.ca_name],
            )
            .await?;
        tracing::info!(ca = %self.ca_name, "created the platform's seal CA");
        Ok((issued.certificate_der, issued.key_pkcs8))
    }

    /// The trust anchor validators need (PEM), creating the CA if there is none yet.
    /// Also the roots of imported seals' chains (each once), after the platform's own.
    pub async fn root_pem(&self) -> AppResult<String> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let (der, _) = self.authority(&*tx).await?;
        let imported: Vec<Vec<u8>> = tx
            .query(
                "SELECT DISTINCT chain_der[array_length(chain_der, 1)] FROM seal
                 WHERE status <> 'revoked'",
                &[],
            )
            .await?
            .iter()
            .filter_map(|r| r.get::<_, Option<Vec<u8>>>(0))
            .collect();
        tx.commit().await?;
        let mut bundle = pem("CERTIFICATE", &der);
        for root in imported.iter().filter(|r| **r != der) {
            bundle.push_str(&pem("CERTIFICATE", root));
        }
        Ok(bundle)
    }

    /// A new seal for a department; 409 when one is already in force for that purpose.
    pub async fn create(
        &self,
        actor: &str,
        department_id: Uuid,
        purpose: SealPurpose,
        label: Option<&str>,
    ) -> AppResult<SealView> {
        let label = seal_label(purpose, label)?;
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let (code, name): (String, String) = {
            let row = tx
                .query_one(
                    "SELECT code, name FROM department WHERE id = $1",
                    &[&department_id],
                )
                .await?;
            (row.get(0), row.get(1))
        };
        let (ca_der, ca_key) = self.authority(&*tx).await?;
        let issued = authority::issue_seal(
            &ca_der,
            &ca_key,
            &SealSubject {
                department_name: &name,
                department_code: &code,
                label: &label,
            },
            self.clock.now(),
        )
        .map_err(|e| anyhow::anyhow!("issuing a seal certificate: {e}"))?;
        let id = self
            .insert(
                &tx,
                actor,
                department_id,
                &code,
                purpose,
                &label,
                &NewSealKey {
                    key_pkcs8: &issued.key_pkcs8,
                    certificate_der: &issued.certificate_der,
                    chain_der: std::slice::from_ref(&ca_der),
                    serial_hex: &issued.serial_hex,
                    imported: false,
                },
            )
            .await?;
        let seal = view_of(&tx, id).await?;
        tx.commit().await?;
        Ok(seal)
    }

    /// Demo data: both seals for every department that has none in force. Returns how many
    /// were created.
    pub async fn create_missing_demo_seals(&self) -> AppResult<usize> {
        let missing: Vec<(Uuid, String)> = {
            let client = self.pool.get().await?;
            client
                .query(
                    "SELECT d.id, p.purpose FROM department d
                     CROSS JOIN (VALUES ('decision'), ('acceptance')) AS p(purpose)
                     WHERE NOT EXISTS (SELECT 1 FROM seal s WHERE s.department_id = d.id
                                       AND s.purpose = p.purpose AND s.status <> 'revoked')
                     ORDER BY d.code, p.purpose",
                    &[],
                )
                .await?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect()
        };
        for (department_id, purpose) in &missing {
            let purpose = if purpose == "decision" {
                SealPurpose::Decision
            } else {
                SealPurpose::Acceptance
            };
            self.create("system:demo", *department_id, purpose, None)
                .await?;
        }
        Ok(missing.len())
    }

    /// A seal made by a real CA: its key and certificate chain, checked by
    /// [`super::import::check_import`]; 409 when one is already in force for that purpose.
    pub async fn import(
        &self,
        actor: &str,
        department_id: Uuid,
        purpose: SealPurpose,
        label: Option<&str>,
        imported: &super::import::ImportedSeal,
    ) -> AppResult<SealView> {
        let label = seal_label(purpose, label)?;
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let code: String = tx
            .query_one(
                "SELECT code FROM department WHERE id = $1",
                &[&department_id],
            )
            .await?
            .get(0);
        let id = self
            .insert(
                &tx,
                actor,
                department_id,
                &code,
                purpose,
                &label,
                &NewSealKey {
                    key_pkcs8: &imported.key_pkcs8,
                    certificate_der: &imported.certificate_der,
                    chain_der: &imported.chain_der,
                    serial_hex: &imported.serial_hex,
                    imported: true,
                },
            )
            .await?;
        let seal = view_of(&tx, id).await?;
        tx.commit().await?;
        Ok(seal)
    }

    /// Stores a seal (its key sealed under the seal key file, the seal's id as associated data)
    /// and audits its making.
    #[allow(clippy::too_many_arguments)]
    async fn insert(
        &self,
        tx: &tokio_postgres::Transaction<'_>,
        actor: &str,
        department_id: Uuid,
        department_code: &str,
        purpose: SealPurpose,
        label: &str,
        key: &NewSealKey<'_>,
    ) -> AppResult<Uuid> {
        let id = Uuid::new_v4();
        let sealed = self
            .keys
            .encrypt(key.key_pkcs8, id.as_bytes())
            .map_err(|e| anyhow::anyhow!("sealing a seal key: {e}"))?;
        let chain: Vec<Vec<u8>> = key.chain_der.to_vec();
        let inserted = tx
            .execute(
                "INSERT INTO seal (id, department_id, purpose, label, algorithm, certificate_der,
                     chain_der, key_sealed, serial_hex, status)
                 VALUES ($1, $2, $3, $4, 'ecdsa-p256-sha256', $5, $6, $7, $8, 'active')
                 ON CONFLICT DO NOTHING",
                &[
                    &id,
                    &department_id,
                    &purpose.as_str(),
                    &label,
                    &key.certificate_der,
                    &chain,
                    &sealed,
                    &key.serial_hex,
                ],
            )
            .await?;
        if inserted == 0 {
            return Err(AppError::new(
                SealProblem::SealExists,
                "the department already has a seal for this purpose; revoke it first",
            ));
        }
        audit::append(
            tx,
            AuditEntry {
                aggregate_type: "seal",
                aggregate_id: &id.to_string(),
                actor,
                action: if key.imported {
                    "seal.import"
                } else {
                    "seal.create"
                },
                before: None,
                after: None,
                details: json!({"department": department_code, "purpose": purpose.as_str(),
                                "label": label, "serial": key.serial_hex}),
            },
        )
        .await?;
        Ok(id)
    }

    pub async fn list(&self, department_id: Uuid) -> AppResult<Vec<SealView>> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                &format!("{SEAL_VIEW} WHERE s.department_id = $1 ORDER BY s.created_at"),
                &[&department_id],
            )
            .await?;
        Ok(rows.iter().map(view).collect())
    }

    /// The seal's department, for the authorization check.
    pub async fn department_of(&self, seal_id: Uuid) -> AppResult<Option<Uuid>> {
        let client = self.pool.get().await?;
        Ok(client
            .query_opt("SELECT department_id FROM seal WHERE id = $1", &[&seal_id])
            .await?
            .map(|r| r.get(0)))
    }

    /// Suspends, reactivates or revokes a seal, with a reason; a revoked seal stays revoked.
    pub async fn set_status(
        &self,
        actor: &str,
        seal_id: Uuid,
        status: SealStatus,
        reason: &str,
    ) -> AppResult<SealView> {
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(AppError::invalid_field(
                "reason",
                SealProblem::SealReasonBlank,
                "say why the seal's status changes",
            ));
        }
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let current: String = tx
            .query_opt(
                "SELECT status FROM seal WHERE id = $1 FOR UPDATE",
                &[&seal_id],
            )
            .await?
            .map(|r| r.get(0))
            .ok_or_else(|| AppError::new(SealProblem::SealNotFound, "no such seal"))?;
        if current == "revoked" {
            return Err(AppError::new(
                SealProblem::SealRevoked,
                "a revoked seal cannot change status",
            ));
        }
        tx.execute(
            "UPDATE seal SET status = $2, status_reason = $3, updated_at = now() WHERE id = $1",
            &[&seal_id, &status.as_str(), &reason],
        )
        .await?;
        audit::append(
            &tx,
            AuditEntry {
                aggregate_type: "seal",
                aggregate_id: &seal_id.to_string(),
                actor,
                action: "seal.status",
                before: None,
                after: None,
                details: json!({"from": current, "to": status.as_str(), "reason": reason}),
            },
        )
        .await?;
        let seal = view_of(&tx, seal_id).await?;
        tx.commit().await?;
        Ok(seal)
    }

    /// The department's active seal for `purpose`, unsealed for one signing inside `client`'s
    /// transaction (which records the use in the seal's audit chain). 409 `seal_unavailable`
    /// when the department has none in force.
    pub async fn load_for_signing(
        &self,
        client: &impl GenericClient,
        department_id: Uuid,
        purpose: SealPurpose,
    ) -> AppResult<LoadedSeal> {
        let row = client
            .query_opt(
                "SELECT s.id, s.key_sealed, s.certificate_der, s.chain_der, d.name, s.label
                 FROM seal s JOIN department d ON d.id = s.department_id
                 WHERE s.department_id = $1 AND s.purpose = $2 AND s.status = 'active'",
                &[&department_id, &purpose.as_str()],
            )
            .await?
            .ok_or_else(|| {
                AppError::new(SealProblem::SealUnavailable, "the department has no seal in force for this document; its administrator must create or reactivate one")
            })?;
        let id: Uuid = row.get(0);
        let sealed: Vec<u8> = row.get(1);
        let key_pkcs8 = self
            .keys
            .decrypt(&sealed, id.as_bytes())
            .map_err(|e| anyhow::anyhow!("opening seal {id}: {e}"))?;
        let mut chain_der: Vec<Vec<u8>> = vec![row.get(2)];
        chain_der.extend(row.get::<_, Vec<Vec<u8>>>(3));
        Ok(LoadedSeal {
            id,
            key_pkcs8,
            chain_der,
            department_name: row.get(4),
            label: row.get(5),
        })
    }
}
