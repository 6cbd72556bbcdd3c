//! Enterprises log in with a CA certificate by challenge–response: the server issues a one-time
//! challenge; the client signs it with the certificate's private key (USB key or app) and sends
//! the chain and the signature. The enterprise is the unified social credit code in the
//! certificate: the first login creates its account, later logins map to it.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, Duration, Utc};
use deadpool_postgres::Pool;
use ring::digest;
use ring::rand::{SecureRandom, SystemRandom};
use serde_json::json;
use uuid::Uuid;

use super::account_claims::{self, AccountProven, ApplicantKind};
use super::certificate::{CertificateError, CertificateVerifier, VerifiedCertificate};
use super::credit_code::EnterpriseCode;
use super::model::{Assurance, Subject};
use super::sessions::{self, ClientInfo, IssuedTokens, SessionSettings};
use super::tokens::TokenSigner;
use crate::audit::{self, AuditEntry};
use crate::http::HttpProblem;
use crate::http::problem::{AppError, AppResult};
use crate::identity::errors::IdentityProblem;

const CHALLENGE_PREFIX: &str = "fingertip-login:";

#[derive(Clone)]
pub struct Enterprises {
    pub pool: Pool,
    pub signer: Arc<TokenSigner>,
    pub verifier: Arc<CertificateVerifier>,
    pub sessions: SessionSettings,
    pub challenge_lifetime: Duration,
    /// Told when an enterprise account is created: window cases under its credit code join it.
    pub claims: Arc<dyn AccountProven>,
}

/// A challenge to sign: the exact UTF-8 bytes of `challenge` are what the key signs.
#[derive(Debug, Clone)]
pub struct Challenge {
    pub challenge: String,
    pub expires_at: DateTime<Utc>,
}

fn challenge_hash(challenge: &str) -> Vec<u8> {
    digest::digest(&digest::SHA256, challenge.as_bytes())
        .as_ref()
        .to_vec()
}

/// A refused certificate login: 401 with the verifier's stable code — except when revocation
/// cannot be checked (no CRL, or only an out-of-date one), which is our problem, not the
/// certificate's: 503, so the client retries instead of telling the user the key is bad.
pub fn certificate_refused(error: &CertificateError) -> AppError {
    // The problem's declared status says which: 503 for the two revocation-check codes.
    AppError::new(error.problem(), error.to_string())
}

/// Reads a chain sent as base64 DER or PEM blocks, leaf first.
pub fn decode_chain(chain: &[String]) -> AppResult<Vec<Vec<u8>>> {
    if chain.is_empty() || chain.len() > 5 {
        return Err(AppError::invalid_field(
            "certificate_chain",
            HttpProblem::InvalidLength,
            "1 to 5 certificates, leaf first",
        ));
    }
    chain
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let body: String = if text.contains("-----BEGIN") {
                text.lines()
                    .filter(|line| !line.starts_with("-----"))
                    .collect()
            } else {
                text.chars().filter(|c| !c.is_whitespace()).collect()
            };
            STANDARD.decode(body.as_bytes()).map_err(|_| {
                AppError::invalid_field(
                    format!("certificate_chain[{i}]"),
                    IdentityProblem::InvalidBase64,
                    "a certificate as base64 DER or PEM",
                )
            })
        })
        .collect()
}

/// The chain and the signature of a challenge login, decoded (422 naming the field otherwise).
pub fn decode_signed_challenge(
    chain: &[String],
    signature_b64: &str,
) -> AppResult<(Vec<Vec<u8>>, Vec<u8>)> {
    let chain = decode_chain(chain)?;
    let signature = STANDARD
        .decode(signature_b64.trim().as_bytes())
        .map_err(|_| {
            AppError::invalid_field("signature", IdentityProblem::InvalidBase64, "base64")
        })?;
    Ok((chain, signature))
}

