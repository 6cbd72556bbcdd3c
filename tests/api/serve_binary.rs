//! The real binary on the embedded default: first start initialises the cluster and loads the
//! demo catalog, SIGTERM stops everything cleanly, a second start reuses the data, and
//! `fingertip audit verify` checks the log the server wrote.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Stdio};

use crate::support::binary::{free_port, wait_ready};

fn fingertip(data_dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_fingertip"));
    command
        .env_remove("DATABASE_URL")
        .env("FINGERTIP_DATA_DIR", data_dir)
        .env("FINGERTIP_LOG_FORMAT", "json")
        .current_dir(data_dir);
    command
}

fn serve(data_dir: &std::path::Path, port: u16, demo: bool) -> Child {
    let mut command = fingertip(data_dir);
    command
        .arg("serve")
        .env("FINGERTIP_LISTEN", format!("127.0.0.1:{port}"));
    if demo {
        command.arg("--demo-data");
    }
    command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn terminate(child: &mut Child) -> Vec<String> {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let stderr = child.stderr.take().unwrap();
    let lines: Vec<String> = BufReader::new(stderr)
        .lines()
        .map_while(Result::ok)
        .collect();
    let status = child.wait().unwrap();
    assert!(status.success(), "exit status {status}; log: {lines:?}");
    lines
}

#[tokio::test]
async fn the_binary_runs_on_an_embedded_cluster_stops_cleanly_and_reuses_its_data() {
    // reqwest's rustls needs the process's crypto provider (other tests' apps install it; this
    // one may run alone).
    fingertip::tls::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    // The cluster runs as the unprivileged `postgres` user when we are root: let it in.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let http = reqwest::Client::new();

    let port = free_port();
    let mut first = serve(dir.path(), port, true);
    wait_ready(&http, port, &mut first).await;
    let page: serde_json::Value = http
        .get(format!("http://127.0.0.1:{port}/api/v1/items?limit=100"))
        .header("x-request-id", "serve-binary-test")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let count = page["items"].as_array().unwrap().len();
    assert!(count >= 12, "{page}");
    let log = terminate(&mut first);
    assert!(
        !dir.path().join("pg/postmaster.pid").exists(),
        "the embedded cluster was stopped"
    );
    // The open-files limit was raised to the hard limit and said so.
    let (_, hard) =
        nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).unwrap();
    let limit_line = log
        .iter()
        .find(|l| l.contains("\"open files\""))
        .unwrap_or_else(|| panic!("no open-files line: {log:?}"));
    let parsed: serde_json::Value = serde_json::from_str(limit_line).unwrap();
    assert_eq!(parsed["limit"], hard, "{parsed}");
    // JSON logs, each request line carrying its request id.
    let request_line = log
        .iter()
        .find(|l| l.contains("serve-binary-test"))
        .unwrap_or_else(|| panic!("no log line with the request id: {log:?}"));
    let parsed: serde_json::Value = serde_json::from_str(request_line).unwrap();
    assert_eq!(
        parsed["span"]["request_id"], "serve-binary-test",
        "{parsed}"
    );

    let port = free_port();
    let mut second = serve(dir.path(), port, false);
    wait_ready(&http, port, &mut second).await;
    let page: serde_json::Value = http
        .get(format!("http://127.0.0.1:{port}/api/v1/items?limit=100"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        page["items"].as_array().unwrap().len(),
        count,
        "the data survived the restart"
    );
    terminate(&mut second);

    let verify = fingertip(dir.path())
        .args(["audit", "verify"])
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&verify.stdout);
    assert!(
        verify.status.success(),
        "{report} {}",
        String::from_utf8_lossy(&verify.stderr)
    );
}
