//! PostgreSQL for the integration tests: one shared cluster per machine and
//! checkout, and a brand-new database per test, cloned from a migrated
//! template.
//!
//! - The cluster is an [`EmbeddedCluster`] in
//!   `<CARGO_TARGET_TMPDIR>/fingertip-test-pg` (when running as root and the
//!   `postgres` user cannot traverse that path, in
//!   `$TMPDIR/fingertip-test-pg-<hash of the target dir>` instead;
//!   `FINGERTIP_TEST_PG_DIR` overrides both). The directory actually used is
//!   written to `<CARGO_TARGET_TMPDIR>/fingertip-test-pg.path`.
//! - It is shared by every test process (`cargo test` runs one process,
//!   `cargo nextest` one per test): start-up and template creation happen
//!   under an exclusive lock on `<CARGO_TARGET_TMPDIR>/fingertip-test-pg.lock`,
//!   and a process that finds the server already running reuses it.
//! - The cluster is left running when the tests finish, so the next run
//!   starts instantly. CI stops it, e.g.
//!   `su postgres -c "pg_ctl stop -m fast -D $(cat target/tmp/fingertip-test-pg.path)"`
//!   (drop the `su` when not root). Don't `cargo clean` while it runs.
//! - The template is `fingertip_template_<hash>`, hash = first 12 hex digits
//!   of the SHA-256 of `migrations/*.sql` (names and contents, sorted by
//!   name), so editing or adding a migration builds a new template. It is
//!   migrated with `fingertip::db::migrate::run` and then marked
//!   `IS_TEMPLATE true, ALLOW_CONNECTIONS false`.
//! - Each [`fresh_database`] is `CREATE DATABASE test_<unix seconds>_<uuid> TEMPLATE ...`
//!   (~50-150 ms: PostgreSQL 15 WAL-logs the ~7.5 MB copy).
//! - When the last clone of a [`TestDatabase`] is dropped, the database is
//!   handed to one background thread per process that drops it (each DROP
//!   DATABASE forces a checkpoint, ~0.5 s, so the test does not wait for
//!   it). Without this, databases piled up while the cluster ran: 1,000,
//!   about 10 GB, on one development machine.
//! - What that thread has not dropped when its process exits (often under
//!   `cargo nextest`, which runs a process per test) is left behind. Names
//!   carry their creation time (`test_<unix seconds>_<uuid>`), and a process
//!   that joins a running cluster drops those older than an hour. The
//!   process that actually starts the cluster (the first of a run after it
//!   was stopped) removes all `test_*` databases and outdated templates
//!   left from earlier runs, since nothing else can be using them: one by
//!   one when there are a few, else by deleting and re-initialising the
//!   whole cluster, which takes a few seconds.
//! - Each `#[tokio::test]` has its own runtime, so only plain data (the
//!   cluster handle and template name) is cached in a static; every call
//!   opens and closes its own connection.

use std::path::{Path, PathBuf};

use fingertip::db::embedded::{EmbeddedCluster, EmbeddedError};
use tokio::sync::OnceCell;

/// A database created for one test.
#[allow(dead_code)]
#[derive(Debug, Clone)]
pub struct TestDatabase {
    /// tokio-postgres key=value connection string.
    pub connection_string: String,
    /// Database name (`test_<unix seconds>_<uuid>`).
    pub name: String,
    /// `postgres://` URL of the same database.
    pub url: String,
    /// Drops the database once the last clone is gone.
    _reclaim: std::sync::Arc<Reclaim>,
}

/// Hands its database to the [`reclaimer`] thread when dropped.
#[derive(Debug)]
struct Reclaim {
    admin_connection_string: String,
    name: String,
}

impl Drop for Reclaim {
    fn drop(&mut self) {
        let name = std::mem::take(&mut self.name);
        let admin = std::mem::take(&mut self.admin_connection_string);
        // A send fails only when the thread could not start; the next cluster start cleans up.
        if let Some(sender) = reclaimer() {
            let _ = sender.send((admin, name));
        }
    }
}

