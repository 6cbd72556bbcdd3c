//! Sessions: one per login on one device. A session holds a chain of refresh tokens — opaque
//! random strings stored as SHA-256 digests, each usable once. Presenting a refresh token that
//! was already rotated means it was copied: the whole session is revoked, so neither the thief
//! nor the owner can go on with it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use deadpool_postgres::Pool;
use ring::digest;
use ring::rand::{SecureRandom, SystemRandom};
use serde_json::json;
use tokio_postgres::Transaction;
use uuid::Uuid;

use super::model::{Assurance, Subject};
use super::session_cache::SessionCache;
use super::tokens::TokenSigner;
use crate::audit::{self, AuditEntry};
use crate::http::problem::{AppError, AppResult};
use crate::identity::errors::IdentityProblem;

const REFRESH_PREFIX: &str = "rt_";

/// Where a login came from, kept with the session for the owner's device list.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// What a successful login or refresh returns.
#[derive(Debug, Clone)]
pub struct IssuedTokens {
    pub access_token: String,
    pub expires_in: i64,
    pub refresh_token: String,
    pub refresh_expires_at: DateTime<Utc>,
    pub session_id: Uuid,
    pub subject: Subject,
    pub assurance: Assurance,
}

#[derive(Debug, Clone, Copy)]
pub struct SessionSettings {
    pub refresh_lifetime: Duration,
}

fn new_refresh_token() -> AppResult<(String, Vec<u8>)> {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| anyhow::anyhow!("the system random generator failed"))?;
    let token = format!("{REFRESH_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
    let hash = refresh_hash(&token);
    Ok((token, hash))
}

fn refresh_hash(token: &str) -> Vec<u8> {
    digest::digest(&digest::SHA256, token.as_bytes())
        .as_ref()
        .to_vec()
}

/// Starts a session for `subject` inside the caller's transaction (so the account change that
/// led to the login and the session commit together) and records the login in the audit log.
pub async fn start(
    tx: &Transaction<'_>,
    signer: &TokenSigner,
    settings: SessionSettings,
    subject: Subject,
    assurance: Assurance,
    method: &str,
    client: &ClientInfo,
) -> AppResult<IssuedTokens> {
    let session_id = Uuid::new_v4();
    let now = crate::clock::system_time();
    tx.execute(
        "INSERT INTO auth_session (id, subject, assurance, method, user_agent, client_ip)
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            &session_id,
            &subject.to_string(),
            &assurance.level(),
            &method,
            &client.user_agent.as_deref().map(|ua| truncate(ua, 200)),
            &client.ip,
        ],
    )
    .await?;
    let (refresh_token, hash) = new_refresh_token()?;
    let refresh_expires_at = now + settings.refresh_lifetime;
    tx.execute(
        "INSERT INTO refresh_token (token_hash, session_id, expires_at) VALUES ($1, $2, $3)",
        &[&hash, &session_id, &refresh_expires_at],
    )
    .await?;
    audit::append(
        tx,
        AuditEntry {
            aggregate_type: "account",
            aggregate_id: &subject.to_string(),
            actor: &subject.to_string(),
            action: "login",
            before: None,
            after: None,
            details: json!({ "method": method, "session": session_id, "ip": client.ip }),
        },
    )
    .await?;
    Ok(IssuedTokens {
        access_token: signer.issue(subject, session_id, assurance, now),
        expires_in: signer.lifetime_seconds(),
        refresh_token,
        refresh_expires_at,
        session_id,
        subject,
        assurance,
    })
}

fn truncate(s: &str, max_chars: usize) -> String {
    s.chars().take(max_chars).collect()
}

fn refresh_refused(kind: IdentityProblem, detail: &str) -> AppError {
    AppError::new(kind, detail)
}

