//! The store of record: a deadpool of tokio-postgres connections to either an external server
//! (`DATABASE_URL`) or the embedded cluster this process runs itself.

pub mod embedded;
pub mod listen;
pub mod migrate;
pub mod prepared;
pub mod tls;

use std::str::FromStr;

use anyhow::Context;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;

use crate::clock::Clock;
use embedded::EmbeddedCluster;
pub use listen::ListenConnector;
pub use prepared::{Prepare, Transactional, Unprepared};

/// The pool plus, when we started it, the embedded cluster (stopped on shutdown).
pub struct Database {
    pub pool: Pool,
    /// Opens a connection that receives `NOTIFY`s (pooled connections drop them).
    pub listen: ListenConnector,
    pub embedded: Option<EmbeddedCluster>,
}

/// The database name the embedded cluster serves the application from.
pub const EMBEDDED_DATABASE: &str = "fingertip";

/// What the database needs from the configuration (built by `Config::database`).
pub struct DatabaseSettings<'a> {
    /// `DATABASE_URL`; `None`: the embedded cluster under `data_dir/pg`.
    pub url: Option<&'a str>,
    pub data_dir: &'a std::path::Path,
    pub pool_size: usize,
    /// The CA that signs an external server's certificate (TLS when set).
    pub ca_file: Option<&'a std::path::Path>,
    /// The application clock, which SQL reads too.
    pub clock: Clock,
}

pub async fn connect(config: &DatabaseSettings<'_>) -> anyhow::Result<Database> {
    let (pg_config, embedded) = match config.url {
        Some(url) => {
            let pg = tokio_postgres::Config::from_str(url)
                .context("DATABASE_URL is not a valid PostgreSQL connection string")?;
            let pg = on_clock(pg, &config.clock);
            let (pool, listen) = tls::pool_for_external(pg, config.pool_size, config.ca_file)?;
            return Ok(Database {
                pool,
                listen,
                embedded: None,
            });
        }
        None => {
            let cluster = EmbeddedCluster::start(&config.data_dir.join("pg"))
                .await
                .context("starting the embedded PostgreSQL cluster")?;
            ensure_database(&cluster, EMBEDDED_DATABASE).await?;
            let pg =
                tokio_postgres::Config::from_str(&cluster.connection_string(EMBEDDED_DATABASE))
                    .context("embedded cluster connection string")?;
            (on_clock(pg, &config.clock), Some(cluster))
        }
    };
    let listen = ListenConnector::plain(named(pg_config.clone()));
    let pool = pool_for(pg_config, config.pool_size)?;
    Ok(Database {
        pool,
        listen,
        embedded,
    })
}

/// Every connection carries the application clock's offset from system time in the
/// `fingertip.clock_offset` setting (microseconds), which the SQL function `clock_now()` adds
/// to `now()`: SQL then reads the same clock as the application (see [`crate::clock`]).
fn on_clock(mut pg_config: tokio_postgres::Config, clock: &Clock) -> tokio_postgres::Config {
    let setting = format!("-c fingertip.clock_offset={}", clock.offset_micros());
    let options = match pg_config.get_options() {
        Some(existing) if !existing.trim().is_empty() => format!("{existing} {setting}"),
        _ => setting,
    };
    pg_config.options(&options);
    pg_config
}

/// A pool without TLS: the embedded cluster listens on loopback only.
pub fn pool_for(pg_config: tokio_postgres::Config, size: usize) -> anyhow::Result<Pool> {
    build_pool(
        Manager::from_config(named(pg_config), NoTls, manager_config()),
        size,
    )
}

fn named(mut pg_config: tokio_postgres::Config) -> tokio_postgres::Config {
    if pg_config.get_application_name().is_none() {
        pg_config.application_name("fingertip");
    }
    pg_config
}

fn manager_config() -> ManagerConfig {
    ManagerConfig {
        recycling_method: RecyclingMethod::Fast,
    }
}

fn build_pool(manager: Manager, size: usize) -> anyhow::Result<Pool> {
    Pool::builder(manager)
        .max_size(size)
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .wait_timeout(Some(std::time::Duration::from_secs(5)))
        .create_timeout(Some(std::time::Duration::from_secs(5)))
        .build()
        .context("building the database pool")
}

async fn ensure_database(cluster: &EmbeddedCluster, name: &str) -> anyhow::Result<()> {
    let (client, connection) =
        tokio_postgres::connect(&cluster.connection_string("postgres"), NoTls)
            .await
            .context("connecting to the embedded cluster")?;
    let task = tokio::spawn(connection);
    let exists = client
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
        .await?
        .is_some();
    if !exists {
        // Identifiers cannot be bound as parameters; `name` is our own constant.
        client
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .await?;
        tracing::info!(database = name, "created database in the embedded cluster");
    }
    drop(client);
    let _ = task.await;
    Ok(())
}

/// Applies pending migrations using one dedicated connection from the pool.
pub async fn migrate(pool: &Pool) -> anyhow::Result<Vec<String>> {
    let mut object = pool
        .get()
        .await
        .context("database connection for migrations")?;
    let client: &mut tokio_postgres::Client = &mut object;
    Ok(migrate::run(client).await?)
}
