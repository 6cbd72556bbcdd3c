//! Applicants' material files (资料交一份): a file is uploaded once and any later case can
//! reference it, so nobody hands in the same business licence twice.
//!
//! The bytes of a small file (up to [`KEPT_IN_DATABASE_UP_TO`]) are kept in `material_bytes`,
//! written by the statement that writes its row, so one commit makes both durable; larger
//! files' bytes live in the content-addressed blob store the catalog's forms use, made durable
//! before their row is written. `material_file` holds one row per owner and content, so uploading
//! the same bytes again finds the row already there instead of making a second one. Owners are
//! subjects: `citizen:<uuid>` and `enterprise:<uuid>` for the app, `staff:<uuid>` for paper a
//! window clerk digitised (handed to the applicant's case at intake).
//!
//! A file is what its bytes say: the declared `Content-Type` must be one a material may have and
//! the bytes must sniff as that type, so a renamed executable never reaches a reviewer as a "PDF".

use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use deadpool_postgres::{GenericClient, Pool};
use uuid::Uuid;

use super::file_rows::{self, FILE_COLUMNS, FileRowWriter, NewFileRow, Outcome};
use crate::blobs::{BlobStore, sha256_hex};
use crate::cases::errors::CaseProblem;
use crate::catalog::model::MaterialFileType;
use crate::db::prepared::Prepare;
use crate::filetype::{Sniffed, sniff};
use crate::http::HttpProblem;
use crate::http::{AppError, AppResult};

/// The longest file name kept, in characters after percent-decoding.
pub const MAX_FILE_NAME_CHARS: usize = 200;

/// How many files the app's list shows at most (newest first).
pub const MAX_LISTED: i64 = 200;

/// Every type a material file may have, with its content type. The database's CHECK on
/// `material_file.content_type` lists the same four.
pub const MATERIAL_TYPES: [(MaterialFileType, &str); 4] = [
    (MaterialFileType::Pdf, "application/pdf"),
    (MaterialFileType::Jpeg, "image/jpeg"),
    (MaterialFileType::Png, "image/png"),
    (MaterialFileType::Ofd, "application/ofd"),
];

/// The content type stored and served for a material file type.
pub fn content_type_of(kind: MaterialFileType) -> &'static str {
    match kind {
        MaterialFileType::Pdf => "application/pdf",
        MaterialFileType::Jpeg => "image/jpeg",
        MaterialFileType::Png => "image/png",
        MaterialFileType::Ofd => "application/ofd",
    }
}

/// The material file type of a `Content-Type` header value (parameters such as `charset` and
/// letter case ignored), or `None` when materials may not have it.
pub fn material_type(content_type: &str) -> Option<MaterialFileType> {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    MATERIAL_TYPES
        .iter()
        .find(|(_, name)| *name == essence)
        .map(|(kind, _)| *kind)
}

/// Whether a file of `content_type` (as stored on `material_file`) satisfies a material whose
/// guide accepts `types`. A guide always lists at least one type (publishing refuses an empty
/// list), so an empty list accepts nothing rather than everything.
pub fn allowed_for(content_type: &str, types: &[MaterialFileType]) -> bool {
    material_type(content_type).is_some_and(|kind| types.contains(&kind))
}

/// Whether `bytes` really are a file of `kind`: PDF, JPEG and PNG by their magic bytes; OFD by
/// being a ZIP container with `OFD.xml` at its root (GB/T 33190's entry file), so a DOCX or any
/// other ZIP declared as OFD is refused.
pub fn bytes_match(kind: MaterialFileType, bytes: &[u8]) -> bool {
    match (kind, sniff(bytes)) {
        (MaterialFileType::Pdf, Some(Sniffed::Pdf))
        | (MaterialFileType::Jpeg, Some(Sniffed::Jpeg))
        | (MaterialFileType::Png, Some(Sniffed::Png)) => true,
        (MaterialFileType::Ofd, Some(Sniffed::Zip)) => zip_has_root_entry(bytes, b"OFD.xml"),
        _ => false,
    }
}

fn u16_at(bytes: &[u8], at: usize) -> Option<usize> {
    let b = bytes.get(at..at.checked_add(2)?)?;
    Some(usize::from(u16::from_le_bytes([b[0], b[1]])))
}

fn u32_at(bytes: &[u8], at: usize) -> Option<usize> {
    let b = bytes.get(at..at.checked_add(4)?)?;
    usize::try_from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])).ok()
}

