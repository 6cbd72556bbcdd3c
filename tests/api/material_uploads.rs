//! Applicants' material files (资料交一份): upload once and reuse by id, the bytes must be what the
//! declared type says, and the list says which materials each file was handed in for.

use reqwest::Method;
use serde_json::json;

use crate::support::fixtures::ID_1;
use crate::support::fixtures::material_files::*;
use crate::support::{expect_problem, spawn_app, spawn_demo_app};

#[tokio::test]
async fn an_applicant_uploads_each_type_once_and_gets_the_same_file_back_for_the_same_bytes() {
    let app = spawn_app().await;
    let zhang = citizen(&app, "13811112001", "张三", ID_1).await;
    let licence = "%E8%90%A5%E4%B8%9A%E6%89%A7%E7%85%A7.pdf"; // 营业执照.pdf

    let (status, pdf) =
        json_of(upload(&app, &zhang, "application/pdf", Some(licence), PDF).await).await;
    assert_eq!(status, 201, "{pdf}");
    assert_eq!(pdf["sha256"], sha256_hex(PDF));
    assert_eq!(pdf["size_bytes"], PDF.len());
    assert_eq!(pdf["content_type"], "application/pdf");
    assert_eq!(pdf["file_name"], "营业执照.pdf");
    assert_eq!(pdf["used_for"], json!([]));
    assert!(pdf["uploaded_at"].is_string(), "{pdf}");
    let pdf_id = pdf["id"].as_str().unwrap().to_owned();

    let mut ids = vec![pdf_id.clone()];
    for (content_type, bytes) in [
        ("image/jpeg", JPEG.to_vec()),
        ("image/png", PNG.to_vec()),
        ("application/ofd", ofd()),
    ] {
        let (status, file) = json_of(upload(&app, &zhang, content_type, None, &bytes).await).await;
        assert_eq!(status, 201, "{content_type}: {file}");
        assert_eq!(file["content_type"], content_type);
        assert_eq!(file["sha256"], sha256_hex(&bytes));
        assert!(file.get("file_name").is_none(), "{file}");
        ids.push(file["id"].as_str().unwrap().to_owned());
    }

    // The same bytes again (under another name, with a charset parameter): the same file.
    let (status, again) = json_of(
        upload(
            &app,
            &zhang,
            "Application/PDF; charset=binary",
            Some("copy.pdf"),
            PDF,
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["id"], pdf_id.as_str());
    assert_eq!(again["file_name"], "营业执照.pdf");
    assert_eq!(again["uploaded_at"], pdf["uploaded_at"]);
    assert_eq!(rows_of(&app, &zhang.subject).await, 4);

    // Newest first.
    let (status, listed) = list(&app, &zhang.token).await;
    assert_eq!(status, 200, "{listed}");
    let listed_ids: Vec<&str> = listed["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    let newest_first: Vec<&str> = ids.iter().rev().map(String::as_str).collect();
    assert_eq!(listed_ids, newest_first);

    // Download: the bytes, their type, the name.
    let response = app
        .with_token(
            Method::GET,
            &format!("/api/v1/me/files/{pdf_id}"),
            &zhang.token,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/pdf");
    let disposition = response.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(disposition.contains(licence), "{disposition}");
    assert_eq!(response.bytes().await.unwrap().as_ref(), PDF);
    let response = app
        .with_token(
            Method::GET,
            &format!("/api/v1/me/files/{}", ids[3]),
            &zhang.token,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], "application/ofd");
    let disposition = response.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        disposition.contains(&format!("{}.ofd", ids[3])),
        "{disposition}"
    );
    assert_eq!(response.bytes().await.unwrap().as_ref(), ofd().as_slice());
    app.stop().await;
}

#[tokio::test]
async fn a_file_is_what_its_bytes_say_and_refused_uploads_store_nothing() {
    let app = spawn_app().await;
    let zhang = citizen(&app, "13811112002", "张三", ID_1).await;

    let body = expect_problem(
        upload(&app, &zhang, "application/pdf", None, PNG).await,
        415,
        "file_type_mismatch",
    )
    .await;
    assert!(body["title"].as_str().unwrap().contains("类型"), "{body}");
    expect_problem(
        upload(&app, &zhang, "application/ofd", None, &docx()).await,
        415,
        "file_type_mismatch",
    )
    .await;
    expect_problem(
        upload(
            &app,
            &zhang,
            "application/ofd",
            None,
            &zip(&[("Doc_0/OFD.xml", b"<x/>")]),
        )
        .await,
        415,
        "file_type_mismatch",
    )
    .await;
    expect_problem(
        upload(&app, &zhang, "image/png", None, JPEG).await,
        415,
        "file_type_mismatch",
    )
    .await;
    expect_problem(
        upload(&app, &zhang, "image/jpeg", None, b"GIF89a....").await,
        415,
        "file_type_mismatch",
    )
    .await;
    for content_type in [
        "application/zip",
        "application/octet-stream",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "text/plain",
    ] {
        expect_problem(
            upload(&app, &zhang, content_type, None, PDF).await,
            415,
            "file_type_unsupported",
        )
        .await;
    }
    expect_problem(
        upload_to(
            &app,
            "/api/v1/me/files",
            Some(&zhang.token),
            None,
            None,
            PDF,
        )
        .await,
        415,
        "file_type_unsupported",
    )
    .await;
    expect_problem(
        upload(&app, &zhang, "application/pdf", None, b"").await,
        400,
        "empty_file",
    )
    .await;
    let too_long = "a".repeat(201);
    for bad_name in [
        "..%2Fetc%2Fpasswd",
        "a%5Cb.pdf",
        "%E8%90.pdf",
        "%ZZ.pdf",
        "%00.pdf",
        too_long.as_str(),
    ] {
        let body = expect_problem(
            upload(&app, &zhang, "application/pdf", Some(bad_name), PDF).await,
            422,
            "invalid_file_name",
        )
        .await;
        assert_eq!(body["field"], "X-File-Name", "{bad_name}: {body}");
    }
    // Exactly 200 characters (Chinese, percent-encoded) is fine.
    let longest = "%E8%90%A5".repeat(200);
    let (status, body) =
        json_of(upload(&app, &zhang, "application/pdf", Some(&longest), PDF).await).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["file_name"].as_str().unwrap().chars().count(), 200);
    assert_eq!(rows_of(&app, &zhang.subject).await, 1);
    app.stop().await;
}

