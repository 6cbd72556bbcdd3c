//! The identity gateway: who is calling (citizens by SMS OTP and real-name check, enterprises by
//! CA certificate, staff by password), their sessions, and the one rule book of who may do what.

pub mod account_claims;
pub mod api;
pub mod certificate;
pub mod citizen_id;
pub mod citizens;
pub mod client;
pub mod config;
pub mod credit_code;
pub mod demo;
pub mod enterprises;
pub mod errors;
pub mod gate;
pub mod housekeeping;
pub mod model;
pub mod mtls_listener;
pub mod otp;
pub mod password;
pub mod pii;
pub mod policy;
pub mod realname;
pub mod session_cache;
pub mod sessions;
pub mod setup;
pub mod staff;
pub mod tokens;