/// Whether the ZIP archive in `bytes` names an entry `name` in its central directory (the
/// authoritative list of entries; local headers may be stale after an in-place edit). Every
/// offset is bounds-checked: a truncated or crafted archive is simply "no".
fn zip_has_root_entry(bytes: &[u8], name: &[u8]) -> bool {
    const END_SIGNATURE: &[u8] = b"PK\x05\x06";
    const ENTRY_SIGNATURE: &[u8] = b"PK\x01\x02";
    const END_LEN: usize = 22;
    if bytes.len() < END_LEN {
        return false;
    }
    // The end record is the last 22 bytes plus a comment of at most 64 KiB: search backwards.
    let earliest = bytes.len().saturating_sub(END_LEN + usize::from(u16::MAX));
    let Some(end) = (earliest..=bytes.len() - END_LEN)
        .rev()
        .find(|&at| bytes[at..].starts_with(END_SIGNATURE))
    else {
        return false;
    };
    let (Some(entries), Some(mut at)) = (u16_at(bytes, end + 10), u32_at(bytes, end + 16)) else {
        return false;
    };
    for _ in 0..entries {
        if !bytes
            .get(at..)
            .is_some_and(|b| b.starts_with(ENTRY_SIGNATURE))
        {
            return false;
        }
        let (Some(name_len), Some(extra_len), Some(comment_len)) = (
            u16_at(bytes, at + 28),
            u16_at(bytes, at + 30),
            u16_at(bytes, at + 32),
        ) else {
            return false;
        };
        let Some(entry_name) = bytes.get(at + 46..at + 46 + name_len) else {
            return false;
        };
        if entry_name == name {
            return true;
        }
        at += 46 + name_len + extra_len + comment_len;
    }
    false
}

/// The file name an upload declares in `X-File-Name`: percent-encoded UTF-8 (a header carries
/// only ASCII), at most [`MAX_FILE_NAME_CHARS`] characters once decoded, no path separators or
/// control characters — it is shown to reviewers and offered as the download name, never used as
/// a path.
pub fn parse_file_name(raw: &[u8]) -> Result<String, String> {
    let mut decoded = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'%' => {
                let hex = raw
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or("a % must be followed by two hexadecimal digits")?;
                decoded.push(hex);
                i += 3;
            }
            b if b.is_ascii() => {
                decoded.push(b);
                i += 1;
            }
            _ => return Err("non-ASCII characters must be percent-encoded (UTF-8)".to_owned()),
        }
    }
    let name = String::from_utf8(decoded)
        .map_err(|_| "the decoded name is not UTF-8".to_owned())?
        .trim()
        .to_owned();
    if name.is_empty() || name == "." || name == ".." {
        return Err("the file name is empty".to_owned());
    }
    if name.chars().count() > MAX_FILE_NAME_CHARS {
        return Err(format!(
            "the file name is longer than {MAX_FILE_NAME_CHARS} characters"
        ));
    }
    if name.contains(['/', '\\']) {
        return Err("the file name must not contain / or \\".to_owned());
    }
    if name.chars().any(char::is_control) {
        return Err("the file name must not contain control characters".to_owned());
    }
    Ok(name)
}

/// One material file as the app sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaterialFile {
    pub id: Uuid,
    pub sha256: String,
    pub size_bytes: i64,
    pub content_type: String,
    pub file_name: Option<String>,
    pub uploaded_at: DateTime<Utc>,
    /// The distinct material keys of the case materials that reference it.
    pub used_for: Vec<String>,
}

/// Files up to this size keep their bytes in the database, in the statement that writes their
/// row: one WAL flush makes the upload durable, where a blob on disk first waits for a sync of
/// the store's filesystem and then for its row's commit (decision record 0011). A scanned form
/// or a compressed photo of a certificate is tens of kilobytes; larger files stay on disk, so
/// the WAL never carries megabytes.
pub const KEPT_IN_DATABASE_UP_TO: usize = 64 * 1024;

fn file_of(row: &tokio_postgres::Row, used_for: Vec<String>) -> MaterialFile {
    MaterialFile {
        id: row.get(0),
        sha256: row.get(1),
        size_bytes: row.get(2),
        content_type: row.get(3),
        file_name: row.get(4),
        uploaded_at: row.get(5),
        used_for,
    }
}

