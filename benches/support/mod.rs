//! What the HTTP benches share: the release server as its own process with the demo data, on an
//! embedded cluster the bench owns, and `pgbench` on the same cluster as the baseline.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fingertip::db::embedded::EmbeddedCluster;

pub const DEMO_PASSWORD: &str = "Demo-password-2026";

pub struct Server {
    child: Child,
    pub port: u16,
}

impl Server {
    /// The server process's id (CPU accounting).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let _ = self.child.wait();
    }
}

/// Stops the cluster's postmaster (fast shutdown) if the bench panics before stopping it.
pub struct StopOnPanic(pub PathBuf);

impl Drop for StopOnPanic {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        let pid = std::fs::read_to_string(self.0.join("postmaster.pid"))
            .ok()
            .and_then(|text| text.lines().next().and_then(|l| l.trim().parse().ok()));
        if let Some(pid) = pid {
            let pid = nix::unistd::Pid::from_raw(pid);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT);
        }
    }
}

pub fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Starts `fingertip serve` (with `--demo-data` when asked), with `config` when given, against
/// `database_url` (`None`: the server's own embedded cluster under `dir`); waits for `/readyz`.
pub async fn start_server(
    dir: &Path,
    config: Option<&Path>,
    database_url: Option<&str>,
    demo_data: bool,
) -> Server {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = dir.join("server.log");
    // BENCH_SERVER_WRAPPER runs the server under a profiler (e.g. `heaptrack`); the figures
    // read from the process (its pid) are then the wrapper's.
    let mut command = match std::env::var_os("BENCH_SERVER_WRAPPER") {
        Some(wrapper) => {
            let mut command = Command::new(wrapper);
            command.arg(env!("CARGO_BIN_EXE_fingertip"));
            command
        }
        None => Command::new(env!("CARGO_BIN_EXE_fingertip")),
    };
    if let Some(config) = config {
        command.arg("--config").arg(config);
    }
    command.arg("serve");
    if demo_data {
        command.arg("--demo-data");
    }
    match database_url {
        Some(url) => command.env("DATABASE_URL", url),
        None => command.env_remove("DATABASE_URL"),
    };
    let child = command
        .env("FINGERTIP_DATA_DIR", dir.join("data"))
        .env("FINGERTIP_LISTEN", format!("127.0.0.1:{port}"))
        .env("FINGERTIP_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let server = Server { child, port };
    let http = reqwest::Client::new();
    let started = Instant::now();
    while http
        .get(format!("http://127.0.0.1:{port}/readyz"))
        .send()
        .await
        .map(|r| r.status() != 200)
        .unwrap_or(true)
    {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "server not ready: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    server
}

/// Creates `databases` in the cluster.
pub async fn create_databases(cluster: &EmbeddedCluster, databases: &[&str]) {
    let postgres = connect(&cluster.connection_string("postgres")).await;
    for database in databases {
        postgres
            .batch_execute(&format!("CREATE DATABASE {database}"))
            .await
            .unwrap();
    }
}

pub async fn connect(cs: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(cs, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
}

/// Runs `pgbench` against database `pgbench_baseline` of the cluster; returns its output.
pub fn pgbench(cluster: &EmbeddedCluster, args: &[&str]) -> String {
    let cs = cluster.connection_string("postgres");
    let password = cs
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("password="))
        .unwrap();
    let output = Command::new(cluster.bin_dir().join("pgbench"))
        .args(["-h", "127.0.0.1", "-p", &cluster.port().to_string()])
        .args(["-U", cluster.user()])
        .args(args)
        .arg("pgbench_baseline")
        .env("PGPASSWORD", password)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "pgbench {args:?}: {text}");
    text
}

/// pgbench's "tps = … (without initial connection time)".
pub fn pgbench_tps(output: &str) -> f64 {
    output
        .lines()
        .find(|l| l.contains("without initial connection time"))
        .and_then(|l| l.strip_prefix("tps = "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no tps in pgbench output: {output}"))
}

/// The value at quantile `q` of sorted `values`.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}