/// The process's one thread that drops the databases of finished tests, in order, over one
/// connection. It outlives every test runtime, which is why it has its own.
fn reclaimer() -> Option<&'static std::sync::mpsc::Sender<(String, String)>> {
    use std::sync::{OnceLock, mpsc};
    static SENDER: OnceLock<Option<mpsc::Sender<(String, String)>>> = OnceLock::new();
    SENDER
        .get_or_init(|| {
            let (sender, receiver) = mpsc::channel::<(String, String)>();
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            std::thread::Builder::new()
                .name("test-db-reclaimer".into())
                .spawn(move || {
                    runtime.block_on(async move {
                        let mut admin: Option<tokio_postgres::Client> = None;
                        while let Ok((connection_string, name)) = receiver.recv() {
                            if admin.as_ref().is_none_or(|client| client.is_closed()) {
                                admin = connect(&connection_string).await.ok();
                            }
                            if let Some(client) = &admin {
                                // Best effort: a database left behind is removed at the next
                                // cluster start.
                                let _ = drop_databases(client, &[(name, false)]).await;
                            }
                        }
                    })
                })
                .ok()?;
            Some(sender)
        })
        .as_ref()
}

struct Shared {
    cluster: EmbeddedCluster,
    template: String,
}

static SHARED: OnceCell<Shared> = OnceCell::const_new();

/// Returns a brand-new database cloned from the migrated template.
#[allow(dead_code, clippy::panic)]
pub async fn fresh_database() -> TestDatabase {
    match try_fresh_database().await {
        Ok(db) => db,
        Err(e) => panic!("could not create a test database: {e}"),
    }
}

async fn try_fresh_database() -> Result<TestDatabase, String> {
    let shared = SHARED.get_or_try_init(setup).await?;
    let name = format!("test_{}_{}", unix_seconds(), uuid::Uuid::new_v4().simple());
    let admin = connect(&shared.cluster.connection_string("postgres")).await?;
    admin
        .batch_execute(&format!(
            "CREATE DATABASE {} TEMPLATE {}",
            ident(&name),
            ident(&shared.template)
        ))
        .await
        .map_err(|e| format!("creating database {name}: {e}"))?;
    Ok(TestDatabase {
        connection_string: shared.cluster.connection_string(&name),
        url: shared.cluster.url(&name),
        _reclaim: std::sync::Arc::new(Reclaim {
            admin_connection_string: shared.cluster.connection_string("postgres"),
            name: name.clone(),
        }),
        name,
    })
}

/// Starts (or joins) the shared cluster and makes sure the template exists.
async fn setup() -> Result<Shared, String> {
    let target_tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(&target_tmp)
        .map_err(|e| format!("creating {}: {e}", target_tmp.display()))?;
    let _lock = lock_exclusive(target_tmp.join("fingertip-test-pg.lock")).await?;

    let mut cluster = start_cluster(&target_tmp).await?;
    let template = format!("fingertip_template_{}", migrations_hash()?);
    let mut admin = connect(&cluster.connection_string("postgres")).await?;
    if !cluster.was_already_running() {
        let stale = leftovers(&admin, &template).await?;
        if stale.len() > WIPE_THRESHOLD {
            // Each DROP DATABASE forces a checkpoint (~0.5 s): with many
            // leftovers, a fresh cluster is much faster.
            drop(admin);
            cluster = wipe(cluster).await?;
            admin = connect(&cluster.connection_string("postgres")).await?;
        } else {
            drop_databases(&admin, &stale).await?;
        }
    } else {
        // Joining a running cluster (every process after the first under `cargo nextest`):
        // databases that their own processes exited before dropping would pile up for as long as
        // the cluster runs. Those old enough that no test can still be using them go now.
        let abandoned = leftovers(&admin, &template)
            .await?
            .into_iter()
            .map(|(name, _)| name)
            .filter(|name| {
                created_seconds(name)
                    .is_some_and(|at| at + ABANDONED_AFTER_SECONDS < unix_seconds())
            });
        if let Some(sender) = reclaimer() {
            for name in abandoned {
                let _ = sender.send((cluster.connection_string("postgres"), name));
            }
        }
    }
    ensure_template(&cluster, &admin, &template).await?;
    Ok(Shared { cluster, template })
}

