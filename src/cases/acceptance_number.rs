//! 受理编号: the acceptance number printed on the acceptance notice [000 art.20] and typed by
//! the applicant into the public progress query [000 art.29].
//!
//! Layout (21 characters): a 6-digit GB/T 2260 region code, the acceptance date as `YYYYMMDD`,
//! a 6-digit sequence and one ISO 7064 MOD 11-2 check character (`0`–`9` or `X`, the same
//! scheme as the citizen ID number, so staff and applicants already know it). The check
//! character catches every single mistyped character (and most swaps of neighbours) before a
//! lookup is made, so a typo gets "check the number" instead of an indistinguishable "not found".
//!
//! Uniqueness across instances comes from (region, date, sequence): the sequence is allocated per
//! region by the database without a hot counter row (a PostgreSQL `SEQUENCE` per region with
//! `MINVALUE 1 MAXVALUE 999999 CYCLE` — `nextval` takes no row lock; a unique index on the number
//! catches the impossible wrap of a million cases in one region on one day).

use std::fmt;
use std::str::FromStr;

use crate::cases::errors::CaseProblem;
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

/// Length of an acceptance number.
pub const LENGTH: usize = 21;
/// Largest sequence that fits the 6-digit sequence part.
pub const MAX_SEQUENCE: u32 = 999_999;

const REGION: std::ops::Range<usize> = 0..6;
const DATE: std::ops::Range<usize> = 6..14;
const SEQUENCE: std::ops::Range<usize> = 14..20;

/// Why a string or its parts do not make an acceptance number; each variant names the part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AcceptanceNumberError {
    /// Not 21 characters (after trimming); `found` counts characters.
    #[error("an acceptance number has 21 characters, found {found}")]
    Length { found: usize },
    /// Characters 1–6 are not a 6-digit region code (all zeros is no region).
    #[error("the acceptance number's region code (characters 1-6) must be 6 digits, not all zero")]
    Region,
    /// Characters 7–14 are not a real date `YYYYMMDD` (years 2000–9999).
    #[error("the acceptance number's date (characters 7-14) must be a real date YYYYMMDD")]
    Date,
    /// Characters 15–20 are not a sequence 000001–999999.
    #[error("the acceptance number's sequence (characters 15-20) must be 6 digits, not all zero")]
    Sequence,
    /// The 21st character does not match the first 20.
    #[error("the acceptance number's check character should be {expected}, found {found}")]
    CheckCharacter { expected: char, found: char },
}

impl AcceptanceNumberError {
    /// The declared problem it is sent as.
    pub fn problem(&self) -> CaseProblem {
        match self {
            Self::Length { .. } => CaseProblem::AcceptanceNumberLength,
            Self::Region => CaseProblem::AcceptanceNumberRegion,
            Self::Date => CaseProblem::AcceptanceNumberDate,
            Self::Sequence => CaseProblem::AcceptanceNumberSequence,
            Self::CheckCharacter { .. } => CaseProblem::AcceptanceNumberCheckCharacter,
        }
    }

    /// Stable machine code, for problem+json field errors.
    pub fn code(&self) -> &'static str {
        self.problem().code()
    }

    /// The field error for the request field that held the number.
    pub fn field_error(&self, field: impl Into<String>) -> crate::http::problem::FieldError {
        crate::http::problem::FieldError::new(field, self.code(), self.to_string())
    }
}

/// A GB/T 2260 region code (6 digits) as used in the acceptance number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RegionCode(String);

impl RegionCode {
    /// Six ASCII digits, not all zero.
    pub fn parse(input: &str) -> Result<Self, AcceptanceNumberError> {
        let ok = input.len() == 6 && input.bytes().all(|b| b.is_ascii_digit()) && input != "000000";
        if ok {
            Ok(Self(input.to_owned()))
        } else {
            Err(AcceptanceNumberError::Region)
        }
    }

