//! Liveness (`/healthz`), readiness (`/readyz`: database reachable and migrated) and `/metrics`.

use std::sync::Arc;

use deadpool_postgres::Pool;
use poem::web::headers::HeaderMapExt;
use poem::web::headers::authorization::{Authorization, Bearer};
use poem_openapi::payload::{Json, PlainText};
use poem_openapi::{ApiResponse, Object, OpenApi};

use crate::calendar::service::CalendarService;
use crate::catalog::store as catalog_store;
use crate::db::migrate;
use crate::http::HttpProblem;
use crate::http::metrics::Metrics;
use crate::http::shared_token::SharedToken;
use crate::http::{ApiTags, AppError, AppResult};
use crate::identity::session_cache::SessionCache;

pub struct HealthApi {
    pub pool: Pool,
    pub metrics: Metrics,
    pub sessions: Arc<SessionCache>,
    pub calendar: Arc<CalendarService>,
    /// The scraper's bearer token; `None` leaves `/metrics` open (development only).
    pub token: Option<Arc<SharedToken>>,
}

#[derive(Object)]
pub struct HealthStatus {
    /// `ok`, or what is not ready.
    pub status: String,
    /// What operators must see to while the service stays ready (e.g. `calendar_edge: …`).
    #[oai(skip_serializing_if = "Vec::is_empty", default)]
    pub warnings: Vec<String>,
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
            warnings: Vec::new(),
        })
    }

    /// The database is reachable and every migration is applied.
    #[oai(path = "/readyz", method = "get")]
    async fn readyz(&self) -> ReadyResponse {
        let not_ready = |status: &str| {
            ReadyResponse::NotReady(Json(HealthStatus {
                status: status.to_owned(),
                warnings: Vec::new(),
            }))
        };
        let client = match self.pool.get().await {
            Ok(c) => c,
            Err(_) => return not_ready("database unreachable"),
        };
        let current = migrate::is_current(&client).await;
        drop(client);
        match current {
            Ok(true) => {
                // A warning never makes the service unready: it serves, provisionally.
                let warnings = match crate::calendar_edge::measure(&self.pool, &self.calendar).await
                {
                    Ok(edge) if edge.warns() => vec![edge.describe()],
                    _ => Vec::new(),
                };
                ReadyResponse::Ready(Json(HealthStatus {
                    status: "ok".to_owned(),
                    warnings,
                }))
            }
            Ok(false) => not_ready("migrations pending"),
            Err(_) => not_ready("migrations pending"),
        }
    }

    /// Prometheus text exposition: request counts and latency histograms by route and status.
    ///
    /// Gauges are read at scrape time. With `metrics_token` configured (always in production)
    /// the scraper presents it as `Authorization: Bearer <token>`.
    #[oai(path = "/metrics", method = "get")]
    async fn metrics(&self, request: &poem::Request) -> AppResult<PlainText<String>> {
        if let Some(token) = &self.token {
            let presented = request.headers().typed_get::<Authorization<Bearer>>();
            if !presented.is_some_and(|p| token.matches(p.token())) {
                return Err(AppError::new(
                    HttpProblem::MetricsTokenRequired,
                    "present the metrics token as Authorization: Bearer <token>",
                ));
            }
        }
        // The gauges below are read at scrape time; a database hiccup leaves the last values.
        if let Ok(client) = self.pool.get().await {
            if let Ok(row) = client
                .query_one(
                    "SELECT count(*), COALESCE(extract(epoch FROM now() - min(created_at))::float8, 0)
                     FROM notification_delivery WHERE status IN ('created', 'temporary_failure')",
                    &[],
                )
                .await
            {
                self.metrics.set_outbox(row.get(0), row.get(1));
            }
            if let (Ok(ahead), Ok(longest)) = (
                self.calendar
                    .working_days_ahead(self.calendar.clock().today())
                    .await,
                catalog_store::longest_promised_limit(&client).await,
            ) {
                let edge = crate::calendar_edge::Edge::of(ahead, longest);
                self.metrics
                    .set_calendar_reach(ahead, longest, edge.warns());
            }
        }
        self.metrics
            .set_session_revocations_listening(self.sessions.is_listening());
        Ok(PlainText(self.metrics.render()))
    }
}
