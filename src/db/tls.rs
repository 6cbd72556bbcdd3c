//! TLS (rustls with ring) to an external PostgreSQL server named by `DATABASE_URL`, as its
//! `sslmode` asks: `disable` connects in plain text, `prefer` (the default) tries TLS first,
//! `require` insists. Server certificates are checked against the system's roots plus an
//! optional CA file (`FINGERTIP_DATABASE_CA_FILE`), as managed databases often use a private CA.

use std::path::Path;

use deadpool_postgres::{Manager, Pool};
use tokio_postgres::config::SslMode;

use super::listen::ListenConnector;

/// The pool, and how to open a listening connection with the same settings.
pub fn pool_for_external(
    pg_config: tokio_postgres::Config,
    size: usize,
    ca_file: Option<&Path>,
) -> anyhow::Result<(Pool, ListenConnector)> {
    let pg_config = super::named(pg_config);
    if pg_config.get_ssl_mode() == SslMode::Disable {
        let listen = ListenConnector::plain(pg_config.clone());
        return Ok((super::pool_for(pg_config, size)?, listen));
    }
    let connector =
        tokio_postgres_rustls::MakeRustlsConnect::new(crate::tls::client_config(ca_file)?);
    let listen = ListenConnector::tls(pg_config.clone(), connector.clone());
    let pool = super::build_pool(
        Manager::from_config(pg_config, connector, super::manager_config()),
        size,
    )?;
    Ok((pool, listen))
}
