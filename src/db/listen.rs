//! A dedicated connection for `LISTEN`: pooled connections drop asynchronous messages, so a
//! component that reacts to `NOTIFY` (the session cache's revocations) opens its own, with the
//! same settings (and TLS) as the pool.

use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres::{AsyncMessage, Client, NoTls, Socket};

/// A notification received on a listening connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub channel: String,
    pub payload: String,
}

/// How to open a listening connection to the pool's database.
#[derive(Clone)]
pub struct ListenConnector {
    config: tokio_postgres::Config,
    tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
}

/// An open listening connection: the client to send `LISTEN` and health checks on, and the
/// notifications in arrival order. The receiver ends when the connection does.
pub struct Listening {
    pub client: Client,
    pub notifications: mpsc::UnboundedReceiver<Notification>,
}

impl ListenConnector {
    /// Plain text, as to the embedded cluster on loopback.
    pub fn plain(config: tokio_postgres::Config) -> ListenConnector {
        ListenConnector { config, tls: None }
    }

    /// Through rustls, as the pool to an external server.
    pub fn tls(
        config: tokio_postgres::Config,
        tls: tokio_postgres_rustls::MakeRustlsConnect,
    ) -> ListenConnector {
        ListenConnector {
            config,
            tls: Some(tls),
        }
    }

    pub async fn connect(&self) -> Result<Listening, tokio_postgres::Error> {
        match &self.tls {
            None => self.connect_with(NoTls).await,
            Some(tls) => self.connect_with(tls.clone()).await,
        }
    }

    async fn connect_with<T>(&self, tls: T) -> Result<Listening, tokio_postgres::Error>
    where
        T: MakeTlsConnect<Socket> + Send,
        T::Stream: Send + 'static,
        T::TlsConnect: Send,
        <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
    {
        let (client, mut connection) = self.config.connect(tls).await?;
        let (sender, notifications) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
            while let Some(message) = messages.next().await {
                match message {
                    Ok(AsyncMessage::Notification(n)) => {
                        let notification = Notification {
                            channel: n.channel().to_owned(),
                            payload: n.payload().to_owned(),
                        };
                        if sender.send(notification).is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(err) => {
                        tracing::warn!(error = %err, "listening database connection failed");
                        return;
                    }
                }
            }
        });
        Ok(Listening {
            client,
            notifications,
        })
    }
}
