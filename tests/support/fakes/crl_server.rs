//! A CRL distribution point on 127.0.0.1: serves `certs/dev/<name>.crl` (DER) at
//! `/crl/<name>.crl` and counts the requests per path, so tests can see what was fetched.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use poem::http::StatusCode;
use poem::listener::TcpAcceptor;
use poem::{Endpoint, Request, Response, Server};

pub struct CrlServer {
    /// `http://127.0.0.1:<port>/crl/`: the rewrite target of `http://127.0.0.1:18080/crl/`.
    pub base_url: String,
    hits: Arc<Mutex<HashMap<String, usize>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for CrlServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Serve {
    dir: PathBuf,
    hits: Arc<Mutex<HashMap<String, usize>>>,
}

impl Endpoint for Serve {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let path = req.uri().path().to_owned();
        *self.hits.lock().unwrap().entry(path.clone()).or_default() += 1;
        let name = path.strip_prefix("/crl/").unwrap_or("");
        if name.is_empty() || name.contains('/') || !name.ends_with(".crl") {
            return Ok(Response::builder().status(StatusCode::NOT_FOUND).finish());
        }
        match std::fs::read(self.dir.join(name)) {
            Ok(body) => Ok(Response::builder()
                .content_type("application/pkix-crl")
                .body(body)),
            Err(_) => Ok(Response::builder().status(StatusCode::NOT_FOUND).finish()),
        }
    }
}

impl CrlServer {
    pub async fn start() -> CrlServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the CRL server");
        let address = listener.local_addr().expect("CRL server address");
        let acceptor = TcpAcceptor::from_tokio(listener).expect("CRL server acceptor");
        let hits = Arc::new(Mutex::new(HashMap::new()));
        let endpoint = Serve {
            dir: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("certs/dev"),
            hits: hits.clone(),
        };
        let task = tokio::spawn(async move {
            let _ = Server::new_with_acceptor(acceptor).run(endpoint).await;
        });
        CrlServer {
            base_url: format!("http://{address}/crl/"),
            hits,
            task,
        }
    }

    /// Requests received for `/crl/<name>`.
    pub fn hits(&self, name: &str) -> usize {
        *self
            .hits
            .lock()
            .unwrap()
            .get(&format!("/crl/{name}"))
            .unwrap_or(&0)
    }
}
