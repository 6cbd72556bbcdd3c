//! The register of issued documents (`case_document`): every sealed PDF a case produced —
//! notices, decisions, licences — with its number, hash and QR verification token.
//!
//! The case service writes it when it seals a document ([`records::insert`]), in the
//! decision's transaction; the case views list a case's documents; the licence library and the
//! public verification (by QR token or by the PDF's bytes) look documents up. A room of its own
//! so that both the cases and the licences rooms stand on it, and neither on the other.

pub mod records;

pub use records::{DocumentRecord, DocumentView, NewDocument};
