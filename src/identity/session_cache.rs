//! What the gate remembers between requests, so that an applicant's every request does not
//! cost a signature verification and a database read:
//!
//! - verified access tokens (signature and claims; the expiry is checked again on every use);
//! - applicant sessions known to be live.
//!
//! A live session is only remembered while this instance listens for the database's
//! `auth_session_ended` notifications (sent by a trigger on every revocation, from any instance
//! or from SQL), and is forgotten when one names it: logout still takes effect at once, on every
//! instance. Without a listening connection nothing is served from memory: every request reads
//! the session from the database, as before. A time-to-live bounds how long an entry can live
//! even if a notification were somehow missed.
//!
//! Staff sessions are not remembered: a staff request also loads the staff member's grants,
//! which change without touching the session, and staff traffic is small.
//!
//! Race: a request reads a session from the database, a revocation commits and is announced,
//! then the request would remember the session as live. Every read therefore takes a
//! [`Ticket`] (the count of forgettings so far) before it reads, and an entry remembered under a
//! ticket that is no longer current is forgotten again at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use moka::sync::Cache;
use uuid::Uuid;

use super::model::Subject;
use super::tokens::{TokenError, TokenSigner, VerifiedAccess};
use crate::db::ListenConnector;

/// The channel the trigger of migration 0012 announces ended sessions on; the payload is the
/// session id, or `*` for "all" (a TRUNCATE).
pub const CHANNEL: &str = "auth_session_ended";

/// How often the listening connection is checked; a dead one stops the cache within this.
const HEALTH_CHECK: Duration = Duration::from_secs(10);

/// The longest wait between attempts to listen again.
const MAX_RETRY: Duration = Duration::from_secs(30);

pub struct SessionCache {
    verified: Cache<String, VerifiedAccess>,
    live: Cache<Uuid, Subject>,
    /// Incremented by every forgetting; see [`Ticket`].
    forgettings: AtomicU64,
    /// Whether notifications are being received; nothing is remembered or served otherwise.
    listening: AtomicBool,
    enabled: bool,
}

/// The state of forgetting when a request began to read a session from the database.
#[derive(Debug, Clone, Copy)]
pub struct Ticket(u64);

impl SessionCache {
    /// Entries live at most `ttl`; a zero `ttl` turns remembering off (every request reads the
    /// database and verifies the signature).
    pub fn new(ttl: Duration, capacity: u64) -> SessionCache {
        // moka refuses a zero time-to-live; a disabled cache is never written anyway.
        let ttl_or_one = ttl.max(Duration::from_secs(1));
        SessionCache {
            verified: Cache::builder()
                .max_capacity(capacity)
                .time_to_live(ttl_or_one)
                .build(),
            live: Cache::builder()
                .max_capacity(capacity)
                .time_to_live(ttl_or_one)
                .build(),
            forgettings: AtomicU64::new(0),
            listening: AtomicBool::new(false),
            enabled: !ttl.is_zero(),
        }
    }

