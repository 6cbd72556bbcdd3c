//! HTTP plumbing shared by every capability: problem+json errors, JSON bodies that name the
//! offending field, request ids, metrics, and the admin bearer token.

pub mod admin_auth;
pub mod body_limit;
pub mod catch_all;
pub mod json_body;
pub mod metrics;
pub mod problem;
pub mod request_id;

pub use json_body::JsonBody;
pub use problem::{AppError, AppResult, FieldError};

/// Tags grouping the API by audience in the OpenAPI document.
#[derive(poem_openapi::Tags)]
pub enum ApiTags {
    /// 公开：事项目录、办事指南、工作日历
    Public,
    /// 管理：部门、事项、日历（平台管理员）
    Admin,
    /// 运行：健康检查与就绪检查
    Operations,
}
