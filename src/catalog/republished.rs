//! A guide published anew while cases under its older version are still open. The applicants of
//! those cases must hear what changed; they are the cases room's, so catalog announces the
//! change through [`GuideRepublished`], which the cases room implements and `app.rs` hands in,
//! and never reaches up into cases itself.

use std::future::Future;
use std::pin::Pin;

use serde_json::Value;
use tokio_postgres::Transaction;
use uuid::Uuid;

/// One publication that replaced an earlier version.
#[derive(Debug, Clone, Copy)]
pub struct Republication<'a> {
    pub item_id: Uuid,
    /// The new version.
    pub version: i32,
    pub item_name: &'a str,
    /// The guides as JSON, before and after.
    pub before: &'a Value,
    pub after: &'a Value,
}

pub type RepublishedFuture<'a> = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send + 'a>>;

/// What another room does when a guide is republished (boxed futures, so catalog can hold it as
/// `Arc<dyn GuideRepublished>`).
pub trait GuideRepublished: Send + Sync {
    /// Runs inside the publication's transaction: the notices commit with it, or neither.
    fn guide_republished<'a>(
        &'a self,
        tx: &'a Transaction<'a>,
        change: Republication<'a>,
    ) -> RepublishedFuture<'a>;
}
