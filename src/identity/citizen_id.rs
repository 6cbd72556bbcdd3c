//! The citizen ID number (公民身份号码) of GB 11643-1999: a 6-digit address code, an 8-digit birth
//! date (`YYYYMMDD`), a 3-digit sequence (odd for men, even for women) and a check character
//! computed with ISO 7064 MOD 11-2 (weights `7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2`, the weighted
//! sum mod 11 indexes `1 0 X 9 8 7 6 5 4 3 2`).
//!
//! An ID number is personal data: [`CitizenIdNumber`] has no `Display`, and its `Debug` prints
//! the masked form only, so that it cannot reach a log line by accident. Code that must send or
//! store the full number calls [`CitizenIdNumber::expose`].

use std::fmt;
use std::str::FromStr;

use crate::identity::errors::IdentityProblem;
use chrono::{Datelike, NaiveDate};

/// Length of a (second-generation) ID number.
pub const LENGTH: usize = 18;
/// Earliest accepted year of birth. Not 1900: GB 11643-1999's own example number
/// 440524188001010014 is born on 1880-01-01, and it must pass. 1800 still refuses a year that
/// is plainly a typing error (`0199…`, `1099…`).
pub const MIN_BIRTH_YEAR: i32 = 1800;

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK_CHARS: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];

/// Province-level codes (the first two digits): the 31 mainland provinces, autonomous regions
/// and municipalities, plus 71 (Taiwan), 81 (Hong Kong) and 82 (Macao), which appear in the
/// residence permits for Hong Kong, Macao and Taiwan residents (港澳台居民居住证), and 83, which
/// the 2018 permit scheme assigns to Taiwan residents' permits.
const PROVINCE_CODES: &[u8] = &[
    11, 12, 13, 14, 15, // 北京 天津 河北 山西 内蒙古
    21, 22, 23, // 辽宁 吉林 黑龙江
    31, 32, 33, 34, 35, 36, 37, // 上海 江苏 浙江 安徽 福建 江西 山东
    41, 42, 43, 44, 45, 46, // 河南 湖北 湖南 广东 广西 海南
    50, 51, 52, 53, 54, // 重庆 四川 贵州 云南 西藏
    61, 62, 63, 64, 65, // 陕西 甘肃 青海 宁夏 新疆
    71, 81, 82, 83, // 台湾 香港 澳门, 台湾居民居住证
];

/// Why a string is not a valid ID number; each variant names the part that is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CitizenIdError {
    /// Not 18 characters (after trimming); `found` counts characters, not bytes.
    #[error("an ID number has 18 characters, found {found}")]
    Length { found: usize },
    /// The character at this 1-based position is not allowed there (digits everywhere, `X`
    /// only as the 18th).
    #[error("character {position} of the ID number must be a digit{}", if *position == LENGTH { " or X" } else { "" })]
    Character { position: usize },
    /// The first two digits are not a province-level region code.
    #[error("the ID number's first two digits are not a province-level region code")]
    Region,
    /// Characters 7–14 are not a real calendar date between [`MIN_BIRTH_YEAR`] and today.
    #[error(
        "the ID number's birth date (characters 7-14) is not a real date between {MIN_BIRTH_YEAR} and today"
    )]
    BirthDate,
    /// The check character does not match the first 17 digits.
    #[error("the ID number's check character should be {expected}, found {found}")]
    CheckDigit { expected: char, found: char },
}

impl CitizenIdError {
    /// The declared problem it is sent as.
    pub fn problem(&self) -> IdentityProblem {
        match self {
            CitizenIdError::Length { .. } => IdentityProblem::IdNumberLength,
            CitizenIdError::Character { .. } => IdentityProblem::IdNumberCharacter,
            CitizenIdError::Region => IdentityProblem::IdNumberRegion,
            CitizenIdError::BirthDate => IdentityProblem::IdNumberBirthDate,
            CitizenIdError::CheckDigit { .. } => IdentityProblem::IdNumberCheckDigit,
        }
    }

