//! Format checks: the item code (统一事项编码), phone numbers and material keys.

use crate::http::FieldError;

/// Accepts an item code (统一事项编码): 6–40 characters of digits, capital letters and `-`.
pub fn check_item_code(code: &str) -> Result<(), FieldError> {
    let ok = (6..=40).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(FieldError::new(
            "code",
            "invalid_format",
            "item code must be 6-40 characters of digits, capital letters and '-'",
        ))
    }
}

pub(super) fn is_phone(s: &str) -> bool {
    let digits = s.bytes().filter(u8::is_ascii_digit).count();
    (5..=20).contains(&digits)
        && s.bytes()
            .all(|b| b.is_ascii_digit() || b == b'-' || b == b' ')
}

pub(super) fn is_material_key(s: &str) -> bool {
    (1..=40).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && s.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
}
