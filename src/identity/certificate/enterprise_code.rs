//! Finding the enterprise's code in its certificate.
//!
//! Chinese CAs disagree on where they put it (REFERENCE.md "Enterprise certificates"): private
//! extensions (GM/T 0015 1.2.156.10260.4.1.x, older 1.2.156.11.7.x, 1.2.86.11.7.x), the CFCA
//! subject CN `041@N<USCC>@<name>@00000001`, subject serialNumber or OU. Fields are tried in that
//! order and the first valid code wins; the field is reported.
//!
//! The personal-ID (.1) and social-insurance (.2) extensions are deliberately not searched: they
//! identify the holder, not the enterprise, and an 18-character citizen ID can pass the USCC
//! check digit by chance (1 in 31).

use x509_parser::prelude::X509Certificate;
use x509_parser::x509::AttributeTypeAndValue;

use super::CertificateError;
use crate::identity::credit_code::{CreditCode, EnterpriseCode, LegacyOrganisationCode};

/// Extension OIDs searched, in order, with the label reported as `matched_field`.
const EXTENSIONS: &[(&str, &str)] = &[
    ("1.2.156.10260.4.1.4", "extension 1.2.156.10260.4.1.4"),
    ("1.2.156.10260.4.1.3", "extension 1.2.156.10260.4.1.3"),
    ("1.2.156.10260.4.1.5", "extension 1.2.156.10260.4.1.5"),
    ("1.2.156.11.7.4", "extension 1.2.156.11.7.4"),
    ("1.2.156.11.7.3", "extension 1.2.156.11.7.3"),
    ("1.2.156.11.7.5", "extension 1.2.156.11.7.5"),
    ("1.2.86.11.7.1", "extension 1.2.86.11.7.1"),
    ("1.2.86.11.7.2", "extension 1.2.86.11.7.2"),
    ("1.2.86.11.7.3", "extension 1.2.86.11.7.3"),
    ("1.2.86.11.7.4", "extension 1.2.86.11.7.4"),
    ("1.2.86.11.7.5", "extension 1.2.86.11.7.5"),
    ("1.2.86.11.7.6", "extension 1.2.86.11.7.6"),
    ("1.2.86.11.7.7", "extension 1.2.86.11.7.7"),
    ("1.2.86.11.7.8", "extension 1.2.86.11.7.8"),
    ("1.2.86.11.7.9", "extension 1.2.86.11.7.9"),
];
const OTHER_1_2_86_11_7: &str = "extension 1.2.86.11.7.x";

pub const FIELD_CFCA_CN: &str = "subject CN (CFCA)";
pub const FIELD_SERIAL_NUMBER: &str = "subject serialNumber";
pub const FIELD_OU: &str = "subject OU";
pub const FIELD_CN: &str = "subject CN";

const OID_SERIAL_NUMBER: &str = "2.5.4.5";

/// The code found in a certificate and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtractedCode {
    pub code: EnterpriseCode,
    pub matched_field: &'static str,
    pub organisation_name: Option<String>,
}

