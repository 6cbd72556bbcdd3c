//! Every case document rendered, sealed, and checked by two independent validators: poppler's
//! `pdfsig` and pyHanko (`pyhanko sign validate`) with a test root as the only trust anchor.
//! One flipped byte inside the signed range must make both refuse the document.
//!
//! The validators are required: without them these tests fail, saying what to install
//! (Debian: `apt-get install -y poppler-utils fonts-wqy-microhei`; PyPI: `pip3 install
//! pyhanko-cli`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::sync::OnceLock;

#[path = "support/pdf_validators.rs"]
mod pdf_validators;
use pdf_validators::{pdfsig, pyhanko};

use chrono::{NaiveDate, TimeZone, Utc};
use fingertip::documents::model::PromisedDeadline;
use fingertip::documents::seal_image::SEAL_DIAMETER_PT;
use fingertip::documents::{
    Applicant, DocumentData, DocumentError, DocumentFonts, DocumentKind, HolderId, LicenceFields,
    SealAppearance, SealImage, SealRequest, SoftwareSigner, render, seal_pdf,
};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
};

const SIGNER_CN: &str = "Dalian Market Regulation Seal";
const DEPARTMENT: &str = "大连市市场监督管理局";

struct TestPki {
    root_pem: String,
    chain: Vec<Vec<u8>>,
    seal_key_pkcs8: Vec<u8>,
}

/// Root CA → seal certificate (digitalSignature + nonRepudiation, as pyHanko wants).
fn pki() -> &'static TestPki {
    static PKI: OnceLock<TestPki> = OnceLock::new();
    PKI.get_or_init(|| {
        let root_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let mut root_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, "Fingertip Test Seal Root CA");
        dn.push(DnType::OrganizationName, "fingertip tests");
        root_params.distinguished_name = dn;
        root_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        root_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let root = root_params.self_signed(&root_key).unwrap();
        let issuer = Issuer::from_params(&root_params, &root_key);

        let seal_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, SIGNER_CN);
        dn.push(DnType::OrganizationName, DEPARTMENT);
        dn.push(DnType::CountryName, "CN");
        params.distinguished_name = dn;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::ContentCommitment,
        ];
        let seal = params.signed_by(&seal_key, &issuer).unwrap();
        TestPki {
            root_pem: root.pem(),
            chain: vec![seal.der().to_vec(), root.der().to_vec()],
            seal_key_pkcs8: seal_key.serialize_der(),
        }
    })
}

fn fonts() -> &'static DocumentFonts {
    static FONTS: OnceLock<DocumentFonts> = OnceLock::new();
    FONTS.get_or_init(|| DocumentFonts::load_default().unwrap_or_else(|e| panic!("{e}")))
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn data(paragraphs: Vec<String>) -> DocumentData {
    DocumentData {
        department: DEPARTMENT.into(),
        acceptance_number: "DL-SCJG-20260302-000123".into(),
        document_number: "大市监许〔2026〕123号".into(),
        date: date(2026, 3, 5),
        applicant: Applicant {
            name: "大连海韵食品有限公司".into(),
            id: HolderId::Enterprise("91210200MA0Y8K2X3L".into()),
        },
        item_name: "食品经营许可（新办）".into(),
        paragraphs,
        verification_url: "https://zhijianban.dl.gov.cn/v/9f86d081884c7d65".into(),
        frame: fingertip::cases::legal_frame::licensing_frame(),
    }
}