    /// Stable machine code, for problem+json field errors.
    pub fn code(&self) -> &'static str {
        self.problem().code()
    }

    /// English explanation for a field error's `detail`.
    pub fn field_detail(&self) -> String {
        self.to_string()
    }

    /// The field error for the request field that held the number.
    pub fn field_error(&self, field: impl Into<String>) -> crate::http::problem::FieldError {
        crate::http::problem::FieldError::new(field, self.code(), self.field_detail())
    }
}

/// A valid 18-character citizen ID number, stored with an upper-case `X`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CitizenIdNumber(String);

/// The check character for the first 17 digits (which must be ASCII digits).
pub fn check_character(first17: &[u8]) -> Option<char> {
    if first17.len() != LENGTH - 1 {
        return None;
    }
    let mut sum = 0u32;
    for (byte, weight) in first17.iter().zip(WEIGHTS) {
        let digit = char::from(*byte).to_digit(10)?;
        sum += digit * weight;
    }
    CHECK_CHARS.get((sum % 11) as usize).copied()
}

/// Today in China (UTC+8), which is where "born in the future" is judged.
fn today_in_china() -> NaiveDate {
    (crate::clock::system_time() + chrono::Duration::hours(8)).date_naive()
}

impl CitizenIdNumber {
    /// Parses and validates a number: surrounding whitespace is ignored and a lower-case `x`
    /// accepted. Checks, in order: length, characters, region, birth date, check character.
    pub fn parse(input: &str) -> Result<Self, CitizenIdError> {
        Self::parse_as_of(input, today_in_china())
    }

    /// [`parse`](Self::parse) with "today" given, so tests do not depend on the clock.
    pub fn parse_as_of(input: &str, today: NaiveDate) -> Result<Self, CitizenIdError> {
        let trimmed = input.trim();
        let found = trimmed.chars().count();
        if found != LENGTH {
            return Err(CitizenIdError::Length { found });
        }
        let normalized = trimmed.to_ascii_uppercase();
        let bytes = normalized.as_bytes();
        // 18 characters of which some are not ASCII gives more than 18 bytes: find the culprit.
        for (index, ch) in normalized.chars().enumerate() {
            let allowed = ch.is_ascii_digit() || (index == LENGTH - 1 && ch == 'X');
            if !allowed {
                return Err(CitizenIdError::Character {
                    position: index + 1,
                });
            }
        }
        let digits = |range: std::ops::Range<usize>| -> u32 {
            bytes
                .get(range)
                .unwrap_or_default()
                .iter()
                .fold(0, |acc, b| acc * 10 + u32::from(b - b'0'))
        };
        let province = u8::try_from(digits(0..2)).unwrap_or(0);
        if !PROVINCE_CODES.contains(&province) {
            return Err(CitizenIdError::Region);
        }
        let year = i32::try_from(digits(6..10)).map_err(|_| CitizenIdError::BirthDate)?;
        let birth = NaiveDate::from_ymd_opt(year, digits(10..12), digits(12..14))
            .ok_or(CitizenIdError::BirthDate)?;
        if year < MIN_BIRTH_YEAR || birth > today {
            return Err(CitizenIdError::BirthDate);
        }
        let first17 = bytes.get(..LENGTH - 1).unwrap_or_default();
        let expected =
            check_character(first17).ok_or(CitizenIdError::Character { position: LENGTH })?;
        let found = char::from(bytes.get(LENGTH - 1).copied().unwrap_or(b'?'));
        if expected != found {
            return Err(CitizenIdError::CheckDigit { expected, found });
        }
        Ok(CitizenIdNumber(normalized))
    }

