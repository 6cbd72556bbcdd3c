//! fingertip: the backend of an online administrative approval platform (网上行政审批平台).
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod app;
pub mod audit;
pub mod blobs;
pub mod calendar;
pub mod calendar_edge;
pub mod cases;
pub mod catalog;
pub mod clock;
pub mod config;
pub mod db;
pub mod department;
pub mod document_register;
pub mod documents;
pub mod filetype;
pub mod health;
pub mod http;
pub mod identity;
pub mod keys;
pub mod licences;
pub mod logging;
pub mod masking;
pub mod mode;
pub mod notify;
pub mod open_files;
pub mod seals;
pub mod secret;
pub mod tls;
