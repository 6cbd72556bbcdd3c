//! The integration suite: one binary, each test on its own fresh database cloned from a migrated
//! template, against the app served on port 0.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../support/mod.rs"]
mod support;

#[path = "../support/fakes/aliyun.rs"]
mod fake_aliyun;
#[path = "../support/fakes/realname.rs"]
mod fake_realname;
#[path = "../support/fakes/smtp.rs"]
mod fake_smtp;

mod audit_chain;
mod audit_log;
mod authorization;
mod calendar;
mod case_access;
mod case_agents;
mod case_attribution;
mod case_deferred_materials;
mod case_endings;
mod case_extension_and_termination;
mod case_item_changes;
mod case_journey;
mod case_submission;
mod catalog;
mod citizen_registration;
mod contract;
mod crash_recovery;
mod database_tls;
mod deadlines_past_the_calendar;
mod demo;
mod enterprise_login;
mod errors;
mod file_rows;
mod hostile_requests;
mod identity_housekeeping;
mod licences;
mod log_hygiene;
mod material_access_and_limits;
mod material_storage;
mod material_uploads;
mod migrations;
mod notify;
mod notify_email;
mod notify_me;
mod notify_providers;
mod observability;
mod one_window;
mod openapi;
mod pre_review_clock;
mod progress_history;
mod progress_query;
mod seals;
mod serve_binary;
mod sessions;
mod sms_codes;
mod special_steps_and_documents;
mod staff_accounts;
mod staff_case_search;
mod window_cases;
