//! One-time SMS codes: six random digits, stored only as a keyed hash, single use, short-lived,
//! with limits per phone (one a minute, ten a day) and per client address. The limit arithmetic
//! is pure and tested here; the rows in `otp_code` are its memory.

use chrono::{DateTime, Duration, Utc};
use ring::rand::{SecureRandom, SystemRandom};

use super::pii::IdentityKeys;

/// What an SMS code proves the phone for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, poem_openapi::Enum)]
#[serde(rename_all = "snake_case")]
#[oai(rename_all = "snake_case")]
pub enum OtpPurpose {
    Register,
    Login,
    /// The public progress query of a case applied for with this phone.
    Progress,
}

impl OtpPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            OtpPurpose::Register => "register",
            OtpPurpose::Login => "login",
            OtpPurpose::Progress => "progress",
        }
    }
}

/// Six uniformly random digits (rejection sampling, so no digit is more likely).
pub fn generate_code() -> Option<String> {
    let rng = SystemRandom::new();
    loop {
        let mut bytes = [0u8; 4];
        rng.fill(&mut bytes).ok()?;
        let value = u32::from_be_bytes(bytes);
        // 4_294_000_000 is the largest multiple of 1_000_000 below 2^32.
        if value < 4_294_000_000 {
            return Some(format!("{:06}", value % 1_000_000));
        }
    }
}

/// The stored form of a code: an HMAC under the server's index key, bound to phone and purpose,
/// so a database reader cannot test the million candidates.
pub fn code_hash(keys: &IdentityKeys, phone: &str, purpose: OtpPurpose, code: &str) -> Vec<u8> {
    keys.blind_index(&code_input(phone, purpose, code))
}

/// Whether `stored` is the [`code_hash`] of this code, compared in constant time.
pub fn code_matches(
    keys: &IdentityKeys,
    phone: &str,
    purpose: OtpPurpose,
    code: &str,
    stored: &[u8],
) -> bool {
    keys.blind_index_matches(&code_input(phone, purpose, code), stored)
}

fn code_input(phone: &str, purpose: OtpPurpose, code: &str) -> String {
    format!("otp\u{0}{phone}\u{0}{}\u{0}{code}", purpose.as_str())
}

/// The limits on sending codes.
#[derive(Debug, Clone, Copy)]
pub struct SendLimits {
    pub resend_after: Duration,
    pub per_phone_daily: i64,
    pub per_ip_hourly: i64,
}

/// What the store knows about recent codes for one phone and one client address.
#[derive(Debug, Clone, Copy, Default)]
pub struct RecentSends {
    pub phone_last: Option<DateTime<Utc>>,
    pub phone_oldest_today: Option<DateTime<Utc>>,
    pub phone_count_today: i64,
    pub ip_oldest_hour: Option<DateTime<Utc>>,
    pub ip_count_hour: i64,
}

/// Whether another code may go now; if not, how many seconds until it may.
pub fn may_send(limits: &SendLimits, recent: &RecentSends, now: DateTime<Utc>) -> Result<(), u64> {
    let wait_until = |t: DateTime<Utc>| ((t - now).num_seconds().max(1)) as u64;
    if let Some(last) = recent.phone_last
        && now < last + limits.resend_after
    {
        return Err(wait_until(last + limits.resend_after));
    }
    if recent.phone_count_today >= limits.per_phone_daily {
        let oldest = recent.phone_oldest_today.unwrap_or(now);
        return Err(wait_until(oldest + Duration::days(1)));
    }
    if recent.ip_count_hour >= limits.per_ip_hourly {
        let oldest = recent.ip_oldest_hour.unwrap_or(now);
        return Err(wait_until(oldest + Duration::hours(1)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> SendLimits {
        SendLimits {
            resend_after: Duration::seconds(60),
            per_phone_daily: 10,
            per_ip_hourly: 30,
        }
    }

    #[test]
    fn codes_are_six_digits_and_vary() {
        let codes: std::collections::HashSet<String> =
            (0..50).map(|_| generate_code().unwrap()).collect();
        assert!(
            codes
                .iter()
                .all(|c| c.len() == 6 && c.bytes().all(|b| b.is_ascii_digit()))
        );
        assert!(codes.len() > 45, "50 random codes should nearly all differ");
    }

    #[test]
    fn a_second_code_within_a_minute_waits_for_the_rest_of_the_minute() {
        let now = crate::clock::system_time();
        let recent = RecentSends {
            phone_last: Some(now - Duration::seconds(20)),
            phone_oldest_today: Some(now - Duration::seconds(20)),
            phone_count_today: 1,
            ..Default::default()
        };
        assert_eq!(may_send(&limits(), &recent, now), Err(40));
        assert_eq!(
            may_send(&limits(), &recent, now + Duration::seconds(40)),
            Ok(())
        );
    }

    #[test]
    fn the_eleventh_code_of_a_day_waits_until_the_first_leaves_the_window() {
        let now = crate::clock::system_time();
        let recent = RecentSends {
            phone_last: Some(now - Duration::hours(1)),
            phone_oldest_today: Some(now - Duration::hours(20)),
            phone_count_today: 10,
            ..Default::default()
        };
        assert_eq!(may_send(&limits(), &recent, now), Err(4 * 3600));
    }

    #[test]
    fn one_address_asking_for_many_phones_is_limited() {
        let now = crate::clock::system_time();
        let recent = RecentSends {
            ip_oldest_hour: Some(now - Duration::minutes(30)),
            ip_count_hour: 30,
            ..Default::default()
        };
        assert_eq!(may_send(&limits(), &recent, now), Err(1800));
    }

    #[test]
    fn the_stored_hash_depends_on_phone_purpose_and_key() {
        let keys = IdentityKeys::from_master_key(&[7u8; 32]);
        let other = IdentityKeys::from_master_key(&[8u8; 32]);
        let a = code_hash(&keys, "13800138000", OtpPurpose::Login, "123456");
        assert_eq!(
            a,
            code_hash(&keys, "13800138000", OtpPurpose::Login, "123456")
        );
        assert_ne!(
            a,
            code_hash(&keys, "13800138001", OtpPurpose::Login, "123456")
        );
        assert_ne!(
            a,
            code_hash(&keys, "13800138000", OtpPurpose::Register, "123456")
        );
        assert_ne!(
            a,
            code_hash(&other, "13800138000", OtpPurpose::Login, "123456")
        );
        // What the login checks: the same code for the same phone and purpose, nothing else.
        let matches = |keys, phone, purpose, code| code_matches(keys, phone, purpose, code, &a);
        assert!(matches(&keys, "13800138000", OtpPurpose::Login, "123456"));
        assert!(!matches(&keys, "13800138000", OtpPurpose::Login, "123457"));
        assert!(!matches(
            &keys,
            "13800138000",
            OtpPurpose::Register,
            "123456"
        ));
        assert!(!matches(&other, "13800138000", OtpPurpose::Login, "123456"));
        assert!(!code_matches(
            &keys,
            "13800138000",
            OtpPurpose::Login,
            "123456",
            &a[..31]
        ));
    }
}
