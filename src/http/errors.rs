//! The problems the HTTP layer can send (malformed requests, missing credentials, unknown routes,
//! limits, and the field codes every capability shares), each with its code, HTTP status and
//! Chinese title together.
//!
//! To send a new one, add a variant here (its code, status and title) and construct the error with
//! `AppError::new(HttpProblem::Variant, detail)`; see `crate::http::problem` and
//! docs/ARCHITECTURE.md.

use crate::http::declare::problems;

problems! {
    /// Every problem the HTTP layer can send.
    pub enum HttpProblem {
        InvalidJson = ("invalid_json", BAD_REQUEST, "请求内容不是合法的 JSON"),
        InvalidBody = ("invalid_body", BAD_REQUEST, "请求内容格式错误"),
        InvalidCharacter = ("invalid_character", BAD_REQUEST, "内容含有不允许的空字符"),
        InvalidParameter = ("invalid_parameter", BAD_REQUEST, "请求参数错误"),
        BadRequest = ("bad_request", BAD_REQUEST, "请求错误"),
        MalformedRequest = ("malformed_request", BAD_REQUEST, "请求格式错误"),
        EmptyFile = ("empty_file", BAD_REQUEST, "文件为空"),
        Unauthorized = ("unauthorized", UNAUTHORIZED, "未登录或凭据无效"),
        MetricsTokenRequired = ("metrics_token_required", UNAUTHORIZED, "需要监控指标访问令牌"),
        Forbidden = ("forbidden", FORBIDDEN, "无权执行此操作"),
        RouteNotFound = ("route_not_found", NOT_FOUND, "请求的地址不存在"),
        MethodNotAllowed = ("method_not_allowed", METHOD_NOT_ALLOWED, "不支持该请求方法"),
        PayloadTooLarge = ("payload_too_large", PAYLOAD_TOO_LARGE, "请求内容过大"),
        UriTooLong = ("uri_too_long", URI_TOO_LONG, "请求地址过长"),
        UnsupportedMediaType = ("unsupported_media_type", UNSUPPORTED_MEDIA_TYPE, "不支持的内容类型"),
        FileTypeMismatch = ("file_type_mismatch", UNSUPPORTED_MEDIA_TYPE, "文件内容与声明的类型不符"),
        ValidationFailed = ("validation_failed", UNPROCESSABLE_ENTITY, "请求内容未通过校验"),
        Required = ("required", UNPROCESSABLE_ENTITY, "缺少必填内容"),
        TooLong = ("too_long", UNPROCESSABLE_ENTITY, "内容超出长度限制"),
        InvalidFormat = ("invalid_format", UNPROCESSABLE_ENTITY, "格式不正确"),
        InvalidLength = ("invalid_length", UNPROCESSABLE_ENTITY, "内容长度不符合要求"),
        NotAllowed = ("not_allowed", UNPROCESSABLE_ENTITY, "不允许填写此项"),
        NotFound = ("not_found", UNPROCESSABLE_ENTITY, "引用的对象不存在"),
        OutOfRange = ("out_of_range", UNPROCESSABLE_ENTITY, "数值超出允许范围"),
        RateLimited = ("rate_limited", TOO_MANY_REQUESTS, "请求过于频繁，请稍后再试"),
        RequestHeadTooLarge = ("request_head_too_large", REQUEST_HEADER_FIELDS_TOO_LARGE, "请求头过大"),
        InternalError = ("internal_error", INTERNAL_SERVER_ERROR, "服务器内部错误"),
        ServiceUnavailable = ("service_unavailable", SERVICE_UNAVAILABLE, "服务暂时不可用，请稍后再试"),
        HttpVersionNotSupported = ("http_version_not_supported", HTTP_VERSION_NOT_SUPPORTED, "不支持该 HTTP 版本"),
    }
}
