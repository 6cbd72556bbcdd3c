//! Validation of what the app sends: push tokens by platform, locales and app versions, path
//! ids, and the mapping of field errors to the problem the app sees (a single error names its
//! own problem kind).

use uuid::Uuid;

use super::views::Platform;
use crate::http::HttpProblem;
use crate::http::ProblemKind;
use crate::http::{AppError, AppResult, FieldError};
use crate::notify::errors::NotifyProblem;

pub(super) fn field_errors(errors: Vec<FieldError>) -> AppResult<()> {
    match errors.len() {
        0 => Ok(()),
        1 => {
            let kind: ProblemKind = match errors[0].code.as_str() {
                "invalid_device_token" => NotifyProblem::InvalidDeviceToken.into(),
                "invalid_locale" => NotifyProblem::InvalidLocale.into(),
                "invalid_app_version" => NotifyProblem::InvalidAppVersion.into(),
                "invalid_quiet_hours" => NotifyProblem::InvalidQuietHours.into(),
                _ => HttpProblem::ValidationFailed.into(),
            };
            Err(AppError::invalid(kind, errors))
        }
        _ => Err(AppError::invalid(HttpProblem::ValidationFailed, errors)),
    }
}

/// A push token as the platform issues it; APNs tokens are hex, kept lowercase.
pub fn check_token(platform: Platform, token: &str) -> Result<String, FieldError> {
    match platform {
        Platform::Apns => {
            let ok =
                (64..=200).contains(&token.len()) && token.bytes().all(|b| b.is_ascii_hexdigit());
            ok.then(|| token.to_ascii_lowercase()).ok_or_else(|| {
                FieldError::new(
                    "token",
                    "invalid_device_token",
                    "an APNs device token is 64-200 hexadecimal digits",
                )
            })
        }
        Platform::Fcm | Platform::Huawei => {
            let ok =
                (1..=4096).contains(&token.len()) && token.bytes().all(|b| b.is_ascii_graphic());
            ok.then(|| token.to_owned()).ok_or_else(|| {
                FieldError::new(
                    "token",
                    "invalid_device_token",
                    "an FCM or Huawei push token is 1-4096 printable ASCII characters without spaces",
                )
            })
        }
    }
}

/// A language tag like `zh-CN`: language (2–3 lowercase letters), optional script (4 letters,
/// `Hans`), optional region (2 uppercase letters or 3 digits).
pub fn is_locale(locale: &str) -> bool {
    let mut parts = locale.split('-');
    let Some(language) = parts.next() else {
        return false;
    };
    if !(2..=3).contains(&language.len()) || !language.bytes().all(|b| b.is_ascii_lowercase()) {
        return false;
    }
    let mut rest: Vec<&str> = parts.collect();
    if rest.first().is_some_and(|s| {
        s.len() == 4
            && s.bytes().next().is_some_and(|b| b.is_ascii_uppercase())
            && s.bytes().skip(1).all(|b| b.is_ascii_lowercase())
    }) {
        rest.remove(0);
    }
    match rest.as_slice() {
        [] => true,
        [region] => {
            (region.len() == 2 && region.bytes().all(|b| b.is_ascii_uppercase()))
                || (region.len() == 3 && region.bytes().all(|b| b.is_ascii_digit()))
        }
        _ => false,
    }
}

pub(super) fn check_locale(locale: &Option<String>, errors: &mut Vec<FieldError>) {
    if let Some(locale) = locale
        && !is_locale(locale)
    {
        errors.push(FieldError::new(
            "locale",
            "invalid_locale",
            "a locale is a language tag like zh-CN",
        ));
    }
}

pub(super) fn check_app_version(version: &Option<String>, errors: &mut Vec<FieldError>) {
    if let Some(version) = version
        && (version.trim().is_empty()
            || version.chars().count() > 32
            || version.chars().any(char::is_control))
    {
        errors.push(FieldError::new(
            "app_version",
            "invalid_app_version",
            "an app version is 1-32 characters, e.g. 3.2.1",
        ));
    }
}

pub(super) fn parse_id(raw: &str) -> AppResult<Uuid> {
    Uuid::parse_str(raw)
        .map_err(|_| AppError::in_field(HttpProblem::InvalidParameter, "id", "not an id"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_follow_their_platform() {
        let apns = "A1".repeat(32);
        assert_eq!(
            check_token(Platform::Apns, &apns).unwrap(),
            apns.to_lowercase()
        );
        assert!(check_token(Platform::Apns, &"a".repeat(63)).is_err());
        assert!(check_token(Platform::Apns, &"g".repeat(64)).is_err());
        assert!(check_token(Platform::Apns, &"a".repeat(201)).is_err());
        assert!(check_token(Platform::Fcm, "dGVzdA:APA91b-x_y").is_ok());
        assert!(check_token(Platform::Huawei, "").is_err());
        assert!(check_token(Platform::Fcm, "has space").is_err());
        assert!(check_token(Platform::Fcm, "令牌").is_err());
        assert!(check_token(Platform::Fcm, &"x".repeat(4097)).is_err());
    }

    #[test]
    fn locales_are_language_tags() {
        for ok in ["zh-CN", "zh", "en-US", "zh-Hans-CN", "es-419"] {
            assert!(is_locale(ok), "{ok}");
        }
        for bad in ["", "zh_CN", "ZH-cn", "chinese", "zh-CN-x", "zh-", "z"] {
            assert!(!is_locale(bad), "{bad}");
        }
    }
}
