//! Delivery receipts: the SMS providers' status callbacks (and SMPP deliver_sm receipts) move a
//! sent delivery to delivered or failed. Callbacks are authenticated with a shared token in the
//! callback URL, as Aliyun's and Tencent's HTTP pushes carry no signature of their own.

use std::sync::Arc;

use poem_openapi::param::Query;
use poem_openapi::payload::{Binary, Json};
use poem_openapi::{ApiResponse, OpenApi};

use super::provider::DeliveryReceipt;
use super::providers::{aliyun, tencent};
use crate::http::HttpProblem;
use crate::http::shared_token::SharedToken;
use crate::http::{ApiTags, AppError, AppResult};

/// Applies one receipt; returns whether a sent delivery matched.
pub async fn apply(
    client: &impl tokio_postgres::GenericClient,
    provider: &str,
    provider_message_id: &str,
    delivered: bool,
    error_code: Option<&str>,
) -> Result<bool, tokio_postgres::Error> {
    let status = if delivered {
        "delivered"
    } else {
        "permanent_failure"
    };
    let row = client
        .query_opt(
            "UPDATE notification_delivery
             SET status = $3, delivered_at = CASE WHEN $3 = 'delivered' THEN now() END,
                 last_error = CASE WHEN $3 = 'delivered' THEN NULL ELSE $4 END
             WHERE provider = $1 AND provider_message_id = $2 AND status = 'sent'
             RETURNING id",
            &[
                &provider,
                &provider_message_id,
                &status,
                &error_code.map(|c| format!("receipt: {c}")),
            ],
        )
        .await?;
    let Some(row) = row else { return Ok(false) };
    let id: uuid::Uuid = row.get(0);
    client
        .execute(
            "INSERT INTO notification_event (delivery_id, status, detail) VALUES ($1, $2, $3)",
            &[
                &id,
                &status,
                &format!(
                    "{provider} receipt{}",
                    error_code.map(|c| format!(": {c}")).unwrap_or_default()
                ),
            ],
        )
        .await?;
    Ok(true)
}

pub struct ReceiptsApi {
    pub pool: deadpool_postgres::Pool,
    pub metrics: Option<crate::http::metrics::Metrics>,
    /// The callback token; `None` closes the callbacks.
    pub token: Option<Arc<SharedToken>>,
}

impl ReceiptsApi {
    pub fn new(
        pool: deadpool_postgres::Pool,
        token: Option<Arc<SharedToken>>,
        metrics: Option<crate::http::metrics::Metrics>,
    ) -> Self {
        ReceiptsApi {
            pool,
            metrics,
            token,
        }
    }

    fn check(&self, token: &str) -> AppResult<()> {
        let ok = self.token.as_ref().is_some_and(|t| t.matches(token));
        if ok {
            Ok(())
        } else {
            Err(AppError::new(
                HttpProblem::Unauthorized,
                "invalid or missing callback token",
            ))
        }
    }

    async fn apply_all(&self, provider: &str, receipts: Vec<DeliveryReceipt>) -> AppResult<()> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        for r in receipts {
            let code = r.error_code.as_deref();
            let matched = apply(&*tx, provider, &r.provider_message_id, r.delivered, code).await?;
            if let (true, Some(metrics)) = (matched, &self.metrics) {
                let status = if r.delivered {
                    "delivered"
                } else {
                    "permanent_failure"
                };
                metrics.notification("sms", provider, status);
            }
        }
        tx.commit().await?;
        Ok(())
    }
}

#[derive(ApiResponse)]
pub enum Ack {
    /// The acknowledgement body the provider expects.
    #[oai(status = 200)]
    Ok(Json<serde_json::Value>),
}

fn bad_body(detail: String) -> AppError {
    AppError::new(HttpProblem::InvalidBody, detail)
}

#[OpenApi(prefix_path = "/api/v1/integration", tag = "ApiTags::Integration")]
impl ReceiptsApi {
    /// Aliyun SmsReport push (短信回执).
    #[oai(path = "/sms/aliyun/receipts", method = "post")]
    async fn aliyun_receipts(
        &self,
        token: Query<Option<String>>,
        body: Binary<Vec<u8>>,
    ) -> AppResult<Ack> {
        // A missing token is a 401 like a wrong one, not a 400 about a missing parameter.
        self.check(token.0.as_deref().unwrap_or_default())?;
        let receipts = aliyun::parse_reports(&body.0).map_err(bad_body)?;
        self.apply_all("aliyun", receipts).await?;
        Ok(Ack::Ok(Json(
            serde_json::from_str(aliyun::REPORT_ACK).map_err(anyhow::Error::from)?,
        )))
    }

    /// Tencent Cloud SMS status callback (短信下发状态回调).
    #[oai(path = "/sms/tencent/receipts", method = "post")]
    async fn tencent_receipts(
        &self,
        token: Query<Option<String>>,
        body: Binary<Vec<u8>>,
    ) -> AppResult<Ack> {
        self.check(token.0.as_deref().unwrap_or_default())?;
        let receipts = tencent::parse_reports(&body.0).map_err(bad_body)?;
        self.apply_all("tencent", receipts).await?;
        Ok(Ack::Ok(Json(
            serde_json::from_str(tencent::REPORT_ACK).map_err(anyhow::Error::from)?,
        )))
    }
}
