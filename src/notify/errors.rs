//! The problems the notify capability can send (templates, sending, devices, the inbox and email
//! addresses), each with its code, HTTP status and Chinese title together.
//!
//! To send a new one, add a variant here (its code, status and title) and construct the error with
//! `AppError::new(NotifyProblem::Variant, detail)`; see `crate::http::problem` and
//! docs/ARCHITECTURE.md.

use crate::http::declare::problems;

problems! {
    /// Every problem the notify capability can send.
    pub enum NotifyProblem {
        TemplateNotFound = ("template_not_found", NOT_FOUND, "消息模板不存在"),
        NotificationNotFound = ("notification_not_found", NOT_FOUND, "消息不存在"),
        DeviceNotFound = ("device_not_found", NOT_FOUND, "设备不存在"),
        ConcurrentEdit = ("concurrent_edit", CONFLICT, "操作冲突，请重试"),
        DeviceTokenRegistered = ("device_token_registered", CONFLICT, "该推送令牌已登记为另一台设备"),
        UnknownTemplate = ("unknown_template", UNPROCESSABLE_ENTITY, "消息模板不存在"),
        MissingVariables = ("missing_variables", UNPROCESSABLE_ENTITY, "消息模板缺少变量"),
        InvalidTemplate = ("invalid_template", UNPROCESSABLE_ENTITY, "消息模板内容不正确"),
        NoContent = ("no_content", UNPROCESSABLE_ENTITY, "消息模板没有该渠道的内容"),
        NoAddress = ("no_address", UNPROCESSABLE_ENTITY, "缺少接收地址"),
        InvalidEmail = ("invalid_email", UNPROCESSABLE_ENTITY, "电子邮箱地址格式不正确"),
        InvalidAttachment = ("invalid_attachment", UNPROCESSABLE_ENTITY, "附件不正确"),
        InvalidDeviceToken = ("invalid_device_token", UNPROCESSABLE_ENTITY, "推送令牌格式不正确"),
        InvalidLocale = ("invalid_locale", UNPROCESSABLE_ENTITY, "语言区域格式不正确，应如 zh-CN"),
        InvalidAppVersion = ("invalid_app_version", UNPROCESSABLE_ENTITY, "应用版本号格式不正确"),
        InvalidQuietHours = ("invalid_quiet_hours", UNPROCESSABLE_ENTITY, "免打扰时段设置不正确"),
        EmailAlreadyVerified = ("email_already_verified", UNPROCESSABLE_ENTITY, "该邮箱已验证"),
        EmailCodeNotRequested = ("email_code_not_requested", UNPROCESSABLE_ENTITY, "请先获取邮箱验证码"),
        EmailCodeExpired = ("email_code_expired", UNPROCESSABLE_ENTITY, "验证码已过期，请重新获取"),
        EmailCodeAttemptsExceeded = ("email_code_attempts_exceeded", UNPROCESSABLE_ENTITY, "验证码错误次数过多，请重新获取"),
        EmailCodeInvalid = ("email_code_invalid", UNPROCESSABLE_ENTITY, "验证码错误"),
    }
}