impl Enterprises {
    pub async fn challenge(&self) -> AppResult<Challenge> {
        let mut nonce = [0u8; 32];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| anyhow::anyhow!("the system random generator failed"))?;
        let expires_at = crate::clock::system_time() + self.challenge_lifetime;
        let challenge = format!(
            "{CHALLENGE_PREFIX}{}:{}",
            URL_SAFE_NO_PAD.encode(nonce),
            expires_at.timestamp()
        );
        let db = self.pool.get().await?;
        db.execute(
            "INSERT INTO login_challenge (challenge_hash, expires_at) VALUES ($1, $2)",
            &[&challenge_hash(&challenge), &expires_at],
        )
        .await?;
        Ok(Challenge {
            challenge,
            expires_at,
        })
    }

    /// Verifies the signed challenge and the chain, then logs the enterprise in.
    pub async fn login(
        &self,
        challenge: &str,
        chain: &[String],
        signature_b64: &str,
        client: &ClientInfo,
    ) -> AppResult<(IssuedTokens, VerifiedCertificate)> {
        let (chain, signature) = decode_signed_challenge(chain, signature_b64)?;
        self.use_challenge(challenge).await?;
        let verified = match self
            .verifier
            .verify_signed_challenge(
                &chain,
                challenge.as_bytes(),
                &signature,
                crate::clock::system_time(),
            )
            .await
        {
            Ok(verified) => verified,
            Err(error) => {
                self.record_refusal(&chain, &error, client).await?;
                return Err(certificate_refused(&error));
            }
        };
        let issued = self
            .sign_in(&verified, "certificate_challenge", client)
            .await?;
        Ok((issued, verified))
    }

    /// Uses up an issued challenge — before the (slower) verification, so it cannot be replayed
    /// even by a request racing this one.
    pub async fn use_challenge(&self, challenge: &str) -> AppResult<()> {
        if !challenge.starts_with(CHALLENGE_PREFIX) || challenge.len() > 200 {
            return Err(challenge_refused());
        }
        let db = self.pool.get().await?;
        let used = db
            .execute(
                "UPDATE login_challenge SET used_at = now()
                  WHERE challenge_hash = $1 AND used_at IS NULL AND expires_at > now()",
                &[&challenge_hash(challenge)],
            )
            .await?;
        if used == 1 {
            Ok(())
        } else {
            Err(challenge_refused())
        }
    }

    /// Finds or creates the enterprise of a verified certificate and starts a session.
    pub async fn sign_in(
        &self,
        verified: &VerifiedCertificate,
        method: &str,
        client: &ClientInfo,
    ) -> AppResult<IssuedTokens> {
        let (code, kind) = match &verified.enterprise_code {
            EnterpriseCode::Uscc(code) => (code.as_str().to_owned(), "uscc"),
            EnterpriseCode::Organisation(code) => (code.as_str().to_owned(), "organisation"),
        };
        let mut db = self.pool.get().await?;
        let tx = db.transaction().await?;
        let row = tx
            .query_one(
                "INSERT INTO enterprise (id, code, code_kind, name, last_login_at)
                 VALUES ($1, $2, $3, $4, now())
                 ON CONFLICT (code) DO UPDATE
                    SET last_login_at = now(), name = coalesce(EXCLUDED.name, enterprise.name)
                 RETURNING id, (xmax = 0) AS created",
                &[&Uuid::new_v4(), &code, &kind, &verified.organisation_name],
            )
            .await?;
        let enterprise_id: Uuid = row.get(0);
        let created: bool = row.get(1);
        tx.execute(
            "INSERT INTO enterprise_certificate
                (fingerprint, enterprise_id, subject, issuer, serial_hex, matched_field, not_after)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (fingerprint) DO UPDATE SET last_seen_at = now()",
            &[
                &verified.fingerprint_sha256,
                &enterprise_id,
                &verified.subject,
                &verified.issuer,
                &verified.serial_hex,
                &verified.matched_field,
                &verified.not_after,
            ],
        )
        .await?;
        let subject = Subject::Enterprise(enterprise_id);
        if created {
            // The certificate proves the credit code: window cases under it join the account.
            let index = account_claims::enterprise_index(&code);
            self.claims
                .account_proven(&tx, &subject, ApplicantKind::Enterprise, &index)
                .await?;
            audit::append(
                &tx,
                AuditEntry {
                    aggregate_type: "account",
                    aggregate_id: &subject.to_string(),
                    actor: &subject.to_string(),
                    action: "enterprise.create",
                    before: None,
                    after: Some(&json!({
                        "code": code, "code_kind": kind, "name": verified.organisation_name,
                        "matched_field": verified.matched_field,
                    })),
                    details: json!({ "certificate": verified.fingerprint_sha256 }),
                },
            )
            .await?;
        }
        let issued = sessions::start(
            &tx,
            &self.signer,
            self.sessions,
            subject,
            Assurance::Certificate,
            method,
            client,
        )
        .await?;
        tx.commit().await?;
        Ok(issued)
    }

    async fn record_refusal(
        &self,
        chain: &[Vec<u8>],
        error: &CertificateError,
        client: &ClientInfo,
    ) -> AppResult<()> {
        let fingerprint = chain
            .first()
            .map(|leaf| hex::encode(digest::digest(&digest::SHA256, leaf)))
            .unwrap_or_default();
        let mut db = self.pool.get().await?;
        let tx = db.transaction().await?;
        audit::append(
            &tx,
            AuditEntry {
                aggregate_type: "certificate",
                aggregate_id: &fingerprint,
                actor: "anonymous",
                action: "login.failure",
                before: None,
                after: None,
                details: json!({ "reason": error.code(), "ip": client.ip }),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// An enterprise account's code, its kind and its name (for `/me`; works without certificate
/// login configured, for accounts created earlier).
pub async fn profile(
    pool: &Pool,
    enterprise_id: Uuid,
) -> AppResult<(String, String, Option<String>)> {
    let db = pool.get().await?;
    let row = db
        .query_opt(
            "SELECT code, code_kind, name FROM enterprise WHERE id = $1",
            &[&enterprise_id],
        )
        .await?
        .ok_or_else(|| AppError::new(IdentityProblem::AccountNotFound, "no such account"))?;
    Ok((row.get(0), row.get(1), row.get(2)))
}

fn challenge_refused() -> AppError {
    AppError::new(
        IdentityProblem::ChallengeInvalid,
        "the challenge is unknown, expired or already used; ask for a new one",
    )
}
