//! A guide published anew, or an item cancelled, while cases of it are still open. The
//! applicants and handlers of those cases must hear of it; they are the cases room's, so catalog
//! announces the change through [`GuideRepublished`], which the cases room implements and
//! `app.rs` hands in, and never reaches up into cases itself.

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

/// One cancellation of a published item (事项取消).
#[derive(Debug, Clone, Copy)]
pub struct Cancellation<'a> {
    pub item_id: Uuid,
    pub item_code: &'a str,
    /// The cancellation's stated reason.
    pub reason: &'a str,
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

    /// Runs inside the cancellation's transaction: the open cases are flagged with it, or
    /// neither.
    fn item_cancelled<'a>(
        &'a self,
        tx: &'a Transaction<'a>,
        change: Cancellation<'a>,
    ) -> RepublishedFuture<'a>;
}
