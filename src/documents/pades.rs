//! Sealing: a PAdES signature (`/SubFilter /ETSI.CAdES.detached`) appended to a PDF as an
//! incremental update, so the rendered bytes stay as they were and the signature covers the
//! whole file but its own `/Contents`.
//!
//! The update adds a signature field (a merged field and widget on the seal's page, showing the
//! drawn seal), lists it in the catalog's `/AcroForm` with `/SigFlags 3`, and a signature
//! dictionary with a `/ByteRange` and a `/Contents` placeholder. The file is written, the
//! byte range computed over everything but the placeholder and hashed with SHA-256, and a
//! detached CMS SignedData over that hash (signed attributes: content-type, message-digest,
//! signing-time, signing-certificate-v2 of RFC 5035, which PAdES requires) is hexed into the
//! placeholder.

use chrono::{DateTime, Utc};
use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};
use der::asn1::{ObjectIdentifier, OctetString, SetOfVec};
use der::{Any, Decode, Encode, Sequence};
use lopdf::{Dictionary, IncrementalDocument, Object, ObjectId, Stream, StringFormat};
use ring::rand::SystemRandom;
use ring::signature::{self as ring_sig, EcdsaKeyPair, KeyPair};
use x509_cert::Certificate;
use x509_cert::attr::Attribute;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::AlgorithmIdentifierOwned;

use super::DocumentError;
use super::model::SealPlacement;
use super::seal_image::{Num, SealImage};

const ID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const ID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const ID_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
const ID_SIGNING_TIME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.5");
const ID_AA_SIGNING_CERTIFICATE_V2: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.47");
const ID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const PRIME256V1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");

/// The `/ByteRange` written first, as wide as any real one, overwritten in place.
const BYTE_RANGE_PLACEHOLDER: i64 = 9_999_999_999;

/// The signature algorithm of a seal.
///
/// Room for more: an SM2/SM3 signer (GB/T 38540, a hardware module) adds a variant here with
/// its digest (SM3, 1.2.156.10197.1.401) and signature algorithm (SM2-with-SM3,
/// 1.2.156.10197.1.501); the CMS assembly below picks both from this value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SealAlgorithm {
    /// ECDSA on P-256 with SHA-256; the signature DER-encoded (`Ecdsa-Sig-Value`).
    EcdsaP256Sha256,
}

#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("the seal's key cannot be used: {0}")]
    Key(String),
    #[error("the signer failed: {0}")]
    Failed(String),
    #[error("the seal is not available: {0}")]
    Unavailable(String),
}

/// Whatever holds a seal's private key: a software key, a hardware security module, a remote
/// signing service.
pub trait SealSigner: Send + Sync {
    /// Signs `message` (the DER of the CMS signed attributes) with the algorithm's digest,
    /// returning the signature as the algorithm encodes it in CMS.
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError>;
    fn algorithm(&self) -> SealAlgorithm;
}

/// An ECDSA P-256 key in software (PKCS#8), signing with ring.
pub struct SoftwareSigner {
    key: EcdsaKeyPair,
    rng: SystemRandom,
}

impl SoftwareSigner {
    pub fn from_pkcs8(pkcs8: &[u8]) -> Result<SoftwareSigner, SignError> {
        let rng = SystemRandom::new();
        let key = EcdsaKeyPair::from_pkcs8(&ring_sig::ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8, &rng)
            .map_err(|e| SignError::Key(format!("not a PKCS#8 ECDSA P-256 key: {e}")))?;
        Ok(SoftwareSigner { key, rng })
    }

    /// The public key, an uncompressed point.
    pub fn public_key(&self) -> &[u8] {
        self.key.public_key().as_ref()
    }
}

impl SealSigner for SoftwareSigner {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        self.key
            .sign(&self.rng, message)
            .map(|s| s.as_ref().to_vec())
            .map_err(|e| SignError::Failed(e.to_string()))
    }

    fn algorithm(&self) -> SealAlgorithm {
        SealAlgorithm::EcdsaP256Sha256
    }
}

impl std::fmt::Debug for SoftwareSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoftwareSigner").finish_non_exhaustive()
    }
}

/// Everything a seal needs besides the PDF.
pub struct SealRequest<'a> {
    pub placement: SealPlacement,
    /// The widget's appearance, scaled to fit the rectangle.
    pub appearance: &'a SealImage,
    pub signer: &'a dyn SealSigner,
    /// DER certificates, the seal's own first, then its issuers.
    pub chain: &'a [Vec<u8>],
    /// The signing-time attribute and the signature dictionary's `/M`.
    pub signing_time: DateTime<Utc>,
    /// `/Name`: who seals (e.g. the department).
    pub name: Option<String>,
    /// `/Reason` (e.g. 准予行政许可).
    pub reason: Option<String>,
    /// `/Location` (e.g. 大连市).
    pub location: Option<String>,
}