    /// The full number. Named so that every place that handles it in clear is easy to find.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The full number (same as [`expose`](Self::expose)).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn part(&self, range: std::ops::Range<usize>) -> &str {
        self.0.get(range).unwrap_or_default()
    }

    /// The 6-digit administrative division code of the place of first registration.
    pub fn region_code(&self) -> &str {
        self.part(0..6)
    }

    pub fn birth_date(&self) -> NaiveDate {
        // Validated by `parse`; the fallback is unreachable.
        NaiveDate::parse_from_str(self.part(6..14), "%Y%m%d").unwrap_or_default()
    }

    /// The sequence number's last digit (the 17th character) is odd for men.
    pub fn is_male(&self) -> bool {
        self.0
            .as_bytes()
            .get(16)
            .is_some_and(|b| (b - b'0') % 2 == 1)
    }

    /// Age in whole years on `date`.
    pub fn age_on(&self, date: NaiveDate) -> u32 {
        date.years_since(self.birth_date()).unwrap_or(0)
    }

    /// First 4 and last 4 characters with 10 stars between: `1101**********002X`, as shown to
    /// people and written to logs.
    pub fn masked(&self) -> String {
        format!("{}**********{}", self.part(0..4), self.part(14..18))
    }

    /// The year of birth (for statistics that must not hold the full date).
    pub fn birth_year(&self) -> i32 {
        self.birth_date().year()
    }
}

impl fmt::Debug for CitizenIdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CitizenIdNumber({})", self.masked())
    }
}

