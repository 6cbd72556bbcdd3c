//! Sealed documents per second: each document kind rendered (layout, CJK subset, QR code) and
//! sealed (incremental update, SHA-256 over the byte range, CMS with ECDSA P-256), one thread,
//! beside a baseline from the same run: bare ECDSA P-256 signatures per second with ring, the
//! floor of any sealing. Then all kinds in turn on every core at once (the issue's "documents
//! sealed per second on 2 cores"). Also the time to draw the seal image, done once per
//! department (the drawing is reused, so it is not part of the per-document figures).
//!
//! `cargo bench --bench seal_documents` (env: BENCH_SECONDS per figure, default 3;
//! FINGERTIP_FONT, default the wqy-microhei path).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use fingertip::documents::seal_image::SEAL_DIAMETER_PT;
use fingertip::documents::{
    Applicant, DocumentData, DocumentFonts, DocumentKind, HolderId, LicenceFields, SealAppearance,
    SealImage, SealRequest, SealSigner, SoftwareSigner, render, seal_pdf,
};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
};

fn seconds() -> f64 {
    std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3.0)
}

/// Runs `f` repeatedly for the configured time (after a short warm-up): (per second, p50).
fn measure(mut f: impl FnMut()) -> (f64, Duration) {
    let warm = Instant::now();
    while warm.elapsed() < Duration::from_millis(300) {
        f();
    }
    let budget = Duration::from_secs_f64(seconds());
    let mut samples = Vec::new();
    let start = Instant::now();
    while start.elapsed() < budget {
        let t = Instant::now();
        f();
        samples.push(t.elapsed());
    }
    let total = start.elapsed();
    samples.sort();
    let p50 = samples[samples.len() / 2];
    (samples.len() as f64 / total.as_secs_f64(), p50)
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn main() {
    let font_path = std::env::var_os("FINGERTIP_FONT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(fingertip::documents::DEFAULT_FONT_PATH));
    let fonts = DocumentFonts::load(&font_path, 0).unwrap_or_else(|e| panic!("{e}"));

    let root_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut root_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "Bench Seal Root CA");
    root_params.distinguished_name = dn;
    root_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    root_params.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    let root = root_params.self_signed(&root_key).unwrap();
    let issuer = Issuer::from_params(&root_params, &root_key);
    let seal_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "Bench Seal");
    params.distinguished_name = dn;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::ContentCommitment,
    ];
    let seal_cert = params.signed_by(&seal_key, &issuer).unwrap();
    let chain = vec![seal_cert.der().to_vec(), root.der().to_vec()];
    let signer = SoftwareSigner::from_pkcs8(&seal_key.serialize_der()).unwrap();

    let data = DocumentData {
        department: "大连市市场监督管理局".into(),
        acceptance_number: "DL-SCJG-20260302-000123".into(),
        document_number: "大市监许〔2026〕123号".into(),
        date: date(2026, 3, 5),
        applicant: Applicant {
            name: "大连海韵食品有限公司".into(),
            id: HolderId::Enterprise("91210200MA0Y8K2X3L".into()),
        },
        item_name: "食品经营许可（新办）".into(),
        paragraphs: vec![],
        verification_url: "https://zhijianban.dl.gov.cn/v/9f86d081884c7d65".into(),
        frame: fingertip::cases::legal_frame::licensing_frame(),
    };
    let kinds = vec![
        DocumentKind::AcceptanceNotice {
            decide_by: Some(fingertip::documents::model::PromisedDeadline {
                date: date(2026, 3, 26),
                provisional_basis: None,
            }),
        },
        DocumentKind::CorrectionNotice {
            missing_materials: vec![
                "营业执照副本复印件：未加盖申请人公章。".into(),
                "经营场所使用证明：租赁合同已过期，请提供有效期内的租赁合同。".into(),
            ],
            correct_by: Some(date(2026, 3, 20)),
        },
        DocumentKind::RejectionDecision {
            reasons: vec!["申请事项依法不需要取得行政许可。".into()],
        },
        DocumentKind::ApprovalDecision {
            licence_number: Some("JY12102030012345".into()),
        },
        DocumentKind::Licence(LicenceFields {
            type_name: "食品经营许可证".into(),
            number: "JY12102030012345".into(),
            holder: "大连海韵食品有限公司".into(),
            valid_from: date(2026, 3, 5),
            valid_to: Some(date(2031, 3, 4)),
            extra: vec![("经营场所".into(), "辽宁省大连市中山区人民路88号1层".into())],
        }),
        DocumentKind::DenialDecision {
            reasons: vec!["未配备与经营的食品品种、数量相适应的冷藏设备。".into()],
            remedies: vec!["自收到本决定书之日起六十日内，向大连市人民政府申请行政复议。".into()],
        },
    ];
    let appearance = SealAppearance::new(&data.department).with_subtitle("行政审批专用章");

    let (ecdsa_rate, ecdsa_p50) = measure(|| {
        std::hint::black_box(
            signer
                .sign(b"baseline message of a CMS signed-attributes size")
                .unwrap(),
        );
    });
    println!(
        "baseline: ECDSA P-256 signatures (ring)       {ecdsa_rate:>9.0}/s  p50 {:>8.1} µs",
        ecdsa_p50.as_secs_f64() * 1e6
    );
    let (draw_rate, draw_p50) = measure(|| {
        std::hint::black_box(SealImage::draw(&appearance, &fonts, SEAL_DIAMETER_PT).unwrap());
    });
    println!(
        "seal image drawn (glyph outlines)              {draw_rate:>9.0}/s  p50 {:>8.1} µs",
        draw_p50.as_secs_f64() * 1e6
    );
    let image = SealImage::draw(&appearance, &fonts, SEAL_DIAMETER_PT).unwrap();

    let mut total_rate = 0.0;
    for kind in &kinds {
        let (render_rate, render_p50) = measure(|| {
            std::hint::black_box(render(&fonts, kind, &data, None).unwrap());
        });
        let rendered = render(&fonts, kind, &data, None).unwrap();
        let (seal_rate, seal_p50) = measure(|| {
            std::hint::black_box(
                seal_pdf(
                    &rendered.bytes,
                    &SealRequest {
                        placement: rendered.seal,
                        appearance: &image,
                        signer: &signer,
                        chain: &chain,
                        signing_time: fingertip::clock::system_time(),
                        name: Some(data.department.clone()),
                        reason: Some(kind.title(&data.frame)),
                        location: None,
                    },
                )
                .unwrap(),
            );
        });
        let mut size = 0;
        let (rate, p50) = measure(|| {
            let rendered = render(&fonts, kind, &data, None).unwrap();
            let sealed = seal_pdf(
                &rendered.bytes,
                &SealRequest {
                    placement: rendered.seal,
                    appearance: &image,
                    signer: &signer,
                    chain: &chain,
                    signing_time: fingertip::clock::system_time(),
                    name: Some(data.department.clone()),
                    reason: Some(kind.title(&data.frame)),
                    location: None,
                },
            )
            .unwrap();
            size = sealed.len();
        });
        total_rate += rate;
        println!(
            "{:<19} render {render_rate:>6.0}/s (p50 {:>6.2} ms)  seal {seal_rate:>6.0}/s (p50 {:>6.2} ms)  render+seal {rate:>6.0}/s (p50 {:>6.2} ms)  {:>5.1} KiB  = {:.2}% of the ECDSA baseline",
            kind.code(),
            render_p50.as_secs_f64() * 1e3,
            seal_p50.as_secs_f64() * 1e3,
            p50.as_secs_f64() * 1e3,
            size as f64 / 1024.0,
            100.0 * rate / ecdsa_rate,
        );
    }
    let mean = total_rate / kinds.len() as f64;
    println!(
        "mean over the kinds: {mean:.0} sealed documents/s on one core ({:.2}% of bare ECDSA signing)",
        100.0 * mean / ecdsa_rate
    );

    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let budget = Duration::from_secs_f64(seconds());
    let start = Instant::now();
    let mut latencies: Vec<Duration> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let (fonts, kinds, data, image, signer, chain) =
                    (&fonts, &kinds, &data, &image, &signer, &chain);
                scope.spawn(move || {
                    let mut latencies = Vec::new();
                    let mut i = t;
                    while start.elapsed() < budget {
                        let kind = &kinds[i % kinds.len()];
                        i += 1;
                        let t0 = Instant::now();
                        let rendered = render(fonts, kind, data, None).unwrap();
                        std::hint::black_box(
                            seal_pdf(
                                &rendered.bytes,
                                &SealRequest {
                                    placement: rendered.seal,
                                    appearance: image,
                                    signer,
                                    chain,
                                    signing_time: fingertip::clock::system_time(),
                                    name: Some(data.department.clone()),
                                    reason: Some(kind.title(&data.frame)),
                                    location: None,
                                },
                            )
                            .unwrap(),
                        );
                        latencies.push(t0.elapsed());
                    }
                    latencies
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    let elapsed = start.elapsed();
    latencies.sort();
    println!(
        "all kinds in turn on {threads} threads: {:.0} sealed documents/s (p50 {:.2} ms)",
        latencies.len() as f64 / elapsed.as_secs_f64(),
        latencies[latencies.len() / 2].as_secs_f64() * 1e3
    );
}
