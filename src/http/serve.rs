//! The accept loop: poem's endpoints served by hyper with a deadline on every request head.
//!
//! poem's `Server` builds hyper's connections without a timer, and without one hyper's
//! `header_read_timeout` is off: a client that sends its request head a byte every few seconds
//! keeps the idle deadline ([`super::idle_deadline`]) at bay and holds the connection, a task
//! and a file descriptor for as long as it likes (slowloris). Here every HTTP/1 request head
//! must arrive whole within [`Deadlines::header`] of hyper starting to wait for it, or hyper closes
//! the connection without an answer; a keep-alive connection waiting for its next request is
//! waiting for a head too. Bodies are not limited this way: a slow mobile upload keeps moving
//! bytes, and the idle deadline closes one that stops.
//!
//! Everything else is what poem's `Server` does: a request becomes a poem [`Request`] with the
//! connection's addresses and scheme (which carry the client certificate on the mTLS
//! listener), HTTP/1 and HTTP/2 (prior knowledge) are both served, and on the stop signal the
//! listener closes, keep-alive connections are asked to close after their request in progress,
//! and those still busy after the grace period are dropped.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use poem::listener::Acceptor;
use poem::{Endpoint, EndpointExt, IntoEndpoint, Request};

use super::idle_deadline::IdleDeadline;
use super::unparsed_request::ProblemForUnparsed;

/// The body type poem's responses convert into.
type ResponseBody = BoxBody<Bytes, io::Error>;

/// How long an accept error (out of file descriptors, say) pauses the loop, so that it retries
/// instead of spinning.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(50);

/// How long a connection may take over what.
#[derive(Debug, Clone, Copy)]
pub struct Deadlines {
    /// Nothing written and too little read for this long closes the connection
    /// ([`IdleDeadline`]).
    pub idle: Duration,
    /// A request head must arrive whole within this long.
    pub header: Duration,
    /// After the stop signal, requests in progress may finish within this long.
    pub shutdown_grace: Duration,
}

/// Serves `endpoint` on the connections `acceptor` yields until `stop` completes, then waits
/// for requests in progress up to the grace period.
pub async fn serve<A, E>(
    acceptor: A,
    endpoint: E,
    stop: impl Future<Output = ()>,
    deadlines: Deadlines,
) where
    A: Acceptor,
    E: IntoEndpoint,
    E::Endpoint: 'static,
{
    let mut acceptor = IdleDeadline::new(acceptor, deadlines.idle);
    let endpoint = Arc::new(endpoint.into_endpoint().map_to_response());
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(deadlines.header);
    let graceful = GracefulShutdown::new();
    tokio::pin!(stop);
    loop {
        let accepted = tokio::select! {
            _ = &mut stop => break,
            accepted = acceptor.accept() => accepted,
        };
        let (io, local_addr, remote_addr, scheme) = match accepted {
            Ok(connection) => connection,
            Err(error) => {
                tracing::warn!(%error, "accepting a connection failed");
                tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                continue;
            }
        };
        let endpoint = endpoint.clone();
        let service = hyper::service::service_fn(move |request| {
            let endpoint = endpoint.clone();
            let request = Request::from((
                request,
                local_addr.clone(),
                remote_addr.clone(),
                scheme.clone(),
            ));
            async move {
                let response: hyper::Response<ResponseBody> =
                    endpoint.get_response(request).await.into();
                Ok::<_, Infallible>(response)
            }
        });
        let connection = builder
            .serve_connection(TokioIo::new(ProblemForUnparsed::new(io)), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // A client that hangs up, sends garbage or misses the head deadline ends here; hyper
            // has already answered what deserved an answer.
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection ended with an error");
            }
        });
    }
    // Stop listening before waiting for the connections in progress.
    drop(acceptor);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(deadlines.shutdown_grace) => {
            tracing::warn!(
                grace_seconds = deadlines.shutdown_grace.as_secs(),
                "requests still in progress at shutdown were cut off"
            );
        }
    }
}
