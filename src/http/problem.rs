//! The one mapping from errors to RFC 9457 problem+json responses.
//!
//! Every error a client can see has a stable machine `code`, a Chinese `title` for people and an
//! English `detail`; validation errors name the offending field(s).

use poem::http::{HeaderValue, StatusCode, header};
use poem::{Response, error::ResponseError};
use poem_openapi::registry::{
    MetaHeader, MetaMediaType, MetaResponse, MetaResponses, MetaSchemaRef, Registry,
};
use poem_openapi::types::Type;
use poem_openapi::{ApiResponse, Object};

pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// One offending field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Object, serde::Serialize, serde::Deserialize)]
pub struct FieldError {
    /// JSON path or parameter name, e.g. `materials[2].name` or `working_days`.
    pub field: String,
    /// Stable machine code, e.g. `required`, `too_long`, `invalid_format`.
    pub code: String,
    /// English explanation.
    pub detail: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: &str, detail: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            code: code.to_owned(),
            detail: detail.into(),
        }
    }
}

/// RFC 9457 problem details, as sent on the wire.
#[derive(Debug, Clone, Object, serde::Serialize, serde::Deserialize)]
pub struct Problem {
    /// A URI reference naming the problem type (`about:blank` or `urn:fingertip:problem:<code>`).
    #[oai(rename = "type")]
    #[serde(rename = "type")]
    pub problem_type: String,
    /// Short Chinese summary for people.
    pub title: String,
    pub status: u16,
    /// English explanation for developers.
    pub detail: String,
    /// Stable machine-readable code.
    pub code: String,
    /// The first offending field, when the problem is about the request's content.
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub field: Option<String>,
    /// Every offending field, when there are several.
    #[oai(skip_serializing_if_is_empty, default)]
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub errors: Vec<FieldError>,
}

/// Declares the problems one capability can send: an enum whose every variant carries its
/// stable machine `code`, its HTTP status and its Chinese title, written together, so that no
/// code can be sent without a title. See `crate::cases::errors` for a use.
///
/// ```ignore
/// problems! {
///     /// Every problem the cases capability can send.
///     pub enum CaseProblem {
///         CaseNotFound = ("case_not_found", NOT_FOUND, "办件不存在"),
///     }
/// }
/// ```
macro_rules! problems {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = ($code:literal, $status:ident, $title:literal), )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every problem declared here.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable machine code sent as `code`.
            pub const fn code(self) -> &'static str {
                match self {
                    $($name::$variant => $code,)+
                }
            }

            /// The HTTP status it is sent with.
            pub const fn status(self) -> ::poem::http::StatusCode {
                match self {
                    $($name::$variant => ::poem::http::StatusCode::$status,)+
                }
            }

            /// The short Chinese title sent as `title`.
            pub const fn title(self) -> &'static str {
                match self {
                    $($name::$variant => $title,)+
                }
            }
        }
    };
}
pub(crate) use problems;

/// Lists every capability's problems as one kind: an `AppError` holds a `ProblemKind`, and the
/// only ways to make one are the declared enums below.
macro_rules! problem_kinds {
    ($($capability:ident($declared:ty),)+) => {
        /// A declared problem of some capability: its code, status and title.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ProblemKind {
            $($capability($declared),)+
        }

        impl ProblemKind {
            pub const fn code(self) -> &'static str {
                match self {
                    $(ProblemKind::$capability(kind) => kind.code(),)+
                }
            }

            pub const fn status(self) -> StatusCode {
                match self {
                    $(ProblemKind::$capability(kind) => kind.status(),)+
                }
            }

            pub const fn title(self) -> &'static str {
                match self {
                    $(ProblemKind::$capability(kind) => kind.title(),)+
                }
            }

            /// Every problem every capability declares.
            pub fn all() -> impl Iterator<Item = ProblemKind> {
                std::iter::empty()
                    $(.chain(<$declared>::ALL.iter().map(|kind| ProblemKind::$capability(*kind))))+
            }
        }

        $(
            impl From<$declared> for ProblemKind {
                fn from(kind: $declared) -> Self {
                    ProblemKind::$capability(kind)
                }
            }
        )+
    };
}