/// The placeholder offsets found in the written update.
struct Placeholders {
    byte_range: (usize, usize),
    contents: (usize, usize),
}

/// Seals `pdf` (see the module's documentation), returning the signed file.
pub fn seal_pdf(pdf: &[u8], request: &SealRequest<'_>) -> Result<Vec<u8>, DocumentError> {
    let leaf_der = request
        .chain
        .first()
        .ok_or_else(|| DocumentError::Certificate("the certificate chain is empty".into()))?;
    let chain: Vec<Certificate> = request
        .chain
        .iter()
        .enumerate()
        .map(|(i, der)| {
            Certificate::from_der(der)
                .map_err(|e| DocumentError::Certificate(format!("certificate {i}: {e}")))
        })
        .collect::<Result<_, _>>()?;
    let rect = request.placement.rect;
    if !(rect.width() > 0.0 && rect.height() > 0.0) {
        return Err(DocumentError::Placement(format!(
            "the seal's rectangle {rect:?} is empty"
        )));
    }

    // The placeholder: the chain, the signed attributes, the signature and the structure,
    // with room to spare; hex doubles it.
    let reserved = request.chain.iter().map(Vec::len).sum::<usize>() + 4096;
    let (mut file, placeholders) = write_update(pdf, request, reserved)?;

    let (contents_start, contents_end) = placeholders.contents;
    let ranges = [0, contents_start, contents_end, file.len() - contents_end];
    let byte_range = format!("[{} {} {} {}]", ranges[0], ranges[1], ranges[2], ranges[3]);
    let (br_start, br_end) = placeholders.byte_range;
    if byte_range.len() > br_end - br_start {
        return Err(DocumentError::PdfStructure(
            "the byte range outgrew its placeholder".into(),
        ));
    }
    let mut padded = byte_range.into_bytes();
    padded.resize(br_end - br_start, b' ');
    file[br_start..br_end].copy_from_slice(&padded);

    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(&file[..contents_start]);
    ctx.update(&file[contents_end..]);
    let digest = ctx.finish();

    let cms = build_cms(
        digest.as_ref(),
        leaf_der,
        &chain,
        request.signer,
        request.signing_time,
    )?;
    let hex = hex::encode_upper(&cms);
    // Between the angle brackets.
    let capacity = contents_end - contents_start - 2;
    if hex.len() > capacity {
        return Err(DocumentError::PlaceholderTooSmall {
            needed: cms.len(),
            reserved: capacity / 2,
        });
    }
    file[contents_start + 1..contents_start + 1 + hex.len()].copy_from_slice(hex.as_bytes());
    Ok(file)
}

/// A PDF text string: PDFDocEncoding-compatible ASCII as is, anything else UTF-16BE with BOM.
fn text_string(s: &str) -> Object {
    if s.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        Object::String(s.as_bytes().to_vec(), StringFormat::Literal)
    } else {
        let mut bytes = vec![0xFE, 0xFF];
        for unit in s.encode_utf16() {
            bytes.extend_from_slice(&unit.to_be_bytes());
        }
        Object::String(bytes, StringFormat::Hexadecimal)
    }
}

fn structure(e: impl std::fmt::Display) -> DocumentError {
    DocumentError::PdfStructure(e.to_string())
}

