//! Departments (部门) in a hierarchy (province → city → county → town), each with its region code.

pub mod api;
pub mod errors;
pub mod model;
pub mod service;
pub mod store;
