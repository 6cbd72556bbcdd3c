//! The problems the licences capability can send (viewing, sharing, verifying and revoking them),
//! each with its code, HTTP status and Chinese title together.
//!
//! To send a new one, add a variant here (its code, status and title) and construct the error with
//! `AppError::new(LicenceProblem::Variant, detail)`; see `crate::http::problem` and
//! docs/ARCHITECTURE.md.

use crate::http::declare::problems;

problems! {
    /// Every problem the licences capability can send.
    pub enum LicenceProblem {
        PdfRequired = ("pdf_required", BAD_REQUEST, "请上传 PDF 文件"),
        FileTooLarge = ("file_too_large", PAYLOAD_TOO_LARGE, "文件过大"),
        ApproverRequired = ("approver_required", FORBIDDEN, "仅限发证部门的审批人员操作"),
        LicenceNotFound = ("licence_not_found", NOT_FOUND, "证照不存在"),
        DocumentNotFound = ("document_not_found", NOT_FOUND, "文书不存在"),
        ShareNotFound = ("share_not_found", NOT_FOUND, "分享链接不存在或已过期"),
        LicenceRevoked = ("licence_revoked", CONFLICT, "证照已撤销"),
        LicenceAlreadyRevoked = ("licence_already_revoked", CONFLICT, "证照已撤销，不能重复撤销"),
        LicenceRevokedGone = ("licence_revoked", GONE, "证照已撤销"),
        ShareHoursOutOfRange = ("share_hours_out_of_range", UNPROCESSABLE_ENTITY, "分享时长超出允许范围"),
        ReasonRequired = ("reason_required", UNPROCESSABLE_ENTITY, "请填写撤销理由"),
        ReasonTooLong = ("reason_too_long", UNPROCESSABLE_ENTITY, "理由过长"),
    }
}