/// Writes `pdf` plus an incremental update carrying the signature field, its widget and a
/// signature dictionary with placeholders, returning the file and where the placeholders are.
fn write_update(
    pdf: &[u8],
    request: &SealRequest<'_>,
    reserved: usize,
) -> Result<(Vec<u8>, Placeholders), DocumentError> {
    let previous = lopdf::Document::load_mem(pdf).map_err(structure)?;
    if previous.is_encrypted() {
        return Err(DocumentError::PdfStructure(
            "encrypted PDFs are not sealed".into(),
        ));
    }
    let pages = previous.get_pages();
    let page_count = pages.len();
    let page_id = u32::try_from(request.placement.page + 1)
        .ok()
        .and_then(|n| pages.get(&n).copied())
        .ok_or_else(|| {
            DocumentError::Placement(format!(
                "page {} does not exist (the document has {page_count})",
                request.placement.page
            ))
        })?;
    let root_id = previous
        .trailer
        .get(b"Root")
        .and_then(Object::as_reference)
        .map_err(|_| DocumentError::PdfStructure("the trailer has no /Root".into()))?;
    let existing_fields = acroform_field_count(&previous, root_id);

    let mut update = IncrementalDocument::create_from(pdf.to_vec(), previous);
    let doc = &mut update.new_document;

    // The appearance: the seal (a Form XObject of its own, its stream deflated once when
    // drawn) scaled into the rectangle and centred, multiplied onto the page so that the red
    // darkens what it covers instead of hiding it, as ink does.
    let rect = request.placement.rect;
    let (w, h) = (rect.width(), rect.height());
    let image = request.appearance;
    let mut seal_dict = Dictionary::new();
    seal_dict.set("Type", Object::Name(b"XObject".to_vec()));
    seal_dict.set("Subtype", Object::Name(b"Form".to_vec()));
    seal_dict.set("BBox", real_array(&[0.0, 0.0, image.size(), image.size()]));
    seal_dict.set("Resources", Object::Dictionary(Dictionary::new()));
    let seal_stream = if image.deflated_content_stream().is_empty() {
        Stream::new(seal_dict, image.content_stream().to_vec())
    } else {
        seal_dict.set("Filter", Object::Name(b"FlateDecode".to_vec()));
        Stream::new(seal_dict, image.deflated_content_stream().to_vec()).with_compression(false)
    };
    let seal_id = doc.add_object(seal_stream);

    let scale = w.min(h) / image.size();
    let content = format!(
        "q /GS0 gs {} 0 0 {} {} {} cm /Seal Do Q\n",
        Num(scale),
        Num(scale),
        Num((w - image.size() * scale) / 2.0),
        Num((h - image.size() * scale) / 2.0),
    );
    let mut multiply = Dictionary::new();
    multiply.set("Type", Object::Name(b"ExtGState".to_vec()));
    multiply.set("BM", Object::Name(b"Multiply".to_vec()));
    let mut states = Dictionary::new();
    states.set("GS0", Object::Dictionary(multiply));
    let mut xobjects = Dictionary::new();
    xobjects.set("Seal", Object::Reference(seal_id));
    let mut resources = Dictionary::new();
    resources.set("ExtGState", Object::Dictionary(states));
    resources.set("XObject", Object::Dictionary(xobjects));
    let mut appearance_dict = Dictionary::new();
    appearance_dict.set("Type", Object::Name(b"XObject".to_vec()));
    appearance_dict.set("Subtype", Object::Name(b"Form".to_vec()));
    appearance_dict.set("BBox", real_array(&[0.0, 0.0, w, h]));
    appearance_dict.set("Resources", Object::Dictionary(resources));
    let appearance_id = doc.add_object(Stream::new(appearance_dict, content.into_bytes()));

    let mut signature = Dictionary::new();
    signature.set("Type", Object::Name(b"Sig".to_vec()));
    signature.set("Filter", Object::Name(b"Adobe.PPKLite".to_vec()));
    signature.set("SubFilter", Object::Name(b"ETSI.CAdES.detached".to_vec()));
    signature.set(
        "ByteRange",
        Object::Array(vec![
            Object::Integer(0),
            Object::Integer(BYTE_RANGE_PLACEHOLDER),
            Object::Integer(BYTE_RANGE_PLACEHOLDER),
            Object::Integer(BYTE_RANGE_PLACEHOLDER),
        ]),
    );
    signature.set(
        "Contents",
        Object::String(vec![0u8; reserved], StringFormat::Hexadecimal),
    );
    signature.set(
        "M",
        Object::String(
            request
                .signing_time
                .format("D:%Y%m%d%H%M%SZ")
                .to_string()
                .into_bytes(),
            StringFormat::Literal,
        ),
    );
    for (key, value) in [
        ("Name", &request.name),
        ("Reason", &request.reason),
        ("Location", &request.location),
    ] {
        if let Some(value) = value {
            signature.set(key, text_string(value));
        }
    }
    let signature_id = doc.add_object(signature);

    let mut field = Dictionary::new();
    field.set("Type", Object::Name(b"Annot".to_vec()));
    field.set("Subtype", Object::Name(b"Widget".to_vec()));
    field.set("FT", Object::Name(b"Sig".to_vec()));
    field.set("T", text_string(&format!("Seal{}", existing_fields + 1)));
    field.set("V", Object::Reference(signature_id));
    // Print | Locked.
    field.set("F", Object::Integer(4 | 128));
    field.set("Rect", real_array(&[rect.x0, rect.y0, rect.x1, rect.y1]));
    field.set("P", Object::Reference(page_id));
    let mut ap = Dictionary::new();
    ap.set("N", Object::Reference(appearance_id));
    field.set("AP", Object::Dictionary(ap));
    let field_id = doc.add_object(field);

    add_annotation(&mut update, page_id, field_id)?;
    add_field(&mut update, root_id, field_id)?;

    let prev_len = update.get_prev_documents_bytes().len();
    let mut file = Vec::with_capacity(pdf.len() + 2 * reserved + 8192);
    update.save_to(&mut file).map_err(structure)?;
    let placeholders = find_placeholders(&file, prev_len, reserved)?;
    Ok((file, placeholders))
}

