//! Case documents (受理通知书, 一次性补正告知书, 不予受理决定书, 准予许可决定书, the licence
//! itself, 不予许可决定书) rendered as A4 PDFs in Chinese and sealed with a PAdES signature
//! whose visible appearance is the department's round red seal, drawn as vector paths.
//!
//! A pure library: no database, no HTTP. The seal registry hands in a [`pades::SealSigner`]
//! and the certificate chain; the case service hands in the [`model::DocumentData`].
//!
//! - [`render::render`] lays a document out (CJK font embedded as a subset, QR code of the
//!   verification URL as vector modules) and reserves the seal's place at the bottom right.
//! - [`seal_image::SealImage::draw`] draws the seal: ring, star, the department's name along
//!   the upper arc, an optional line under the star.
//! - [`pades::seal_pdf`] appends an incremental update with the signature field, whose widget
//!   shows the seal, and a detached CAdES signature (`/SubFilter /ETSI.CAdES.detached`) over the
//!   byte range, with the signed attributes content-type, message-digest, signing-time and
//!   signing-certificate-v2.
//!
//! Where a GB/T 38540 SM2 seal slots in: [`pades::SealAlgorithm`] names the algorithm a signer
//! uses; a hardware module or an SM2 key implements [`pades::SealSigner`]. An SM2/SM3 signer
//! inside the same PAdES container needs only a new `SealAlgorithm` variant (digest SM3
//! 1.2.156.10197.1.401, signature SM2-with-SM3 1.2.156.10197.1.501), but common PDF readers do
//! not verify it; a GB/T 38540 seal proper replaces the CMS in `/Contents` with an
//! `SES_Signature` (the seal data `SESeal` with its image, signed by the seal-making authority,
//! plus the signer's SM2 signature over the byte range's SM3 hash) under its own `/SubFilter`,
//! with the byte range, placeholder and widget machinery of this module unchanged.

pub mod model;
pub mod pades;
pub mod render;
pub mod seal_image;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use model::{
    Applicant, DocumentData, DocumentKind, HolderId, LegalFrame, LicenceFields, PdfRect,
    SealPlacement,
};
pub use pades::{SealAlgorithm, SealRequest, SealSigner, SignError, SoftwareSigner, seal_pdf};
pub use render::{RenderedPdf, render};
pub use seal_image::{SealAppearance, SealImage};

/// Where Debian's `fonts-wqy-microhei` puts its TrueType collection.
pub const DEFAULT_FONT_PATH: &str = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc";

#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    #[error(
        "the CJK font {path} cannot be read ({source}); install it (Debian: apt-get install fonts-wqy-microhei) or configure another TrueType font"
    )]
    FontMissing {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a usable TrueType/OpenType font (face {index})")]
    FontInvalid { path: PathBuf, index: u32 },
    #[error("the font has no glyph for {ch:?} (U+{code:04X})", code = u32::from(*ch))]
    MissingGlyph { ch: char },
    #[error("invalid document data: {0}")]
    InvalidData(String),
    #[error("PDF writing failed: {0}")]
    Pdf(String),
    #[error("the PDF to seal cannot be read or updated: {0}")]
    PdfStructure(String),
    #[error("seal placement: {0}")]
    Placement(String),
    #[error("certificate: {0}")]
    Certificate(String),
    #[error("signing failed: {0}")]
    Sign(#[from] SignError),
    #[error(
        "the signature ({needed} bytes) does not fit the reserved /Contents ({reserved} bytes)"
    )]
    PlaceholderTooSmall { needed: usize, reserved: usize },
}

/// The CJK font the documents and the seal are set in, read once and shared (cloning is
/// cheap). Only the glyphs a document uses are embedded in it.
#[derive(Clone)]
pub struct DocumentFonts {
    data: Arc<Vec<u8>>,
    index: u32,
    font: krilla::text::Font,
}

impl DocumentFonts {
    /// Face `index` of the TrueType/OpenType file (or collection) at `path`.
    pub fn load(path: &Path, index: u32) -> Result<DocumentFonts, DocumentError> {
        let data = std::fs::read(path).map_err(|source| DocumentError::FontMissing {
            path: path.to_owned(),
            source,
        })?;
        DocumentFonts::from_bytes(data, index).ok_or_else(|| DocumentError::FontInvalid {
            path: path.to_owned(),
            index,
        })
    }

    /// WenQuanYi Micro Hei from [`DEFAULT_FONT_PATH`].
    pub fn load_default() -> Result<DocumentFonts, DocumentError> {
        DocumentFonts::load(Path::new(DEFAULT_FONT_PATH), 0)
    }

    /// `None` when the bytes are not a font with a face `index` that maps Unicode.
    pub fn from_bytes(data: Vec<u8>, index: u32) -> Option<DocumentFonts> {
        let data = Arc::new(data);
        let face = ttf_parser::Face::parse(&data, index).ok()?;
        // A face without a Unicode cmap could not set a single character.
        face.glyph_index('中')?;
        let font = krilla::text::Font::new(data.clone().into(), index)?;
        Some(DocumentFonts { data, index, font })
    }

    pub(crate) fn face(&self) -> Result<ttf_parser::Face<'_>, DocumentError> {
        ttf_parser::Face::parse(&self.data, self.index)
            .map_err(|e| DocumentError::Pdf(format!("font face: {e}")))
    }

    pub(crate) fn krilla_font(&self) -> krilla::text::Font {
        self.font.clone()
    }
}

impl std::fmt::Debug for DocumentFonts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DocumentFonts")
            .field("bytes", &self.data.len())
            .field("index", &self.index)
            .finish()
    }
}
