//! The licence library (证照库): licences issued by approved cases, their holders' list,
//! downloads and share links, public verification of every sealed document, and revocation.

pub mod api;
pub mod errors;
pub mod service;
pub mod store;
pub mod views;
