//! Enterprise identifiers: the unified social credit code (统一社会信用代码, GB 32100-2015) and the
//! legacy organisation code (组织机构代码, GB 11714-1997) that older certificates still carry.
//!
//! Source: GB 32100-2015 (reprinted in /work/shared/REFERENCE.md) and python-stdnum
//! `stdnum/cn/uscc.py`. Parsing is strict by default: some early pilot codes were issued with a
//! failing check digit, and those are accepted only when listed explicitly
//! ([`CreditCode::parse_with_exceptions`]).

use std::fmt;
use std::str::FromStr;

/// The 31-character alphabet of GB 32100; a character's value is its index (no I, O, S, V, Z).
const ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
/// W_i = 3^(i-1) mod 31 for positions 1..=17.
const WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];
/// Position 1: 1-9 (编制, 外交, 司法行政, 文化, 民政, 旅游, 宗教, 工会, 工商), A (中央军委改革和编制办公室),
/// N (农业), Y (其他).
const REGISTRATION_AUTHORITIES: &[u8] = b"123456789ANY";
/// GB 11714 weights of the eight body characters.
const ORGANISATION_WEIGHTS: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];

/// Why a string is not a valid unified social credit code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CreditCodeError {
    #[error("a unified social credit code has 18 characters, found {found}")]
    Length { found: usize },
    #[error(
        "character {character:?} at position {position} is not in the code alphabet 0-9 A-Y without I, O, S, V, Z"
    )]
    InvalidCharacter { position: usize, character: char },
    #[error("position 1 (registration authority) must be 1-9, A, N or Y, found {character:?}")]
    RegistrationAuthority { character: char },
    #[error("position 2 (organisation type) must be a digit 1-9, found {character:?}")]
    OrganisationType { character: char },
    #[error(
        "position {position} (region code, positions 3-8) must be a digit, found {character:?}"
    )]
    RegionCode { position: usize, character: char },
    #[error("check digit (position 18) is {found:?}, expected {expected:?}")]
    CheckDigit { expected: char, found: char },
}

impl CreditCodeError {
    /// Stable machine code for API errors.
    pub fn code(&self) -> &'static str {
        match self {
            CreditCodeError::Length { .. } => "credit_code_length",
            CreditCodeError::InvalidCharacter { .. } => "credit_code_character",
            CreditCodeError::RegistrationAuthority { .. } => "credit_code_registration_authority",
            CreditCodeError::OrganisationType { .. } => "credit_code_organisation_type",
            CreditCodeError::RegionCode { .. } => "credit_code_region",
            CreditCodeError::CheckDigit { .. } => "credit_code_check_digit",
        }
    }
}

/// A unified social credit code whose structure and check digit have been verified (or which is
/// on the allow-list of legal exceptions). Always 18 upper-case ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CreditCode(String);

fn alphabet_value(c: u8) -> Option<u32> {
    ALPHABET.iter().position(|&a| a == c).map(|p| p as u32)
}

impl CreditCode {
    /// Parses a code; lower-case letters are accepted and upper-cased. Surrounding whitespace is
    /// not accepted (callers trim what users typed).
    pub fn parse(s: &str) -> Result<Self, CreditCodeError> {
        Self::parse_with_exceptions(s, &[] as &[&str])
    }

