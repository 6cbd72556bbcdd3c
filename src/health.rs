//! Liveness (`/healthz`), readiness (`/readyz`: database reachable and migrated) and `/metrics`.

use std::sync::Arc;

use deadpool_postgres::Pool;
use poem_openapi::payload::{Json, PlainText};
use poem_openapi::{ApiResponse, Object, OpenApi};

use crate::calendar::service::CalendarService;
use crate::cases::service::today;
use crate::db::migrate;
use crate::http::ApiTags;
use crate::http::metrics::Metrics;
use crate::identity::session_cache::SessionCache;

pub struct HealthApi {
    pub pool: Pool,
    pub metrics: Metrics,
    pub sessions: Arc<SessionCache>,
    pub calendar: Arc<CalendarService>,
}

#[derive(Object)]
pub struct HealthStatus {
    /// `ok`, or what is not ready.
    pub status: String,
}

#[derive(ApiResponse)]
pub enum ReadyResponse {
    /// Ready to serve.
    #[oai(status = 200)]
    Ready(Json<HealthStatus>),
    /// Not ready: database unreachable or migrations missing.
    #[oai(status = 503)]
    NotReady(Json<HealthStatus>),
}

#[OpenApi(tag = "ApiTags::Operations")]
impl HealthApi {
    /// The process is alive.
    #[oai(path = "/healthz", method = "get")]
    async fn healthz(&self) -> Json<HealthStatus> {
        Json(HealthStatus {
            status: "ok".to_owned(),
        })
    }

    /// The database is reachable and every migration is applied.
    #[oai(path = "/readyz", method = "get")]
    async fn readyz(&self) -> ReadyResponse {
        let not_ready = |status: &str| {
            ReadyResponse::NotReady(Json(HealthStatus {
                status: status.to_owned(),
            }))
        };
        let client = match self.pool.get().await {
            Ok(c) => c,
            Err(_) => return not_ready("database unreachable"),
        };
        match migrate::is_current(&client).await {
            Ok(true) => ReadyResponse::Ready(Json(HealthStatus {
                status: "ok".to_owned(),
            })),
            Ok(false) => not_ready("migrations pending"),
            Err(_) => not_ready("migrations pending"),
        }
    }

    /// Prometheus text exposition: request counts and latency histograms by route and status.
    #[oai(path = "/metrics", method = "get")]
    async fn metrics(&self) -> PlainText<String> {
        // The outbox gauges are read at scrape time; a database hiccup leaves the last values.
        if let Ok(client) = self.pool.get().await
            && let Ok(row) = client
                .query_one(
                    "SELECT count(*), COALESCE(extract(epoch FROM now() - min(created_at))::float8, 0)
                     FROM notification_delivery WHERE status IN ('created', 'temporary_failure')",
                    &[],
                )
                .await
        {
            self.metrics.set_outbox(row.get(0), row.get(1));
        }
        self.metrics
            .set_session_revocations_listening(self.sessions.is_listening());
        self.read_calendar_reach().await;
        PlainText(self.metrics.render())
    }
}

impl HealthApi {
    /// The calendar's reach and the catalog's longest promised limit, read at scrape time; a
    /// database hiccup leaves the last values.
    async fn read_calendar_reach(&self) {
        let Ok(calendar) = self.calendar.calendar().await else {
            return;
        };
        let Ok(client) = self.pool.get().await else {
            return;
        };
        let Ok(row) = client
            .query_one(
                "SELECT COALESCE(max((v.guide->>'promised_limit_days')::int8), 0)
                 FROM item i JOIN item_version v
                   ON v.item_id = i.id AND v.version = i.current_version
                 WHERE i.status = 'published'",
                &[],
            )
            .await
        else {
            return;
        };
        self.metrics
            .set_calendar_reach(calendar.working_days_ahead(today()), row.get(0));
    }
}