/// The distinct material keys each of `ids` was used for, by file.
async fn used_for(
    client: &impl GenericClient,
    ids: &[Uuid],
) -> Result<std::collections::HashMap<Uuid, Vec<String>>, tokio_postgres::Error> {
    if ids.is_empty() {
        return Ok(Default::default());
    }
    let rows = client
        .query(
            "SELECT file_id, array_agg(DISTINCT material_key ORDER BY material_key)
             FROM case_material WHERE file_id = ANY($1) GROUP BY file_id",
            &[&ids],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// The upload refused: 413 `file_too_large`.
pub fn too_large(limit: usize) -> AppError {
    AppError::new(
        CaseProblem::FileTooLarge,
        format!("a material file may be at most {limit} bytes"),
    )
}

/// Storage and rules of material files.
#[derive(Clone)]
pub struct MaterialFiles {
    pool: Pool,
    blobs: Arc<dyn BlobStore>,
    max_bytes: usize,
    rows: FileRowWriter,
}

/// What an upload did: stored a new file, or found the same bytes already on file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    Created(MaterialFile),
    Existing(MaterialFile),
}

impl MaterialFiles {
    /// Starts the group insert of file rows on the current runtime: one batch at a time, and up
    /// to an eighth of the pool's connections (at least two) when batches stall.
    pub fn new(pool: Pool, blobs: Arc<dyn BlobStore>, max_bytes: usize) -> MaterialFiles {
        let rows = FileRowWriter::start(pool.clone(), (pool.status().max_size / 8).max(2));
        MaterialFiles {
            pool,
            blobs,
            max_bytes,
            rows,
        }
    }

    /// The largest file accepted, in bytes.
    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// Checks and stores `bytes` declared as `content_type` for `owner`. The same bytes again
    /// return the file already on file (its id, name and upload time unchanged).
    pub async fn store(
        &self,
        owner: &str,
        content_type: Option<&str>,
        file_name: Option<String>,
        bytes: &[u8],
    ) -> AppResult<Stored> {
        let kind = check_declared(content_type)?;
        if bytes.len() > self.max_bytes {
            return Err(too_large(self.max_bytes));
        }
        check_bytes(kind, bytes)?;
        let (sha256, kept_bytes) = if bytes.len() <= KEPT_IN_DATABASE_UP_TO {
            (sha256_hex(bytes), Some(Bytes::copy_from_slice(bytes)))
        } else {
            let stored = self.blobs.put(bytes).await.map_err(anyhow::Error::from)?;
            (stored, None)
        };
        let size = i64::try_from(bytes.len()).map_err(anyhow::Error::from)?;
        let row = NewFileRow {
            id: Uuid::new_v4(),
            owner: owner.to_owned(),
            sha256,
            size_bytes: size,
            content_type: content_type_of(kind),
            file_name,
            kept_bytes,
        };
        let stored = match self.rows.insert(row.clone()).await {
            Outcome::Inserted(inserted) => Stored::Created(file_of(&inserted, Vec::new())),
            Outcome::Conflict => Stored::Existing(self.on_file(owner, &row.sha256).await?),
            Outcome::InsertAlone => self.insert_alone(&row).await?,
        };
        let (file, created) = match &stored {
            Stored::Created(f) => (f, true),
            Stored::Existing(f) => (f, false),
        };
        tracing::info!(
            file_id = %file.id,
            size_bytes = file.size_bytes,
            content_type = %file.content_type,
            created,
            "material file stored"
        );
        Ok(stored)
    }

    /// Inserts `row` on its own (when its group insert failed): the error, if any, is its own.
    async fn insert_alone(&self, row: &NewFileRow) -> AppResult<Stored> {
        let inserted = file_rows::insert_batch(&self.pool, &[row]).await?;
        Ok(match inserted.into_iter().next() {
            Some(inserted) => Stored::Created(file_of(&inserted, Vec::new())),
            None => Stored::Existing(self.on_file(&row.owner, &row.sha256).await?),
        })
    }

    /// The file `owner` already has with these bytes (rows are never deleted, so a conflict's
    /// row is there to read), with what it was used for.
    async fn on_file(&self, owner: &str, sha256: &str) -> AppResult<MaterialFile> {
        let client = self.pool.get().await?;
        let row = client
            .query_one(
                format!(
                    "SELECT {FILE_COLUMNS} FROM material_file WHERE owner = $1 AND sha256 = $2"
                )
                .as_str(),
                &[&owner, &sha256],
            )
            .await?;
        let id: Uuid = row.get(0);
        let keys = used_for(&client, &[id]).await?.remove(&id);
        Ok(file_of(&row, keys.unwrap_or_default()))
    }

    /// The owner's files, newest first (at most [`MAX_LISTED`]), each with what it was used for.
    pub async fn list(&self, owner: &str) -> AppResult<Vec<MaterialFile>> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                format!(
                    "SELECT {FILE_COLUMNS} FROM material_file WHERE owner = $1
                     ORDER BY uploaded_at DESC, id DESC LIMIT $2"
                )
                .as_str(),
                &[&owner, &MAX_LISTED],
            )
            .await?;
        let ids: Vec<Uuid> = rows.iter().map(|r| r.get(0)).collect();
        let mut keys = used_for(&client, &ids).await?;
        Ok(rows
            .iter()
            .map(|row| {
                let used = keys.remove(&row.get::<_, Uuid>(0)).unwrap_or_default();
                file_of(row, used)
            })
            .collect())
    }

    /// One of the owner's files with its bytes; another owner's file is `None`, like a missing
    /// one, so ids reveal nothing.
    pub async fn download(
        &self,
        owner: &str,
        id: Uuid,
    ) -> AppResult<Option<(MaterialFile, Vec<u8>)>> {
        let client = self.pool.get().await?;
        let Some(row) = client
            .query_opt(
                format!("SELECT {FILE_COLUMNS} FROM material_file WHERE id = $1 AND owner = $2")
                    .as_str(),
                &[&id, &owner],
            )
            .await?
        else {
            return Ok(None);
        };
        let file = file_of(&row, Vec::new());
        let bytes = bytes_of(&**client, &*self.blobs, &file.sha256).await?;
        Ok(Some((file, bytes)))
    }

    /// The bytes of a material file its row names (see [`bytes_of`]).
    pub async fn bytes(&self, sha256: &str) -> AppResult<Vec<u8>> {
        let client = self.pool.get().await?;
        bytes_of(&**client, &*self.blobs, sha256).await
    }
}

