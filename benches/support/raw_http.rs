//! A lean HTTP/1.1 keep-alive client for the requests a bench measures. The load generator
//! shares the machine with the server and the database it measures, as pgbench's libpq client
//! does with the baseline, so every microsecond it spends is one the server does not get. A
//! general client (reqwest: URL parsing, header maps, a connection pool, a hyper state machine
//! per request) cost about a tenth of a submission's CPU; this one writes the request head
//! with one `format!` and reads a `Content-Length` body, which is all the server sends.

use std::net::{IpAddr, SocketAddr};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// One keep-alive connection from a chosen local address.
pub struct RawConnection {
    stream: TcpStream,
    host: String,
    /// Bytes read past the last response (none in practice: one request at a time).
    buffer: Vec<u8>,
}

/// A response: the status and the body.
pub struct RawResponse {
    pub status: u16,
    pub body: Vec<u8>,
}

impl RawConnection {
    pub async fn connect(server: SocketAddr, local: IpAddr) -> RawConnection {
        let socket = TcpSocket::new_v4().unwrap();
        socket.bind(SocketAddr::new(local, 0)).unwrap();
        let stream = socket.connect(server).await.unwrap();
        stream.set_nodelay(true).unwrap();
        RawConnection {
            stream,
            host: server.to_string(),
            buffer: Vec::with_capacity(16 * 1024),
        }
    }

    /// Sends `POST path` with `headers` (each "Name: value") and `body`, and reads the response.
    pub async fn post(
        &mut self,
        path: &str,
        headers: &[(&str, &str)],
        content_type: &str,
        body: &[u8],
    ) -> RawResponse {
        let mut head = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n",
            self.host,
            body.len()
        );
        for (name, value) in headers {
            head.push_str(name);
            head.push_str(": ");
            head.push_str(value);
            head.push_str("\r\n");
        }
        head.push_str("\r\n");
        let mut request = Vec::with_capacity(head.len() + body.len());
        request.extend_from_slice(head.as_bytes());
        request.extend_from_slice(body);
        self.stream.write_all(&request).await.unwrap();
        self.read_response().await
    }

    async fn read_response(&mut self) -> RawResponse {
        let head_end = loop {
            if let Some(at) = find(&self.buffer, b"\r\n\r\n") {
                break at + 4;
            }
            self.fill().await;
        };
        let head = std::str::from_utf8(&self.buffer[..head_end]).unwrap();
        let status: u16 = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("not an HTTP response: {head}"));
        let length: usize = head
            .lines()
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().ok())?
            })
            .unwrap_or_else(|| panic!("the bench reads Content-Length bodies only: {head}"));
        while self.buffer.len() < head_end + length {
            self.fill().await;
        }
        let body = self.buffer[head_end..head_end + length].to_vec();
        self.buffer.drain(..head_end + length);
        RawResponse { status, body }
    }

    async fn fill(&mut self) {
        let mut chunk = [0u8; 16 * 1024];
        let n = self.stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "the server closed the connection");
        self.buffer.extend_from_slice(&chunk[..n]);
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
