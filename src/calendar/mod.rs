//! The working-day calendar (工作日): official days off and adjusted working days per year, and the
//! deadline arithmetic every time limit is counted with.

pub mod api;
pub mod errors;
pub mod model;
pub mod provisional;
pub mod service;
pub mod store;
