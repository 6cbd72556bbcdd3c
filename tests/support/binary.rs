//! The real `fingertip` binary, for tests that need a server process of its own: killed,
//! restarted, or its log read.

use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// A port nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("a free port")
        .local_addr()
        .expect("its address")
        .port()
}

/// `fingertip serve` on `port` for the test database `database_url`, with `data_dir` as its
/// data directory (keys, blobs) and JSON logs. Output is the caller's to direct.
pub fn serve_command(database_url: &str, data_dir: &Path, port: u16) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_fingertip"));
    command
        .arg("serve")
        .env("DATABASE_URL", database_url)
        .env("FINGERTIP_DATA_DIR", data_dir)
        .env("FINGERTIP_LISTEN", format!("127.0.0.1:{port}"))
        .env("FINGERTIP_LOG_FORMAT", "json")
        .current_dir(data_dir);
    command
}

/// Waits until the server on `port` answers `/readyz`; panics if it exits or takes too long.
pub async fn wait_ready(http: &reqwest::Client, port: u16, child: &mut Child) {
    let started = Instant::now();
    loop {
        if let Ok(r) = http
            .get(format!("http://127.0.0.1:{port}/readyz"))
            .send()
            .await
            && r.status() == 200
        {
            return;
        }
        if let Some(status) = child.try_wait().expect("the server's status") {
            panic!("server exited early: {status}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "server not ready in time"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