fn every_kind() -> Vec<(DocumentKind, DocumentData)> {
    let citizen = DocumentData {
        applicant: Applicant {
            name: "张三".into(),
            id: HolderId::Citizen("2102**********1234".into()),
        },
        ..data(vec![])
    };
    vec![
        (
            DocumentKind::AcceptanceNotice {
                decide_by: Some(PromisedDeadline {
                    date: date(2026, 3, 26),
                    provisional_basis: None,
                }),
            },
            data(vec![]),
        ),
        (
            DocumentKind::CorrectionNotice {
                missing_materials: vec![
                    "营业执照副本复印件：未加盖申请人公章。".into(),
                    "经营场所使用证明：租赁合同已过期，请提供有效期内的租赁合同。".into(),
                    "食品安全管理制度文本：缺少进货查验记录制度、从业人员健康管理制度。".into(),
                ],
                correct_by: Some(date(2026, 3, 20)),
            },
            citizen.clone(),
        ),
        (
            DocumentKind::RejectionDecision {
                reasons: vec!["申请事项依法不需要取得行政许可。".into()],
            },
            citizen,
        ),
        (
            DocumentKind::ApprovalDecision {
                licence_number: Some("JY12102030012345".into()),
            },
            data(vec![]),
        ),
        (
            DocumentKind::Licence(LicenceFields {
                type_name: "食品经营许可证".into(),
                number: "JY12102030012345".into(),
                holder: "大连海韵食品有限公司".into(),
                valid_from: date(2026, 3, 5),
                valid_to: Some(date(2031, 3, 4)),
                extra: vec![
                    ("法定代表人".into(), "李四".into()),
                    ("经营场所".into(), "辽宁省大连市中山区人民路88号1层".into()),
                    ("经营项目".into(), "预包装食品（含冷藏冷冻食品）销售；散装食品（不含冷藏冷冻食品）销售".into()),
                ],
            }),
            data(vec![]),
        ),
        (
            DocumentKind::DenialDecision {
                reasons: vec![
                    "经现场核查，经营场所与有毒、有害场所的距离不符合《食品经营许可审查通则》的要求。".into(),
                    "未配备与经营的食品品种、数量相适应的冷藏设备。".into(),
                ],
                remedies: vec![
                    "自收到本决定书之日起六十日内，向大连市人民政府申请行政复议；".into(),
                    "自收到本决定书之日起六个月内，向大连市中山区人民法院提起行政诉讼。".into(),
                ],
            },
            data(vec!["特此决定。".into()]),
        ),
    ]
}

fn seal(kind: &DocumentKind, data: &DocumentData) -> Vec<u8> {
    let pki = pki();
    let rendered = render(fonts(), kind, data, None).unwrap();
    assert!(
        rendered.bytes.len() < 300 * 1024,
        "{}: {} bytes: the font is not subset",
        kind.code(),
        rendered.bytes.len()
    );
    let image = SealImage::draw(
        &SealAppearance::new(&data.department).with_subtitle("行政审批专用章"),
        fonts(),
        SEAL_DIAMETER_PT,
    )
    .unwrap();
    let signer = SoftwareSigner::from_pkcs8(&pki.seal_key_pkcs8).unwrap();
    let sealed = seal_pdf(
        &rendered.bytes,
        &SealRequest {
            placement: rendered.seal,
            appearance: &image,
            signer: &signer,
            chain: &pki.chain,
            signing_time: Utc.with_ymd_and_hms(2026, 3, 5, 2, 30, 0).unwrap(),
            name: Some(data.department.clone()),
            reason: Some(kind.title(&data.frame)),
            location: Some("大连市".into()),
        },
    )
    .unwrap();
    assert!(sealed.starts_with(&rendered.bytes), "an incremental update");
    assert!(sealed.len() < 300 * 1024, "{} bytes", sealed.len());
    sealed
}