    /// The six digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for RegionCode {
    type Error = AcceptanceNumberError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<RegionCode> for String {
    fn from(value: RegionCode) -> Self {
        value.0
    }
}

/// The per-(region, date) sequence part, 1..=[`MAX_SEQUENCE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct Sequence(u32);

impl Sequence {
    /// A sequence in 1..=999999 (the database sequence starts at 1).
    pub fn new(value: u32) -> Result<Self, AcceptanceNumberError> {
        if (1..=MAX_SEQUENCE).contains(&value) {
            Ok(Self(value))
        } else {
            Err(AcceptanceNumberError::Sequence)
        }
    }

    /// The numeric value.
    pub fn get(self) -> u32 {
        self.0
    }
}

impl TryFrom<u32> for Sequence {
    type Error = AcceptanceNumberError;
    fn try_from(value: u32) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<Sequence> for u32 {
    fn from(value: Sequence) -> Self {
        value.0
    }
}

/// A valid acceptance number. `parse` and `new` are the only ways in.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AcceptanceNumber {
    text: String,
    region: RegionCode,
    date: NaiveDate,
    sequence: Sequence,
}

impl AcceptanceNumber {
    /// The number for a case accepted in `region` on `date` (the date in Asia/Shanghai) with
    /// the allocated `sequence`. Fails only for a date outside years 2000–9999.
    pub fn new(
        region: RegionCode,
        date: NaiveDate,
        sequence: Sequence,
    ) -> Result<Self, AcceptanceNumberError> {
        if !(2000..=9999).contains(&date.year()) {
            return Err(AcceptanceNumberError::Date);
        }
        let mut text = format!(
            "{}{}{:06}",
            region.as_str(),
            date.format("%Y%m%d"),
            sequence.get()
        );
        let check = check_character(text.as_bytes()).ok_or(AcceptanceNumberError::Date)?;
        text.push(check);
        Ok(Self {
            text,
            region,
            date,
            sequence,
        })
    }

    /// Parses a number as typed: surrounding whitespace is ignored and a lower-case `x` is
    /// accepted. Errors name the first wrong part, checked left to right, the check
    /// character last.
    pub fn parse(input: &str) -> Result<Self, AcceptanceNumberError> {
        let input = input.trim();
        let found = input.chars().count();
        if found != LENGTH || !input.is_ascii() {
            return Err(AcceptanceNumberError::Length { found });
        }
        let part = |range: std::ops::Range<usize>| input.get(range).unwrap_or_default();
        let region = RegionCode::parse(part(REGION))?;
        let date_text = part(DATE);
        if !date_text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(AcceptanceNumberError::Date);
        }
        let date = NaiveDate::parse_from_str(date_text, "%Y%m%d")
            .map_err(|_| AcceptanceNumberError::Date)?;
        let sequence_text = part(SEQUENCE);
        if !sequence_text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(AcceptanceNumberError::Sequence);
        }
        let sequence = sequence_text
            .parse::<u32>()
            .map_err(|_| AcceptanceNumberError::Sequence)
            .and_then(Sequence::new)?;
        let number = Self::new(region, date, sequence)?;
        let found = input
            .chars()
            .last()
            .map(|c| c.to_ascii_uppercase())
            .unwrap_or_default();
        let expected = number.check();
        if found != expected {
            return Err(AcceptanceNumberError::CheckCharacter { expected, found });
        }
        Ok(number)
    }

    /// The 21 characters, with an upper-case `X`.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The region code part.
    pub fn region(&self) -> &RegionCode {
        &self.region
    }

    /// The acceptance date part.
    pub fn date(&self) -> NaiveDate {
        self.date
    }

    /// The sequence part.
    pub fn sequence(&self) -> Sequence {
        self.sequence
    }

    fn check(&self) -> char {
        self.text.chars().last().unwrap_or_default()
    }
}

