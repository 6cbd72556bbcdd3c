//! Recomputing open cases' deadlines when a year's official calendar is loaded or corrected.
//!
//! Deadlines are never stored (see [`crate::cases::clock`]): every view computes them from the
//! calendar of the moment. What a load changes is what people were told. So for each new
//! calendar version one job goes through every accepted, open case in id order and compares
//! its deadline under the year as it was (the previous version, or provisional weekdays) with
//! the new one; where the date moved it writes a `deadline_recomputed` event into the case's
//! timeline and tells the applicant (and agent) and the staff the case waits on, once.
//!
//! The job runs under a PostgreSQL advisory lock, so one instance works at a time. Each batch
//! commits its events, its notices and the job's cursor together: after a crash the next run
//! resumes after the last case committed, and nobody is told twice (the notices' idempotency
//! keys name the calendar version too).

use std::time::Duration;

use chrono::NaiveDate;
use serde_json::{Map, Value, json};
use tokio::sync::watch;
use uuid::Uuid;

use super::*;
use crate::calendar::model::YearCalendar;

/// Cases per transaction.
const BATCH: i64 = 100;
/// How often an instance looks for calendar versions loaded elsewhere.
const POLL: Duration = Duration::from_secs(30);
/// The advisory lock key: one recompute at a time across instances.
const LOCK_KEY: i64 = 0x6669_6e67_6572_0001;

/// One calendar version to recompute for.
struct Job {
    id: i64,
    year: i32,
    version: i32,
    before: Option<Value>,
    after: Value,
    after_case: Option<Uuid>,
}

impl CaseService {
    /// Runs the recompute worker until `shutdown`: at start (to resume), after every load in
    /// this instance, and every [`POLL`] for loads in others.
    pub fn spawn_deadline_recompute(
        &self,
        mut shutdown: watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let service = self.clone();
        let loaded = self.calendar.loads();
        tokio::spawn(async move {
            loop {
                if let Err(error) = service.recompute_deadlines().await {
                    tracing::error!(error = %error, "recomputing deadlines after a calendar load");
                }
                tokio::select! {
                    _ = shutdown.wait_for(|stop| *stop) => break,
                    _ = loaded.notified() => {},
                    _ = tokio::time::sleep(POLL) => {},
                }
            }
        })
    }

    /// Works every pending job to its end; returns how many cases' deadlines moved. Does
    /// nothing when another instance holds the lock.
    pub async fn recompute_deadlines(&self) -> AppResult<u64> {
        let lock = self.pool.get().await?;
        let locked: bool = lock
            .query_one("SELECT pg_try_advisory_lock($1)", &[&LOCK_KEY])
            .await?
            .get(0);
        if !locked {
            return Ok(0);
        }
        let result = self.work_pending_jobs().await;
        lock.execute("SELECT pg_advisory_unlock($1)", &[&LOCK_KEY])
            .await?;
        result
    }

    async fn work_pending_jobs(&self) -> AppResult<u64> {
        let client = self.pool.get().await?;
        // A job for every version loaded since (here or by another instance).
        client
            .execute(
                "INSERT INTO calendar_recompute_job (year, version)
                 SELECT v.year, v.version FROM calendar_year_version v
                  WHERE NOT EXISTS (SELECT 1 FROM calendar_recompute_job j
                                     WHERE j.year = v.year AND j.version = v.version)
                  ORDER BY v.loaded_at, v.year",
                &[],
            )
            .await?;
        let jobs = client
            .query(
                "SELECT j.id, j.year, j.version, p.days, v.days, j.after_case
                   FROM calendar_recompute_job j
                   JOIN calendar_year_version v USING (year, version)
                   LEFT JOIN calendar_year_version p
                          ON p.year = j.year AND p.version = j.version - 1
                  WHERE j.finished_at IS NULL ORDER BY j.id",
                &[],
            )
            .await?;
        drop(client);
        let mut moved = 0;
        for row in jobs {
            let job = Job {
                id: row.get(0),
                year: row.get(1),
                version: row.get(2),
                before: row.get(3),
                after: row.get(4),
                after_case: row.get(5),
            };
            moved += self.work_job(job).await?;
        }
        Ok(moved)
    }