async fn start_cluster(target_tmp: &Path) -> Result<EmbeddedCluster, String> {
    let mut candidates = Vec::new();
    match std::env::var_os("FINGERTIP_TEST_PG_DIR") {
        Some(dir) => candidates.push(PathBuf::from(dir)),
        None => {
            candidates.push(target_tmp.join("fingertip-test-pg"));
            let digest = ring::digest::digest(
                &ring::digest::SHA256,
                target_tmp.as_os_str().as_encoded_bytes(),
            );
            let short = hex::encode(digest.as_ref().get(..6).unwrap_or_default());
            candidates.push(std::env::temp_dir().join(format!("fingertip-test-pg-{short}")));
        }
    }
    let mut last = String::new();
    for dir in candidates {
        match EmbeddedCluster::start(&dir).await {
            Ok(cluster) => {
                let marker = target_tmp.join("fingertip-test-pg.path");
                let path = cluster.data_dir().display().to_string();
                std::fs::write(&marker, format!("{path}\n"))
                    .map_err(|e| format!("writing {}: {e}", marker.display()))?;
                return Ok(cluster);
            }
            // Root, and `postgres` can't reach the target dir: try $TMPDIR.
            Err(e @ EmbeddedError::NotTraversable { .. }) => last = e.to_string(),
            Err(e) => return Err(format!("starting PostgreSQL in {}: {e}", dir.display())),
        }
    }
    Err(format!("starting PostgreSQL: {last}"))
}

/// A test database older than this belongs to no running test (a whole `cargo test` run takes a
/// few minutes).
const ABANDONED_AFTER_SECONDS: u64 = 3600;

fn unix_seconds() -> u64 {
    u64::try_from(fingertip::clock::system_time().timestamp()).unwrap_or_default()
}

/// When a `test_<unix seconds>_<uuid>` database was created (None for other names).
fn created_seconds(name: &str) -> Option<u64> {
    name.strip_prefix("test_")?.split_once('_')?.0.parse().ok()
}

/// Above this many leftover databases, [`setup`] recreates the cluster
/// instead of dropping them one by one.
const WIPE_THRESHOLD: usize = 5;

/// `test_*` databases and outdated templates from earlier runs, with
/// whether each is marked as a template.
async fn leftovers(
    admin: &tokio_postgres::Client,
    template: &str,
) -> Result<Vec<(String, bool)>, String> {
    let rows = admin
        .query("SELECT datname, datistemplate FROM pg_database", &[])
        .await
        .map_err(|e| format!("listing databases: {e}"))?;
    Ok(rows
        .into_iter()
        .map(|row| (row.get::<_, String>(0), row.get::<_, bool>(1)))
        .filter(|(name, _)| {
            name.starts_with("test_")
                || (name.starts_with("fingertip_template_") && name != template)
        })
        .collect())
}

/// Stops the cluster, deletes its data directory and starts a new one
/// there. Only called by the process that started the cluster, under the
/// setup lock, so nothing else is using it.
async fn wipe(cluster: EmbeddedCluster) -> Result<EmbeddedCluster, String> {
    let dir = cluster.data_dir().to_path_buf();
    cluster
        .stop()
        .await
        .map_err(|e| format!("stopping PostgreSQL in {}: {e}", dir.display()))?;
    std::fs::remove_dir_all(&dir).map_err(|e| format!("removing {}: {e}", dir.display()))?;
    EmbeddedCluster::start(&dir)
        .await
        .map_err(|e| format!("starting PostgreSQL in {}: {e}", dir.display()))
}

async fn drop_databases(
    admin: &tokio_postgres::Client,
    databases: &[(String, bool)],
) -> Result<(), String> {
    for (name, is_template) in databases {
        if *is_template {
            admin
                .batch_execute(&format!(
                    "ALTER DATABASE {} WITH IS_TEMPLATE false",
                    ident(name)
                ))
                .await
                .map_err(|e| format!("unmarking template {name}: {e}"))?;
        }
        admin
            .batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                ident(name)
            ))
            .await
            .map_err(|e| format!("dropping {name}: {e}"))?;
    }
    Ok(())
}