/// The bytes of a material file whose row names `sha256`: kept in the database when the file
/// is small, in the blob store otherwise (and for small files uploaded before the database kept
/// them). A row naming bytes that are in neither is a server fault.
async fn bytes_of(
    client: &impl Prepare,
    blobs: &dyn BlobStore,
    sha256: &str,
) -> AppResult<Vec<u8>> {
    let kept = client
        .query_opt_prepared(
            "SELECT bytes FROM material_bytes WHERE sha256 = $1",
            &[&sha256],
        )
        .await?;
    if let Some(kept) = kept {
        return Ok(kept.get(0));
    }
    Ok(crate::blobs::get_existing(blobs, sha256).await?)
}

/// The declared type, or 415 `file_type_unsupported`.
pub fn check_declared(content_type: Option<&str>) -> AppResult<MaterialFileType> {
    let declared = content_type.unwrap_or_default();
    material_type(declared).ok_or_else(|| AppError::new(CaseProblem::FileTypeUnsupported, format!(
            "a material file is application/pdf, image/jpeg, image/png or application/ofd, not {declared:?}"
        )))
}

/// 400 `empty_file` for no bytes, 415 `file_type_mismatch` for bytes of another type.
pub fn check_bytes(kind: MaterialFileType, bytes: &[u8]) -> AppResult<()> {
    if bytes.is_empty() {
        return Err(AppError::in_field(
            HttpProblem::EmptyFile,
            "body",
            "the file is empty",
        ));
    }
    if !bytes_match(kind, bytes) {
        return Err(AppError::new(
            HttpProblem::FileTypeMismatch,
            format!(
                "declared {} but the bytes are not such a file",
                content_type_of(kind)
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stored (uncompressed) ZIP archive of `entries`; the CRCs are not checked here.
    fn zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut central = Vec::new();
        for (name, data) in entries {
            let offset = out.len() as u32;
            out.extend_from_slice(b"PK\x03\x04");
            out.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            out.extend_from_slice(&0u32.to_le_bytes());
            out.extend_from_slice(&(data.len() as u32).to_le_bytes());
            out.extend_from_slice(&(data.len() as u32).to_le_bytes());
            out.extend_from_slice(&(name.len() as u16).to_le_bytes());
            out.extend_from_slice(&0u16.to_le_bytes());
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(data);
            central.extend_from_slice(b"PK\x01\x02");
            central.extend_from_slice(&[20, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            central.extend_from_slice(&0u32.to_le_bytes());
            central.extend_from_slice(&(data.len() as u32).to_le_bytes());
            central.extend_from_slice(&(data.len() as u32).to_le_bytes());
            central.extend_from_slice(&(name.len() as u16).to_le_bytes());
            central.extend_from_slice(&[0; 12]);
            central.extend_from_slice(&offset.to_le_bytes());
            central.extend_from_slice(name.as_bytes());
        }
        let start = out.len() as u32;
        out.extend_from_slice(&central);
        out.extend_from_slice(b"PK\x05\x06\0\0\0\0");
        out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        out.extend_from_slice(&(central.len() as u32).to_le_bytes());
        out.extend_from_slice(&start.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out
    }

    #[test]
    fn ofd_is_a_zip_with_ofd_xml_at_its_root() {
        let ofd = zip(&[("OFD.xml", b"<ofd:OFD/>"), ("Doc_0/Document.xml", b"<x/>")]);
        assert!(bytes_match(MaterialFileType::Ofd, &ofd));
        let docx = zip(&[
            ("[Content_Types].xml", b"<x/>"),
            ("word/document.xml", b"<x/>"),
        ]);
        assert!(!bytes_match(MaterialFileType::Ofd, &docx));
        let nested = zip(&[("Doc_0/OFD.xml", b"<x/>")]);
        assert!(!bytes_match(MaterialFileType::Ofd, &nested));
        // Truncated archives and bare signatures are refused, never a panic.
        for cut in [4, 30, ofd.len() - 5] {
            assert!(!bytes_match(MaterialFileType::Ofd, &ofd[..cut]));
        }
        assert!(!bytes_match(MaterialFileType::Ofd, b"PK\x03\x04"));
        assert!(!bytes_match(MaterialFileType::Pdf, &ofd));
    }

    #[test]
    fn magic_bytes_must_match_the_declared_type() {
        assert!(bytes_match(MaterialFileType::Pdf, b"%PDF-1.7\n"));
        assert!(bytes_match(MaterialFileType::Png, b"\x89PNG\r\n\x1a\nrest"));
        assert!(bytes_match(
            MaterialFileType::Jpeg,
            &[0xFF, 0xD8, 0xFF, 0xE0]
        ));
        assert!(!bytes_match(
            MaterialFileType::Pdf,
            b"\x89PNG\r\n\x1a\nrest"
        ));
        assert!(!bytes_match(MaterialFileType::Jpeg, b"%PDF-1.7"));
    }

    #[test]
    fn content_types_map_to_catalog_file_types() {
        use MaterialFileType::*;
        assert!(allowed_for("application/pdf", &[Pdf, Ofd]));
        assert!(allowed_for("application/ofd", &[Pdf, Ofd]));
        assert!(!allowed_for("image/png", &[Pdf, Ofd]));
        assert!(allowed_for("image/jpeg", &[Jpeg]));
        assert!(!allowed_for("application/pdf", &[]));
        assert!(!allowed_for("text/html", &[Pdf, Jpeg, Png, Ofd]));
        assert_eq!(material_type("Application/PDF; charset=binary"), Some(Pdf));
        for (kind, name) in MATERIAL_TYPES {
            assert_eq!(content_type_of(kind), name);
            assert_eq!(material_type(name), Some(kind));
        }
    }

    #[test]
    fn file_names_are_percent_decoded_and_checked() {
        assert_eq!(
            parse_file_name("%E8%90%A5%E4%B8%9A%E6%89%A7%E7%85%A7.pdf".as_bytes()).unwrap(),
            "营业执照.pdf"
        );
        assert_eq!(parse_file_name(b"scan 1.jpg").unwrap(), "scan 1.jpg");
        assert_eq!(parse_file_name(b"a+b.png").unwrap(), "a+b.png");
        for bad in [
            &b"../etc/passwd"[..],
            b"a%2Fb.pdf",
            b"a%5Cb.pdf",
            b"%ZZ.pdf",
            b"%E8.pdf",
            b"a%00b.pdf",
            b"",
            b"  ",
            b"..",
            "营业执照.pdf".as_bytes(),
        ] {
            assert!(
                parse_file_name(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let long = "%E8%90%A5".repeat(MAX_FILE_NAME_CHARS);
        assert!(parse_file_name(long.as_bytes()).is_ok());
        let longer = format!("{long}x");
        assert!(parse_file_name(longer.as_bytes()).is_err());
    }
}
