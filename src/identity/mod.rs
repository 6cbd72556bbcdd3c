//! The identity gateway: who is calling (citizens by SMS OTP and real-name check, enterprises by
//! CA certificate, staff by password), their sessions, and the one rule book of who may do what.

pub mod certificate;
pub mod citizen_id;
pub mod credit_code;
pub mod password;
pub mod pii;
pub mod realname;
