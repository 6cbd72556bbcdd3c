//! Byte-exact encodings that audit hashes are computed over: canonical JSON, SHA-256 digests and
//! the length-prefixed field framing. A third party must be able to reproduce all of them.

use ring::digest::{SHA256, digest};
use serde_json::Value;

/// Serialises `value` canonically, so that equal JSON values always give the same bytes.
///
/// The rules (close to RFC 8785 "JCS", and written out here so that anyone can reimplement them):
/// - no whitespace anywhere;
/// - `null`, `true`, `false` as themselves;
/// - integers (JSON numbers without fraction or exponent that fit in an `i64` or `u64`): plain
///   decimal digits, with a leading `-` when negative;
/// - every other number (an IEEE 754 double): the ECMAScript `Number.prototype.toString` form,
///   i.e. the shortest digits that round-trip, laid out as in RFC 8785 section 3.2.2.3
///   (`1.5`, `100`, `1e+21`, `1.5e-7`, `0.000001`); negative zero is written `0`;
/// - strings in double quotes; `"` and `\` are escaped as `\"` and `\\`; U+0008, U+0009, U+000A,
///   U+000C and U+000D as `\b`, `\t`, `\n`, `\f`, `\r`; every other character below U+0020 as
///   `\u00xx` with lowercase hex; all other characters are written as raw UTF-8 (no escaping of
///   `/` or non-ASCII);
/// - arrays keep their order, elements separated by `,`;
/// - objects have their members sorted by the UTF-8 bytes of their keys (recursively), written
///   as `"key":value` separated by `,`.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_value(value, &mut out);
    out
}

/// Lowercase hex SHA-256 of `canonical_json(value)`. This is what `before_digest` and
/// `after_digest` hold.
pub fn digest_json(value: &Value) -> String {
    sha256_hex(canonical_json(value).as_bytes())
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(digest(&SHA256, bytes).as_ref())
}

/// Appends `field` framed as a netstring: its length in bytes in decimal, `:`, the bytes, `,`.
/// A sequence of such fields can be split back unambiguously whatever bytes the fields contain.
pub fn push_field(buf: &mut Vec<u8>, field: &[u8]) {
    buf.extend_from_slice(field.len().to_string().as_bytes());
    buf.push(b':');
    buf.extend_from_slice(field);
    buf.push(b',');
}

fn write_value(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                out.push_str(&i.to_string());
            } else if let Some(u) = n.as_u64() {
                out.push_str(&u.to_string());
            } else if let Some(f) = n.as_f64() {
                write_double(f, out);
            } else {
                // Unreachable without serde_json's arbitrary_precision feature; keep its text.
                out.push_str(&n.to_string());
            }
        }
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            members.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (key, item)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(key, out);
                out.push(':');
                write_value(item, out);
            }
            out.push('}');
        }
    }
}

fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{08}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{0C}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// ECMAScript `Number.prototype.toString` for a finite double (RFC 8785 section 3.2.2.3).
fn write_double(f: f64, out: &mut String) {
    if f == 0.0 || !f.is_finite() {
        // serde_json never holds NaN or infinities; treat them like zero rather than panic.
        out.push('0');
        return;
    }
    if f < 0.0 {
        out.push('-');
    }
    // Rust's `{:e}` prints the shortest digits that round-trip: "d.ddddde-7" or "de21".
    let sci = format!("{:e}", f.abs());
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let exponent: i64 = exponent.parse().unwrap_or(0);
    let k = digits.len() as i64;
    let n = exponent + 1; // the decimal point sits after the n-th digit
    if k <= n && n <= 21 {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', (n - k) as usize));
    } else if 0 < n && n <= 21 {
        let (int, frac) = digits.split_at(n as usize);
        out.push_str(int);
        out.push('.');
        out.push_str(frac);
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-n) as usize));
        out.push_str(&digits);
    } else {
        let (first, rest) = digits.split_at(1);
        out.push_str(first);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        out.push('e');
        out.push(if n > 0 { '+' } else { '-' });
        out.push_str(&(n - 1).abs().to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sorts_keys_recursively_without_whitespace() {
        let v = json!({"b": 1, "a": {"z": [3, {"y": true, "x": null}], "m": "s"}});
        assert_eq!(
            canonical_json(&v),
            r#"{"a":{"m":"s","z":[3,{"x":null,"y":true}]},"b":1}"#
        );
    }

    #[test]
    fn is_stable_across_insertion_order_and_reparsing() {
        let a: Value =
            serde_json::from_str(r#"{"k2": [1, 2.5], "k1": {"b": "x", "a": -3}}"#).unwrap();
        let b: Value =
            serde_json::from_str(r#"{"k1": {"a": -3, "b": "x"}, "k2": [1, 2.5]}"#).unwrap();
        assert_eq!(canonical_json(&a), canonical_json(&b));
        let reparsed: Value = serde_json::from_str(&canonical_json(&a)).unwrap();
        assert_eq!(canonical_json(&reparsed), canonical_json(&a));
        assert_eq!(digest_json(&a), digest_json(&b));
        assert_eq!(digest_json(&a).len(), 64);
    }

    #[test]
    fn keys_sort_by_utf8_bytes() {
        let v = json!({"é": 1, "z": 2, "Z": 3, "": 4});
        assert_eq!(canonical_json(&v), r#"{"":4,"Z":3,"z":2,"é":1}"#);
    }

    #[test]
    fn escapes_strings() {
        let v = json!("q\"b\\n\n\t\u{1}\u{7f}/é");
        assert_eq!(canonical_json(&v), "\"q\\\"b\\\\n\\n\\t\\u0001\u{7f}/é\"");
    }

    #[test]
    fn numbers_follow_ecmascript() {
        let cases: &[(Value, &str)] = &[
            (json!(0), "0"),
            (json!(-7), "-7"),
            (json!(u64::MAX), "18446744073709551615"),
            (json!(1.5), "1.5"),
            (json!(100.0), "100"),
            (json!(-0.0), "0"),
            (json!(1e21), "1e+21"),
            (json!(1e20), "100000000000000000000"),
            (json!(1.5e-7), "1.5e-7"),
            (json!(0.000001), "0.000001"),
            (json!(123.456), "123.456"),
            (json!(-2.5e30), "-2.5e+30"),
        ];
        for (value, expected) in cases {
            assert_eq!(canonical_json(value), *expected, "{value:?}");
        }
    }

    #[test]
    fn fields_are_framed_unambiguously() {
        let mut a = Vec::new();
        push_field(&mut a, b"ab");
        push_field(&mut a, b"c");
        let mut b = Vec::new();
        push_field(&mut b, b"a");
        push_field(&mut b, b"bc");
        assert_eq!(a, b"2:ab,1:c,");
        assert_ne!(a, b);
    }
}
