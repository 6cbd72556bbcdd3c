//! Content sniffing: a file is what its first bytes say, not what its name or header claims.

/// Families recognised by their magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniffed {
    Pdf,
    Png,
    Jpeg,
    /// ZIP container: DOCX, XLSX and OFD all are.
    Zip,
    /// OLE compound file: legacy DOC and XLS.
    Ole,
}

pub fn sniff(bytes: &[u8]) -> Option<Sniffed> {
    if bytes.starts_with(b"%PDF-") {
        Some(Sniffed::Pdf)
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(Sniffed::Png)
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(Sniffed::Jpeg)
    } else if bytes.starts_with(b"PK\x03\x04") {
        Some(Sniffed::Zip)
    } else if bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
        Some(Sniffed::Ole)
    } else {
        None
    }
}

/// The content types a downloadable form may have, with the family their bytes must show.
pub const FORM_TYPES: &[(&str, Sniffed)] = &[
    ("application/pdf", Sniffed::Pdf),
    ("image/png", Sniffed::Png),
    ("image/jpeg", Sniffed::Jpeg),
    (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        Sniffed::Zip,
    ),
    (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        Sniffed::Zip,
    ),
    ("application/ofd", Sniffed::Zip),
    ("application/msword", Sniffed::Ole),
    ("application/vnd.ms-excel", Sniffed::Ole),
];

/// Whether `bytes` really are of the declared `content_type` (one of [`FORM_TYPES`]).
pub fn matches_declared(content_type: &str, bytes: &[u8]) -> Result<(), String> {
    let declared = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let Some((_, family)) = FORM_TYPES.iter().find(|(t, _)| *t == declared) else {
        return Err(format!(
            "content type {declared:?} is not accepted for forms"
        ));
    };
    match sniff(bytes) {
        Some(found) if found == *family => Ok(()),
        Some(found) => Err(format!("declared {declared} but the bytes are {found:?}")),
        None => Err(format!(
            "declared {declared} but the bytes are of no known type"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_must_match_the_declared_type() {
        assert!(matches_declared("application/pdf", b"%PDF-1.7\n...").is_ok());
        assert!(matches_declared("application/pdf", b"\x89PNG\r\n\x1a\n....").is_err());
        assert!(matches_declared("application/msword", b"%PDF-1.4").is_err());
        assert!(matches_declared("text/html", b"<html>").is_err());
        assert!(matches_declared("application/ofd; charset=binary", b"PK\x03\x04rest").is_ok());
    }
}
