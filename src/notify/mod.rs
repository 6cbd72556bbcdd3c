//! The notification hub: templates, the transactional outbox, dispatch workers and the provider
//! clients that reach people by SMS, app push and email.

pub mod api;
pub mod attachment;
pub mod code_scrub;
pub mod dispatcher;
pub mod errors;
pub mod me_api;
pub mod me_email;
pub mod model;
pub mod outbox;
pub mod provider;
pub mod providers;
pub mod receipts;
pub mod setup;
pub mod templates;