    /// Like [`CreditCode::parse`], but a code listed in `allow` (compared after upper-casing) is
    /// accepted despite a failing check digit: a few early codes were issued that way and are
    /// legal. The listed code must still have 17 characters of the alphabet and an ASCII letter
    /// or digit last.
    pub fn parse_with_exceptions<S: AsRef<str>>(
        s: &str,
        allow: &[S],
    ) -> Result<Self, CreditCodeError> {
        let upper = s.to_ascii_uppercase();
        let chars: Vec<char> = upper.chars().collect();
        if chars.len() != 18 {
            return Err(CreditCodeError::Length { found: chars.len() });
        }
        let mut values = [0u32; 17];
        for (i, &c) in chars.iter().take(17).enumerate() {
            let value = u8::try_from(c).ok().and_then(alphabet_value).ok_or(
                CreditCodeError::InvalidCharacter {
                    position: i + 1,
                    character: c,
                },
            )?;
            values[i] = value;
        }
        // Position 18 is only compared with the computed check character, so that a wrong one
        // outside the alphabet (the standard's own example ends in Z) still reports the expected
        // value; the allow-list may hold such codes.
        if !chars[17].is_ascii_alphanumeric() {
            return Err(CreditCodeError::InvalidCharacter {
                position: 18,
                character: chars[17],
            });
        }
        let allowed = allow
            .iter()
            .any(|a| a.as_ref().trim().eq_ignore_ascii_case(&upper));
        if allowed {
            return Ok(CreditCode(upper));
        }
        if !REGISTRATION_AUTHORITIES.contains(&(chars[0] as u8)) {
            return Err(CreditCodeError::RegistrationAuthority {
                character: chars[0],
            });
        }
        if !('1'..='9').contains(&chars[1]) {
            return Err(CreditCodeError::OrganisationType {
                character: chars[1],
            });
        }
        for (i, &c) in chars.iter().enumerate().take(8).skip(2) {
            if !c.is_ascii_digit() {
                return Err(CreditCodeError::RegionCode {
                    position: i + 1,
                    character: c,
                });
            }
        }
        let expected = check_character(&values);
        if expected != chars[17] {
            return Err(CreditCodeError::CheckDigit {
                expected,
                found: chars[17],
            });
        }
        Ok(CreditCode(upper))
    }

    /// The check character for the first 17 characters of a code; `None` if `prefix` is not 17
    /// characters of the alphabet. Useful to build test codes.
    pub fn check_character_for(prefix: &str) -> Option<char> {
        let bytes = prefix.as_bytes();
        if bytes.len() != 17 {
            return None;
        }
        let values: Option<Vec<u32>> = bytes
            .iter()
            .map(|b| alphabet_value(b.to_ascii_uppercase()))
            .collect();
        values.map(|v| check_character(&v))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Position 1: the registration authority (`9` for 工商).
    pub fn registration_authority(&self) -> char {
        char::from(self.0.as_bytes()[0])
    }

    /// Positions 3-8: the GB/T 2260 region of registration.
    pub fn region_code(&self) -> &str {
        &self.0[2..8]
    }

    /// Positions 9-17: the embedded GB 11714 organisation code, if it carries a valid check of its
    /// own (codes of 个体工商户 often do not).
    pub fn organisation_code(&self) -> Option<LegacyOrganisationCode> {
        LegacyOrganisationCode::parse(&self.0[8..17]).ok()
    }
}

fn check_character(values: &[u32]) -> char {
    let sum: u32 = values.iter().zip(WEIGHTS).map(|(v, w)| v * w).sum();
    let check = (31 - sum % 31) % 31;
    char::from(ALPHABET[check as usize])
}

impl fmt::Display for CreditCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for CreditCode {
    type Err = CreditCodeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CreditCode::parse(s)
    }
}

