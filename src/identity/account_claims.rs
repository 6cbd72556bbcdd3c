//! An account becoming provably its holder's, announced to the rooms that keep records under the
//! holder's number. Someone who applied at the window without a verified app account has cases
//! (and licences) kept under a blind index of their ID number or credit code; when they get an
//! account that is provably theirs, those records join it.
//!
//! "Provably theirs" is identity's rule, and it is kept here: a citizen account claims only once
//! its real name was verified against the ID number (at registration or a later re-check), never
//! on the number alone; an enterprise account exists only after a certificate login, which
//! proves the credit code. What joins is the other rooms' business: they implement
//! [`AccountProven`] (the cases room does) and `app.rs` hands it to identity, so identity never
//! reaches up into them.

use std::future::Future;
use std::pin::Pin;

use ring::digest;
use tokio_postgres::Transaction;

use super::citizen_id::CitizenIdNumber;
use super::model::Subject;
use super::pii::IdentityKeys;

/// A citizen or an enterprise: whose records an index names, who holds a licence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplicantKind {
    Citizen,
    Enterprise,
}

impl ApplicantKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ApplicantKind::Citizen => "citizen",
            ApplicantKind::Enterprise => "enterprise",
        }
    }
}

/// A citizen's index: the citizen table's own blind index of the ID number (keyed: the column
/// reveals nothing without the key).
pub fn citizen_index(keys: &IdentityKeys, number: &CitizenIdNumber) -> Vec<u8> {
    keys.blind_index(number.expose())
}

/// An enterprise's index: a digest of its credit code (public: printed on its business licence,
/// so it needs no key).
pub fn enterprise_index(code: &str) -> Vec<u8> {
    digest::digest(&digest::SHA256, format!("enterprise:{code}").as_bytes())
        .as_ref()
        .to_vec()
}

pub type ClaimFuture<'a> =
    Pin<Box<dyn Future<Output = Result<(), tokio_postgres::Error>> + Send + 'a>>;

/// What another room does when an account is proven (boxed futures, so that identity can hold
/// it as `Arc<dyn AccountProven>`).
pub trait AccountProven: Send + Sync {
    /// Joins the records of `kind` kept under `index` to `subject`, inside identity's
    /// transaction (the account's creation or verification commits with them, or neither).
    fn account_proven<'a>(
        &'a self,
        tx: &'a Transaction<'a>,
        subject: &'a Subject,
        kind: ApplicantKind,
        index: &'a [u8],
    ) -> ClaimFuture<'a>;
}