problem_kinds! {
    Http(super::errors::HttpProblem),
    Identity(crate::identity::errors::IdentityProblem),
    Catalog(crate::catalog::errors::CatalogProblem),
    Calendar(crate::calendar::errors::CalendarProblem),
    Cases(crate::cases::errors::CaseProblem),
    Licences(crate::licences::errors::LicenceProblem),
    Seals(crate::seals::errors::SealProblem),
    Department(crate::department::errors::DepartmentProblem),
    Notify(crate::notify::errors::NotifyProblem),
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The request is malformed (unparseable JSON, wrong type, bad parameter): 400.
    #[error("{detail}")]
    BadRequest {
        code: &'static str,
        field: Option<String>,
        detail: String,
    },
    /// The request is well-formed but its content breaks a rule: 422, listing every field.
    #[error("{code}: {errors:?}")]
    Invalid {
        code: &'static str,
        errors: Vec<FieldError>,
    },
    #[error("{detail}")]
    Unauthorized { code: &'static str, detail: String },
    #[error("{detail}")]
    Forbidden { code: &'static str, detail: String },
    #[error("{detail}")]
    NotFound { code: &'static str, detail: String },
    #[error("{detail}")]
    Conflict { code: &'static str, detail: String },
    #[error("{detail}")]
    Status {
        status: StatusCode,
        code: &'static str,
        detail: String,
    },
    #[error("too many requests")]
    TooManyRequests { retry_after_seconds: u64 },
    /// A dependency (the database pool) is momentarily unavailable: 503.
    #[error("{detail}")]
    Unavailable { detail: String },
    /// Anything else: 500, logged with its cause, never shown.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    pub fn invalid_field(
        field: impl Into<String>,
        code: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        AppError::Invalid {
            code,
            errors: vec![FieldError::new(field, code, detail)],
        }
    }

    pub fn not_found(code: &'static str, detail: impl Into<String>) -> Self {
        AppError::NotFound {
            code,
            detail: detail.into(),
        }
    }

    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        AppError::Conflict {
            code,
            detail: detail.into(),
        }
    }

    pub fn http_status(&self) -> StatusCode {
        match self {
            AppError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            AppError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            AppError::Forbidden { .. } => StatusCode::FORBIDDEN,
            AppError::NotFound { .. } => StatusCode::NOT_FOUND,
            AppError::Conflict { .. } => StatusCode::CONFLICT,
            AppError::Status { status, .. } => *status,
            AppError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            AppError::BadRequest { code, .. }
            | AppError::Invalid { code, .. }
            | AppError::Unauthorized { code, .. }
            | AppError::Forbidden { code, .. }
            | AppError::NotFound { code, .. }
            | AppError::Conflict { code, .. }
            | AppError::Status { code, .. } => code,
            AppError::TooManyRequests { .. } => "rate_limited",
            AppError::Unavailable { .. } => "service_unavailable",
            AppError::Internal(_) => "internal_error",
        }
    }

    pub fn to_problem(&self) -> Problem {
        let status = self.http_status();
        let code = self.code();
        let (detail, field, errors) = match self {
            AppError::BadRequest { field, detail, .. } => {
                (detail.clone(), field.clone(), Vec::new())
            }
            AppError::Invalid { errors, .. } => (
                errors
                    .iter()
                    .map(|e| format!("{}: {}", e.field, e.detail))
                    .collect::<Vec<_>>()
                    .join("; "),
                errors.first().map(|e| e.field.clone()),
                errors.clone(),
            ),
            AppError::Internal(_) => (
                "an unexpected error occurred; it has been logged".to_owned(),
                None,
                Vec::new(),
            ),
            other => (other.to_string(), None, Vec::new()),
        };
        Problem {
            problem_type: format!("urn:fingertip:problem:{code}"),
            title: title_for(code, status).to_owned(),
            status: status.as_u16(),
            detail,
            code: code.to_owned(),
            field,
            errors,
        }
    }
}

/// The Chinese title shown to people, by code (falling back to the status).
fn title_for(code: &str, status: StatusCode) -> &'static str {
    match code {
        "invalid_json" => "请求内容不是合法的 JSON",
        "invalid_body" => "请求内容格式错误",
        "invalid_character" => "内容含有不允许的空字符",
        "invalid_parameter" => "请求参数错误",
        "validation_failed" => "请求内容未通过校验",
        "guide_incomplete" => "办事指南要素不全，不能发布",
        "year_not_loaded" => "该年度工作日历尚未发布",
        "year_exists" => "该年度工作日历已录入，请以更正方式修改",
        "year_mismatch" => "请求中的年度与路径不一致",
        "invalid_calendar" => "工作日历数据不正确",
        "date_out_of_range" => "日期超出可计算范围",
        "duplicate_date" => "同一日期重复列出",
        "date_on_both_lists" => "同一日期不能既放假又调休上班",
        "date_outside_year" => "日期不在该年度内",
        "adjusted_day_not_weekend" => "调休上班日须为周六或周日",
        "extension_in_past" => "延期后的办结日期已过",
        "extension_after_deadline" => "办理期限已届满，不能再延期",
        "extension_limit_reached" => "延期次数已达上限",
        "extension_exceeds_allowance" => "延长的期限超过法定或事项允许的范围",
        "unauthorized" => "未登录或凭据无效",
        "metrics_token_required" => "需要监控指标访问令牌",
        "forbidden" => "无权执行此操作",
        "payload_too_large" => "请求内容过大",
        "unsupported_media_type" => "不支持的内容类型",
        "rate_limited" => "请求过于频繁，请稍后再试",
        "service_unavailable" => "服务暂时不可用，请稍后再试",
        "internal_error" => "服务器内部错误",
        "route_not_found" => "请求的地址不存在",
        "malformed_request" => "请求格式错误",
        "uri_too_long" => "请求地址过长",
        "request_head_too_large" => "请求头过大",
        "http_version_not_supported" => "不支持该 HTTP 版本",
        "method_not_allowed" => "不支持该请求方法",
        "token_malformed" | "token_invalid" => "登录凭据无效，请重新登录",
        "token_expired" => "登录已过期，请刷新或重新登录",
        "session_revoked" => "登录已失效，请重新登录",
        "refresh_token_invalid" | "refresh_token_expired" => "登录已失效，请重新登录",
        "refresh_token_reused" => "检测到登录凭据被重复使用，为安全起见已退出登录",
        "account_disabled" => "账号已停用",
        "account_locked" => "密码错误次数过多，账号已临时锁定",
        "account_not_found" => "该手机号尚未注册",
        "invalid_credentials" => "用户名或密码错误",
        "otp_invalid" => "验证码错误",
        "otp_expired" => "验证码已过期，请重新获取",
        "otp_attempts_exceeded" => "验证码错误次数过多，请重新获取",
        "invalid_phone" => "手机号码格式不正确",
        "invalid_name" => "姓名格式不正确",
        "id_number_length" => "身份证号码应为18位",
        "id_number_character" => "身份证号码含有无效字符",
        "id_number_region" => "身份证号码的地址码无效",
        "id_number_birth_date" => "身份证号码的出生日期无效",
        "id_number_check_digit" => "身份证号码校验位错误",
        "phone_registered" => "该手机号已注册",
        "id_number_registered" => "该身份证号码已注册",
        "password_too_short" | "password_too_long" | "password_too_simple" => "密码不符合安全要求",
        "username_taken" => "用户名已存在",
        "applicant_only" => "仅限群众和企业用户办理",
        "citizens_only" => "仅限自然人用户",
        "challenge_invalid" => "登录挑战无效或已过期，请重新获取",
        "certificate_login_disabled" => "未启用数字证书登录",
        "certificate_not_bound" => "该数字证书未绑定工作人员账号",
        "certificate_bound_elsewhere" => "该数字证书已绑定其他工作人员账号",
        "client_certificate_required" => "请使用数字证书（USB Key）连接证书登录地址",
        "certificate_revoked" => "数字证书已吊销",
        "certificate_expired" => "数字证书已过期",
        "certificate_not_yet_valid" => "数字证书尚未生效",
        "certificate_untrusted" => "数字证书不是受信任的机构签发",
        "certificate_bad_signature" => "数字签名验证失败",
        "certificate_crl_unavailable" | "certificate_crl_stale" => {
            "暂时无法核验证书吊销状态，请稍后再试"
        }
        "certificate_no_enterprise_code" | "certificate_invalid_enterprise_code" => {
            "数字证书中没有有效的统一社会信用代码"
        }
        code if code.starts_with("certificate_") => "数字证书无效",
        "invalid_device_token" => "推送令牌格式不正确",
        "invalid_locale" => "语言区域格式不正确，应如 zh-CN",
        "invalid_app_version" => "应用版本号格式不正确",
        "invalid_quiet_hours" => "免打扰时段设置不正确",
        "device_not_found" => "设备不存在",
        "device_token_registered" => "该推送令牌已登记为另一台设备",
        "notification_not_found" => "消息不存在",
        "empty_file" => "文件为空",
        "file_too_large" => "文件过大",
        "file_type_unsupported" => "不支持的文件类型，请上传 PDF、JPG、PNG 或 OFD 文件",
        "file_type_mismatch" => "文件内容与声明的类型不符",
        "invalid_file_name" => "文件名不正确",
        "file_not_found" => "文件不存在",
        "not_a_window_clerk" => "仅限窗口受理人员操作",
        "case_not_found" => "办件不存在",
        "case_action_forbidden" => "当前环节无权办理此办件",
        "case_closed" => "办件已办结或终止，不能再操作",
        "case_action_not_in_stage" => "办件当前状态不能进行此操作",
        "case_revision_conflict" => "办件已被他人处理，请刷新后重试",
        "idempotency_key_required" => "请求缺少幂等键（Idempotency-Key）",
        "invalid_idempotency_key" => "幂等键格式不正确",
        "idempotency_key_reused" => "该幂等键已用于另一项申请",
        "item_not_found" => "事项不存在或未发布",
        "item_not_online" => "该事项不支持网上申请，请到窗口办理",
        "item_version_changed" => "办事指南已更新，请重新提交",
        "assurance_too_low" => "该事项需要更高等级的实名认证",
        "applicant_type_not_allowed" => "申请人类型不符合该事项要求",
        "agent_not_authorised" => "未获申请人有效授权，不能代办",
        "agent_not_found" => "代办人尚未注册指尖办",
        "agent_is_self" => "不能授权本人代办",
        "authorisation_not_found" => "授权不存在",
        "not_accepting_clerk" => "仅限该事项受理部门的窗口人员收件",
        "materials_missing" => "缺少必需的申请材料",
        "materials_required" => "请提交补正材料",
        "unknown_material" => "材料不在该事项的材料清单中",
        "duplicate_material" => "材料重复提交",
        "files_required" => "请上传材料文件",
        "too_many_files" => "材料文件过多",
        "file_type_not_allowed" => "该材料不接受此文件类型",
        "form_invalid" | "form_too_large" => "申请表内容不正确",
        "correction_list_empty" | "correction_entry_blank" => {
            "补正告知须一次性列明全部需补正的材料"
        }
        "reject_reason_blank" => "不予受理须说明理由",
        "suspend_reason_blank" => "挂起须说明理由",
        "extend_reason_blank" => "延期须说明理由",
        "terminate_reason_blank" => "终止须说明理由",
        "withdraw_reason_blank" => "撤回理由不能为空白",
        "deny_reasons_blank" => "不予许可须说明理由",
        "remedies_incomplete" => "不予许可决定须告知申请复议和提起诉讼的权利",
        "steps_incomplete" => "尚有部门审查环节未完成",
        "deferred_materials_pending" => "容缺材料尚未补齐，暂不能出具结果",
        "deferred_key_material" => "核心要件不能容缺",
        "deferred_due_past" | "expected_end_past" => "日期不能早于今天",
        "extension_not_later" | "extension_not_working_day" => "延期后的办结日期须为更晚的工作日",
        "step_not_running" | "step_unknown" => "该审查环节当前不能办理",
        "occurred_at_future" => "补录时间不能晚于当前时间",
        "occurred_at_too_old" => "补录时间超出允许范围",
        "progress_not_found" => "未查询到办件，请核对受理编号和验证信息",
        "second_factor_required" => "请提供身份证号码后六位或短信验证码",
        code if code.starts_with("acceptance_number_") => "受理编号不正确",
        _ => match status {
            StatusCode::NOT_FOUND => "请求的资源不存在",
            StatusCode::CONFLICT => "与当前状态冲突",
            StatusCode::BAD_REQUEST => "请求错误",
            StatusCode::UNPROCESSABLE_ENTITY => "请求内容未通过校验",
            _ => "请求未能完成",
        },
    }
}

pub fn problem_response(problem: &Problem) -> Response {
    let body = serde_json::to_vec(problem).unwrap_or_default();
    Response::builder()
        .status(StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(
            header::CONTENT_TYPE,
            HeaderValue::from_static(PROBLEM_CONTENT_TYPE),
        )
        .body(body)
}

impl ResponseError for AppError {
    fn status(&self) -> StatusCode {
        self.http_status()
    }

    fn as_response(&self) -> Response {
        if let AppError::Internal(cause) = self {
            tracing::error!(error = %format!("{cause:#}"), "internal error");
        }
        let mut response = problem_response(&self.to_problem());
        if let AppError::TooManyRequests {
            retry_after_seconds,
        } = self
        {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_seconds));
        }
        response
    }
}