/// Reads the enterprise code from a certificate; `exceptions` are credit codes accepted despite a
/// failing check digit.
pub fn extract_enterprise_code(
    cert: &X509Certificate<'_>,
    exceptions: &[String],
) -> Result<ExtractedCode, CertificateError> {
    let mut fields: Vec<(&'static str, String)> = Vec::new();
    for ext in cert.extensions() {
        let oid = ext.oid.to_id_string();
        let label = EXTENSIONS
            .iter()
            .find(|(o, _)| *o == oid)
            .map(|(_, label)| *label)
            .or_else(|| oid.starts_with("1.2.86.11.7.").then_some(OTHER_1_2_86_11_7));
        if let Some(label) = label
            && let Some(text) = decode_string_value(ext.value)
        {
            fields.push((label, text));
        }
    }
    // Extensions in the order of EXTENSIONS, whatever their order in the certificate.
    let rank = |label: &str| {
        EXTENSIONS
            .iter()
            .position(|(_, l)| *l == label)
            .unwrap_or(EXTENSIONS.len())
    };
    fields.sort_by_key(|(label, _)| rank(label));

    let subject = cert.subject();
    let common_names: Vec<String> = subject
        .iter_common_name()
        .filter_map(attribute_text)
        .collect();
    let mut cfca_name = None;
    for cn in &common_names {
        if let Some((code, name)) = cfca_parts(cn) {
            fields.push((FIELD_CFCA_CN, code));
            cfca_name = cfca_name.or(name);
        }
    }
    for attr in subject.iter_attributes() {
        if attr.attr_type().to_id_string() == OID_SERIAL_NUMBER
            && let Some(text) = attribute_text(attr)
        {
            fields.push((FIELD_SERIAL_NUMBER, text));
        }
    }
    for text in subject
        .iter_organizational_unit()
        .filter_map(attribute_text)
    {
        fields.push((FIELD_OU, text));
    }
    for cn in common_names.iter().filter(|cn| cfca_parts(cn).is_none()) {
        fields.push((FIELD_CN, cn.clone()));
    }

    let organisation_name = subject
        .iter_organization()
        .filter_map(attribute_text)
        .find(|o| !o.trim().is_empty())
        .or(cfca_name);

    let mut first_invalid: Option<CertificateError> = None;
    for (field, text) in &fields {
        match find_code(text, exceptions) {
            Candidate::Valid(code) => {
                return Ok(ExtractedCode {
                    code,
                    matched_field: field,
                    organisation_name,
                });
            }
            Candidate::Invalid { value, reason } => {
                first_invalid.get_or_insert(CertificateError::InvalidEnterpriseCode {
                    field,
                    value,
                    reason,
                });
            }
            Candidate::None => {}
        }
    }
    Err(first_invalid.unwrap_or(CertificateError::NoEnterpriseCode))
}

/// `041@N91440300MA5F3K7Q81@某公司@00000001` → (`91440300MA5F3K7Q81`, `某公司`).
fn cfca_parts(cn: &str) -> Option<(String, Option<String>)> {
    let parts: Vec<&str> = cn.split('@').collect();
    if parts.len() < 3 {
        return None;
    }
    let id = parts[1].trim();
    // The identifier carries a one-letter type prefix (N, Z…) before the code.
    let code = match id.chars().next() {
        Some(first) if first.is_ascii_alphabetic() && (id.len() == 19 || id.len() == 10) => {
            id[1..].to_owned()
        }
        _ => id.to_owned(),
    };
    let name = Some(parts[2].trim().to_owned()).filter(|n| !n.is_empty());
    Some((code, name))
}

enum Candidate {
    Valid(EnterpriseCode),
    Invalid { value: String, reason: String },
    None,
}

/// A token that looks like a code: ASCII alphanumerics (and a hyphen in `XXXXXXXX-X`), with at
/// least one digit, 18 or 9 characters long.
fn looks_like_code(token: &str) -> bool {
    let compact_len = token.chars().filter(|c| *c != '-').count();
    token.chars().any(|c| c.is_ascii_digit())
        && token.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && (compact_len == 18 || compact_len == 9)
        && (token.len() == 18
            || token.len() == 9
            || (token.len() == 10 && token.find('-') == Some(8)))
}

fn parse_token(token: &str, exceptions: &[String]) -> Candidate {
    if token.len() == 18 {
        match CreditCode::parse_with_exceptions(token, exceptions) {
            Ok(code) => Candidate::Valid(EnterpriseCode::Uscc(code)),
            Err(e) => Candidate::Invalid {
                value: token.to_owned(),
                reason: e.to_string(),
            },
        }
    } else {
        match LegacyOrganisationCode::parse(token) {
            Ok(code) => Candidate::Valid(EnterpriseCode::Organisation(code)),
            Err(e) => Candidate::Invalid {
                value: token.to_owned(),
                reason: e.to_string(),
            },
        }
    }
}

/// The first valid code in a field's text: the whole (trimmed) value, else each token split at
/// anything but ASCII letters, digits and hyphens (so `统一社会信用代码:9144…` works).
fn find_code(text: &str, exceptions: &[String]) -> Candidate {
    let whole = text.trim();
    let mut tokens: Vec<&str> = vec![whole];
    tokens.extend(
        whole
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .filter(|t| !t.is_empty() && *t != whole),
    );
    let mut invalid = Candidate::None;
    for token in tokens {
        if !looks_like_code(token) {
            continue;
        }
        match parse_token(token, exceptions) {
            Candidate::Valid(code) => return Candidate::Valid(code),
            other @ Candidate::Invalid { .. } => {
                if matches!(invalid, Candidate::None) {
                    invalid = other;
                }
            }
            Candidate::None => {}
        }
    }
    invalid
}

fn attribute_text(attr: &AttributeTypeAndValue<'_>) -> Option<String> {
    if let Ok(s) = attr.as_str() {
        return Some(s.to_owned());
    }
    // BMPString (UTF-16BE) and other string types: decode tolerantly.
    let bytes = attr.as_slice();
    if attr.attr_value().tag().0 == 0x1e {
        return decode_utf16be(bytes);
    }
    std::str::from_utf8(bytes).ok().map(str::to_owned)
}

fn decode_utf16be(bytes: &[u8]) -> Option<String> {
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|p| u16::from_be_bytes([p[0], p[1]]))
        .collect();
    String::from_utf16(&units).ok()
}

