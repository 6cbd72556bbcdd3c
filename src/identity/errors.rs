//! The problems the identity capability can send (logins, sessions, accounts, staff and
//! certificates), each with its code, HTTP status and Chinese title together.
//!
//! To send a new one, add a variant here (its code, status and title) and construct the error with
//! `AppError::new(IdentityProblem::Variant, detail)`; see `crate::http::problem` and
//! docs/ARCHITECTURE.md.

use crate::http::declare::problems;

problems! {
    /// Every problem the identity capability can send.
    pub enum IdentityProblem {
        InvalidCredentials = ("invalid_credentials", UNAUTHORIZED, "用户名或密码错误"),
        TokenMalformed = ("token_malformed", UNAUTHORIZED, "登录凭据无效，请重新登录"),
        TokenInvalid = ("token_invalid", UNAUTHORIZED, "登录凭据无效，请重新登录"),
        TokenExpired = ("token_expired", UNAUTHORIZED, "登录已过期，请刷新或重新登录"),
        SessionRevoked = ("session_revoked", UNAUTHORIZED, "登录已失效，请重新登录"),
        RefreshTokenInvalid = ("refresh_token_invalid", UNAUTHORIZED, "登录已失效，请重新登录"),
        RefreshTokenExpired = ("refresh_token_expired", UNAUTHORIZED, "登录已失效，请重新登录"),
        RefreshTokenReused = ("refresh_token_reused", UNAUTHORIZED, "检测到登录凭据被重复使用，为安全起见已退出登录"),
        AccountDisabled = ("account_disabled", UNAUTHORIZED, "账号已停用"),
        OtpInvalid = ("otp_invalid", UNAUTHORIZED, "验证码错误"),
        OtpExpired = ("otp_expired", UNAUTHORIZED, "验证码已过期，请重新获取"),
        OtpAttemptsExceeded = ("otp_attempts_exceeded", UNAUTHORIZED, "验证码错误次数过多，请重新获取"),
        ChallengeInvalid = ("challenge_invalid", UNAUTHORIZED, "登录挑战无效或已过期，请重新获取"),
        ClientCertificateRequired = ("client_certificate_required", UNAUTHORIZED, "请使用数字证书（USB Key）连接证书登录地址"),
        CertificateNotBound = ("certificate_not_bound", UNAUTHORIZED, "该数字证书未绑定工作人员账号"),
        CertificateMalformed = ("certificate_malformed", UNAUTHORIZED, "数字证书无效"),
        CertificateUntrusted = ("certificate_untrusted", UNAUTHORIZED, "数字证书不是受信任的机构签发"),
        CertificateExpired = ("certificate_expired", UNAUTHORIZED, "数字证书已过期"),
        CertificateNotYetValid = ("certificate_not_yet_valid", UNAUTHORIZED, "数字证书尚未生效"),
        CertificateRevoked = ("certificate_revoked", UNAUTHORIZED, "数字证书已吊销"),
        CertificateBadSignature = ("certificate_bad_signature", UNAUTHORIZED, "数字签名验证失败"),
        CertificateChainSignatureInvalid = ("certificate_chain_signature_invalid", UNAUTHORIZED, "数字证书无效"),
        CertificateKeyUsage = ("certificate_key_usage", UNAUTHORIZED, "数字证书无效"),
        CertificateNotCa = ("certificate_not_ca", UNAUTHORIZED, "数字证书无效"),
        CertificatePathLength = ("certificate_path_length", UNAUTHORIZED, "数字证书无效"),
        CertificateEku = ("certificate_eku", UNAUTHORIZED, "数字证书无效"),
        CertificatePolicy = ("certificate_policy", UNAUTHORIZED, "数字证书无效"),
        CertificateUnsupportedExtension = ("certificate_unsupported_extension", UNAUTHORIZED, "数字证书无效"),
        CertificateNoEnterpriseCode = ("certificate_no_enterprise_code", UNAUTHORIZED, "数字证书中没有有效的统一社会信用代码"),
        CertificateInvalidEnterpriseCode = ("certificate_invalid_enterprise_code", UNAUTHORIZED, "数字证书中没有有效的统一社会信用代码"),
        CertificateUnsupportedAlgorithm = ("certificate_unsupported_algorithm", UNAUTHORIZED, "数字证书无效"),
        ApplicantOnly = ("applicant_only", FORBIDDEN, "仅限群众和企业用户办理"),
        CitizensOnly = ("citizens_only", FORBIDDEN, "仅限自然人用户"),
        AccountNotFound = ("account_not_found", NOT_FOUND, "该手机号尚未注册"),
        StaffNotFound = ("staff_not_found", NOT_FOUND, "工作人员账号不存在"),
        GrantNotFound = ("grant_not_found", NOT_FOUND, "角色授权不存在或已撤销"),
        PhoneRegistered = ("phone_registered", CONFLICT, "该手机号已注册"),
        IdNumberRegistered = ("id_number_registered", CONFLICT, "该身份证号码已注册"),
        UsernameTaken = ("username_taken", CONFLICT, "用户名已存在"),
        CertificateBoundElsewhere = ("certificate_bound_elsewhere", CONFLICT, "该数字证书已绑定其他工作人员账号"),
        InvalidPhone = ("invalid_phone", UNPROCESSABLE_ENTITY, "手机号码格式不正确"),
        InvalidName = ("invalid_name", UNPROCESSABLE_ENTITY, "姓名格式不正确"),
        IdNumberLength = ("id_number_length", UNPROCESSABLE_ENTITY, "身份证号码应为18位"),
        IdNumberCharacter = ("id_number_character", UNPROCESSABLE_ENTITY, "身份证号码含有无效字符"),
        IdNumberRegion = ("id_number_region", UNPROCESSABLE_ENTITY, "身份证号码的地址码无效"),
        IdNumberBirthDate = ("id_number_birth_date", UNPROCESSABLE_ENTITY, "身份证号码的出生日期无效"),
        IdNumberCheckDigit = ("id_number_check_digit", UNPROCESSABLE_ENTITY, "身份证号码校验位错误"),
        PasswordTooShort = ("password_too_short", UNPROCESSABLE_ENTITY, "密码不符合安全要求"),
        PasswordTooLong = ("password_too_long", UNPROCESSABLE_ENTITY, "密码不符合安全要求"),
        PasswordTooSimple = ("password_too_simple", UNPROCESSABLE_ENTITY, "密码不符合安全要求"),
        InvalidBase64 = ("invalid_base64", UNPROCESSABLE_ENTITY, "内容不是有效的 Base64 编码"),
        SamePerson = ("same_person", UNPROCESSABLE_ENTITY, "不能指定本人为自己的备岗人员"),
        BeforeStart = ("before_start", UNPROCESSABLE_ENTITY, "结束时间须晚于开始时间"),
        AccountLocked = ("account_locked", LOCKED, "密码错误次数过多，账号已临时锁定"),
        CertificateLoginDisabled = ("certificate_login_disabled", NOT_IMPLEMENTED, "未启用数字证书登录"),
        CertificateCrlUnavailable = ("certificate_crl_unavailable", SERVICE_UNAVAILABLE, "暂时无法核验证书吊销状态，请稍后再试"),
        CertificateCrlStale = ("certificate_crl_stale", SERVICE_UNAVAILABLE, "暂时无法核验证书吊销状态，请稍后再试"),
    }
}