impl FromStr for CitizenIdNumber {
    type Err = CitizenIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 6, 1).unwrap()
    }

    fn parse(s: &str) -> Result<CitizenIdNumber, CitizenIdError> {
        CitizenIdNumber::parse_as_of(s, today())
    }

    /// Appends the right check character to 17 digits.
    fn with_check(first17: &str) -> String {
        format!("{first17}{}", check_character(first17.as_bytes()).unwrap())
    }

    #[test]
    fn the_standards_samples_pass() {
        let a = CitizenIdNumber::parse("11010519491231002X").unwrap();
        assert_eq!(a.region_code(), "110105");
        assert_eq!(
            a.birth_date(),
            NaiveDate::from_ymd_opt(1949, 12, 31).unwrap()
        );
        assert!(!a.is_male());
        assert_eq!(a.masked(), "1101**********002X");

        let b = CitizenIdNumber::parse("440524188001010014").unwrap();
        assert_eq!(b.region_code(), "440524");
        assert_eq!(b.birth_date(), NaiveDate::from_ymd_opt(1880, 1, 1).unwrap());
        assert!(b.is_male());
        assert_eq!(b.expose(), "440524188001010014");
    }

    #[test]
    fn trims_and_accepts_lowercase_x() {
        let id = parse("  11010519491231002x\n").unwrap();
        assert_eq!(id.as_str(), "11010519491231002X");
        assert_eq!(id, "11010519491231002X".parse().unwrap());
    }

    #[test]
    fn debug_shows_only_the_masked_form() {
        let id = parse("11010519491231002X").unwrap();
        let debug = format!("{id:?}");
        assert_eq!(debug, "CitizenIdNumber(1101**********002X)");
        assert!(!debug.contains("19491231"));
    }

    #[test]
    fn wrong_length() {
        assert_eq!(parse(""), Err(CitizenIdError::Length { found: 0 }));
        assert_eq!(
            parse("11010519491231002"),
            Err(CitizenIdError::Length { found: 17 })
        );
        assert_eq!(
            parse("11010519491231002XX"),
            Err(CitizenIdError::Length { found: 19 })
        );
        // Old 15-digit numbers are not accepted.
        assert_eq!(
            parse("110105491231002"),
            Err(CitizenIdError::Length { found: 15 })
        );
        // Characters, not bytes.
        assert_eq!(
            parse("11010519491231002中"),
            Err(CitizenIdError::Character { position: 18 })
        );
    }

    #[test]
    fn wrong_character() {
        assert_eq!(
            parse("1101051949A231002X"),
            Err(CitizenIdError::Character { position: 11 })
        );
        assert_eq!(
            parse("X10105194912310020"),
            Err(CitizenIdError::Character { position: 1 })
        );
        assert_eq!(
            parse("11010519491231002Y"),
            Err(CitizenIdError::Character { position: 18 })
        );
    }

    #[test]
    fn wrong_region() {
        let id = with_check("99010519491231002");
        assert_eq!(parse(&id), Err(CitizenIdError::Region));
        let id = with_check("00010519491231002");
        assert_eq!(parse(&id), Err(CitizenIdError::Region));
        // Hong Kong, Macao and Taiwan residence permits.
        for prefix in ["81", "82", "83", "71"] {
            let id = with_check(&format!("{prefix}000019900101001"));
            assert!(parse(&id).is_ok(), "{id}");
        }
    }

    #[test]
    fn impossible_birth_date_with_a_correct_check_digit() {
        let id = with_check("11010520230230001");
        assert_eq!(parse(&id), Err(CitizenIdError::BirthDate));
        for first17 in [
            "11010517991231001", // before 1800
            "11010519901301001", // month 13
            "11010519900100001", // day 0
            "11010520250602001", // tomorrow
            "11010519000229001", // 1900 was not a leap year
            "11010521000101001", // next century
        ] {
            assert_eq!(
                parse(&with_check(first17)),
                Err(CitizenIdError::BirthDate),
                "{first17}"
            );
        }
        assert!(parse(&with_check("11010520000229001")).is_ok());
        assert!(parse(&with_check("11010520250601001")).is_ok());
    }

    #[test]
    fn wrong_check_digit() {
        assert_eq!(
            parse("110105194912310021"),
            Err(CitizenIdError::CheckDigit {
                expected: 'X',
                found: '1'
            })
        );
    }

    #[test]
    fn codes_and_details() {
        let cases = [
            (CitizenIdError::Length { found: 3 }, "id_number_length"),
            (
                CitizenIdError::Character { position: 18 },
                "id_number_character",
            ),
            (CitizenIdError::Region, "id_number_region"),
            (CitizenIdError::BirthDate, "id_number_birth_date"),
            (
                CitizenIdError::CheckDigit {
                    expected: 'X',
                    found: '1',
                },
                "id_number_check_digit",
            ),
        ];
        for (error, code) in cases {
            assert_eq!(error.code(), code);
            assert!(!error.field_detail().is_empty());
            let field = error.field_error("id_number");
            assert_eq!(field.field, "id_number");
            assert_eq!(field.code, code);
        }
        assert_eq!(
            CitizenIdError::Character { position: 18 }.field_detail(),
            "character 18 of the ID number must be a digit or X"
        );
    }

    #[test]
    fn age() {
        let id = parse("11010519491231002X").unwrap();
        assert_eq!(
            id.age_on(NaiveDate::from_ymd_opt(2025, 12, 30).unwrap()),
            75
        );
        assert_eq!(
            id.age_on(NaiveDate::from_ymd_opt(2025, 12, 31).unwrap()),
            76
        );
        assert_eq!(id.birth_year(), 1949);
    }

    prop_compose! {
        fn valid_id()(
            province in proptest::sample::select(PROVINCE_CODES),
            area in 0u32..10_000,
            days in 0i64..(today() - NaiveDate::from_ymd_opt(MIN_BIRTH_YEAR, 1, 1).unwrap()).num_days() + 1,
            sequence in 0u32..1000,
        ) -> String {
            let birth = NaiveDate::from_ymd_opt(MIN_BIRTH_YEAR, 1, 1).unwrap() + chrono::Duration::days(days);
            with_check(&format!("{province:02}{area:04}{}{sequence:03}", birth.format("%Y%m%d")))
        }
    }

    proptest! {
        #[test]
        fn generated_valid_ids_parse(id in valid_id()) {
            let parsed = parse(&id).unwrap();
            prop_assert_eq!(parsed.as_str(), id.as_str());
            prop_assert_eq!(parsed.birth_date().format("%Y%m%d").to_string(), &id[6..14]);
            prop_assert_eq!(parsed.is_male(), (id.as_bytes()[16] - b'0') % 2 == 1);
        }

        #[test]
        fn changing_any_single_character_fails(
            id in valid_id(),
            position in 0usize..LENGTH,
            replacement in proptest::sample::select(vec!['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'X']),
        ) {
            let mut chars: Vec<char> = id.chars().collect();
            prop_assume!(chars[position] != replacement);
            chars[position] = replacement;
            let changed: String = chars.into_iter().collect();
            prop_assert!(parse(&changed).is_err(), "{} accepted", changed);
        }
    }
}
