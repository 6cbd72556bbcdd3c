//! Tests of `demo.rs`.

use super::*;
use crate::blobs::sha256_hex;
use crate::catalog::model::{PublishContext, check_for_publication, check_item_code};
use crate::department::model::{Department, check_new};

#[test]
fn the_pdf_xref_points_at_each_object() {
    let pdf = simple_pdf(&["Item: 220882-SCJG-001", "(blank) \\ form", "非ASCII"]);
    assert!(crate::filetype::matches_declared("application/pdf", &pdf).is_ok());
    assert!(pdf.ends_with(b"%%EOF\n"));
    let tail = String::from_utf8_lossy(&pdf[pdf.len() - 40..]).into_owned();
    let start = tail.rfind("startxref\n").unwrap() + "startxref\n".len();
    let xref: usize = tail[start..].lines().next().unwrap().parse().unwrap();
    let table = String::from_utf8(pdf[xref..].to_vec()).unwrap();
    let mut lines = table.lines();
    assert_eq!(lines.next(), Some("xref"));
    assert_eq!(lines.next(), Some("0 6"));
    assert_eq!(lines.next(), Some("0000000000 65535 f "));
    for n in 1..=5 {
        let entry = lines.next().unwrap();
        assert_eq!(entry.len(), 19, "entries are 20 bytes with the newline");
        let offset: usize = entry[..10].parse().unwrap();
        assert!(
            pdf[offset..].starts_with(format!("{n} 0 obj\n").as_bytes()),
            "object {n}"
        );
    }
    assert_eq!(lines.next(), Some("trailer"));
    let text = String::from_utf8_lossy(&pdf);
    assert!(text.contains("(\\(blank\\) \\\\ form) Tj") && text.contains("(?ASCII) Tj"));
    let length_at = text.find("/Length ").unwrap() + 8;
    let length: usize = text[length_at..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let stream_at = text.find("stream\n").unwrap() + 7;
    assert_eq!(
        &text[stream_at + length..stream_at + length + 10],
        "\nendstream"
    );
}

#[test]
fn departments_nest() {
    let mut known: Vec<Department> = Vec::new();
    for new in departments() {
        let parent = new
            .parent_code
            .as_ref()
            .and_then(|p| known.iter().find(|d| &d.code == p));
        assert_eq!(
            new.parent_code.is_some(),
            parent.is_some(),
            "{} parent listed first",
            new.code
        );
        assert_eq!(check_new(&new, parent), Ok(()), "{}", new.code);
        known.push(Department {
            code: new.code,
            name: new.name,
            level: new.level,
            region_code: new.region_code,
            parent_code: new.parent_code,
            phone: new.phone,
            address: new.address,
            comprehensive_window: new.comprehensive_window,
        });
    }
}

#[test]
fn every_item_is_publishable_and_the_catalog_is_complete() {
    let items = items();
    let codes: Vec<&str> = items.iter().map(|i| i.code).collect();
    assert!(
        codes.windows(2).all(|w| w[0] < w[1]),
        "codes sorted and distinct"
    );
    assert!(items.len() >= 14);
    let departments = departments();
    let mut published: Vec<&str> = Vec::new();
    for DemoItem {
        code,
        lead,
        mut draft,
    } in items.iter().cloned()
    {
        check_item_code(code).unwrap();
        for (file, pdf) in form_slots(code, &mut draft) {
            assert!(crate::filetype::matches_declared(&file.content_type, &pdf).is_ok());
            file.sha256 = sha256_hex(&pdf);
        }
        let ctx = PublishContext {
            item_code: code,
            known_department: &|c: &str| departments.iter().any(|d| d.code == c),
            lead_department_code: lead,
            known_main_item: &|c: &str| published.contains(&c),
            known_blob: &|h: &str| h.len() == 64,
        };
        let guide = check_for_publication(&draft, &ctx).unwrap_or_else(|e| panic!("{code}: {e:?}"));
        assert!(guide.consultation_phone.starts_with("0436-"), "{code}");
        // Unless an item says otherwise, applying online needs a verified real name; a level
        // outside 1–3 is refused, naming the field.
        assert_eq!(guide.required_assurance_level, 2, "{code}");
        let mut certificate_only = draft.clone();
        certificate_only.required_assurance_level = Some(3);
        assert_eq!(
            check_for_publication(&certificate_only, &ctx)
                .unwrap()
                .required_assurance_level,
            3
        );
        certificate_only.required_assurance_level = Some(4);
        let errors = check_for_publication(&certificate_only, &ctx).unwrap_err();
        assert_eq!(errors[0].field, "required_assurance_level");
        assert!(guide.statutory_limit_days >= guide.promised_limit_days);
        if guide.parent_code.is_none() {
            published.push(code);
        }
    }
    let drafts: Vec<&GuideDraft> = items.iter().map(|i| &i.draft).collect();
    for category in Category::ALL {
        assert!(
            drafts.iter().any(|d| d.category == Some(category)),
            "{category:?}"
        );
    }
    assert!(drafts.iter().any(|d| d.parent_code.is_some()));
    assert!(drafts.iter().any(|d| d.instant == Some(true)));
    assert!(
        drafts
            .iter()
            .any(|d| d.fees.as_ref().is_some_and(|f| !f.free))
    );
    assert!(
        drafts
            .iter()
            .any(|d| d.steps.iter().any(|s| s.kind.is_special()))
    );
    assert!(drafts.iter().any(|d| {
        let reviews: Vec<&Step> = d
            .steps
            .iter()
            .filter(|s| s.kind == StepKind::Review)
            .collect();
        reviews.len() == 2 && reviews[0].department_code != reviews[1].department_code
    }));
}
