//! Unit tests of the pure helpers, and an end-to-end start/stop test that needs the
//! PostgreSQL server binaries (ignored by default).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::EmbeddedCluster;
use super::conninfo::{percent_encode, quote_conninfo_value};
use super::launch::socket_dir_option;

#[test]
fn conninfo_quoting() {
    assert_eq!(quote_conninfo_value("test_abc"), "test_abc");
    assert_eq!(quote_conninfo_value("a b"), "'a b'");
    assert_eq!(quote_conninfo_value("it's"), "'it\\'s'");
    assert_eq!(quote_conninfo_value(""), "''");
}

#[test]
fn url_encoding() {
    assert_eq!(percent_encode("test_abc"), "test_abc");
    assert_eq!(percent_encode("a b/c"), "a%20b%2Fc");
}

#[test]
fn socket_dir_falls_back_for_unsafe_or_long_paths() {
    assert_eq!(socket_dir_option(Path::new("/tmp/x/pg")), "/tmp/x/pg");
    assert_eq!(socket_dir_option(Path::new("/tmp/a b/pg")), "''");
    let long = format!("/tmp/{}", "x".repeat(100));
    assert_eq!(socket_dir_option(Path::new(&long)), "''");
}

/// Starts a cluster in a temporary directory, queries it, stops it,
/// starts it again (reusing the data) and stops it. Needs PostgreSQL
/// server binaries; run with `cargo test -- --ignored embedded`.
#[tokio::test]
#[ignore = "needs PostgreSQL server binaries; slow"]
async fn start_query_stop_restart() -> Result<(), Box<dyn std::error::Error>> {
    let tmp = tempfile::tempdir()?;
    // tempdir is 0700; the `postgres` user must be able to traverse it
    // when we are root.
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755))?;
    let data = tmp.path().join("pg");

    let cluster = EmbeddedCluster::start(&data).await?;
    let (client, conn) = tokio_postgres::connect(
        &cluster.connection_string("postgres"),
        tokio_postgres::NoTls,
    )
    .await?;
    tokio::spawn(conn);
    let one: i32 = client.query_one("select 1", &[]).await?.get(0);
    assert_eq!(one, 1);
    drop(client);

    // A second start while running reuses the live server.
    let again = EmbeddedCluster::start(&data).await?;
    assert!(again.was_already_running());
    assert_eq!(again.port(), cluster.port());
    cluster.stop().await?;

    // Restart after a stop reuses the data and password.
    let restarted = EmbeddedCluster::start(&data).await?;
    assert!(!restarted.was_already_running());
    let (client, conn) =
        tokio_postgres::connect(&restarted.url("postgres"), tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    let one: i32 = client.query_one("select 1", &[]).await?.get(0);
    assert_eq!(one, 1);
    drop(client);
    restarted.stop().await?;
    // Stopping a stopped server is fine.
    restarted.stop().await?;
    Ok(())
}