#[tokio::test]
async fn the_list_says_which_materials_each_file_was_handed_in_for() {
    let app = spawn_demo_app().await;
    let zhang = citizen(&app, "13811112005", "张三", ID_1).await;
    let (_, licence) = json_of(upload(&app, &zhang, "application/pdf", None, PDF).await).await;
    let (_, photo) = json_of(upload(&app, &zhang, "image/jpeg", None, JPEG).await).await;
    let licence_id: uuid::Uuid = licence["id"].as_str().unwrap().parse().unwrap();

    // Two cases that used the licence (twice for one key), as the case service will record.
    let db = app.db().await;
    for _ in 0..2 {
        let case_id = uuid::Uuid::new_v4();
        db.execute(
            "INSERT INTO cases (id, region_code, item_id, item_code, item_version, item_name,
                 lead_department_id, channel, applicant_kind, applicant_subject, applicant_name,
                 applicant_id_masked, applicant_tail_mac, submitted_by, form, state, stage,
                 department_ids, limit_working_days, instant)
             SELECT $1, i.region_code, i.id, i.code, v.version, v.name, i.lead_department_id,
                 'online', 'citizen', $2, '张三', '110105**********2X', '\\x00'::bytea, $2,
                 '{}', '{}', 'submitted', v.department_ids, 20, false
             FROM item i JOIN item_version v ON v.item_id = i.id LIMIT 1",
            &[&case_id, &zhang.subject],
        )
        .await
        .unwrap();
        for key in ["business_licence", "lease_contract"] {
            db.execute(
                "INSERT INTO case_material (id, case_id, region_code, material_key, file_id, supplied_in)
                 SELECT $1, $2, region_code, $3, $4, 'submission' FROM cases WHERE id = $2",
                &[&uuid::Uuid::new_v4(), &case_id, &key, &licence_id],
            )
            .await
            .unwrap();
        }
    }
    let (status, listed) = list(&app, &zhang.token).await;
    assert_eq!(status, 200, "{listed}");
    let files = listed["files"].as_array().unwrap();
    assert_eq!(files.len(), 2, "{listed}");
    assert_eq!(files[0]["id"], photo["id"]);
    assert_eq!(files[0]["used_for"], json!([]));
    assert_eq!(files[1]["id"], licence["id"]);
    assert_eq!(
        files[1]["used_for"],
        json!(["business_licence", "lease_contract"])
    );
    // Uploading it again says so too.
    let (status, again) = json_of(upload(&app, &zhang, "application/pdf", None, PDF).await).await;
    assert_eq!(status, 200);
    assert_eq!(
        again["used_for"],
        json!(["business_licence", "lease_contract"])
    );
    app.stop().await;
}