    async fn work_job(&self, mut job: Job) -> AppResult<u64> {
        self.calendar.reload().await;
        let current = self.calendar.calendar().await?;
        let with_year = |days: Option<&Value>| -> AppResult<Calendar> {
            let mut calendar = current.clone();
            match days {
                Some(days) => calendar.insert(year_from_days(job.year, days)?),
                None => calendar.remove(job.year),
            }
            Ok(calendar)
        };
        let before = with_year(job.before.as_ref())?;
        let after = with_year(Some(&job.after))?;
        let today = self.clock.today();
        let mut moved = 0u64;
        loop {
            let mut client = self.pool.get().await?;
            let tx = client.transaction().await?;
            let rows = store::open_accepted_after(&*tx, job.after_case, BATCH).await?;
            let Some(last) = rows.last().map(|r| r.id) else {
                tx.execute(
                    "UPDATE calendar_recompute_job SET finished_at = clock_now() WHERE id = $1",
                    &[&job.id],
                )
                .await?;
                tx.commit().await?;
                tracing::info!(
                    year = job.year,
                    version = job.version,
                    moved,
                    "deadlines recomputed"
                );
                return Ok(moved);
            };
            let mut moved_here = 0i32;
            for row in &rows {
                if self
                    .recompute_case(&tx, row, &job, &before, &after, today)
                    .await?
                {
                    moved_here += 1;
                }
            }
            let seen = i32::try_from(rows.len()).unwrap_or(i32::MAX);
            tx.execute(
                "UPDATE calendar_recompute_job
                    SET after_case = $2, cases_seen = cases_seen + $3, cases_moved = cases_moved + $4
                  WHERE id = $1",
                &[&job.id, &last, &seen, &moved_here],
            )
            .await?;
            tx.commit().await?;
            job.after_case = Some(last);
            moved += u64::try_from(moved_here).unwrap_or(0);
        }
    }

    /// One case: `true` when its deadline moved (then its timeline and people are told).
    async fn recompute_case(
        &self,
        tx: &Transaction<'_>,
        row: &CaseRow,
        job: &Job,
        before: &Calendar,
        after: &Calendar,
        today: NaiveDate,
    ) -> AppResult<bool> {
        let Some(accepted_on) = row.accepted_on else {
            return Ok(false);
        };
        let clock = case_clock(row, accepted_on);
        // A record the clock refuses (it shows as deadline_unavailable) has nothing to move.
        let (Ok(old), Ok(new)) = (
            clock::deadline_facts(before, &clock, today),
            clock::deadline_facts(after, &clock, today),
        ) else {
            return Ok(false);
        };
        if old.deadline == new.deadline {
            return Ok(false);
        }
        let basis = provisional::basis(&new.provisional_years);
        let details = json!({
            "year": job.year,
            "calendar_version": job.version,
            "old_deadline": old.deadline,
            "new_deadline": new.deadline,
            "provisional": basis.is_some(),
        });
        store::append_events(
            tx,
            row.id,
            &row.region_code,
            &[store::NewEvent {
                kind: "deadline_recomputed",
                details,
                actor: "system",
                actor_kind: "system",
                department_id: None,
                occurred_at: None,
                on_behalf_of: None,
            }],
        )
        .await?;
        let date = |d: NaiveDate| d.format("%Y年%m月%d日").to_string();
        let note = basis.map(|b| format!("（{b}）")).unwrap_or_default();
        let mut v = Map::new();
        v.insert("year".to_owned(), json!(job.year.to_string()));
        v.insert("item".to_owned(), json!(row.item_name));
        v.insert(
            "acceptance_number".to_owned(),
            json!(row.acceptance_number.clone().unwrap_or_default()),
        );
        v.insert("old_deadline".to_owned(), json!(date(old.deadline)));
        v.insert("new_deadline".to_owned(), json!(date(new.deadline)));
        v.insert("deadline_basis".to_owned(), json!(note));
        let event_kind = format!("deadline_recomputed:{}:{}", job.year, job.version);
        let notice = CaseNotice {
            template: "case.deadline_recomputed",
            variables: v.clone(),
            must_reach: false,
            event_kind: &event_kind,
            attachments: &[],
        };
        self.notify(tx, &Addressees::of(row), notice).await?;
        for handler in store::current_handlers(tx, row.id).await? {
            let notification = NewNotification {
                template_key: "staff.deadline_recomputed".to_owned(),
                variables: v.clone(),
                idempotency_key: format!("case:{}:{event_kind}:{handler}", row.id),
                recipient: Recipient::Owner {
                    owner: handler,
                    phone: None,
                    email: None,
                },
                channels: vec![Channel::Email],
                must_reach: false,
                priority: 5,
            };
            outbox::enqueue_prepared(tx, &notification, &[], &self.outbox)
                .await
                .map_err(|e| anyhow::anyhow!("enqueueing staff.deadline_recomputed: {e}"))?;
        }
        Ok(true)
    }
}

/// A year's calendar from a stored version's days (`[{"date", "kind", "note"}]`).
fn year_from_days(year: i32, days: &Value) -> AppResult<YearCalendar> {
    let entries = days.as_array().cloned().unwrap_or_default();
    let mut off = Vec::new();
    let mut work = Vec::new();
    for entry in entries {
        let date: NaiveDate = entry["date"]
            .as_str()
            .and_then(|d| d.parse().ok())
            .ok_or_else(|| anyhow::anyhow!("calendar version of {year}: a day without a date"))?;
        match entry["kind"].as_str() {
            Some("day_off") => off.push(date),
            _ => work.push(date),
        }
    }
    Ok(YearCalendar::new(year, off, work)
        .map_err(|e| anyhow::anyhow!("calendar version of {year}: {e}"))?)
}
