//! `DATABASE_URL` with `sslmode=require` connects over rustls, verifying the server certificate
//! against the configured CA file — and refuses a server it cannot verify.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::Command;

use fingertip::config::Config;
use fingertip::db::embedded::EmbeddedCluster;
use fingertip::secret::Secret;

#[tokio::test]
async fn external_database_over_verified_tls() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let data = dir.path().join("pg");
    let cluster = EmbeddedCluster::start(&data).await.unwrap();

    // A test CA and a server certificate it signed for 127.0.0.1.
    let certs = dir.path().join("certs");
    std::fs::create_dir(&certs).unwrap();
    std::fs::write(
        certs.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(&certs)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=fingertip test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ]);
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        "server.ext",
        "-out",
        "server.crt",
    ]);
    for file in ["server.key", "server.crt"] {
        std::fs::copy(certs.join(file), data.join(file)).unwrap();
    }
    let owner = std::fs::metadata(&data).unwrap();
    for file in ["server.key", "server.crt"] {
        let path = data.join(file);
        std::os::unix::fs::chown(&path, Some(owner.uid()), Some(owner.gid())).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let (admin, connection) = tokio_postgres::connect(
        &cluster.connection_string("postgres"),
        tokio_postgres::NoTls,
    )
    .await
    .unwrap();
    tokio::spawn(connection);
    admin
        .batch_execute("ALTER SYSTEM SET ssl = on")
        .await
        .unwrap();
    admin
        .batch_execute("SELECT pg_reload_conf()")
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    let url = format!("{}?sslmode=require", cluster.url("postgres"));
    let config_with = |ca: Option<std::path::PathBuf>| Config {
        database_url: Some(Secret::new(url.clone())),
        database_ca_file: ca,
        ..Config::default()
    };

    let database = fingertip::db::connect(&config_with(Some(certs.join("ca.crt"))).database())
        .await
        .unwrap();
    let client = database.pool.get().await.unwrap();
    let ssl: bool = client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(ssl, "the connection is encrypted");
    drop(client);

    // Without the CA, the self-signed server cannot be verified: no connection.
    let untrusted = fingertip::db::connect(&config_with(None).database())
        .await
        .unwrap();
    assert!(untrusted.pool.get().await.is_err());

    cluster.stop().await.unwrap();
}