fn real_array(values: &[f32]) -> Object {
    Object::Array(values.iter().map(|v| Object::Real(*v)).collect())
}

/// How many fields the document's form already has (for a unique field name).
fn acroform_field_count(doc: &lopdf::Document, root_id: ObjectId) -> usize {
    let Ok(catalog) = doc.get_dictionary(root_id) else {
        return 0;
    };
    let form = match catalog.get(b"AcroForm") {
        Ok(Object::Reference(id)) => doc.get_dictionary(*id).ok(),
        Ok(Object::Dictionary(d)) => Some(d),
        _ => None,
    };
    let fields = form.and_then(|f| f.get(b"Fields").ok());
    match fields {
        Some(Object::Array(a)) => a.len(),
        Some(Object::Reference(id)) => doc
            .get_object(*id)
            .and_then(Object::as_array)
            .map(Vec::len)
            .unwrap_or(0),
        _ => 0,
    }
}

/// Appends `annot` to the page's `/Annots` (inline or indirect), in the update.
fn add_annotation(
    update: &mut IncrementalDocument,
    page_id: ObjectId,
    annot: ObjectId,
) -> Result<(), DocumentError> {
    update
        .opt_clone_object_to_new_document(page_id)
        .map_err(structure)?;
    let annots = update
        .new_document
        .get_dictionary(page_id)
        .map_err(structure)?
        .get(b"Annots")
        .ok()
        .cloned();
    match annots {
        Some(Object::Reference(array_id)) => {
            update
                .opt_clone_object_to_new_document(array_id)
                .map_err(structure)?;
            update
                .new_document
                .get_object_mut(array_id)
                .and_then(Object::as_array_mut)
                .map_err(structure)?
                .push(Object::Reference(annot));
        }
        Some(Object::Array(mut array)) => {
            array.push(Object::Reference(annot));
            update
                .new_document
                .get_dictionary_mut(page_id)
                .map_err(structure)?
                .set("Annots", Object::Array(array));
        }
        _ => {
            update
                .new_document
                .get_dictionary_mut(page_id)
                .map_err(structure)?
                .set("Annots", Object::Array(vec![Object::Reference(annot)]));
        }
    }
    Ok(())
}