    /// `token`'s claims: remembered ones (checked for expiry at `now`), or verified now.
    pub fn verify(
        &self,
        signer: &TokenSigner,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<VerifiedAccess, TokenError> {
        if self.enabled
            && let Some(access) = self.verified.get(token)
        {
            if access.is_expired(now) {
                return Err(TokenError::Expired);
            }
            return Ok(access);
        }
        let access = signer.verify(token, now)?;
        if self.enabled {
            self.verified.insert(token.to_owned(), access.clone());
        }
        Ok(access)
    }

    /// Whether `session` of `subject` is known to be live.
    pub fn is_live(&self, session: Uuid, subject: Subject) -> bool {
        self.listening.load(Ordering::SeqCst) && self.live.get(&session) == Some(subject)
    }

    /// Taken before reading a session from the database.
    pub fn ticket(&self) -> Ticket {
        Ticket(self.forgettings.load(Ordering::SeqCst))
    }

    /// Remembers that the database said `session` is live, as read under `ticket`.
    pub fn remember_live(&self, ticket: Ticket, session: Uuid, subject: Subject) {
        if !self.enabled || !self.listening.load(Ordering::SeqCst) {
            return;
        }
        self.live.insert(session, subject);
        // Something was forgotten since the read began: the read may be stale, so this entry
        // must not outlive it. (Forgetting counts first and removes second, so either this check
        // sees the new count or the forgetting removes this entry.)
        if self.forgettings.load(Ordering::SeqCst) != ticket.0 {
            self.live.invalidate(&session);
        }
    }

    /// `session` has ended: never answer from memory for it again.
    pub fn forget(&self, session: Uuid) {
        self.forgettings.fetch_add(1, Ordering::SeqCst);
        self.live.invalidate(&session);
    }

    fn forget_all(&self) {
        self.forgettings.fetch_add(1, Ordering::SeqCst);
        self.live.invalidate_all();
    }

    /// Notifications are arriving: remembering may begin, from an empty memory (anything ended
    /// while nobody listened is read from the database again).
    fn start_listening(&self) {
        self.forget_all();
        self.listening.store(true, Ordering::SeqCst);
    }

    /// Notifications may be missed from now on: serve nothing from memory.
    fn stop_listening(&self) {
        self.listening.store(false, Ordering::SeqCst);
        self.forget_all();
    }

    /// One announcement from the database.
    fn announced(&self, payload: &str) {
        match payload.parse::<Uuid>() {
            Ok(session) => self.forget(session),
            // `*` (a TRUNCATE), or anything unexpected: forget everything, to be safe.
            Err(_) => self.forget_all(),
        }
    }

    pub fn is_listening(&self) -> bool {
        self.listening.load(Ordering::SeqCst)
    }
}

/// Keeps a connection listening on [`CHANNEL`] for as long as the server runs, reconnecting
/// with a growing pause after a failure; while it is down, the cache serves nothing.
pub fn spawn_listener(
    cache: Arc<SessionCache>,
    connector: ListenConnector,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if !cache.enabled {
            return;
        }
        let mut pause = Duration::from_secs(1);
        loop {
            tokio::select! {
                ended = listen(&cache, &connector) => {
                    cache.stop_listening();
                    if let Err(err) = ended {
                        tracing::warn!(error = %err, "session revocations: not listening; sessions are read from the database");
                    }
                }
                _ = shutdown.changed() => {
                    cache.stop_listening();
                    return;
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = shutdown.changed() => return,
            }
            pause = (pause * 2).min(MAX_RETRY);
        }
    })
}

/// Listens until the connection fails or stops delivering.
///
/// A connection that accepts `LISTEN` is not proof that notifications arrive (a pooler in
/// transaction mode accepts it on one server connection and drops what is sent to it): the
/// instance announces a probe on the channel itself, and trusts the connection only while each
/// probe comes back within one health-check interval.
async fn listen(cache: &SessionCache, connector: &ListenConnector) -> anyhow::Result<()> {
    let mut listening = connector.connect().await?;
    listening
        .client
        .batch_execute(&format!("LISTEN {CHANNEL}"))
        .await?;
    let mut awaited = Some(send_probe(&listening.client).await?);
    let mut health = tokio::time::interval(HEALTH_CHECK);
    health.tick().await;
    loop {
        tokio::select! {
            notification = listening.notifications.recv() => {
                let Some(notification) = notification else {
                    anyhow::bail!("the listening connection closed");
                };
                if notification.channel != CHANNEL {
                    continue;
                }
                if notification.payload.starts_with(PROBE_PREFIX) {
                    if awaited.as_deref() == Some(notification.payload.as_str()) {
                        awaited = None;
                        if !cache.is_listening() {
                            cache.start_listening();
                            tracing::info!("session revocations: listening");
                        }
                    }
                    continue;
                }
                cache.announced(&notification.payload);
            }
            _ = health.tick() => {
                if awaited.is_some() {
                    anyhow::bail!("a probe announcement did not come back within {HEALTH_CHECK:?}");
                }
                let probe = tokio::time::timeout(HEALTH_CHECK, send_probe(&listening.client))
                    .await
                    .map_err(|_| anyhow::anyhow!("the listening connection stopped answering"))??;
                awaited = Some(probe);
            }
        }
    }
}