/// Documents the problem responses every operation may return.
impl ApiResponse for AppError {
    fn meta() -> MetaResponses {
        let problem = |status: u16, description: &'static str| MetaResponse {
            description,
            status: Some(status),
            status_range: None,
            content: vec![MetaMediaType {
                content_type: PROBLEM_CONTENT_TYPE,
                schema: MetaSchemaRef::Reference(Problem::name().into_owned()),
            }],
            headers: vec![],
        };
        // Limits (SMS and email codes, logins, public progress queries) answer 429 and say when
        // to try again.
        let mut rate_limited = problem(429, "Too many requests: try again after `Retry-After`");
        rate_limited.headers.push(MetaHeader {
            name: "Retry-After".to_owned(),
            description: Some("Seconds to wait before trying again".to_owned()),
            required: true,
            deprecated: false,
            schema: u64::schema_ref(),
        });
        MetaResponses {
            responses: vec![
                problem(400, "Malformed request (problem+json names the field)"),
                problem(401, "Missing or invalid credentials"),
                problem(
                    403,
                    "Not allowed for this caller (the code says which rule or level)",
                ),
                problem(404, "Not found"),
                problem(409, "Conflicts with the current state"),
                problem(422, "Validation failed (problem+json lists every field)"),
                rate_limited,
                problem(503, "Temporarily unavailable"),
            ],
        }
    }

    fn register(registry: &mut Registry) {
        Problem::register(registry);
    }
}

