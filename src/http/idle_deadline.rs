//! Connections that go quiet are closed. A client that opens connections and never finishes a
//! request head (slowloris), or keeps idle keep-alive connections open, would otherwise hold a
//! task and a file descriptor each for as long as it likes; enough of them and the server can
//! neither accept a connection nor open a blob.
//!
//! poem's own `idle_timeout` asks hyper for a graceful shutdown, which waits for the request in
//! progress, and a request whose head never completes is always in progress: that connection
//! stays. Here the connection's reads fail instead once nothing has been read or written for
//! the timeout, which ends hyper's connection whatever state it is in. hyper also reads while a
//! handler works (to notice a client that hangs up), so a handler that ran longer than the
//! timeout would lose its connection: the timeout (a minute by default) is far longer than any
//! handler takes, and a slow upload or download keeps the connection alive by moving bytes.
//!
//! A client that is never quiet but never finishes its head (a byte every few seconds) is left
//! to the head deadline of the accept loop ([`super::serve`]); this deadline covers what that
//! one does not, such as a request body that stops arriving. Reads count as traffic only once
//! [`MIN_READ_PROGRESS`] bytes have come in since the last traffic, so a body trickled a byte
//! at a time (just inside the timeout) does not hold the connection either: a client must send
//! at least that much a minute, which the slowest mobile upload does within a second.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use poem::http::uri::Scheme;
use poem::listener::Acceptor;
use poem::web::{LocalAddr, RemoteAddr};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// How many bytes read count as traffic: fewer, however spread out, keep no connection open.
/// Far below any request head, so a request that starts always counts.
pub const MIN_READ_PROGRESS: usize = 64;

/// Wraps an acceptor: every connection it accepts is closed after `timeout` without traffic.
pub struct IdleDeadline<A> {
    inner: A,
    timeout: Duration,
}

impl<A> IdleDeadline<A> {
    pub fn new(inner: A, timeout: Duration) -> Self {
        IdleDeadline { inner, timeout }
    }
}

impl<A: Acceptor> Acceptor for IdleDeadline<A> {
    type Io = DeadlineIo<A::Io>;

    fn local_addr(&self) -> Vec<LocalAddr> {
        self.inner.local_addr()
    }

    async fn accept(&mut self) -> io::Result<(Self::Io, LocalAddr, RemoteAddr, Scheme)> {
        let (io, local, remote, scheme) = self.inner.accept().await?;
        Ok((DeadlineIo::new(io, self.timeout), local, remote, scheme))
    }
}

/// A connection whose reads fail with `TimedOut` once it has been quiet for the timeout.
pub struct DeadlineIo<T> {
    inner: T,
    timeout: Duration,
    /// When a byte last went either way. Traffic only records the time; the timer is moved
    /// when it fires early, so busy connections touch no timer per read or write.
    last_traffic: Instant,
    /// Bytes read since the last traffic, not yet [`MIN_READ_PROGRESS`].
    read_since_traffic: usize,
    timer: Pin<Box<Sleep>>,
}

impl<T> DeadlineIo<T> {
    fn new(inner: T, timeout: Duration) -> Self {
        let now = Instant::now();
        DeadlineIo {
            inner,
            timeout,
            last_traffic: now,
            read_since_traffic: 0,
            timer: Box::pin(tokio::time::sleep_until(now + timeout)),
        }
    }

    /// Records a write that moved bytes as traffic; passes the result on.
    fn note_written(&mut self, result: Poll<io::Result<usize>>) -> Poll<io::Result<usize>> {
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.last_traffic = Instant::now();
            self.read_since_traffic = 0;
        }
        result
    }

    /// Records `n` bytes read: traffic once they add up to [`MIN_READ_PROGRESS`].
    fn note_read(&mut self, n: usize) {
        self.read_since_traffic += n;
        if self.read_since_traffic >= MIN_READ_PROGRESS {
            self.last_traffic = Instant::now();
            self.read_since_traffic = 0;
        }
    }

    /// Whether the connection has been quiet for the timeout; otherwise arranges to be woken
    /// when it would have been.
    fn quiet_too_long(&mut self, cx: &mut Context<'_>) -> bool {
        loop {
            let due = self.last_traffic + self.timeout;
            if self.timer.deadline() != due {
                self.timer.as_mut().reset(due);
            }
            match self.timer.as_mut().poll(cx) {
                Poll::Pending => return false,
                Poll::Ready(()) if Instant::now() >= self.last_traffic + self.timeout => {
                    return true;
                }
                // Traffic came after the timer was set: set it again from that traffic.
                Poll::Ready(()) => {}
            }
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for DeadlineIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(result) => {
                this.note_read(buf.filled().len() - before);
                Poll::Ready(result)
            }
            Poll::Pending if this.quiet_too_long(cx) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "connection idle for too long",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for DeadlineIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, data);
        self.note_written(result)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.note_written(result)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test(start_paused = true)]
    async fn a_quiet_connection_fails_its_read_and_traffic_keeps_it_open() {
        let (client, server) = tokio::io::duplex(64);
        let mut server = DeadlineIo::new(server, Duration::from_secs(60));
        let mut client = client;
        // Traffic every 40 s keeps it open past the first minute.
        let chunk = [b'x'; MIN_READ_PROGRESS];
        for _ in 0..3 {
            tokio::time::advance(Duration::from_secs(40)).await;
            client.write_all(&chunk).await.unwrap();
            let mut read = [0u8; MIN_READ_PROGRESS];
            server.read_exact(&mut read).await.unwrap();
        }
        // Then a minute of nothing: the read fails.
        let mut byte = [0u8; 1];
        let started = Instant::now();
        let error = server.read(&mut byte).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert_eq!(started.elapsed(), Duration::from_secs(60));
    }

    #[tokio::test(start_paused = true)]
    async fn a_trickle_of_single_bytes_does_not_keep_a_connection_open() {
        let (client, server) = tokio::io::duplex(64);
        let mut server = DeadlineIo::new(server, Duration::from_secs(60));
        let mut client = client;
        let started = Instant::now();
        // A byte every 20 s, each read: never 64 bytes, so never traffic. Ten of them would
        // span 200 s; the connection must fail long before.
        let mut failed = None;
        for _ in 0..10 {
            tokio::time::advance(Duration::from_secs(20)).await;
            client.write_all(b"x").await.unwrap();
            let mut byte = [0u8; 1];
            if let Err(error) = server.read(&mut byte).await {
                failed = Some(error);
                break;
            }
            // What the connection does next: wait for more.
            if let Ok(Err(error)) =
                tokio::time::timeout(Duration::ZERO, server.read(&mut byte)).await
            {
                failed = Some(error);
                break;
            }
        }
        let error = failed.expect("the trickle kept the connection open for 200 s");
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert!(
            started.elapsed() <= Duration::from_secs(80),
            "closed within a read of the minute: {:?}",
            started.elapsed()
        );
    }
}