/// Lists `field` in the catalog's `/AcroForm` (creating it) and sets `/SigFlags 3`
/// (signatures exist, append only), in the update.
fn add_field(
    update: &mut IncrementalDocument,
    root_id: ObjectId,
    field: ObjectId,
) -> Result<(), DocumentError> {
    update
        .opt_clone_object_to_new_document(root_id)
        .map_err(structure)?;
    let form = update
        .new_document
        .get_dictionary(root_id)
        .map_err(structure)?
        .get(b"AcroForm")
        .ok()
        .cloned();
    let update_form =
        |form: &mut Dictionary, doc: &mut IncrementalDocument| -> Result<(), DocumentError> {
            match form.get(b"Fields").ok().cloned() {
                Some(Object::Reference(fields_id)) => {
                    doc.opt_clone_object_to_new_document(fields_id)
                        .map_err(structure)?;
                    doc.new_document
                        .get_object_mut(fields_id)
                        .and_then(Object::as_array_mut)
                        .map_err(structure)?
                        .push(Object::Reference(field));
                }
                Some(Object::Array(mut fields)) => {
                    fields.push(Object::Reference(field));
                    form.set("Fields", Object::Array(fields));
                }
                _ => form.set("Fields", Object::Array(vec![Object::Reference(field)])),
            }
            form.set("SigFlags", Object::Integer(3));
            Ok(())
        };
    match form {
        Some(Object::Reference(form_id)) => {
            update
                .opt_clone_object_to_new_document(form_id)
                .map_err(structure)?;
            let mut dict = update
                .new_document
                .get_dictionary(form_id)
                .map_err(structure)?
                .clone();
            update_form(&mut dict, update)?;
            update
                .new_document
                .set_object(form_id, Object::Dictionary(dict));
        }
        Some(Object::Dictionary(mut dict)) => {
            update_form(&mut dict, update)?;
            update
                .new_document
                .get_dictionary_mut(root_id)
                .map_err(structure)?
                .set("AcroForm", Object::Dictionary(dict));
        }
        _ => {
            let mut dict = Dictionary::new();
            update_form(&mut dict, update)?;
            update
                .new_document
                .get_dictionary_mut(root_id)
                .map_err(structure)?
                .set("AcroForm", Object::Dictionary(dict));
        }
    }
    Ok(())
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// Finds the `/ByteRange` array and the `/Contents` hex string in the update (after
/// `from`, the length of the previous file).
fn find_placeholders(
    file: &[u8],
    from: usize,
    reserved: usize,
) -> Result<Placeholders, DocumentError> {
    let missing = |what: &str| DocumentError::PdfStructure(format!("{what} placeholder not found"));
    let mut zeros = Vec::with_capacity(2 * reserved + 2);
    zeros.push(b'<');
    zeros.resize(2 * reserved + 1, b'0');
    zeros.push(b'>');
    let contents_start = find(file, &zeros, from).ok_or_else(|| missing("/Contents"))?;
    let key = find(file, b"/ByteRange", from).ok_or_else(|| missing("/ByteRange"))?;
    let open = find(file, b"[", key).ok_or_else(|| missing("/ByteRange"))?;
    let close = find(file, b"]", open).ok_or_else(|| missing("/ByteRange"))?;
    let inside = std::str::from_utf8(&file[open + 1..close]).map_err(|_| missing("/ByteRange"))?;
    let expected =
        format!("0 {BYTE_RANGE_PLACEHOLDER} {BYTE_RANGE_PLACEHOLDER} {BYTE_RANGE_PLACEHOLDER}");
    if inside.split_whitespace().collect::<Vec<_>>().join(" ") != expected {
        return Err(missing("/ByteRange"));
    }
    Ok(Placeholders {
        byte_range: (open, close + 1),
        contents: (contents_start, contents_start + zeros.len()),
    })
}

// ---------------------------------------------------------------------------------------------
// CMS

/// ESS signing-certificate-v2 (RFC 5035), SHA-256 only: `hashAlgorithm` is then its default
/// and DER leaves it out.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct SigningCertificateV2 {
    certs: Vec<EssCertIdV2>,
}

#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct EssCertIdV2 {
    cert_hash: OctetString,
    issuer_serial: IssuerSerial,
}

#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct IssuerSerial {
    issuer: Vec<GeneralName>,
    serial_number: SerialNumber,
}

fn asn1(e: der::Error) -> DocumentError {
    DocumentError::Certificate(format!("DER: {e}"))
}

fn attribute(oid: ObjectIdentifier, value: &impl Encode) -> Result<Attribute, DocumentError> {
    let mut values = SetOfVec::new();
    let value = Any::from_der(&value.to_der().map_err(asn1)?).map_err(asn1)?;
    values.insert(value).map_err(asn1)?;
    Ok(Attribute { oid, values })
}

fn algorithm(oid: ObjectIdentifier) -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid,
        parameters: None,
    }
}

