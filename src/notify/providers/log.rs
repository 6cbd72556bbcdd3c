//! `LogOnlyProvider`: prints messages instead of sending them, for local demos only. The server
//! refuses to start with it in production mode.

use super::super::provider::{Address, OutgoingMessage, Provider, SendFuture, SendOutcome};

pub struct LogOnlyProvider {
    pub name: &'static str,
}

impl Provider for LogOnlyProvider {
    fn name(&self) -> &'static str {
        self.name
    }

    fn is_demo_only(&self) -> bool {
        true
    }

    fn send<'a>(&'a self, message: &'a OutgoingMessage) -> SendFuture<'a> {
        Box::pin(async move {
            // Addresses are shown masked: logs never hold a full phone number or token.
            let to = match &message.address {
                Address::Phone(p) if p.len() >= 7 => {
                    format!("{}****{}", &p[..3], &p[p.len() - 4..])
                }
                Address::Phone(_) => "***".to_owned(),
                Address::Email(e) => e
                    .split_once('@')
                    .map(|(_, d)| format!("***@{d}"))
                    .unwrap_or_default(),
                Address::Device { platform, token } => {
                    format!(
                        "{platform:?}:{}…",
                        token.chars().take(6).collect::<String>()
                    )
                }
            };
            tracing::info!(
                provider = self.name,
                to = %to,
                message_id = %message.message_id,
                text = %message.body,
                "demo provider: message not sent, only logged"
            );
            Ok(SendOutcome {
                provider_message_id: Some(format!("log-{}", message.message_id.simple())),
            })
        })
    }
}
