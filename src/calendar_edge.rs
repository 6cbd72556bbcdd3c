//! Warning operators before the calendar's edge: when the official working-day calendar
//! reaches less than the longest promised limit plus 30 working days ahead, new deadlines are
//! about to run into a year that is counted provisionally. The metric
//! `fingertip_calendar_edge_warning` and `/readyz` say so at once; platform administrators get
//! a must-reach notice through the hub, at most once a week, until the year is loaded.
//!
//! This watch composes the calendar, the catalog and the hub, so it sits above all three.

use std::time::Duration;

use chrono::Datelike;
use deadpool_postgres::Pool;
use serde_json::{Map, json};
use std::sync::Arc;
use tokio::sync::watch;

use crate::calendar::service::CalendarService;
use crate::catalog::store as catalog_store;
use crate::http::AppResult;
use crate::notify::model::Channel;
use crate::notify::outbox::{self, NewNotification, OutboxSettings, Recipient};

/// The margin beyond the longest promised limit the official calendar must reach.
pub const MARGIN_WORKING_DAYS: i64 = 30;
/// How often the watch looks.
const EVERY: Duration = Duration::from_secs(3600);

/// How far the calendar reaches beside what it must reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edge {
    pub working_days_ahead: u32,
    /// The longest promised limit plus [`MARGIN_WORKING_DAYS`].
    pub needed: i64,
}

impl Edge {
    pub fn of(working_days_ahead: u32, longest_promised_limit: i64) -> Edge {
        Edge {
            working_days_ahead,
            needed: longest_promised_limit + MARGIN_WORKING_DAYS,
        }
    }

    /// The calendar reaches too little ahead.
    pub fn warns(&self) -> bool {
        i64::from(self.working_days_ahead) < self.needed
    }

    /// What `/readyz` shows while it warns.
    pub fn describe(&self) -> String {
        format!(
            "calendar_edge: the official working-day calendar reaches {} working days ahead, fewer than the longest promised limit plus {MARGIN_WORKING_DAYS} ({}); load next year's holiday arrangement (PUT /api/v1/admin/calendar/{{year}})",
            self.working_days_ahead, self.needed
        )
    }
}

/// The edge as of today on the application clock.
pub async fn measure(pool: &Pool, calendar: &CalendarService) -> AppResult<Edge> {
    let client = pool.get().await?;
    let longest = catalog_store::longest_promised_limit(&client).await?;
    let ahead = calendar
        .working_days_ahead(calendar.clock().today())
        .await?;
    Ok(Edge::of(ahead, longest))
}

/// Checks the edge every hour and warns the platform administrators when it is near; returns
/// the watch's task.
pub fn spawn_watch(
    pool: Pool,
    calendar: Arc<CalendarService>,
    outbox: OutboxSettings,
    mut shutdown: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if let Err(error) = warn_if_near(&pool, &calendar, &outbox).await {
                tracing::error!(error = %error, "checking the working-day calendar's edge");
            }
            tokio::select! {
                _ = shutdown.wait_for(|stop| *stop) => break,
                _ = tokio::time::sleep(EVERY) => {},
            }
        }
    })
}

/// Sends the weekly warning when the edge is near and none went in the last seven days;
/// `true` when it sent one.
pub async fn warn_if_near(
    pool: &Pool,
    calendar: &CalendarService,
    outbox: &OutboxSettings,
) -> AppResult<bool> {
    let edge = measure(pool, calendar).await?;
    if !edge.warns() {
        return Ok(false);
    }
    let today = calendar.clock().today();
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    // One instance at a time decides, so two do not both send this week's warning.
    tx.execute(
        "LOCK TABLE calendar_warning IN SHARE ROW EXCLUSIVE MODE",
        &[],
    )
    .await?;
    let recent: bool = tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM calendar_warning WHERE sent_on > $1::date - 7)",
            &[&today],
        )
        .await?
        .get(0);
    if recent {
        return Ok(false);
    }
    let admins = tx
        .query(
            "SELECT DISTINCT 'staff:' || s.id FROM staff s
               JOIN staff_role r ON r.staff_id = s.id AND r.revoked_at IS NULL
              WHERE r.role = 'platform_admin' AND s.active",
            &[],
        )
        .await?;
    let next_year = {
        let mut year = today.year();
        let loaded = calendar.calendar().await?;
        while loaded.year(year).is_some() {
            year += 1;
        }
        year
    };
    let mut variables = Map::new();
    variables.insert(
        "working_days_ahead".to_owned(),
        json!(edge.working_days_ahead.to_string()),
    );
    variables.insert("needed".to_owned(), json!(edge.needed.to_string()));
    variables.insert("next_year".to_owned(), json!(next_year.to_string()));
    for admin in admins {
        let owner: String = admin.get(0);
        let notification = NewNotification {
            template_key: "admin.calendar_edge".to_owned(),
            variables: variables.clone(),
            idempotency_key: format!("calendar-edge:{today}:{owner}"),
            recipient: Recipient::Owner {
                owner,
                phone: None,
                email: None,
            },
            channels: vec![Channel::Email],
            must_reach: true,
            priority: 5,
        };
        outbox::enqueue(&*tx, &notification, outbox)
            .await
            .map_err(|e| anyhow::anyhow!("enqueueing admin.calendar_edge: {e}"))?;
    }
    tx.execute(
        "INSERT INTO calendar_warning (sent_on, working_days_ahead, needed) VALUES ($1, $2, $3)",
        &[
            &today,
            &i32::try_from(edge.working_days_ahead).unwrap_or(i32::MAX),
            &i32::try_from(edge.needed).unwrap_or(i32::MAX),
        ],
    )
    .await?;
    tx.commit().await?;
    tracing::warn!(
        working_days_ahead = edge.working_days_ahead,
        needed = edge.needed,
        next_year,
        "the working-day calendar's edge is near: administrators warned"
    );
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::Edge;

    #[test]
    fn it_warns_below_the_longest_limit_plus_thirty_working_days() {
        assert!(Edge::of(89, 60).warns());
        assert!(!Edge::of(90, 60).warns());
        assert!(Edge::of(0, 0).warns());
        assert!(
            Edge::of(27, 60)
                .describe()
                .contains("27 working days ahead")
        );
    }
}