/// One DER TLV: (tag byte, content, rest).
fn read_tlv(bytes: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = bytes.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// The text of a private extension's value: a DER string (PrintableString, UTF8String,
/// IA5String, NumericString, TeletexString, BMPString), an OCTET STRING holding text or a DER
/// string, a SEQUENCE whose first string is taken, or — CAs do this — bare text.
pub(crate) fn decode_string_value(bytes: &[u8]) -> Option<String> {
    decode_value(bytes, 0)
}

fn decode_value(bytes: &[u8], depth: u8) -> Option<String> {
    if depth > 3 {
        return None;
    }
    match read_tlv(bytes) {
        Some((tag, content, [])) => match tag {
            0x0c | 0x13 | 0x16 | 0x12 | 0x14 | 0x1a => {
                std::str::from_utf8(content).ok().map(str::to_owned)
            }
            0x1e => decode_utf16be(content),
            0x04 => decode_value(content, depth + 1)
                .or_else(|| std::str::from_utf8(content).ok().map(str::to_owned)),
            0x30 | 0x31 => {
                let mut remaining = content;
                while let Some((_, _, rest)) = read_tlv(remaining) {
                    let element_len = remaining.len() - rest.len();
                    if let Some(text) = decode_value(&remaining[..element_len], depth + 1) {
                        return Some(text);
                    }
                    remaining = rest;
                }
                None
            }
            _ => None,
        },
        _ => {
            // Not DER: bare printable text.
            let text = std::str::from_utf8(bytes).ok()?;
            (!text.is_empty() && !text.chars().any(char::is_control)).then(|| text.to_owned())
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use x509_parser::prelude::FromDer;

    fn dev_cert(name: &str) -> Vec<u8> {
        let path = format!("{}/certs/dev/{name}.der", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn extract(name: &str, exceptions: &[String]) -> Result<ExtractedCode, CertificateError> {
        let der = dev_cert(name);
        let (_, cert) = X509Certificate::from_der(&der).unwrap();
        extract_enterprise_code(&cert, exceptions)
    }

    #[test]
    fn decodes_the_usual_string_encodings() {
        let code = "91440300MA5F3K7Q81";
        let printable = [&[0x13, 18][..], code.as_bytes()].concat();
        let utf8 = [&[0x0c, 18][..], code.as_bytes()].concat();
        let octet_text = [&[0x04, 18][..], code.as_bytes()].concat();
        let octet_nested = [&[0x04, 20, 0x13, 18][..], code.as_bytes()].concat();
        let sequence = [&[0x30, 20, 0x0c, 18][..], code.as_bytes()].concat();
        let bmp: Vec<u8> = [0x1e, 36]
            .into_iter()
            .chain(code.bytes().flat_map(|b| [0, b]))
            .collect();
        for value in [printable, utf8, octet_text, octet_nested, sequence, bmp] {
            assert_eq!(
                decode_string_value(&value).as_deref(),
                Some(code),
                "{value:x?}"
            );
        }
        assert_eq!(decode_string_value(code.as_bytes()).as_deref(), Some(code));
        assert_eq!(decode_string_value(&[0x02, 1, 5]), None);
    }

    #[test]
    fn finds_codes_in_field_text() {
        assert!(matches!(
            find_code("统一社会信用代码:91440300708461136T", &[]),
            Candidate::Valid(EnterpriseCode::Uscc(_))
        ));
        assert!(matches!(
            find_code("70846113-6", &[]),
            Candidate::Valid(EnterpriseCode::Organisation(_))
        ));
        assert!(matches!(find_code("Fingertip DEV", &[]), Candidate::None));
        assert!(matches!(
            find_code("91350100M000100Y4Z", &[]),
            Candidate::Invalid { .. }
        ));
        assert_eq!(
            cfca_parts("041@N91440300MA5F3K7Q81@深圳市指尖@00000001"),
            Some((
                "91440300MA5F3K7Q81".to_owned(),
                Some("深圳市指尖".to_owned())
            ))
        );
        assert_eq!(cfca_parts("plain name"), None);
    }

    #[test]
    fn dev_certificates_are_identified() {
        let cases = [
            (
                "enterprise-rsa-cfca",
                "91440300MA5F3K7Q81",
                FIELD_CFCA_CN,
                "深圳市指尖测试科技有限公司",
            ),
            (
                "enterprise-p256-gmt",
                "91110108MA01T6X294",
                "extension 1.2.156.10260.4.1.4",
                "北京指尖测试有限公司",
            ),
            (
                "enterprise-p384-ou",
                "91310115MA1H8W3R5G",
                FIELD_OU,
                "上海指尖测试有限公司",
            ),
            (
                "enterprise-rsa-legacy",
                "MA5D12340",
                "extension 1.2.86.11.7.1",
                "老代码测试有限公司",
            ),
            (
                "enterprise-sm2",
                "91330106MA27Y8JK99",
                FIELD_SERIAL_NUMBER,
                "杭州国密测试有限公司",
            ),
        ];
        for (name, code, field, org) in cases {
            let found = extract(name, &[]).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(found.code.as_str(), code, "{name}");
            assert_eq!(found.matched_field, field, "{name}");
            assert_eq!(found.organisation_name.as_deref(), Some(org), "{name}");
        }
        assert!(matches!(
            extract("enterprise-rsa-legacy", &[]).unwrap().code,
            EnterpriseCode::Organisation(_)
        ));
    }

    #[test]
    fn bad_and_missing_codes_are_reported() {
        match extract("enterprise-bad-code", &[]) {
            Err(CertificateError::InvalidEnterpriseCode {
                field,
                value,
                reason,
            }) => {
                assert_eq!(field, FIELD_CFCA_CN);
                assert_eq!(value, "91350100M000100Y4Z");
                assert!(reason.contains("expected '3'"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        let allowed = extract("enterprise-bad-code", &["91350100M000100Y4Z".to_owned()]).unwrap();
        assert_eq!(allowed.code.as_str(), "91350100M000100Y4Z");
        assert!(matches!(
            extract("enterprise-no-code", &[]),
            Err(CertificateError::NoEnterpriseCode)
        ));
    }
}