/// Payloads that announce no session: this instance's own probes.
const PROBE_PREFIX: &str = "probe:";

/// Announces a probe on [`CHANNEL`]; returns the payload to wait for (random: every instance
/// hears every instance's probes).
async fn send_probe(client: &tokio_postgres::Client) -> anyhow::Result<String> {
    let payload = format!("{PROBE_PREFIX}{}", Uuid::new_v4().simple());
    client
        .execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &payload])
        .await?;
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listening_cache() -> SessionCache {
        let cache = SessionCache::new(Duration::from_secs(60), 100);
        cache.start_listening();
        cache
    }

    fn citizen() -> Subject {
        Subject::Citizen(Uuid::new_v4())
    }

    #[test]
    fn a_live_session_is_remembered_for_its_own_subject_only() {
        let cache = listening_cache();
        let (session, subject) = (Uuid::new_v4(), citizen());
        assert!(!cache.is_live(session, subject));
        cache.remember_live(cache.ticket(), session, subject);
        assert!(cache.is_live(session, subject));
        assert!(!cache.is_live(session, citizen()));
    }

    #[test]
    fn a_forgotten_session_is_read_again() {
        let cache = listening_cache();
        let (session, subject) = (Uuid::new_v4(), citizen());
        cache.remember_live(cache.ticket(), session, subject);
        cache.announced(&session.to_string());
        assert!(!cache.is_live(session, subject));
    }

    #[test]
    fn a_read_overtaken_by_a_revocation_is_not_remembered() {
        let cache = listening_cache();
        let (session, subject) = (Uuid::new_v4(), citizen());
        let ticket = cache.ticket();
        // The database said "live", then the revocation was announced before we remembered.
        cache.forget(session);
        cache.remember_live(ticket, session, subject);
        assert!(!cache.is_live(session, subject));
    }

    #[test]
    fn nothing_is_served_or_remembered_while_not_listening() {
        let cache = listening_cache();
        let (session, subject) = (Uuid::new_v4(), citizen());
        cache.remember_live(cache.ticket(), session, subject);
        cache.stop_listening();
        assert!(!cache.is_live(session, subject));
        cache.remember_live(cache.ticket(), session, subject);
        cache.start_listening();
        assert!(
            !cache.is_live(session, subject),
            "listening again starts from an empty memory"
        );
    }

    #[test]
    fn an_unexpected_payload_forgets_everything() {
        let cache = listening_cache();
        let (session, subject) = (Uuid::new_v4(), citizen());
        cache.remember_live(cache.ticket(), session, subject);
        cache.announced("*");
        assert!(!cache.is_live(session, subject));
    }

    #[test]
    fn remembered_tokens_still_expire() {
        use super::super::model::Assurance;
        use crate::keys::SigningKey;
        let signer = TokenSigner::new(SigningKey::generate().unwrap(), 60);
        let cache = listening_cache();
        let now = crate::clock::system_time();
        let token = signer.issue(citizen(), Uuid::new_v4(), Assurance::RealNameVerified, now);
        assert!(cache.verify(&signer, &token, now).is_ok());
        assert_eq!(
            cache.verify(&signer, &token, now + chrono::Duration::seconds(3600)),
            Err(TokenError::Expired)
        );
        let mut forged = token.clone();
        forged.push('x');
        assert!(cache.verify(&signer, &forged, now).is_err());
    }

    #[test]
    fn a_zero_time_to_live_remembers_nothing() {
        let cache = SessionCache::new(Duration::ZERO, 100);
        cache.start_listening();
        let (session, subject) = (Uuid::new_v4(), citizen());
        cache.remember_live(cache.ticket(), session, subject);
        assert!(!cache.is_live(session, subject));
    }
}