impl serde::Serialize for CreditCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl AsRef<str> for CreditCode {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Why a string is not a valid GB 11714 organisation code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrganisationCodeError {
    #[error("an organisation code has 9 characters (optionally written XXXXXXXX-X), found {found}")]
    Length { found: usize },
    #[error("character {character:?} at position {position} must be a digit or a letter A-Z")]
    InvalidCharacter { position: usize, character: char },
    #[error("check character (position 9) is {found:?}, expected {expected:?}")]
    CheckDigit { expected: char, found: char },
}

/// A 9-character organisation code (GB 11714-1997): eight digits or capital letters and a check
/// character (0-9 or X). Stored without the customary hyphen.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LegacyOrganisationCode(String);

impl LegacyOrganisationCode {
    /// Accepts `XXXXXXXXC` and `XXXXXXXX-C`; lower case is upper-cased.
    pub fn parse(s: &str) -> Result<Self, OrganisationCodeError> {
        let mut upper = s.to_ascii_uppercase();
        if upper.chars().count() == 10 && upper.chars().nth(8) == Some('-') {
            upper.remove(8);
        }
        let chars: Vec<char> = upper.chars().collect();
        if chars.len() != 9 {
            return Err(OrganisationCodeError::Length { found: chars.len() });
        }
        let mut sum = 0u32;
        for (i, (&c, w)) in chars.iter().zip(ORGANISATION_WEIGHTS).enumerate() {
            let value = match c {
                '0'..='9' => c as u32 - '0' as u32,
                'A'..='Z' => c as u32 - 'A' as u32 + 10,
                _ => {
                    return Err(OrganisationCodeError::InvalidCharacter {
                        position: i + 1,
                        character: c,
                    });
                }
            };
            sum += value * w;
        }
        let expected = match 11 - sum % 11 {
            10 => 'X',
            11 => '0',
            n => char::from_digit(n, 10).unwrap_or('0'),
        };
        if chars[8] != expected {
            if !(chars[8].is_ascii_digit() || chars[8] == 'X') {
                return Err(OrganisationCodeError::InvalidCharacter {
                    position: 9,
                    character: chars[8],
                });
            }
            return Err(OrganisationCodeError::CheckDigit {
                expected,
                found: chars[8],
            });
        }
        Ok(LegacyOrganisationCode(upper))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LegacyOrganisationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl serde::Serialize for LegacyOrganisationCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

/// The identifier an enterprise is known by: its unified social credit code, or for old
/// certificates its organisation code.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EnterpriseCode {
    Uscc(CreditCode),
    Organisation(LegacyOrganisationCode),
}

impl EnterpriseCode {
    pub fn as_str(&self) -> &str {
        match self {
            EnterpriseCode::Uscc(code) => code.as_str(),
            EnterpriseCode::Organisation(code) => code.as_str(),
        }
    }

    /// `uscc` or `organisation_code`, for logs and API payloads.
    pub fn kind(&self) -> &'static str {
        match self {
            EnterpriseCode::Uscc(_) => "uscc",
            EnterpriseCode::Organisation(_) => "organisation_code",
        }
    }

    /// The unified social credit code, when that is what this is.
    pub fn credit_code(&self) -> Option<&CreditCode> {
        match self {
            EnterpriseCode::Uscc(code) => Some(code),
            EnterpriseCode::Organisation(_) => None,
        }
    }
}

impl fmt::Display for EnterpriseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Serialised as the bare code string.
impl serde::Serialize for EnterpriseCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn public_codes_pass() {
        for code in ["914403001922038216", "91440300708461136T"] {
            let parsed = CreditCode::parse(code).unwrap();
            assert_eq!(parsed.as_str(), code);
            assert_eq!(parsed.to_string(), code);
        }
        let tencent = CreditCode::parse("91440300708461136T").unwrap();
        assert_eq!(tencent.registration_authority(), '9');
        assert_eq!(tencent.region_code(), "440300");
        assert_eq!(tencent.organisation_code().unwrap().as_str(), "708461136");
    }

    #[test]
    fn lower_case_is_upper_cased() {
        assert_eq!(
            CreditCode::parse("91440300708461136t").unwrap().as_str(),
            "91440300708461136T"
        );
    }

    #[test]
    fn standard_worked_example_fails_with_expected_check() {
        assert_eq!(
            CreditCode::parse("91350100M000100Y4Z"),
            Err(CreditCodeError::CheckDigit {
                expected: '3',
                found: 'Z'
            })
        );
        assert_eq!(
            CreditCode::check_character_for("91350100M000100Y4"),
            Some('3')
        );
        let err = CreditCode::parse("91350100M000100Y4Z").unwrap_err();
        assert!(err.to_string().contains("expected '3'"), "{err}");
    }

    #[test]
    fn exceptions_accept_a_listed_code_only() {
        let allow = ["91350100m000100y4z".to_owned()];
        let code = CreditCode::parse_with_exceptions("91350100M000100Y4Z", &allow).unwrap();
        assert_eq!(code.as_str(), "91350100M000100Y4Z");
        assert!(matches!(
            CreditCode::parse_with_exceptions("91350100M000100Y5Z", &allow),
            Err(CreditCodeError::CheckDigit { .. })
        ));
        // Even a listed code must be made of the alphabet.
        assert!(matches!(
            CreditCode::parse_with_exceptions("9135010OM000100Y4Z", &["9135010OM000100Y4Z"]),
            Err(CreditCodeError::InvalidCharacter { position: 8, .. })
        ));
    }

