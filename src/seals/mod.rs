//! Electronic seals (电子印章): each department's seal is a signing key, a certificate from the
//! platform's seal CA (or an imported one) and a drawn image. Keys are sealed at rest; every use
//! is audited; a seal can be suspended or revoked.

pub mod api;
pub mod authority;
pub mod errors;
pub mod import;
pub mod registry;
