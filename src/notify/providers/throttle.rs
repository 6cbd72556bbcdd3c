//! `Throttled`: keeps a provider within its queries-per-second quota (Aliyun, Tencent and the
//! push services all publish one), spacing sends evenly instead of bursting into 429s.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

use super::super::provider::{OutgoingMessage, Provider, SendFuture};

pub struct Throttled {
    inner: Arc<dyn Provider>,
    interval: Duration,
    next_slot: Mutex<Instant>,
}

impl Throttled {
    /// At most `per_second` sends per second through `inner` (from this instance).
    pub fn new(inner: Arc<dyn Provider>, per_second: u32) -> Throttled {
        Throttled {
            inner,
            interval: Duration::from_secs_f64(1.0 / f64::from(per_second.max(1))),
            next_slot: Mutex::new(Instant::now()),
        }
    }

    /// Waits for this send's slot.
    async fn wait_turn(&self) {
        let slot = {
            let mut next = self.next_slot.lock().await;
            let now = Instant::now();
            let slot = (*next).max(now);
            *next = slot + self.interval;
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

impl Provider for Throttled {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn is_demo_only(&self) -> bool {
        self.inner.is_demo_only()
    }

    fn send<'a>(&'a self, message: &'a OutgoingMessage) -> SendFuture<'a> {
        Box::pin(async move {
            self.wait_turn().await;
            self.inner.send(message).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::provider::{Address, SendOutcome};

    struct Instant0;
    impl Provider for Instant0 {
        fn name(&self) -> &'static str {
            "instant"
        }
        fn send<'a>(&'a self, _: &'a OutgoingMessage) -> SendFuture<'a> {
            Box::pin(async {
                Ok(SendOutcome {
                    provider_message_id: None,
                })
            })
        }
    }

    #[tokio::test(start_paused = true)]
    async fn spaces_sends_to_the_quota() {
        let throttled = Arc::new(Throttled::new(Arc::new(Instant0), 10));
        let message = OutgoingMessage {
            message_id: uuid::Uuid::new_v4(),
            address: Address::Phone("13800138000".into()),
            title: None,
            body: "x".into(),
            provider_template: None,
            variables: Default::default(),
            priority: 5,
            attachments: Vec::new(),
        };
        let started = Instant::now();
        let mut sends = Vec::new();
        for _ in 0..21 {
            let (t, m) = (throttled.clone(), message.clone());
            sends.push(tokio::spawn(async move { t.send(&m).await }));
        }
        for s in sends {
            s.await.unwrap().unwrap();
        }
        // 21 sends at 10/s: the last one goes at 2 s.
        assert_eq!(started.elapsed(), Duration::from_secs(2));
    }
}