    #[test]
    fn errors_name_what_is_wrong() {
        assert_eq!(
            CreditCode::parse("91440300708461136"),
            Err(CreditCodeError::Length { found: 17 })
        );
        assert_eq!(
            CreditCode::parse("9144030070846113IT"),
            Err(CreditCodeError::InvalidCharacter {
                position: 17,
                character: 'I'
            })
        );
        assert_eq!(
            CreditCode::parse("B1440300708461136T"),
            Err(CreditCodeError::RegistrationAuthority { character: 'B' })
        );
        assert_eq!(
            CreditCode::parse("90440300708461136T"),
            Err(CreditCodeError::OrganisationType { character: '0' })
        );
        assert_eq!(
            CreditCode::parse("9144A300708461136T"),
            Err(CreditCodeError::RegionCode {
                position: 5,
                character: 'A'
            })
        );
        assert_eq!(
            CreditCode::parse("91440300708461136中"),
            Err(CreditCodeError::InvalidCharacter {
                position: 18,
                character: '中'
            })
        );
        assert_eq!(
            CreditCode::parse("91440300708461136O"),
            Err(CreditCodeError::CheckDigit {
                expected: 'T',
                found: 'O'
            })
        );
        assert_eq!(
            CreditCode::parse("91440300708461136T")
                .map(|c| serde_json::to_string(&c).unwrap())
                .unwrap(),
            "\"91440300708461136T\""
        );
    }

    #[test]
    fn organisation_codes() {
        assert_eq!(
            LegacyOrganisationCode::parse("70846113-6")
                .unwrap()
                .as_str(),
            "708461136"
        );
        assert_eq!(
            LegacyOrganisationCode::parse("192203821").unwrap().as_str(),
            "192203821"
        );
        assert_eq!(
            LegacyOrganisationCode::parse("ma5d12340").unwrap().as_str(),
            "MA5D12340"
        );
        assert_eq!(
            LegacyOrganisationCode::parse("708461137"),
            Err(OrganisationCodeError::CheckDigit {
                expected: '6',
                found: '7'
            })
        );
        assert_eq!(
            LegacyOrganisationCode::parse("7084611"),
            Err(OrganisationCodeError::Length { found: 7 })
        );
        assert!(matches!(
            LegacyOrganisationCode::parse("7084-1136"),
            Err(OrganisationCodeError::InvalidCharacter { position: 5, .. })
        ));
        let code =
            EnterpriseCode::Organisation(LegacyOrganisationCode::parse("708461136").unwrap());
        assert_eq!(code.kind(), "organisation_code");
        assert_eq!(serde_json::to_string(&code).unwrap(), "\"708461136\"");
    }

    /// A structurally valid code with a correct check character.
    fn valid_code() -> impl Strategy<Value = String> {
        (
            prop::sample::select(REGISTRATION_AUTHORITIES.to_vec()),
            1u8..=9,
            prop::collection::vec(0u8..10, 6),
            prop::collection::vec(0usize..31, 9),
        )
            .prop_map(|(authority, kind, region, body)| {
                let mut s = String::new();
                s.push(char::from(authority));
                s.push(char::from(b'0' + kind));
                s.extend(region.iter().map(|d| char::from(b'0' + d)));
                s.extend(body.iter().map(|&i| char::from(ALPHABET[i])));
                let check = CreditCode::check_character_for(&s).unwrap();
                s.push(check);
                s
            })
    }

    proptest! {
        #[test]
        fn generated_valid_codes_round_trip(code in valid_code()) {
            let parsed = CreditCode::parse(&code).unwrap();
            prop_assert_eq!(parsed.as_str(), code.as_str());
            prop_assert_eq!(parsed.to_string().parse::<CreditCode>().unwrap(), parsed);
        }

        #[test]
        fn any_single_character_change_fails(
            code in valid_code(),
            position in 0usize..18,
            replacement in prop::sample::select(
                b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-@ ".to_vec()
            ),
        ) {
            let mut bytes = code.into_bytes();
            prop_assume!(bytes[position] != replacement);
            bytes[position] = replacement;
            let changed = String::from_utf8(bytes).unwrap();
            prop_assert!(CreditCode::parse(&changed).is_err(), "{} accepted", changed);
        }
    }
}
