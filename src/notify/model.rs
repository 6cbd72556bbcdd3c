//! Pure rules of the notification hub: channels and statuses, template rendering with named
//! variables, Chinese SMS segmentation, masking of personal data in SMS, mainland phone numbers,
//! and the retry schedule.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveTime, Utc};
use poem_openapi::Enum;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Enum, Serialize, Deserialize,
)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// App push (APNs, Huawei Push Kit, FCM)
    Push,
    Sms,
    Email,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Push => "push",
            Channel::Sms => "sms",
            Channel::Email => "email",
        }
    }

    pub fn parse(s: &str) -> Option<Channel> {
        [Channel::Push, Channel::Sms, Channel::Email]
            .into_iter()
            .find(|c| c.as_str() == s)
    }
}

/// A delivery's status: created → sending → sent → delivered | failed | cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Serialize, Deserialize)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Created,
    Sending,
    Sent,
    Delivered,
    /// Failed for now; retried at `next_attempt_at`.
    TemporaryFailure,
    /// The provider refused it for good (or the address is dead).
    PermanentFailure,
    /// Retries exhausted (attempts or age).
    TechnicalFailure,
    Cancelled,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Created => "created",
            DeliveryStatus::Sending => "sending",
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::TemporaryFailure => "temporary_failure",
            DeliveryStatus::PermanentFailure => "permanent_failure",
            DeliveryStatus::TechnicalFailure => "technical_failure",
            DeliveryStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<DeliveryStatus> {
        use DeliveryStatus::*;
        [
            Created,
            Sending,
            Sent,
            Delivered,
            TemporaryFailure,
            PermanentFailure,
            TechnicalFailure,
            Cancelled,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }

    pub fn is_final(self) -> bool {
        matches!(
            self,
            DeliveryStatus::Delivered
                | DeliveryStatus::PermanentFailure
                | DeliveryStatus::TechnicalFailure
                | DeliveryStatus::Cancelled
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    #[error("missing variables: {}", .0.join(", "))]
    Missing(Vec<String>),
    #[error("unclosed placeholder at byte {0}")]
    Unclosed(usize),
    #[error("invalid variable name {0:?}")]
    BadName(String),
}

fn is_variable_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 40
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The `{name}` placeholders of a template text, in order of first appearance.
pub fn placeholders(text: &str) -> Result<Vec<String>, RenderError> {
    let mut names = Vec::new();
    let mut rest = text;
    let mut offset = 0;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        let end = after
            .find('}')
            .ok_or(RenderError::Unclosed(offset + start))?;
        let name = &after[..end];
        if !is_variable_name(name) {
            return Err(RenderError::BadName(name.to_owned()));
        }
        if !names.iter().any(|n| n == name) {
            names.push(name.to_owned());
        }
        offset += start + end + 2;
        rest = &after[end + 1..];
    }
    Ok(names)
}

fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Fills `{name}` placeholders; refuses (listing them all) when any variable is missing.
pub fn render(text: &str, variables: &Map<String, Value>) -> Result<String, RenderError> {
    let names = placeholders(text)?;
    let missing: Vec<String> = names
        .iter()
        .filter(|n| !variables.contains_key(*n))
        .cloned()
        .collect();
    if !missing.is_empty() {
        return Err(RenderError::Missing(missing));
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let end = after.find('}').ok_or(RenderError::Unclosed(start))?;
        let value = variables
            .get(&after[..end])
            .map(value_text)
            .unwrap_or_default();
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Number of SMS parts for `text` in UCS-2: one part holds 70 characters, a concatenated part 67.
/// Characters outside the BMP take two UCS-2 units.
pub fn sms_segments(text: &str) -> u32 {
    let units = text.encode_utf16().count() as u32;
    if units == 0 {
        0
    } else if units <= 70 {
        1
    } else {
        units.div_ceil(67)
    }
}

/// Variables whose values are masked before they go into an SMS body.
pub const MASKED_VARIABLES: &[&str] = &["id_number", "name", "applicant_name", "holder_name"];

/// Masks a citizen ID number (`1101**********002X`) or a person's name (`张*`, `欧阳**`).
pub fn mask(variable: &str, value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    if variable == "id_number" {
        if chars.len() <= 8 {
            return "*".repeat(chars.len());
        }
        let head: String = chars[..4].iter().collect();
        let tail: String = chars[chars.len() - 4..].iter().collect();
        return format!("{head}{}{tail}", "*".repeat(chars.len() - 8));
    }
    match chars.len() {
        0 => String::new(),
        1 => "*".to_owned(),
        2 => format!("{}*", chars[0]),
        n => format!("{}{}", chars[..n - 2].iter().collect::<String>(), "**"),
    }
}

/// The variables as an SMS may show them: personal data masked.
pub fn masked_for_sms(variables: &Map<String, Value>) -> Map<String, Value> {
    variables
        .iter()
        .map(|(k, v)| {
            let value = if MASKED_VARIABLES.contains(&k.as_str()) {
                Value::String(mask(k, &value_text(v)))
            } else {
                v.clone()
            };
            (k.clone(), value)
        })
        .collect()
}

/// A mainland China mobile number: 11 digits starting with 1[3-9], with an optional +86/86
/// prefix, spaces and dashes ignored. Returns the bare 11 digits.
pub fn parse_mainland_mobile(input: &str) -> Option<String> {
    let digits: String = input.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    let bare = digits
        .strip_prefix("+86")
        .or_else(|| digits.strip_prefix("0086"))
        .or_else(|| {
            if digits.len() == 13 {
                digits.strip_prefix("86")
            } else {
                None
            }
        })
        .unwrap_or(&digits);
    let ok = bare.len() == 11
        && bare.bytes().all(|b| b.is_ascii_digit())
        && bare.starts_with('1')
        && matches!(bare.as_bytes()[1], b'3'..=b'9');
    ok.then(|| bare.to_owned())
}

/// A plausible email address (one `@`, a dot in the domain, no spaces); delivery proves the rest.
pub fn is_email(input: &str) -> bool {
    let Some((local, domain)) = input.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !input.contains(char::is_whitespace)
        && !domain.contains('@')
        && input.len() <= 254
}

/// Retry schedule: exponential backoff `base · 2^(attempt-1)`, capped, with ±`jitter` (0..1)
/// applied by the caller's random draw `u` in [0, 1).
pub fn backoff_seconds(attempt: u32, base: f64, cap: f64, u: f64) -> f64 {
    let exp = base * 2f64.powi(attempt.saturating_sub(1).min(30) as i32);
    let capped = exp.min(cap);
    // Full jitter in the upper half: spreads retries without ever retrying immediately.
    capped * (0.5 + 0.5 * u.clamp(0.0, 1.0))
}

/// Variables a template text needs, for the admin preview and validation.
pub fn required_variables(texts: &[&str]) -> Result<BTreeSet<String>, RenderError> {
    let mut all = BTreeSet::new();
    for text in texts {
        all.extend(placeholders(text)?);
    }
    Ok(all)
}

/// An owner's channel preferences (`notification_preference`); the defaults when they set none:
/// every channel on, no quiet hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelPreferences {
    pub push: bool,
    pub sms: bool,
    pub email: bool,
    /// Local times (Asia/Shanghai) `[start, end)` during which non-essential push waits; may
    /// wrap midnight (22:00–07:00).
    pub quiet_hours: Option<(NaiveTime, NaiveTime)>,
}

impl Default for ChannelPreferences {
    fn default() -> Self {
        ChannelPreferences {
            push: true,
            sms: true,
            email: true,
            quiet_hours: None,
        }
    }
}

impl ChannelPreferences {
    pub fn allows(&self, channel: Channel) -> bool {
        match channel {
            Channel::Push => self.push,
            Channel::Sms => self.sms,
            Channel::Email => self.email,
        }
    }
}

/// Essential notifications ignore preferences: must-reach ones (legal notices — decisions,
/// correction requests) and priority-10 ones (OTPs).
pub fn is_essential(must_reach: bool, priority: i16) -> bool {
    must_reach || priority >= 10
}

/// Which of the requested channels go, in their order: all of them for an essential
/// notification, otherwise those the owner has not switched off.
pub fn channels_to_send(
    requested: &[Channel],
    must_reach: bool,
    priority: i16,
    preferences: &ChannelPreferences,
) -> Vec<Channel> {
    let essential = is_essential(must_reach, priority);
    requested
        .iter()
        .copied()
        .filter(|c| essential || preferences.allows(*c))
        .collect()
}

/// China Standard Time: it lives with the clock, every room's one source of time.
pub use crate::clock::shanghai;

/// When `now` falls in the quiet hours `[start, end)` (Asia/Shanghai local time, wrapping
/// midnight when `start > end`), the instant they end; `None` outside them (or when
/// `start == end`, which means no quiet hours).
pub fn quiet_until(now: DateTime<Utc>, start: NaiveTime, end: NaiveTime) -> Option<DateTime<Utc>> {
    let local = now.with_timezone(&shanghai());
    let t = local.time();
    let today = local.date_naive();
    let end_day = if start < end {
        (start <= t && t < end).then_some(today)?
    } else if start > end {
        if t >= start {
            today.succ_opt()?
        } else if t < end {
            today
        } else {
            return None;
        }
    } else {
        return None;
    };
    let end_local = end_day
        .and_time(end)
        .and_local_timezone(shanghai())
        .single()?;
    Some(end_local.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn vars(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn renders_named_variables_and_lists_every_missing_one() {
        let text = "{name}您好，您的{item}申请已受理，受理编号{no}。";
        let out = render(
            text,
            &vars(json!({"name": "张三", "item": "食品经营许可", "no": 42})),
        )
        .unwrap();
        assert_eq!(out, "张三您好，您的食品经营许可申请已受理，受理编号42。");
        assert_eq!(
            render(text, &vars(json!({"item": "x"}))),
            Err(RenderError::Missing(vec!["name".into(), "no".into()]))
        );
        assert_eq!(placeholders("a {b"), Err(RenderError::Unclosed(2)));
        assert!(matches!(
            placeholders("{a b}"),
            Err(RenderError::BadName(_))
        ));
    }

    #[test]
    fn counts_ucs2_segments() {
        assert_eq!(sms_segments(""), 0);
        assert_eq!(sms_segments(&"审".repeat(70)), 1);
        assert_eq!(sms_segments(&"审".repeat(71)), 2);
        assert_eq!(sms_segments(&"审".repeat(134)), 2);
        assert_eq!(sms_segments(&"审".repeat(135)), 3);
        // An emoji is two UCS-2 units.
        assert_eq!(sms_segments(&format!("{}😀", "审".repeat(69))), 2);
    }

    #[test]
    fn masks_id_numbers_and_names() {
        assert_eq!(
            mask("id_number", "11010519491231002X"),
            "1101**********002X"
        );
        assert_eq!(mask("name", "张三"), "张*");
        assert_eq!(mask("name", "欧阳小明"), "欧阳**");
        let masked = masked_for_sms(&vars(
            json!({"id_number": "11010519491231002X", "no": "A1"}),
        ));
        assert_eq!(masked["id_number"], "1101**********002X");
        assert_eq!(masked["no"], "A1");
    }

    #[test]
    fn validates_mainland_mobiles() {
        assert_eq!(
            parse_mainland_mobile("+86 138-0013-8000").as_deref(),
            Some("13800138000")
        );
        assert_eq!(
            parse_mainland_mobile("8613800138000").as_deref(),
            Some("13800138000")
        );
        assert_eq!(parse_mainland_mobile("12800138000"), None);
        assert_eq!(parse_mainland_mobile("1380013800"), None);
        assert_eq!(parse_mainland_mobile("+1 415 555 0100"), None);
        assert!(is_email("a@b.cn") && !is_email("a@b") && !is_email("a b@c.cn"));
    }

    fn time(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    #[test]
    fn switched_off_channels_are_skipped_except_for_essential_notifications() {
        let prefs = ChannelPreferences {
            sms: false,
            email: false,
            ..ChannelPreferences::default()
        };
        let all = [Channel::Push, Channel::Sms, Channel::Email];
        assert_eq!(
            channels_to_send(&all, false, 5, &prefs),
            vec![Channel::Push]
        );
        assert_eq!(channels_to_send(&[Channel::Sms], false, 5, &prefs), vec![]);
        // Legal notices (must reach) and OTPs (priority 10) always go.
        assert_eq!(channels_to_send(&all, true, 5, &prefs), all.to_vec());
        assert_eq!(
            channels_to_send(&[Channel::Sms], false, 10, &prefs),
            vec![Channel::Sms]
        );
        assert_eq!(
            channels_to_send(&all, false, 5, &ChannelPreferences::default()),
            all.to_vec()
        );
    }

    #[test]
    fn quiet_hours_end_in_shanghai_time_and_may_wrap_midnight() {
        let utc = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        // 23:30 Shanghai (15:30 UTC) in 22:00–07:00: waits until 07:00 the next morning.
        assert_eq!(
            quiet_until(utc("2026-03-01T15:30:00Z"), time(22, 0), time(7, 0)),
            Some(utc("2026-03-02T07:00:00+08:00"))
        );
        // 06:00 Shanghai: the same night's end, that morning.
        assert_eq!(
            quiet_until(utc("2026-03-01T22:00:00Z"), time(22, 0), time(7, 0)),
            Some(utc("2026-03-02T07:00:00+08:00"))
        );
        // 12:00 Shanghai is outside; the end itself is outside.
        assert_eq!(
            quiet_until(utc("2026-03-01T04:00:00Z"), time(22, 0), time(7, 0)),
            None
        );
        assert_eq!(
            quiet_until(utc("2026-03-01T23:00:00Z"), time(22, 0), time(7, 0)),
            None
        );
        // A daytime period (12:00–14:00), and an empty one.
        assert_eq!(
            quiet_until(utc("2026-03-01T04:30:00Z"), time(12, 0), time(14, 0)),
            Some(utc("2026-03-01T14:00:00+08:00"))
        );
        assert_eq!(
            quiet_until(utc("2026-03-01T04:30:00Z"), time(12, 0), time(12, 0)),
            None
        );
    }

    proptest! {
        #[test]
        fn backoff_grows_within_bounds(attempt in 1u32..40, u in 0.0f64..1.0) {
            let d = backoff_seconds(attempt, 2.0, 3600.0, u);
            let full = (2.0 * 2f64.powi(attempt.saturating_sub(1).min(30) as i32)).min(3600.0);
            prop_assert!(d >= full * 0.5 - 1e-9 && d <= full + 1e-9);
        }

        #[test]
        fn rendering_without_placeholders_is_identity(text in "[^{}]{0,60}") {
            prop_assert_eq!(render(&text, &Map::new()).unwrap(), text);
        }
    }
}