/// Creates and migrates the template unless a finished one exists. A
/// database of that name not yet marked as template is a build that was
/// interrupted: it is dropped and rebuilt.
async fn ensure_template(
    cluster: &EmbeddedCluster,
    admin: &tokio_postgres::Client,
    template: &str,
) -> Result<(), String> {
    let existing = admin
        .query_opt(
            "SELECT datistemplate FROM pg_database WHERE datname = $1",
            &[&template],
        )
        .await
        .map_err(|e| format!("looking up {template}: {e}"))?;
    match existing.map(|row| row.get::<_, bool>(0)) {
        Some(true) => return Ok(()),
        Some(false) => {
            admin
                .batch_execute(&format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    ident(template)
                ))
                .await
                .map_err(|e| format!("dropping half-built {template}: {e}"))?;
        }
        None => {}
    }
    admin
        .batch_execute(&format!("CREATE DATABASE {}", ident(template)))
        .await
        .map_err(|e| format!("creating {template}: {e}"))?;

    let (mut client, connection) =
        tokio_postgres::connect(&cluster.connection_string(template), tokio_postgres::NoTls)
            .await
            .map_err(|e| format!("connecting to {template}: {e}"))?;
    let task = tokio::spawn(connection);
    let migrated = match fingertip::db::migrate::run(&mut client).await {
        Ok(_) => seed(&client)
            .await
            .map_err(|e| format!("seeding {template}: {e}")),
        Err(e) => Err(format!("migrating {template}: {e}")),
    };
    // Disconnect before marking: cloning needs no session on the template.
    drop(client);
    let _ = task.await;
    migrated?;

    admin
        .batch_execute(&format!(
            "ALTER DATABASE {} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false",
            ident(template)
        ))
        .await
        .map_err(|e| format!("marking {template} as template: {e}"))?;
    Ok(())
}

pub const SEED_ADMIN_USERNAME: &str = "test.admin";
pub const SEED_ADMIN_PASSWORD: &str = "Test-admin-password-1";
const SEED_VERSION: &[u8] = b"seed-v1: platform admin test.admin";

/// What every test database starts with besides the migrations: one platform administrator,
/// whose password hash uses argon2id with small parameters so each test's login is quick
/// (verification reads the parameters from the hash; production hashes use the full ones).
async fn seed(client: &tokio_postgres::Client) -> Result<(), String> {
    let hash =
        fingertip::identity::password::hash_password_with_params(SEED_ADMIN_PASSWORD, 64, 1, 1)
            .map_err(|e| format!("hashing: {e}"))?;
    let id = uuid::Uuid::new_v4();
    client
        .execute(
            "INSERT INTO staff (id, username, display_name, password_hash) VALUES ($1, $2, '测试平台管理员', $3)",
            &[&id, &SEED_ADMIN_USERNAME, &hash],
        )
        .await
        .map_err(|e| format!("{e:?}"))?;
    client
        .execute(
            "INSERT INTO staff_role (id, staff_id, role, granted_by) VALUES ($1, $2, 'platform_admin', 'test-seed')",
            &[&uuid::Uuid::new_v4(), &id],
        )
        .await
        .map_err(|e| format!("{e:?}"))?;
    Ok(())
}

/// First 12 hex digits of a SHA-256 over the migrations compiled into this build (names and
/// texts, in order), so a template is rebuilt whenever the list or any text changes. (Hashing
/// the folder instead once let a build whose list lagged behind the folder make a template
/// missing a migration under the folder's name.)
fn migrations_hash() -> Result<String, String> {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(b"compiled-migrations-v2\0");
    ctx.update(SEED_VERSION);
    for (name, sql) in fingertip::db::migrate::MIGRATIONS {
        ctx.update(name.as_bytes());
        ctx.update(&[0]);
        ctx.update(sql.as_bytes());
        ctx.update(&[0]);
    }
    let digest = ctx.finish();
    Ok(hex::encode(digest.as_ref().get(..6).unwrap_or_default()))
}

async fn connect(conn: &str) -> Result<tokio_postgres::Client, String> {
    let (client, connection) = tokio_postgres::connect(conn, tokio_postgres::NoTls)
        .await
        .map_err(|e| format!("connecting to PostgreSQL: {e}"))?;
    tokio::spawn(connection);
    Ok(client)
}

/// Exclusive `flock` on `path`, held until the returned file is dropped.
async fn lock_exclusive(path: PathBuf) -> Result<std::fs::File, String> {
    let shown = path.display().to_string();
    tokio::task::spawn_blocking(move || {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)?;
        file.lock()?;
        Ok::<_, std::io::Error>(file)
    })
    .await
    .map_err(|e| format!("locking {shown}: {e}"))?
    .map_err(|e| format!("locking {shown}: {e}"))
}

fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
