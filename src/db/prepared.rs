//! Statements prepared once per connection: a pooled connection (or a transaction on one) keeps
//! its prepared statements in deadpool's per-connection cache, so a hot statement costs one
//! Bind/Execute round trip instead of Parse/Describe then Bind/Execute, and PostgreSQL neither
//! parses nor (after its first executions) plans it again. A bare `tokio_postgres` client or
//! transaction, wrapped in [`Unprepared`], runs the same code preparing every time (as before).
//!
//! Cached statements outlive schema changes made while the server runs; migrations run before
//! the pool serves requests, so that only matters for manual DDL on a live database (PostgreSQL
//! then answers "cached plan must not change result type" until the connection is recycled).

use std::future::Future;

use tokio_postgres::types::ToSql;
use tokio_postgres::{Error, GenericClient, Row, Statement};

/// A client or transaction that can hand out a prepared statement for a query text. The futures
/// are as `Send` as the concrete client's (known where the caller's type is), so the trait asks
/// for neither `Send` nor `Sync`: a plain `impl GenericClient` can be wrapped too.
pub trait Prepare {
    /// The `tokio_postgres` client or transaction statements run on.
    type Inner: GenericClient;

    fn inner(&self) -> &Self::Inner;

    /// The statement for `sql`, prepared on this connection once (or every time, unwrapped).
    fn statement(&self, sql: &str) -> impl Future<Output = Result<Statement, Error>>;

    fn query_prepared(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> impl Future<Output = Result<Vec<Row>, Error>> {
        async move {
            let statement = self.statement(sql).await?;
            self.inner().query(&statement, params).await
        }
    }

    fn query_one_prepared(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> impl Future<Output = Result<Row, Error>> {
        async move {
            let statement = self.statement(sql).await?;
            self.inner().query_one(&statement, params).await
        }
    }

    fn query_opt_prepared(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> impl Future<Output = Result<Option<Row>, Error>> {
        async move {
            let statement = self.statement(sql).await?;
            self.inner().query_opt(&statement, params).await
        }
    }

    fn execute_prepared(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> impl Future<Output = Result<u64, Error>> {
        async move {
            let statement = self.statement(sql).await?;
            self.inner().execute(&statement, params).await
        }
    }
}

impl Prepare for deadpool_postgres::ClientWrapper {
    type Inner = tokio_postgres::Client;

    fn inner(&self) -> &tokio_postgres::Client {
        self
    }

    fn statement(&self, sql: &str) -> impl Future<Output = Result<Statement, Error>> {
        self.prepare_cached(sql)
    }
}

impl Prepare for deadpool_postgres::Client {
    type Inner = tokio_postgres::Client;

    fn inner(&self) -> &tokio_postgres::Client {
        self
    }

    fn statement(&self, sql: &str) -> impl Future<Output = Result<Statement, Error>> {
        self.prepare_cached(sql)
    }
}

impl<'a> Prepare for deadpool_postgres::Transaction<'a> {
    type Inner = tokio_postgres::Transaction<'a>;

    fn inner(&self) -> &tokio_postgres::Transaction<'a> {
        self
    }

    fn statement(&self, sql: &str) -> impl Future<Output = Result<Statement, Error>> {
        self.prepare_cached(sql)
    }
}

/// A plain `tokio_postgres` client: no cache, statements are prepared every time.
impl Prepare for tokio_postgres::Client {
    type Inner = tokio_postgres::Client;

    fn inner(&self) -> &tokio_postgres::Client {
        self
    }

    fn statement(&self, sql: &str) -> impl Future<Output = Result<Statement, Error>> {
        self.prepare(sql)
    }
}

/// A plain `tokio_postgres` transaction: no cache, statements are prepared every time.
impl<'a> Prepare for tokio_postgres::Transaction<'a> {
    type Inner = tokio_postgres::Transaction<'a>;

    fn inner(&self) -> &tokio_postgres::Transaction<'a> {
        self
    }

    fn statement(&self, sql: &str) -> impl Future<Output = Result<Statement, Error>> {
        self.prepare(sql)
    }
}

/// A transaction: what must commit or roll back with the caller's change (the audit chain).
pub trait Transactional: Prepare {}

impl Transactional for deadpool_postgres::Transaction<'_> {}
impl Transactional for tokio_postgres::Transaction<'_> {}

/// Any `tokio_postgres` client or transaction behind a generic `impl GenericClient`: statements
/// are prepared every time.
pub struct Unprepared<'c, C>(pub &'c C);

impl<C: GenericClient> Prepare for Unprepared<'_, C> {
    type Inner = C;

    fn inner(&self) -> &C {
        self.0
    }

    // An `async fn`: the boxed future's one lifetime is then the shorter of the two borrows.
    async fn statement(&self, sql: &str) -> Result<Statement, Error> {
        self.0.prepare(sql).await
    }
}
