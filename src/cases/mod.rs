//! Cases (办件): the pure core — the state machine, the deadline clock and the acceptance
//! number (受理编号). Storage, services and endpoints build on these and add no rules of their own.
//! Applicants' material files (资料交一份), which cases reference, are in `files`.

pub mod acceptance_number;
pub mod agents;
pub mod api;
pub mod claims;
pub mod clock;
pub mod errors;
pub mod extension;
pub mod file_rows;
pub mod files;
pub mod files_api;
pub mod issuing;
pub mod item_change;
pub mod legal_frame;
pub mod model;
pub mod pre_review_clock;
pub mod progress;
pub mod progress_guidance;
pub mod progress_history;
pub mod search;
pub mod search_views;
pub mod service;
pub mod store;
pub mod submission_reference;
pub mod suspension;
pub mod tasks;
pub mod views;