/// Exchanges a refresh token for a new access token and a new refresh token. A reused one
/// ends the session, which `remembered` (this instance's gate) forgets at once.
pub async fn refresh(
    pool: &Pool,
    signer: &TokenSigner,
    remembered: &SessionCache,
    settings: SessionSettings,
    refresh_token: &str,
) -> AppResult<IssuedTokens> {
    let invalid = || {
        refresh_refused(
            IdentityProblem::RefreshTokenInvalid,
            "unknown refresh token",
        )
    };
    if !refresh_token.starts_with(REFRESH_PREFIX) || refresh_token.len() > 100 {
        return Err(invalid());
    }
    let hash = refresh_hash(refresh_token);
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let row = tx
        .query_opt(
            "SELECT t.session_id, t.rotated_at, t.expires_at, s.revoked_at, s.subject, s.assurance
               FROM refresh_token t JOIN auth_session s ON s.id = t.session_id
              WHERE t.token_hash = $1
                FOR UPDATE OF t, s",
            &[&hash],
        )
        .await?
        .ok_or_else(invalid)?;
    let session_id: Uuid = row.get(0);
    let rotated_at: Option<DateTime<Utc>> = row.get(1);
    let expires_at: DateTime<Utc> = row.get(2);
    let revoked_at: Option<DateTime<Utc>> = row.get(3);
    let subject: Subject = row.get::<_, &str>(4).parse().map_err(|_| invalid())?;
    let assurance = Assurance::from_level(row.get(5)).ok_or_else(invalid)?;
    if revoked_at.is_some() {
        return Err(refresh_refused(
            IdentityProblem::SessionRevoked,
            "the session has ended; log in again",
        ));
    }
    if rotated_at.is_some() {
        revoke(
            &tx,
            session_id,
            &subject,
            "refresh_token_reused",
            &subject.to_string(),
        )
        .await?;
        tx.commit().await?;
        remembered.forget(session_id);
        tracing::warn!(session = %session_id, subject = %subject,
            "a rotated refresh token was presented again; the session is revoked");
        return Err(refresh_refused(
            IdentityProblem::RefreshTokenReused,
            "this refresh token was already used; the session is revoked for safety",
        ));
    }
    let now = crate::clock::system_time();
    if expires_at <= now {
        return Err(refresh_refused(
            IdentityProblem::RefreshTokenExpired,
            "the refresh token has expired; log in again",
        ));
    }
    if let Subject::Staff(id) = subject {
        let active: Option<bool> = tx
            .query_opt("SELECT active FROM staff WHERE id = $1", &[&id])
            .await?
            .map(|r| r.get(0));
        if active != Some(true) {
            return Err(refresh_refused(
                IdentityProblem::AccountDisabled,
                "this staff account is disabled",
            ));
        }
    }
    tx.execute(
        "UPDATE refresh_token SET rotated_at = now() WHERE token_hash = $1",
        &[&hash],
    )
    .await?;
    let (new_token, new_hash) = new_refresh_token()?;
    let refresh_expires_at = now + settings.refresh_lifetime;
    tx.execute(
        "INSERT INTO refresh_token (token_hash, session_id, expires_at) VALUES ($1, $2, $3)",
        &[&new_hash, &session_id, &refresh_expires_at],
    )
    .await?;
    tx.execute(
        "UPDATE auth_session SET last_used_at = now() WHERE id = $1",
        &[&session_id],
    )
    .await?;
    tx.commit().await?;
    Ok(IssuedTokens {
        access_token: signer.issue(subject, session_id, assurance, now),
        expires_in: signer.lifetime_seconds(),
        refresh_token: new_token,
        refresh_expires_at,
        session_id,
        subject,
        assurance,
    })
}

async fn revoke(
    tx: &Transaction<'_>,
    session_id: Uuid,
    subject: &Subject,
    reason: &str,
    actor: &str,
) -> AppResult<()> {
    tx.execute(
        "UPDATE auth_session SET revoked_at = now(), revoked_reason = $2
          WHERE id = $1 AND revoked_at IS NULL",
        &[&session_id, &reason],
    )
    .await?;
    audit::append(
        tx,
        AuditEntry {
            aggregate_type: "account",
            aggregate_id: &subject.to_string(),
            actor,
            action: "session.revoke",
            before: None,
            after: None,
            details: json!({ "session": session_id, "reason": reason }),
        },
    )
    .await?;
    Ok(())
}

/// Ends one session (logout).
pub async fn end(pool: &Pool, subject: &Subject, session_id: Uuid) -> AppResult<()> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    revoke(&tx, session_id, subject, "logout", &subject.to_string()).await?;
    tx.commit().await?;
    Ok(())
}

/// Ends every live session of `subject` ("log out all my devices", or an administrator's
/// revocation); returns the sessions ended.
pub async fn end_all(
    pool: &Pool,
    subject: &Subject,
    reason: &str,
    actor: &str,
) -> AppResult<Vec<Uuid>> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let ended: Vec<Uuid> = tx
        .query(
            "UPDATE auth_session SET revoked_at = now(), revoked_reason = $2
              WHERE subject = $1 AND revoked_at IS NULL RETURNING id",
            &[&subject.to_string(), &reason],
        )
        .await?
        .iter()
        .map(|row| row.get(0))
        .collect();
    audit::append(
        &tx,
        AuditEntry {
            aggregate_type: "account",
            aggregate_id: &subject.to_string(),
            actor,
            action: "session.revoke_all",
            before: None,
            after: None,
            details: json!({ "sessions": ended.len(), "reason": reason }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(ended)
}
