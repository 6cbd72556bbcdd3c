//! The item catalog (事项目录): items with their published guides (办事指南), edited as drafts and
//! published as immutable versions.

pub mod api;
pub mod demo;
pub mod errors;
pub mod model;
pub mod republished;
pub mod service;
pub mod store;
pub mod views;