/// The DER ContentInfo of a detached SignedData over content whose SHA-256 is `digest`.
fn build_cms(
    digest: &[u8],
    leaf_der: &[u8],
    chain: &[Certificate],
    signer: &dyn SealSigner,
    signing_time: DateTime<Utc>,
) -> Result<Vec<u8>, DocumentError> {
    let (digest_oid, signature_oid) = match signer.algorithm() {
        SealAlgorithm::EcdsaP256Sha256 => (ID_SHA256, ECDSA_WITH_SHA256),
    };
    let leaf = chain
        .first()
        .ok_or_else(|| DocumentError::Certificate("the certificate chain is empty".into()))?;
    let tbs = &leaf.tbs_certificate;

    let time = std::time::SystemTime::from(signing_time);
    let time = x509_cert::time::Time::try_from(time).map_err(asn1)?;
    let cert_hash = ring::digest::digest(&ring::digest::SHA256, leaf_der);
    let signing_certificate = SigningCertificateV2 {
        certs: vec![EssCertIdV2 {
            cert_hash: OctetString::new(cert_hash.as_ref()).map_err(asn1)?,
            issuer_serial: IssuerSerial {
                issuer: vec![GeneralName::DirectoryName(tbs.issuer.clone())],
                serial_number: tbs.serial_number.clone(),
            },
        }],
    };
    let signed_attrs = SetOfVec::try_from(vec![
        attribute(ID_CONTENT_TYPE, &ID_DATA)?,
        attribute(ID_MESSAGE_DIGEST, &OctetString::new(digest).map_err(asn1)?)?,
        attribute(ID_SIGNING_TIME, &time)?,
        attribute(ID_AA_SIGNING_CERTIFICATE_V2, &signing_certificate)?,
    ])
    .map_err(asn1)?;
    // The signature covers the attributes' DER with the SET tag (RFC 5652, 5.4).
    let message = signed_attrs.to_der().map_err(asn1)?;
    let signature = signer.sign(&message)?;
    check_signature(leaf, signer.algorithm(), &message, &signature)?;

    let signer_info = SignerInfo {
        version: CmsVersion::V1,
        sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: tbs.issuer.clone(),
            serial_number: tbs.serial_number.clone(),
        }),
        digest_alg: algorithm(digest_oid),
        signed_attrs: Some(signed_attrs),
        signature_algorithm: algorithm(signature_oid),
        signature: OctetString::new(signature).map_err(asn1)?,
        unsigned_attrs: None,
    };
    let certificates = SetOfVec::try_from(
        chain
            .iter()
            .cloned()
            .map(CertificateChoices::Certificate)
            .collect::<Vec<_>>(),
    )
    .map_err(asn1)?;
    let signed_data = SignedData {
        version: CmsVersion::V1,
        digest_algorithms: SetOfVec::try_from(vec![algorithm(digest_oid)]).map_err(asn1)?,
        encap_content_info: EncapsulatedContentInfo {
            econtent_type: ID_DATA,
            econtent: None,
        },
        certificates: Some(CertificateSet(certificates)),
        crls: None,
        signer_infos: SignerInfos(SetOfVec::try_from(vec![signer_info]).map_err(asn1)?),
    };
    ContentInfo {
        content_type: ID_SIGNED_DATA,
        content: Any::encode_from(&signed_data).map_err(asn1)?,
    }
    .to_der()
    .map_err(asn1)
}

/// Refuses a signature the seal's certificate does not verify (a key that does not match its
/// certificate would otherwise yield a document every validator rejects).
fn check_signature(
    leaf: &Certificate,
    algorithm: SealAlgorithm,
    message: &[u8],
    signature: &[u8],
) -> Result<(), DocumentError> {
    let spki = &leaf.tbs_certificate.subject_public_key_info;
    match algorithm {
        SealAlgorithm::EcdsaP256Sha256 => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
            if spki.algorithm.oid != ID_EC_PUBLIC_KEY || curve != Some(PRIME256V1) {
                return Err(DocumentError::Certificate(
                    "the seal certificate's key is not an ECDSA P-256 key".into(),
                ));
            }
            let key = spki.subject_public_key.raw_bytes();
            ring_sig::UnparsedPublicKey::new(&ring_sig::ECDSA_P256_SHA256_ASN1, key)
                .verify(message, signature)
                .map_err(|_| {
                    DocumentError::Certificate(
                        "the signer's key does not match the seal certificate".into(),
                    )
                })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_strings_are_ascii_or_utf16_with_bom() {
        assert_eq!(
            text_string("Seal1"),
            Object::String(b"Seal1".to_vec(), StringFormat::Literal)
        );
        let Object::String(bytes, StringFormat::Hexadecimal) = text_string("准予") else {
            panic!("not hex");
        };
        assert_eq!(bytes, vec![0xFE, 0xFF, 0x51, 0xC6, 0x4E, 0x88]);
    }

    #[test]
    fn placeholders_are_found_only_after_the_previous_file() {
        let mut file = b"%PDF-1.7 <0000> /ByteRange [0 1 2 3]\n".to_vec();
        let from = file.len();
        file.extend_from_slice(
            b"<< /ByteRange [0 9999999999 9999999999 9999999999] /Contents <0000> >>",
        );
        let found = find_placeholders(&file, from, 2).unwrap();
        assert_eq!(&file[found.contents.0..found.contents.1], b"<0000>");
        assert_eq!(
            &file[found.byte_range.0..found.byte_range.1],
            b"[0 9999999999 9999999999 9999999999]"
        );
        assert!(find_placeholders(&file, from, 3).is_err());
    }
}