impl fmt::Display for AcceptanceNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for AcceptanceNumber {
    type Err = AcceptanceNumberError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for AcceptanceNumber {
    type Error = AcceptanceNumberError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<AcceptanceNumber> for String {
    fn from(value: AcceptanceNumber) -> Self {
        value.text
    }
}

/// Formats the acceptance number for `region`, `date` and `sequence` (see [`AcceptanceNumber::new`]).
pub fn format(
    region: &RegionCode,
    date: NaiveDate,
    sequence: Sequence,
) -> Result<String, AcceptanceNumberError> {
    AcceptanceNumber::new(region.clone(), date, sequence).map(String::from)
}

/// Parses a typed acceptance number (see [`AcceptanceNumber::parse`]).
pub fn parse(input: &str) -> Result<AcceptanceNumber, AcceptanceNumberError> {
    AcceptanceNumber::parse(input)
}

/// ISO 7064 MOD 11-2 check character for a string of ASCII digits: the digit at distance `i`
/// from the check position (1-based) weighs `2^i mod 11`; the check value makes the total
/// `≡ 1 (mod 11)`; 10 is written `X`. None when a byte is not a digit.
pub fn check_character(digits: &[u8]) -> Option<char> {
    let mut sum = 0u32;
    let mut weight = 2u32; // 2^1 for the digit next to the check character
    for byte in digits.iter().rev() {
        let digit = char::from(*byte).to_digit(10)?;
        sum = (sum + digit * weight) % 11;
        weight = weight * 2 % 11;
    }
    let value = (12 - sum) % 11;
    char::from_digit(value, 10).or(Some('X'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn region() -> RegionCode {
        RegionCode::parse("220882").unwrap()
    }

    #[test]
    fn formats_and_parses_a_known_number() {
        let n =
            AcceptanceNumber::new(region(), d("2026-02-24"), Sequence::new(17).unwrap()).unwrap();
        assert_eq!(&n.as_str()[..20], "22088220260224000017");
        assert_eq!(n.as_str().len(), LENGTH);
        let again = parse(n.as_str()).unwrap();
        assert_eq!(again, n);
        assert_eq!(again.region().as_str(), "220882");
        assert_eq!(again.date(), d("2026-02-24"));
        assert_eq!(again.sequence().get(), 17);
        assert_eq!(
            format(&region(), d("2026-02-24"), Sequence::new(17).unwrap()).unwrap(),
            n.to_string()
        );
        let json = serde_json::to_string(&n).unwrap();
        assert_eq!(json, format!("\"{n}\""));
        assert_eq!(serde_json::from_str::<AcceptanceNumber>(&json).unwrap(), n);
    }

    #[test]
    fn check_character_agrees_with_the_citizen_id_scheme() {
        // GB 11643's own samples: the same MOD 11-2 over 17 digits.
        for id in ["11010519491231002X", "440524188001010014"] {
            let (body, check) = id.split_at(17);
            assert_eq!(check_character(body.as_bytes()), check.chars().next());
            assert_eq!(
                check_character(body.as_bytes()),
                crate::identity::citizen_id::check_character(body.as_bytes())
            );
        }
        assert_eq!(check_character(b"12a"), None);
    }

    #[test]
    fn each_part_is_named_when_wrong() {
        let good = AcceptanceNumber::new(region(), d("2026-10-08"), Sequence::new(1).unwrap())
            .unwrap()
            .to_string();
        let with = |range: std::ops::Range<usize>, text: &str| {
            let mut s = good.clone();
            s.replace_range(range, text);
            parse(&s)
        };
        assert_eq!(parse(""), Err(AcceptanceNumberError::Length { found: 0 }));
        assert_eq!(
            parse(&good[..20]),
            Err(AcceptanceNumberError::Length { found: 20 })
        );
        assert_eq!(
            parse("受理编号受理编号受理编号受理编号受理编号受"),
            Err(AcceptanceNumberError::Length { found: 21 })
        );
        assert_eq!(with(0..6, "000000"), Err(AcceptanceNumberError::Region));
        assert_eq!(with(0..6, "22088A"), Err(AcceptanceNumberError::Region));
        assert_eq!(with(6..14, "20260230"), Err(AcceptanceNumberError::Date));
        assert_eq!(with(6..14, "2026-1-8"), Err(AcceptanceNumberError::Date));
        assert_eq!(with(6..14, "19991231"), Err(AcceptanceNumberError::Date));
        assert_eq!(with(14..20, "000000"), Err(AcceptanceNumberError::Sequence));
        assert_eq!(with(14..20, "+00001"), Err(AcceptanceNumberError::Sequence));
        let expected = good.chars().last().unwrap();
        let wrong = if expected == '0' { '1' } else { '0' };
        assert_eq!(
            with(20..21, &wrong.to_string()),
            Err(AcceptanceNumberError::CheckCharacter {
                expected,
                found: wrong
            })
        );
        assert_eq!(Sequence::new(0), Err(AcceptanceNumberError::Sequence));
        assert_eq!(
            Sequence::new(MAX_SEQUENCE + 1),
            Err(AcceptanceNumberError::Sequence)
        );
        assert_eq!(
            AcceptanceNumber::new(region(), d("1999-12-31"), Sequence::new(1).unwrap()),
            Err(AcceptanceNumberError::Date)
        );
        assert_eq!(
            AcceptanceNumberError::CheckCharacter {
                expected: 'X',
                found: '3'
            }
            .code(),
            "acceptance_number_check_character"
        );
    }

    #[test]
    fn typed_input_is_normalised() {
        // Find a number whose check character is X, then type it with a lower-case x and spaces.
        let n = (1..=MAX_SEQUENCE)
            .map(|s| AcceptanceNumber::new(region(), d("2026-01-05"), Sequence(s)).unwrap())
            .find(|n| n.as_str().ends_with('X'))
            .unwrap();
        let typed = format!("  {}x\n", &n.as_str()[..20]);
        assert_eq!(parse(&typed), Ok(n));
    }

    fn number() -> impl Strategy<Value = AcceptanceNumber> {
        (
            "[0-9]{6}".prop_filter("not all zero", |r| r != "000000"),
            0u64..(8000 * 366),
            1..=MAX_SEQUENCE,
        )
            .prop_filter_map("in range", |(r, days, s)| {
                let date = d("2000-01-01").checked_add_days(chrono::Days::new(days))?;
                AcceptanceNumber::new(RegionCode::parse(&r).ok()?, date, Sequence(s)).ok()
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn prop_round_trip(n in number()) {
            prop_assert_eq!(parse(n.as_str()), Ok(n.clone()));
            prop_assert_eq!(
                format(n.region(), n.date(), n.sequence()).unwrap(),
                n.as_str().to_owned()
            );
        }

        #[test]
        fn prop_any_single_character_change_is_detected(
            n in number(),
            position in 0..LENGTH,
            replacement in prop::sample::select(
                "0123456789XxAO -".chars().collect::<Vec<char>>()
            ),
        ) {
            let original: Vec<char> = n.as_str().chars().collect();
            prop_assume!(original[position] != replacement.to_ascii_uppercase());
            let mut changed = original.clone();
            changed[position] = replacement;
            let changed: String = changed.into_iter().collect();
            prop_assert!(parse(&changed).is_err(), "{} accepted", changed);
        }

        #[test]
        fn prop_adjacent_swaps_are_mostly_detected(n in number(), position in 0..(LENGTH - 1)) {
            // MOD 11-2 detects every transposition of two different neighbouring digits.
            let mut chars: Vec<char> = n.as_str().chars().collect();
            prop_assume!(chars[position] != chars[position + 1]);
            prop_assume!(chars[position] != 'X' && chars[position + 1] != 'X');
            chars.swap(position, position + 1);
            let swapped: String = chars.into_iter().collect();
            prop_assert!(parse(&swapped).is_err(), "{} accepted", swapped);
        }
    }
}
