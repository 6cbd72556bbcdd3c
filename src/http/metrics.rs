//! Prometheus metrics: request counts and latency histograms by route pattern and status.

use std::time::Instant;

use poem::PathPattern;
use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result};
use prometheus::{
    Encoder, Gauge, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    notifications: IntCounterVec,
    outbox_depth: IntGauge,
    outbox_oldest_seconds: Gauge,
    session_revocations_listening: IntGauge,
    calendar_working_days_ahead: IntGauge,
    longest_promised_limit: IntGauge,
    calendar_edge_warning: IntGauge,
}

impl Metrics {
    pub fn new() -> anyhow::Result<Self> {
        let registry = Registry::new_custom(Some("fingertip".to_owned()), None)?;
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests by route pattern, method and status",
            ),
            &["method", "route", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "HTTP request latency by route pattern, method and status",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
            &["method", "route", "status"],
        )?;
        let notifications = IntCounterVec::new(
            Opts::new(
                "notifications_total",
                "Notification deliveries by channel, provider and outcome (sent, delivered, failed…)",
            ),
            &["channel", "provider", "status"],
        )?;
        let outbox_depth =
            IntGauge::new("notification_outbox_depth", "Deliveries waiting to be sent")?;
        let outbox_oldest_seconds = Gauge::new(
            "notification_outbox_oldest_pending_seconds",
            "Age of the oldest delivery waiting to be sent",
        )?;
        let session_revocations_listening = IntGauge::new(
            "session_revocations_listening",
            "1 while session revocations are heard (the gate may remember live sessions), else 0",
        )?;
        let calendar_working_days_ahead = IntGauge::new(
            "calendar_working_days_ahead",
            "Working days after today that the loaded working-day calendar reaches",
        )?;
        let longest_promised_limit = IntGauge::new(
            "catalog_longest_promised_limit_working_days",
            "Longest promised time limit among published items, in working days",
        )?;
        let calendar_edge_warning = IntGauge::new(
            "calendar_edge_warning",
            "1 while the official calendar reaches less than the longest promised limit plus 30 working days (load next year's holiday arrangement), else 0",
        )?;
        registry.register(Box::new(calendar_edge_warning.clone()))?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(calendar_working_days_ahead.clone()))?;
        registry.register(Box::new(longest_promised_limit.clone()))?;
        registry.register(Box::new(session_revocations_listening.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(notifications.clone()))?;
        registry.register(Box::new(outbox_depth.clone()))?;
        registry.register(Box::new(outbox_oldest_seconds.clone()))?;
        Ok(Self {
            registry,
            requests,
            latency,
            notifications,
            outbox_depth,
            outbox_oldest_seconds,
            session_revocations_listening,
            calendar_working_days_ahead,
            longest_promised_limit,
            calendar_edge_warning,
        })
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Counts one delivery outcome.
    pub fn notification(&self, channel: &str, provider: &str, status: &str) {
        self.notifications
            .with_label_values(&[channel, provider, status])
            .inc();
    }

    /// The outbox as last measured: how many deliveries wait, and for how long the oldest has.
    pub fn set_outbox(&self, depth: i64, oldest_seconds: f64) {
        self.outbox_depth.set(depth);
        self.outbox_oldest_seconds.set(oldest_seconds);
    }

    /// Whether the session cache hears revocations, as read at scrape time.
    pub fn set_session_revocations_listening(&self, listening: bool) {
        self.session_revocations_listening.set(i64::from(listening));
    }

    /// How far the working-day calendar reaches beside the longest limit it must cover, and
    /// whether that is too little (`crate::calendar_edge`): a case accepted today whose limit
    /// runs past the calendar gets a provisional deadline until the next year's schedule is
    /// loaded.
    pub fn set_calendar_reach(
        &self,
        working_days_ahead: u32,
        longest_promised_limit: i64,
        edge_warning: bool,
    ) {
        self.calendar_working_days_ahead
            .set(i64::from(working_days_ahead));
        self.longest_promised_limit.set(longest_promised_limit);
        self.calendar_edge_warning.set(i64::from(edge_warning));
    }

    /// The Prometheus text exposition of every registered metric.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        if let Err(err) = TextEncoder::new().encode(&self.registry.gather(), &mut buf) {
            tracing::error!(error = %err, "encoding metrics");
        }
        String::from_utf8(buf).unwrap_or_default()
    }
}

pub struct MetricsMiddleware(pub Metrics);

impl<E: Endpoint> Middleware<E> for MetricsMiddleware {
    type Output = MetricsEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        MetricsEndpoint {
            inner: ep,
            metrics: self.0.clone(),
        }
    }
}

pub struct MetricsEndpoint<E> {
    inner: E,
    metrics: Metrics,
}

impl<E: Endpoint> Endpoint for MetricsEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Self::Output> {
        let method = req.method().to_string();
        let started = Instant::now();
        let response = match self.inner.call(req).await {
            Ok(output) => output.into_response(),
            Err(err) => err.into_response(),
        };
        // The router records the matched pattern on the response; unmatched paths share one
        // label so a scanner cannot blow up the label cardinality.
        let route = response
            .data::<PathPattern>()
            .map(|p| p.0.to_string())
            .unwrap_or_else(|| "unmatched".to_owned());
        let status = response.status().as_u16().to_string();
        let labels = [method.as_str(), route.as_str(), status.as_str()];
        self.metrics.requests.with_label_values(&labels).inc();
        self.metrics
            .latency
            .with_label_values(&labels)
            .observe(started.elapsed().as_secs_f64());
        Ok(response)
    }
}
