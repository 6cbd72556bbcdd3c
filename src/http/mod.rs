//! HTTP plumbing shared by every capability: problem+json errors, JSON bodies that name the
//! offending field, request ids, metrics, and tokens shared with callers that hold no account.

pub mod body_limit;
pub mod catch_all;
pub mod declare;
pub mod download;
pub mod errors;
pub mod idle_deadline;
pub mod json_body;
pub mod metrics;
pub mod nul_guard;
pub mod optional_feature;
pub mod pre_serialized;
pub mod problem;
pub mod request_id;
pub mod serve;
pub mod shared_token;
pub mod spec;
pub mod unparsed_request;
pub mod upload;

pub use declare::ProblemKind;
pub use errors::HttpProblem;
pub use json_body::JsonBody;
pub use problem::{AppError, AppResult, FieldError, RequiredRole};

/// Tags grouping the API by audience in the OpenAPI document.
#[derive(poem_openapi::Tags)]
pub enum ApiTags {
    /// 公开：事项目录、办事指南、工作日历
    Public,
    /// 管理：部门、事项、日历（平台管理员）
    Admin,
    /// 运行：健康检查与就绪检查
    Operations,
    /// 对接：短信回执等外部系统回调（均需认证）
    Integration,
    /// 指尖办 App：注册、登录、会话与我的账户
    App,
    /// 工作人员：登录与办件
    Staff,
}

/// Parses a numeric path segment, naming it in the error. (poem-openapi names typed path
/// parameters `param0`, `param1`… in its own errors, which would not tell the client which.)
pub fn path_number<T: std::str::FromStr>(name: &str, raw: &str) -> Result<T, AppError> {
    raw.parse().map_err(|_| {
        AppError::in_field(
            HttpProblem::InvalidParameter,
            name.to_owned(),
            format!("path parameter `{name}` must be a number, got {raw:?}"),
        )
    })
}

/// A path segment that must be a UUID, named in the error.
pub fn path_uuid(name: &str, raw: &str) -> Result<uuid::Uuid, AppError> {
    uuid::Uuid::parse_str(raw).map_err(|_| {
        AppError::in_field(
            HttpProblem::InvalidParameter,
            name.to_owned(),
            format!("path parameter `{name}` must be a UUID"),
        )
    })
}