impl From<deadpool_postgres::PoolError> for AppError {
    fn from(err: deadpool_postgres::PoolError) -> Self {
        match err {
            deadpool_postgres::PoolError::Timeout(_) => AppError::Unavailable {
                detail: "database connection pool exhausted".to_owned(),
            },
            other => AppError::Internal(anyhow::Error::new(other).context("database pool")),
        }
    }
}

impl From<tokio_postgres::Error> for AppError {
    fn from(err: tokio_postgres::Error) -> Self {
        if err.is_closed() {
            return AppError::Unavailable {
                detail: "database connection lost".to_owned(),
            };
        }
        AppError::Internal(anyhow::Error::new(err).context("database"))
    }
}

pub type AppResult<T> = Result<T, AppError>;

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use super::*;

    fn is_snake_case(code: &str) -> bool {
        code.starts_with(|c: char| c.is_ascii_lowercase())
            && !code.ends_with('_')
            && !code.contains("__")
            && code
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    }

    fn has_chinese(title: &str) -> bool {
        title
            .chars()
            .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
    }

    #[test]
    fn every_declared_problem_has_a_snake_case_code_an_error_status_and_a_chinese_title() {
        let all: Vec<ProblemKind> = ProblemKind::all().collect();
        assert!(!all.is_empty());
        for kind in &all {
            let (code, status, title) = (kind.code(), kind.status(), kind.title());
            assert!(is_snake_case(code), "{kind:?}: {code:?} is not snake_case");
            assert!(
                status.is_client_error() || status.is_server_error(),
                "{kind:?}: {status} is not an error"
            );
            assert!(!title.trim().is_empty(), "{kind:?} has a blank title");
            assert!(has_chinese(title), "{kind:?}: {title:?} is not Chinese");
        }
    }

    #[test]
    fn a_code_declared_twice_means_one_thing() {
        // A code may be declared by two capabilities, or twice by one with two statuses (a
        // `licence_revoked` share link is 410, revoking it again 409): always with one title,
        // and never twice by one capability with the same status.
        let mut by_code: HashMap<&str, Vec<ProblemKind>> = HashMap::new();
        for kind in ProblemKind::all() {
            by_code.entry(kind.code()).or_default().push(kind);
        }
        for (code, kinds) in &by_code {
            let titles: HashSet<&str> = kinds.iter().map(|k| k.title()).collect();
            assert_eq!(titles.len(), 1, "{code} has several titles: {titles:?}");
            let declarations: HashSet<_> = kinds
                .iter()
                .map(|k| (std::mem::discriminant(k), k.status()))
                .collect();
            assert_eq!(
                declarations.len(),
                kinds.len(),
                "{code} is declared twice alike: {kinds:?}"
            );
        }
    }
}
