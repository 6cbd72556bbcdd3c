//! hyper answers a request it cannot parse by itself, before any service sees it: a request line
//! that is not HTTP (400), a URI longer than it takes (414), a head larger than its buffer
//! (431), an HTTP version it does not speak (505). That answer has an empty body, while every
//! other refusal of ours is problem+json with a stable `code`.
//!
//! hyper has no hook for those answers, so the connection's write side recognises them on the
//! way out and sends a problem+json answer of the same status in their place. The shape is
//! narrow: one write that is a whole head and nothing else, `connection: close`,
//! `content-length: 0`, one of those four statuses. Every answer of our own to a bad request
//! has a body, so none of ours looks like that; hyper closes the connection after it, so
//! nothing follows it on the wire.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::errors::HttpProblem;
use super::problem::{AppError, PROBLEM_CONTENT_TYPE};

/// A connection whose parse-error answers from hyper go out as problem+json.
pub struct ProblemForUnparsed<IO> {
    inner: IO,
    /// The answer going out instead of hyper's: its bytes, how many are written, and how many
    /// bytes of hyper's to report written once it is out.
    replacing: Option<(Vec<u8>, usize, usize)>,
}

impl<IO> ProblemForUnparsed<IO> {
    pub fn new(inner: IO) -> Self {
        ProblemForUnparsed {
            inner,
            replacing: None,
        }
    }
}

/// The problem+json answer to send instead of `written`, when `written` is hyper's empty answer
/// to a request it could not parse.
fn replacement_for(written: &[u8]) -> Option<Vec<u8>> {
    const LONGEST_CANNED_HEAD: usize = 256;
    if written.len() > LONGEST_CANNED_HEAD || !written.ends_with(b"\r\n\r\n") {
        return None;
    }
    let head = std::str::from_utf8(written).ok()?;
    let status_code: u16 = head.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()?;
    let (kind, detail) = match status_code {
        400 => (
            HttpProblem::MalformedRequest,
            "the request is not well-formed HTTP/1.1",
        ),
        414 => (HttpProblem::UriTooLong, "the request's URI is too long"),
        431 => (
            HttpProblem::RequestHeadTooLarge,
            "the request's head is too large",
        ),
        505 => (
            HttpProblem::HttpVersionNotSupported,
            "the request's HTTP version is not supported",
        ),
        _ => return None,
    };
    let lines: Vec<&str> = head.trim_end().split("\r\n").skip(1).collect();
    let has = |wanted: &str| lines.iter().any(|l| l.eq_ignore_ascii_case(wanted));
    if !has("content-length: 0") || !has("connection: close") {
        return None;
    }
    let problem = AppError::new(kind, detail).to_problem();
    let status = kind.status();
    let body = serde_json::to_vec(&problem).ok()?;
    let date = lines
        .iter()
        .find(|l| l.len() > 5 && l[..5].eq_ignore_ascii_case("date:"));
    let mut answer = format!(
        "HTTP/1.1 {status_code} {}\r\ncontent-type: {PROBLEM_CONTENT_TYPE}\r\ncontent-length: {}\r\nconnection: close\r\n",
        status.canonical_reason().unwrap_or(""),
        body.len()
    );
    if let Some(date) = date {
        answer.push_str(date);
        answer.push_str("\r\n");
    }
    answer.push_str("\r\n");
    let mut bytes = answer.into_bytes();
    bytes.extend_from_slice(&body);
    Some(bytes)
}

impl<IO: AsyncWrite + Unpin> ProblemForUnparsed<IO> {
    /// Writes what is left of the replacement; ready with the length of hyper's answer once
    /// all of it is out.
    fn poll_replacement(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        while let Some((bytes, written, reported)) = &mut self.replacing {
            if *written == bytes.len() {
                let reported = *reported;
                self.replacing = None;
                return Poll::Ready(Ok(reported));
            }
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &bytes[*written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *written += n;
        }
        Poll::Ready(Ok(0))
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for ProblemForUnparsed<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for ProblemForUnparsed<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.replacing.is_none() {
            match replacement_for(buf) {
                Some(bytes) => this.replacing = Some((bytes, 0, buf.len())),
                None => return Pin::new(&mut this.inner).poll_write(cx, buf),
            }
        }
        this.poll_replacement(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        // hyper writes its canned answer as one slice; anything in several is a real response.
        let mut non_empty = bufs.iter().filter(|b| !b.is_empty());
        if let (Some(only), None) = (non_empty.next(), non_empty.next()) {
            return self.poll_write(cx, only);
        }
        if self.replacing.is_some() {
            return self.get_mut().poll_replacement(cx);
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.replacing.is_some() {
            ready!(self.as_mut().get_mut().poll_replacement(cx))?;
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.replacing.is_some() {
            ready!(self.as_mut().get_mut().poll_replacement(cx))?;
        }
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYPER_400: &[u8] = b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\ndate: Mon, 23 Nov 2026 02:07:39 GMT\r\n\r\n";

    #[test]
    fn hypers_empty_answer_becomes_a_problem_of_the_same_status() {
        let answer = String::from_utf8(replacement_for(HYPER_400).expect("replaced")).unwrap();
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{head}");
        assert!(head.contains("content-type: application/problem+json\r\n"));
        assert!(head.contains(&format!("content-length: {}\r\n", body.len())));
        assert!(
            head.ends_with("date: Mon, 23 Nov 2026 02:07:39 GMT"),
            "{head}"
        );
        let problem: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(problem["status"], 400);
        assert_eq!(problem["code"], "malformed_request");
    }

    #[test]
    fn answers_of_our_own_pass_unchanged() {
        let with_body = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 2\r\n\r\n{}";
        assert!(replacement_for(with_body).is_none());
        let keep_alive = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n";
        assert!(replacement_for(keep_alive).is_none());
        let not_found = b"HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n";
        assert!(replacement_for(not_found).is_none());
        let success = b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 0\r\n\r\n";
        assert!(replacement_for(success).is_none());
    }
}
