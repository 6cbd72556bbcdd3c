//! The problems the department capability can send, each with its code, HTTP status and Chinese
//! title together.
//!
//! To send a new one, add a variant here (its code, status and title) and construct the error with
//! `AppError::new(DepartmentProblem::Variant, detail)`; see `crate::http::problem` and
//! docs/ARCHITECTURE.md.

use crate::http::declare::problems;

problems! {
    /// Every problem the department capability can send.
    pub enum DepartmentProblem {
        DepartmentNotFound = ("department_not_found", NOT_FOUND, "部门不存在"),
        DepartmentExists = ("department_exists", CONFLICT, "部门编码已存在"),
    }
}
