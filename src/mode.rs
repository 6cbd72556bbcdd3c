//! Development or production: what production refuses (demo data and providers, a moved
//! clock, missing keys) is decided by it.

use serde::Deserialize;

/// How the service runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Development,
    Production,
}
