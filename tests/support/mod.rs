//! Shared test helpers: a running app on port 0 with its own fresh database.
#![allow(dead_code)]

pub mod binary;
pub mod db;
pub mod fixtures;
pub mod pki;

use fingertip::app::Running;
use fingertip::config::Config;
use fingertip::secret::Secret;
use serde_json::Value;

/// The platform administrator seeded into every test database (see `db.rs`).
pub const ADMIN_USERNAME: &str = db::SEED_ADMIN_USERNAME;
pub const ADMIN_PASSWORD: &str = db::SEED_ADMIN_PASSWORD;

pub struct TestApp {
    pub address: String,
    pub http: reqwest::Client,
    pub database: db::TestDatabase,
    pub config: Config,
    /// The certificate-login (mTLS) listener, when configured.
    pub mtls_address: Option<std::net::SocketAddr>,
    /// An access token of the seeded platform administrator.
    pub admin_token: String,
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

/// Where every test app's clock starts unless a test says otherwise: Monday 16 November 2026,
/// 10:00 in Beijing, inside the published 2026 calendar. No test depends on the real date.
pub const TEST_CLOCK_START: &str = "2026-11-16T10:00:00+08:00";

/// An instant as the tests write it (RFC 3339).
pub fn instant(rfc3339: &str) -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::parse_from_rfc3339(rfc3339).expect("an RFC 3339 instant")
}

pub async fn spawn_app_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    let data_dir = tempfile::tempdir().expect("temp data dir");
    start_on(db::fresh_database().await, data_dir, adjust).await
}

/// Serves a stopped app's database and data directory again (see
/// [`TestApp::stop_keeping_data`]) with its clock started at `start`: the same cases, another day.
pub async fn restart_at(
    (database, data_dir): (db::TestDatabase, tempfile::TempDir),
    start: &str,
) -> TestApp {
    let start = instant(start);
    start_on(database, data_dir, move |c| c.clock_start = Some(start)).await
}

/// An app on a fresh database (official working-day calendars only) whose clock starts at
/// `start` (RFC 3339).
pub async fn spawn_app_at(start: &str) -> TestApp {
    let start = instant(start);
    spawn_app_with(move |c| c.clock_start = Some(start)).await
}

async fn start_on(
    database: db::TestDatabase,
    data_dir: tempfile::TempDir,
    adjust: impl FnOnce(&mut Config),
) -> TestApp {
    fingertip::logging::init("json");
    fingertip::tls::install_crypto_provider();
    let mut config = Config {
        listen: "127.0.0.1:0".parse().expect("address"),
        data_dir: data_dir.path().to_path_buf(),
        database_url: Some(Secret::new(database.connection_string.clone())),
        db_pool_size: 8,
        clock_start: Some(instant(TEST_CLOCK_START)),
        ..Config::default()
    };
    adjust(&mut config);
    let running = fingertip::app::start(config.clone(), false)
        .await
        .expect("app starts");
    let address = format!("http://{}", running.address);
    let mtls_address = running.mtls_address;
    let http = reqwest::Client::builder().build().expect("http client");
    let admin_token = staff_login(&http, &address, ADMIN_USERNAME, ADMIN_PASSWORD).await;
    TestApp {
        address,
        http,
        database,
        config,
        mtls_address,
        admin_token,
        running: Some(running),
        _data_dir: data_dir,
    }
}

/// Logs a staff member in; returns the access token.
pub async fn staff_login(
    http: &reqwest::Client,
    address: &str,
    username: &str,
    password: &str,
) -> String {
    let response = http
        .post(format!("{address}/api/v1/auth/staff/login"))
        .json(&serde_json::json!({ "username": username, "password": password }))
        .send()
        .await
        .expect("login request");
    let status = response.status();
    let body: Value = response.json().await.expect("login body");
    assert_eq!(status, 200, "staff login of {username}: {body}");
    body["access_token"]
        .as_str()
        .expect("access token")
        .to_owned()
}

impl TestApp {
    /// The app's clock (started where the test's configuration said).
    pub fn clock(&self) -> fingertip::clock::Clock {
        self.config.clock()
    }

    /// Now on the app's clock.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock().now()
    }

    /// Today in Beijing on the app's clock.
    pub fn today(&self) -> chrono::NaiveDate {
        self.clock().today()
    }

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

    /// A request with the platform administrator's access token.
    pub fn admin(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .bearer_auth(&self.admin_token)
    }

    /// A request with the given access token.
    pub fn with_token(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
    ) -> reqwest::RequestBuilder {
        self.http.request(method, self.url(path)).bearer_auth(token)
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

    /// Stops the app and hands over its database and data directory (keys, blobs), for a test
    /// that serves them with another process.
    pub async fn stop_keeping_data(mut self) -> (db::TestDatabase, tempfile::TempDir) {
        if let Some(running) = self.running.take() {
            running.stop().await.expect("graceful stop");
        }
        (self.database, self._data_dir)
    }
}

/// The response's Content-Type header ("" without one).
pub fn content_type(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// Asserts a problem+json response with the given status and code; returns the body.
pub async fn expect_problem(response: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status().as_u16(), status, "status for {code}");
    let content_type = content_type(&response);
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