fn check_kind(index: usize) {
    let (kind, data) = &every_kind()[index];
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root.pem");
    std::fs::write(&root, &pki().root_pem).unwrap();
    let sealed = seal(kind, data);
    let file = dir.path().join(format!("{}.pdf", kind.code()));
    std::fs::write(&file, &sealed).unwrap();
    if let Ok(keep) = std::env::var("KEEP_SEALED_PDFS") {
        std::fs::create_dir_all(&keep).unwrap();
        std::fs::copy(&file, Path::new(&keep).join(file.file_name().unwrap())).unwrap();
        std::fs::copy(&root, Path::new(&keep).join("root.pem")).unwrap();
    }

    let poppler = pdfsig(&file);
    eprintln!("pdfsig {}:\n{}", kind.code(), poppler.text);
    assert!(
        poppler.text.contains("Signature is Valid"),
        "{}",
        poppler.text
    );
    assert!(
        poppler
            .text
            .contains(&format!("Signer Certificate Common Name: {SIGNER_CN}")),
        "{}",
        poppler.text
    );
    assert!(
        poppler.text.contains("ETSI.CAdES.detached"),
        "{}",
        poppler.text
    );
    assert!(
        poppler.text.contains("Total document signed"),
        "{}",
        poppler.text
    );

    let hanko = pyhanko(&file, &root, false);
    eprintln!("pyhanko {}:\n{}", kind.code(), hanko.text);
    assert!(hanko.success, "{}", hanko.text);
    assert!(
        hanko.text.contains(":INTACT:TRUSTED,UNTOUCHED"),
        "{}",
        hanko.text
    );
    let details = pyhanko(&file, &root, true);
    for expected in [
        &format!("Common Name: {SIGNER_CN}") as &str,
        "The signer's certificate is trusted.",
        "The signature is cryptographically sound.",
        "The signature covers the entire file.",
        "The signature is judged VALID.",
    ] {
        assert!(
            details.text.contains(expected),
            "{expected}: {}",
            details.text
        );
    }

    // One byte flipped in each signed range: inside the first stream of the rendered file, and
    // in the signing date (/M) after the /Contents placeholder.
    let stream = find(&sealed, b"stream\n", 0) + 40;
    let contents_end = find(&sealed, b"/M", find(&sealed, b"/ETSI.CAdES.detached", 0)) + 6;
    for (label, offset) in [("first range", stream), ("second range", contents_end)] {
        let mut tampered = sealed.clone();
        tampered[offset] ^= 0x01;
        let bad = dir.path().join(format!("{}-tampered.pdf", kind.code()));
        std::fs::write(&bad, &tampered).unwrap();
        let poppler = pdfsig(&bad);
        eprintln!(
            "pdfsig {} tampered ({label}):\n{}",
            kind.code(),
            poppler.text
        );
        assert!(
            !poppler.text.contains("Signature is Valid"),
            "{label}: {}",
            poppler.text
        );
        let hanko = pyhanko(&bad, &root, false);
        eprintln!(
            "pyhanko {} tampered ({label}):\n{}",
            kind.code(),
            hanko.text
        );
        assert!(!hanko.success, "{label}: {}", hanko.text);
        assert!(!hanko.text.contains("INTACT"), "{label}: {}", hanko.text);
    }
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> usize {
    haystack[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
        .unwrap()
}

#[test]
fn acceptance_notice_is_sealed_and_validates() {
    check_kind(0);
}

#[test]
fn correction_notice_is_sealed_and_validates() {
    check_kind(1);
}

#[test]
fn rejection_decision_is_sealed_and_validates() {
    check_kind(2);
}

#[test]
fn approval_decision_is_sealed_and_validates() {
    check_kind(3);
}

#[test]
fn licence_is_sealed_and_validates() {
    check_kind(4);
}

#[test]
fn denial_decision_is_sealed_and_validates() {
    check_kind(5);
}

#[test]
fn a_long_document_flows_onto_more_pages_with_the_seal_on_the_last() {
    let paragraphs = (1..=30)
        .map(|i| format!("第{i}段：申请人应当如实向行政机关提交有关材料和反映真实情况，并对其申请材料实质内容的真实性负责。"))
        .collect();
    let data = data(paragraphs);
    let kind = DocumentKind::ApprovalDecision {
        licence_number: None,
    };
    let rendered = render(fonts(), &kind, &data, None).unwrap();
    assert!(rendered.page_count >= 2, "{} pages", rendered.page_count);
    assert_eq!(rendered.seal.page, rendered.page_count - 1);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root.pem");
    std::fs::write(&root, &pki().root_pem).unwrap();
    let file = dir.path().join("long.pdf");
    std::fs::write(&file, seal(&kind, &data)).unwrap();
    let poppler = pdfsig(&file);
    assert!(
        poppler.text.contains("Signature is Valid"),
        "{}",
        poppler.text
    );
}

#[test]
fn the_seal_can_be_printed_on_the_page_without_a_signature() {
    let (kind, data) = &every_kind()[3];
    let appearance = SealAppearance::new(DEPARTMENT);
    let plain = render(fonts(), kind, data, None).unwrap();
    let printed = render(fonts(), kind, data, Some(&appearance)).unwrap();
    assert_eq!(plain.seal, printed.seal);
    assert!(printed.bytes.len() > plain.bytes.len());
}

#[test]
fn the_seal_sits_inside_the_page_at_the_bottom_right() {
    for (kind, data) in every_kind() {
        let rendered = render(fonts(), &kind, &data, None).unwrap();
        let r = rendered.seal.rect;
        assert!((r.width() - SEAL_DIAMETER_PT).abs() < 0.01);
        assert!((r.height() - SEAL_DIAMETER_PT).abs() < 0.01);
        assert!(r.x0 > 595.276 / 2.0 && r.x1 < 595.276 - 40.0, "{r:?}");
        assert!(r.y0 > 40.0 && r.y1 < 841.89 - 72.0, "{r:?}");
    }
}

#[test]
fn a_missing_font_is_an_error_naming_the_package() {
    let err = DocumentFonts::load(Path::new("/nonexistent/wqy-microhei.ttc"), 0).unwrap_err();
    assert!(matches!(err, DocumentError::FontMissing { .. }));
    assert!(err.to_string().contains("fonts-wqy-microhei"), "{err}");
    let not_a_font = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(not_a_font.path(), b"not a font").unwrap();
    assert!(matches!(
        DocumentFonts::load(not_a_font.path(), 0),
        Err(DocumentError::FontInvalid { .. })
    ));
}

#[test]
fn a_key_that_does_not_match_the_certificate_is_refused() {
    let (kind, data) = &every_kind()[0];
    let rendered = render(fonts(), kind, data, None).unwrap();
    let image = SealImage::draw(&SealAppearance::new(DEPARTMENT), fonts(), 100.0).unwrap();
    let other = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let signer = SoftwareSigner::from_pkcs8(&other.serialize_der()).unwrap();
    let err = seal_pdf(
        &rendered.bytes,
        &SealRequest {
            placement: rendered.seal,
            appearance: &image,
            signer: &signer,
            chain: &pki().chain,
            signing_time: Utc.with_ymd_and_hms(2026, 3, 5, 2, 30, 0).unwrap(),
            name: None,
            reason: None,
            location: None,
        },
    )
    .unwrap_err();
    assert!(matches!(err, DocumentError::Certificate(_)), "{err}");
}

#[test]
fn a_seal_on_a_page_that_does_not_exist_is_refused() {
    let (kind, data) = &every_kind()[0];
    let rendered = render(fonts(), kind, data, None).unwrap();
    let image = SealImage::draw(&SealAppearance::new(DEPARTMENT), fonts(), 100.0).unwrap();
    let signer = SoftwareSigner::from_pkcs8(&pki().seal_key_pkcs8).unwrap();
    let mut placement = rendered.seal;
    placement.page = 7;
    let err = seal_pdf(
        &rendered.bytes,
        &SealRequest {
            placement,
            appearance: &image,
            signer: &signer,
            chain: &pki().chain,
            signing_time: Utc.with_ymd_and_hms(2026, 3, 5, 2, 30, 0).unwrap(),
            name: None,
            reason: None,
            location: None,
        },
    )
    .unwrap_err();
    assert!(matches!(err, DocumentError::Placement(_)), "{err}");
}
