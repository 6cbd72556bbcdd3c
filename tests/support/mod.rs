//! Shared test helpers: a running app on port 0 with its own fresh database.
#![allow(dead_code)]

pub mod db;

use fingertip::app::Running;
use fingertip::config::{Config, Secret};
use serde_json::Value;

pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789abcdef";

pub struct TestApp {
    pub address: String,
    pub http: reqwest::Client,
    pub database: db::TestDatabase,
    pub config: Config,
    running: Option<Running>,
    _data_dir: tempfile::TempDir,
}

/// An app on a fresh database, no demo data.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// An app on a fresh database with the demo catalog loaded.
pub async fn spawn_demo_app() -> TestApp {
    spawn_app_with(|c| c.demo_data = true).await
}

pub async fn spawn_app_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    fingertip::logging::init("json");
    fingertip::tls::install_crypto_provider();
    let database = db::fresh_database().await;
    let data_dir = tempfile::tempdir().expect("temp data dir");
    let mut config = Config {
        listen: "127.0.0.1:0".parse().expect("address"),
        data_dir: data_dir.path().to_path_buf(),
        database_url: Some(Secret::new(database.connection_string.clone())),
        admin_token: Some(Secret::new(ADMIN_TOKEN)),
        db_pool_size: 8,
        ..Config::default()
    };
    adjust(&mut config);
    let running = fingertip::app::start(config.clone(), false)
        .await
        .expect("app starts");
    TestApp {
        address: format!("http://{}", running.address),
        http: reqwest::Client::builder().build().expect("http client"),
        database,
        config,
        running: Some(running),
        _data_dir: data_dir,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).send().await.expect("request")
    }

    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        let response = self.get(path).await;
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// A request with the admin bearer token.
    pub fn admin(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .bearer_auth(ADMIN_TOKEN)
    }

    pub async fn admin_json(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &Value,
    ) -> (u16, Value) {
        let response = self
            .admin(method, path)
            .json(body)
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// A direct database connection to this app's database.
    pub async fn db(&self) -> tokio_postgres::Client {
        let (client, connection) =
            tokio_postgres::connect(&self.database.connection_string, tokio_postgres::NoTls)
                .await
                .expect("db connect");
        tokio::spawn(connection);
        client
    }

    pub async fn stop(mut self) {
        if let Some(running) = self.running.take() {
            running.stop().await.expect("graceful stop");
        }
    }
}

/// Asserts a problem+json response with the given status and code; returns the body.
pub async fn expect_problem(response: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status().as_u16(), status, "status for {code}");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        content_type.starts_with("application/problem+json"),
        "content-type {content_type}"
    );
    let body: Value = response.json().await.expect("problem body");
    assert_eq!(body["code"], code, "problem body {body}");
    assert_eq!(body["status"], status, "problem body {body}");
    assert!(
        body["title"].as_str().is_some_and(|t| !t.is_empty()),
        "title in {body}"
    );
    assert!(body["detail"].as_str().is_some(), "detail in {body}");
    body
}
