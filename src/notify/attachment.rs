//! Files attached to a notification's email (the sealed decision PDF): references to blobs of
//! the content-addressed blob store, checked when enqueued and loaded by the dispatcher.

/// A file the email delivery of a notification carries (the sealed decision PDF), by its blob in
/// the blob store; the dispatcher loads it when it sends. Push and SMS ignore attachments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// The name the recipient sees, e.g. `准予行政许可决定书.pdf`: 1–200 characters, no control
    /// characters (a path is cut to its last part when sent).
    pub filename: String,
    /// `type/subtype`, e.g. `application/pdf`.
    pub content_type: String,
    /// The blob's name in the blob store: its lowercase hex SHA-256.
    pub blob_sha256: String,
}

/// At most this many files per notification.
pub const MAX_ATTACHMENTS: usize = 10;

/// Refuses what could never be sent: too many files, empty or overlong names, a content type
/// that is not `type/subtype`, a blob name that is not a SHA-256.
pub fn check(attachments: &[Attachment]) -> Result<(), String> {
    let bad = |why: String| Err(why);
    if attachments.len() > MAX_ATTACHMENTS {
        return bad(format!("more than {MAX_ATTACHMENTS} attachments"));
    }
    for (i, a) in attachments.iter().enumerate() {
        let chars = a.filename.chars().count();
        if a.filename.trim().is_empty() || chars > 200 || a.filename.chars().any(char::is_control) {
            return bad(format!("attachment {i}: a file name is 1-200 characters"));
        }
        let token = |t: &str| {
            !t.is_empty()
                && t.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'+' | b'-')
                })
        };
        if !a
            .content_type
            .split_once('/')
            .is_some_and(|(t, sub)| token(t) && token(sub))
        {
            return bad(format!(
                "attachment {i}: the content type is a lowercase type/subtype"
            ));
        }
        let sha = &a.blob_sha256;
        if sha.len() != 64
            || !sha
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return bad(format!(
                "attachment {i}: a blob name is 64 lowercase hexadecimal digits"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pdf() -> Attachment {
        Attachment {
            filename: "准予行政许可决定书.pdf".to_owned(),
            content_type: "application/pdf".to_owned(),
            blob_sha256: "ab".repeat(32),
        }
    }

    #[test]
    fn only_sendable_references_pass() {
        assert_eq!(check(&[pdf()]), Ok(()));
        assert_eq!(check(&[]), Ok(()));
        let with = |f: fn(&mut Attachment)| {
            let mut a = pdf();
            f(&mut a);
            check(&[a])
        };
        assert!(with(|a| a.filename = String::new()).is_err());
        assert!(with(|a| a.filename = "决".repeat(201)).is_err());
        assert!(with(|a| a.filename = "a\r\n.pdf".to_owned()).is_err());
        assert!(with(|a| a.content_type = "pdf".to_owned()).is_err());
        assert!(with(|a| a.content_type = "Application/PDF".to_owned()).is_err());
        assert!(with(|a| a.content_type = "application/pdf; x=1".to_owned()).is_err());
        assert!(with(|a| a.blob_sha256 = "AB".repeat(32)).is_err());
        assert!(with(|a| a.blob_sha256 = "../../etc/passwd".to_owned()).is_err());
        assert!(check(&vec![pdf(); MAX_ATTACHMENTS + 1]).is_err());
    }
}
