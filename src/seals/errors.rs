//! The problems the seals capability can send (department seals), each with its code, HTTP status
//! and Chinese title together.
//!
//! To send a new one, add a variant here (its code, status and title) and construct the error with
//! `AppError::new(SealProblem::Variant, detail)`; see `crate::http::problem` and
//! docs/ARCHITECTURE.md.

use crate::http::declare::problems;

problems! {
    /// Every problem the seals capability can send.
    pub enum SealProblem {
        SealNotFound = ("seal_not_found", NOT_FOUND, "印章不存在"),
        SealExists = ("seal_exists", CONFLICT, "该部门已有同一用途的印章"),
        SealRevoked = ("seal_revoked", CONFLICT, "印章已注销，不能再变更状态"),
        SealUnavailable = ("seal_unavailable", CONFLICT, "部门没有可用的印章"),
        SealLabelTooLong = ("seal_label_too_long", UNPROCESSABLE_ENTITY, "印章文字过长"),
        SealReasonBlank = ("seal_reason_blank", UNPROCESSABLE_ENTITY, "须说明印章状态变更的理由"),
        InvalidSealImport = ("invalid_seal_import", UNPROCESSABLE_ENTITY, "导入的印章数据不正确"),
    }
}
