//! The problems the catalog capability can send (items and their guides), each with its code, HTTP
//! status and Chinese title together.
//!
//! To send a new one, add a variant here (its code, status and title) and construct the error with
//! `AppError::new(CatalogProblem::Variant, detail)`; see `crate::http::problem` and
//! docs/ARCHITECTURE.md.

use crate::http::declare::problems;

problems! {
    /// Every problem the catalog capability can send.
    pub enum CatalogProblem {
        ItemNotFound = ("item_not_found", NOT_FOUND, "事项不存在或未发布"),
        MaterialNotFound = ("material_not_found", NOT_FOUND, "材料不存在"),
        FormNotFound = ("form_not_found", NOT_FOUND, "表单不存在"),
        ItemExists = ("item_exists", CONFLICT, "事项编码已存在"),
        ItemNotPublished = ("item_not_published", CONFLICT, "仅已发布的事项可以取消"),
        StaleRevision = ("stale_revision", CONFLICT, "草稿已被他人修改，请刷新后重试"),
        UnknownDepartment = ("unknown_department", UNPROCESSABLE_ENTITY, "部门不存在"),
        GuideIncomplete = ("guide_incomplete", UNPROCESSABLE_ENTITY, "办事指南要素不全，不能发布"),
    }
}
