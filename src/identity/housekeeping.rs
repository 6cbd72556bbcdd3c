//! Deletes what the identity tables no longer need: used or expired login challenges, SMS codes
//! older than the daily limit window, failed-login marks older than the hourly window, and
//! refresh tokens of sessions long over. Anyone can make the public endpoints write rows
//! (challenges, codes), so their tables must not grow without bound. And the SMS codes (and the
//! codes proving notification email addresses) themselves, which the outbox must hold in clear
//! until the provider has them: once a code's
//! deliveries are over and it has expired, its text is scrubbed from the notification and the
//! delivery bodies. One instance at a time (transaction advisory lock).

use std::time::Duration;

use deadpool_postgres::Pool;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use crate::notify::code_scrub;
use crate::notify::me_email::CODE_TEMPLATE;

use super::citizens::OTP_TEMPLATE;

/// Key of the advisory lock that lets one instance clean at a time ("fingerti" in ASCII).
const HOUSEKEEPING_LOCK_KEY: i64 = 0x6669_6e67_6572_7469;

const DELETIONS: &[&str] = &[
    "DELETE FROM login_challenge WHERE expires_at < now() - interval '1 hour'",
    "DELETE FROM otp_code WHERE created_at < now() - interval '2 days'",
    "DELETE FROM login_failure WHERE at < now() - interval '2 hours'",
    "DELETE FROM refresh_token WHERE expires_at < now() - interval '1 day'",
];

/// Runs the deletions once; returns how many rows went, or `None` when another instance holds
/// the lock.
pub async fn run_once(pool: &Pool) -> anyhow::Result<Option<u64>> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let locked: bool = tx
        .query_one(
            "SELECT pg_try_advisory_xact_lock($1)",
            &[&HOUSEKEEPING_LOCK_KEY],
        )
        .await?
        .get(0);
    if !locked {
        return Ok(None);
    }
    let mut deleted = 0;
    for statement in DELETIONS {
        deleted += tx.execute(*statement, &[]).await?;
    }
    // The outbox's copies of the codes are notify's rows: notify scrubs them, in this
    // transaction (and under this lock), with notify's own email codes.
    deleted += code_scrub::delete_old_email_codes(&*tx).await?;
    deleted += code_scrub::scrub_spent_codes(&*tx, &[OTP_TEMPLATE, CODE_TEMPLATE]).await?;
    tx.commit().await?;
    Ok(Some(deleted))
}

pub fn spawn(pool: Pool, every: Duration, mut shutdown: watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticker.tick() => {
                    match run_once(&pool).await {
                        Ok(Some(deleted)) if deleted > 0 => {
                            tracing::info!(deleted, "identity housekeeping");
                        }
                        Ok(_) => {}
                        Err(error) => tracing::warn!(error = %format!("{error:#}"), "identity housekeeping failed"),
                    }
                }
                changed = shutdown.changed() => {
                    if changed.is_err() || *shutdown.borrow() {
                        return;
                    }
                }
            }
        }
    })
}
