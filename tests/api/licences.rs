//! Sealed documents through the API: acceptance issues a sealed notice, approval a sealed
//! decision and the licence (into the holder's library); `pdfsig` and pyHanko accept what the
//! API hands out with the platform's seal root as trust anchor; the QR link verifies; one
//! flipped byte is refused by every validator; revocation shows on verification and reaches
//! the holder; share links expire; nobody else sees a holder's licences.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::TestApp;
use crate::support::fixtures::{
    ID_1, ID_2, ITEM, PDF, act, app_mailing, applicant_with_case, approved_case, call, citizen,
    code_in_outbox, fake_smtp, mail_to, my_case, my_case_ids, ready_for_decision, set_up,
};

#[path = "../support/pdf_validators.rs"]
mod pdf_validators;
use pdf_validators::{pdfsig, pyhanko};

async fn download(app: &TestApp, token: &str, path: &str) -> (u16, Vec<u8>) {
    let response = app
        .with_token(Method::GET, path, token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    if status == 200 {
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            "application/pdf"
        );
    }
    (status, response.bytes().await.unwrap().to_vec())
}

fn path_of(url: &str) -> String {
    let at = url.find("/api/").unwrap();
    url[at..].to_owned()
}

fn document<'a>(case: &'a Value, kind: &str) -> &'a Value {
    case["documents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in {}", case["documents"]))
}

/// Both validators accept `pdf` with the platform's root, and both refuse it with one byte
/// inside the signed range flipped.
async fn check_with_validators(app: &TestApp, pdf: &[u8], name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root.pem");
    let root_pem = app
        .get("/api/v1/public/seal-root")
        .await
        .text()
        .await
        .unwrap();
    std::fs::write(&root, root_pem).unwrap();
    let file = dir.path().join(format!("{name}.pdf"));
    std::fs::write(&file, pdf).unwrap();
    let outcome = pdfsig(&file);
    assert!(outcome.success, "pdfsig: {}", outcome.text);
    assert!(
        outcome.text.contains("Signature is Valid."),
        "pdfsig: {}",
        outcome.text
    );
    let outcome = pyhanko(&file, &root, false);
    assert!(outcome.success, "pyhanko: {}", outcome.text);
    assert!(
        outcome.text.contains("INTACT:TRUSTED"),
        "pyhanko: {}",
        outcome.text
    );

    let mut tampered = pdf.to_vec();
    // A byte of the page content (well inside the first signed range).
    tampered[pdf.len() / 4] ^= 0x01;
    let bad = dir.path().join(format!("{name}-tampered.pdf"));
    std::fs::write(&bad, &tampered).unwrap();
    let outcome = pdfsig(&bad);
    assert!(
        !outcome.text.contains("Signature is Valid."),
        "pdfsig accepted a tampered file: {}",
        outcome.text
    );
    let outcome = pyhanko(&bad, &root, false);
    assert!(
        !outcome.success || !outcome.text.contains("INTACT:TRUSTED"),
        "pyhanko accepted a tampered file: {}",
        outcome.text
    );
}

async fn upload_verify(app: &TestApp, bytes: &[u8]) -> (u16, Value) {
    let response = app
        .http
        .post(format!("{}/api/v1/public/documents/verify", app.address))
        .header("content-type", "application/pdf")
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, bytes))
}

#[tokio::test]
async fn an_approved_case_yields_a_sealed_decision_and_licence_that_validators_accept_and_its_qr_verifies()
 {
    let app = crate::support::spawn_app().await;
    let cast = set_up(&app).await;
    let (token, case) = approved_case(
        &app,
        &cast,
        "13900139101",
        json!({"licence_details": [{"label": "经营场所", "value": "大安市长虹路88号"}]}),
    )
    .await;
    let id = case["id"].as_str().unwrap();
    assert_eq!(case["stage"], "decided_approved");
    let kinds: Vec<&str> = case["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["acceptance_notice", "approval_decision", "licence"]);

    // The clock stops at the seal's signing time.
    let decision = document(&case, "approval_decision");
    let closed_at = chrono::DateTime::parse_from_rfc3339(case["closed_at"].as_str().unwrap());
    let signed_at = chrono::DateTime::parse_from_rfc3339(decision["signed_at"].as_str().unwrap());
    assert_eq!(closed_at.unwrap(), signed_at.unwrap());
    assert!(
        decision["document_number"]
            .as_str()
            .unwrap()
            .starts_with("大安市市场监督管理局准许字〔"),
        "{decision}"
    );

    // Every document the applicant downloads passes both validators, and its QR link verifies.
    for kind in ["acceptance_notice", "approval_decision", "licence"] {
        let doc = document(&case, kind);
        let doc_id = doc["id"].as_str().unwrap();
        let (status, pdf) = download(
            &app,
            &token,
            &format!("/api/v1/me/cases/{id}/documents/{doc_id}/pdf"),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(sha256_hex(&pdf), doc["sha256"], "{kind}");
        check_with_validators(&app, &pdf, kind).await;
        let (status, verified) = app
            .get_json(&path_of(doc["verification_url"].as_str().unwrap()))
            .await;
        assert_eq!(status, 200, "{verified}");
        assert_eq!(verified["status"], "valid");
        assert_eq!(verified["kind"], kind);
        assert_eq!(verified["sha256"], doc["sha256"]);
        assert_eq!(verified["holder_name"], "李*", "masked");
        assert!(!verified.to_string().contains(ID_1), "no full ID number");
        // DA-SCJG both accepts and decides this item.
        assert_eq!(verified["department"], "大安市市场监督管理局");
        // Uploading the bytes: exactly the issued document; one byte off: not issued.
        let (status, exact) = upload_verify(&app, &pdf).await;
        assert_eq!(status, 200, "{exact}");
        assert_eq!(exact["issued"], true);
        assert_eq!(exact["document"]["document_number"], doc["document_number"]);
        let mut other = pdf.clone();
        let last = other.len() - 10;
        other[last] ^= 0x20;
        let (status, forged) = upload_verify(&app, &other).await;
        assert_eq!(status, 200);
        assert_eq!(forged["issued"], false);
        assert!(forged.get("document").is_none());
    }

    // Staff of the case download it too.
    let (status, _) = download(
        &app,
        &cast.reviewer,
        &format!(
            "/api/v1/staff/cases/{id}/documents/{}/pdf",
            document(&case, "licence")["id"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(status, 200);

    // The licence is in the holder's library, with the approver's printed field.
    let (status, list) = call(
        &app,
        &token,
        Method::GET,
        "/api/v1/me/licences",
        json!(null),
    )
    .await;
    assert_eq!(status, 200, "{list}");
    let licences = list["licences"].as_array().unwrap();
    assert_eq!(licences.len(), 1);
    let licence = &licences[0];
    assert_eq!(licence["licence_type"], "食品经营许可证");
    assert_eq!(licence["status"], "valid");
    assert_eq!(licence["case_id"], id);
    assert_eq!(
        licence["number"],
        document(&case, "licence")["document_number"]
    );
    let number = licence["number"].as_str().unwrap();
    assert_eq!(number.len(), 18, "{number}");
    assert!(number.starts_with("220882"), "{number}");
    let from =
        chrono::NaiveDate::parse_from_str(licence["valid_from"].as_str().unwrap(), "%Y-%m-%d")
            .unwrap();
    let to = chrono::NaiveDate::parse_from_str(licence["valid_to"].as_str().unwrap(), "%Y-%m-%d")
        .unwrap();
    assert_eq!(
        to,
        from.pred_opt()
            .unwrap()
            .checked_add_months(chrono::Months::new(60))
            .unwrap(),
        "five years by default"
    );
    let licence_id = licence["id"].as_str().unwrap();
    let (status, pdf) = download(
        &app,
        &token,
        &format!("/api/v1/me/licences/{licence_id}/pdf"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(sha256_hex(&pdf), licence["sha256"]);

    // The result notice carries the decision's download link, which works with the app's login.
    let db = app.db().await;
    let row = db
        .query_one(
            "SELECT variables FROM notification WHERE template_key = 'case.approved' AND phone = $1",
            &[&"13900139101"],
        )
        .await
        .unwrap();
    let variables: Value = row.get(0);
    let url = variables["document_url"].as_str().unwrap();
    assert!(url.ends_with(&format!(
        "/documents/{}/pdf",
        decision["id"].as_str().unwrap()
    )));
    let (status, _) = download(&app, &token, &path_of(url)).await;
    assert_eq!(status, 200);

    // Each use of a seal is on the audit log.
    let uses: i64 = db
        .query_one(
            "SELECT count(*) FROM audit_record WHERE action = 'seal.use' AND details->>'case' = $1",
            &[&id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(uses, 3);

    // Another citizen sees none of it.
    let other = citizen(&app, "13900139102", "周九", ID_2).await;
    let (status, list) = call(
        &app,
        &other,
        Method::GET,
        "/api/v1/me/licences",
        json!(null),
    )
    .await;
    assert_eq!(status, 200);
    assert!(list["licences"].as_array().unwrap().is_empty());
    for path in [
        format!("/api/v1/me/licences/{licence_id}"),
        format!("/api/v1/me/licences/{licence_id}/pdf"),
        format!(
            "/api/v1/me/cases/{id}/documents/{}/pdf",
            decision["id"].as_str().unwrap()
        ),
    ] {
        let (status, _) = download(&app, &other, &path).await;
        assert_eq!(status, 404, "{path}");
    }
    let (status, _) = download(
        &app,
        &cast.outsider,
        &format!(
            "/api/v1/staff/cases/{id}/documents/{}/pdf",
            decision["id"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(status, 404, "another department's staff");
    let (status, unknown) = app
        .get_json("/api/v1/public/documents/AAAAAAAAAAAAAAAAAAAAAA")
        .await;
    assert_eq!(status, 404);
    assert_eq!(unknown["code"], "document_not_found");
}

#[tokio::test]
async fn revocation_by_the_issuing_department_shows_on_verification_and_reaches_the_holder() {
    let app = crate::support::spawn_app().await;
    let cast = set_up(&app).await;
    let (token, case) = approved_case(&app, &cast, "13900139111", json!({})).await;
    let licence_doc = document(&case, "licence");
    let (_, list) = call(
        &app,
        &token,
        Method::GET,
        "/api/v1/me/licences",
        json!(null),
    )
    .await;
    let licence_id = list["licences"][0]["id"].as_str().unwrap().to_owned();
    let revoke = format!("/api/v1/staff/licences/{licence_id}/revoke");

    // A share link works until revocation; hours out of range are refused.
    let (status, bad) = call(
        &app,
        &token,
        Method::POST,
        &format!("/api/v1/me/licences/{licence_id}/shares"),
        json!({"hours": 0}),
    )
    .await;
    assert_eq!(status, 422, "{bad}");
    assert_eq!(bad["errors"][0]["field"], "hours");
    let (status, share) = call(
        &app,
        &token,
        Method::POST,
        &format!("/api/v1/me/licences/{licence_id}/shares"),
        json!({"hours": 2}),
    )
    .await;
    assert_eq!(status, 201, "{share}");
    let share_path = path_of(share["url"].as_str().unwrap());
    let (status, shown) = app.get_json(&share_path).await;
    assert_eq!(status, 200, "{shown}");
    assert_eq!(shown["licence"]["id"], licence_id.as_str());
    let shared_pdf = app.get(&format!("{share_path}/pdf")).await;
    assert_eq!(shared_pdf.status(), 200);
    let (status, _) = app
        .get_json("/api/v1/public/shared-licences/not-a-real-token")
        .await;
    assert_eq!(status, 404);

    // Only an approver of the issuing department revokes, with a reason.
    let (status, refused) = call(
        &app,
        &cast.reviewer,
        Method::POST,
        &revoke,
        json!({"reason": "x"}),
    )
    .await;
    assert_eq!(status, 403, "{refused}");
    let (status, _) = call(
        &app,
        &cast.outsider,
        Method::POST,
        &revoke,
        json!({"reason": "x"}),
    )
    .await;
    assert_eq!(status, 404, "another department");
    let (status, _) = call(&app, &token, Method::POST, &revoke, json!({"reason": "x"})).await;
    assert_eq!(status, 403, "the holder");
    let (status, blank) = call(
        &app,
        &cast.approver,
        Method::POST,
        &revoke,
        json!({"reason": "  "}),
    )
    .await;
    assert_eq!(status, 422, "{blank}");
    assert_eq!(blank["errors"][0]["code"], "reason_required");
    let (status, revoked) = call(
        &app,
        &cast.approver,
        Method::POST,
        &revoke,
        json!({"reason": "以欺骗手段取得许可"}),
    )
    .await;
    assert_eq!(status, 200, "{revoked}");
    assert_eq!(revoked["status"], "revoked");
    let (status, again) = call(
        &app,
        &cast.approver,
        Method::POST,
        &revoke,
        json!({"reason": "再次"}),
    )
    .await;
    assert_eq!(status, 409);
    assert_eq!(again["code"], "licence_already_revoked");

    // The QR link now says revoked, with the reason.
    let (status, verified) = app
        .get_json(&path_of(licence_doc["verification_url"].as_str().unwrap()))
        .await;
    assert_eq!(status, 200);
    assert_eq!(verified["status"], "revoked");
    assert_eq!(verified["licence"]["revoked_reason"], "以欺骗手段取得许可");
    let (_, mine) = call(
        &app,
        &token,
        Method::GET,
        &format!("/api/v1/me/licences/{licence_id}"),
        json!(null),
    )
    .await;
    assert_eq!(mine["status"], "revoked");
    let gone = app.get(&format!("{share_path}/pdf")).await;
    assert_eq!(gone.status(), 410);

    // Told to the holder, and on the licence's audit chain.
    let db = app.db().await;
    let row = db
        .query_one(
            "SELECT variables FROM notification WHERE template_key = 'licence.revoked' AND phone = $1",
            &[&"13900139111"],
        )
        .await
        .unwrap();
    let variables: Value = row.get(0);
    assert_eq!(variables["reason"], "以欺骗手段取得许可");
    let actions: Vec<String> = db
        .query(
            "SELECT action FROM audit_record WHERE aggregate_type = 'licence' AND aggregate_id = $1 ORDER BY seq",
            &[&licence_id],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(actions, ["licence.share", "licence.revoke"]);
}

#[tokio::test]
async fn without_a_seal_in_force_nothing_is_decided_and_bad_licence_terms_are_refused() {
    let app = crate::support::spawn_app().await;
    let cast = set_up(&app).await;
    let (_token, case) = applicant_with_case(&app, "13900139121", ID_1).await;
    let id = case["id"].as_str().unwrap().to_owned();
    let case = ready_for_decision(&app, &cast, &id).await;
    let approve = format!("/api/v1/staff/cases/{id}/approve");
    let (status, bad) = call(
        &app,
        &cast.approver,
        Method::POST,
        &approve,
        json!({"licence_valid_to": "2020-01-01", "licence_details": [{"label": "", "value": "x"}]}),
    )
    .await;
    assert_eq!(status, 422, "{bad}");
    let fields: Vec<&str> = bad["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["licence_valid_to", "licence_details[0].label"]);

    // Suspend the decision seal: the approval is refused and nothing is recorded.
    let (_, seals) = app
        .admin_json(
            Method::GET,
            "/api/v1/admin/departments/DA-SCJG/seals",
            &json!(null),
        )
        .await;
    let decision_seal = seals["seals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["purpose"] == "decision")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) = app
        .admin_json(
            Method::POST,
            &format!("/api/v1/admin/seals/{decision_seal}/status"),
            &json!({"status": "suspended", "reason": "印章更换中"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, refused) = call(&app, &cast.approver, Method::POST, &approve, json!({})).await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["code"], "seal_unavailable");
    let (_, after) = call(
        &app,
        &cast.approver,
        Method::GET,
        &format!("/api/v1/staff/cases/{id}"),
        json!(null),
    )
    .await;
    assert_eq!(after["stage"], "in_review");
    assert_eq!(after["revision"], case["revision"]);
    assert_eq!(
        after["documents"].as_array().unwrap().len(),
        1,
        "the acceptance notice only"
    );
}

#[tokio::test]
async fn the_decision_and_the_licence_arrive_by_email_attached_to_the_result_notice() {
    let fake = fake_smtp().await;
    let app = app_mailing(&fake, None).await;
    let cast = set_up(&app).await;
    let (token, case) = applicant_with_case(&app, "13900139131", ID_1).await;
    // The applicant has a verified address (set in the app, confirmed with the emailed code).
    let address = "li.si@example.cn";
    let path = "/api/v1/me/notification-preferences/email";
    let response = app
        .with_token(Method::PUT, path, &token)
        .json(&json!({"address": address}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let code = code_in_outbox(&app, address).await;
    let (status, body) = call(
        &app,
        &token,
        Method::POST,
        &format!("{path}/confirm"),
        json!({"code": code}),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    let id = case["id"].as_str().unwrap().to_owned();
    ready_for_decision(&app, &cast, &id).await;
    let case = act(&app, &cast.approver, &id, "approve", json!({})).await;

    // Two mails: the code, then the result with the sealed decision and licence attached.
    let mails = mail_to(&fake, address, 2).await;
    let mail = mails
        .iter()
        .find(|m| !m.attachments.is_empty())
        .expect("the result email");
    assert!(
        mail.subject
            .as_deref()
            .unwrap_or_default()
            .contains("准予行政许可"),
        "{:?}",
        mail.subject
    );
    assert!(
        mail.text.contains("/documents/"),
        "the download link: {}",
        mail.text
    );
    let mut names = Vec::new();
    for part in &mail.attachments {
        assert_eq!(part.content_type, "application/pdf");
        let name = part.file_name().unwrap().to_owned();
        let kind = if name.starts_with("准予行政许可决定书") {
            "approval_decision"
        } else {
            "licence"
        };
        assert_eq!(
            sha256_hex(&part.body),
            document(&case, kind)["sha256"],
            "{name}"
        );
        names.push(name);
    }
    assert_eq!(names.len(), 2, "{names:?}");
    // What arrives by email is the sealed document itself.
    check_with_validators(&app, &mail.attachments[0].body, "emailed").await;
}

/// A citizen without an app account applies at the window and is approved: the case and the
/// licence have nobody's account on them. When that person registers (the real name verified
/// against the ID number), both join the new account, with an audit record on the case; a
/// citizen with another ID number sees neither.
#[tokio::test]
async fn a_window_applicant_who_registers_later_finds_the_case_and_the_licence_in_the_app() {
    let app = crate::support::spawn_app().await;
    let cast = set_up(&app).await;
    let response = app
        .with_token(Method::POST, "/api/v1/window/files", &cast.clerk)
        .header("content-type", "application/pdf")
        .body(PDF.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let scan: Value = response.json().await.unwrap();
    let (status, case) = call(&app, &cast.clerk, Method::POST, "/api/v1/window/cases", json!({
        "item_code": ITEM,
        "applicant": {"kind": "citizen", "name": "吴十", "id_number": ID_2, "phone": "13900139131"},
        "materials": [{"material_key": "application_form", "file_ids": [scan["id"]]}],
        "paper_materials": [{"material_key": "business_licence", "note": "原件核验后退还申请人"}],
    })).await;
    assert_eq!(status, 201, "{case}");
    let id = case["id"].as_str().unwrap().to_owned();
    ready_for_decision(&app, &cast, &id).await;
    let case = act(&app, &cast.approver, &id, "approve", json!({})).await;
    assert_eq!(case["stage"], "decided_approved");
    let db = app.db().await;
    let unheld: i64 = db
        .query_one(
            "SELECT count(*) FROM licence WHERE case_id = $1::text::uuid AND holder_subject IS NULL",
            &[&id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(unheld, 1, "issued to nobody's account yet");

    let stranger = citizen(&app, "13900139132", "李四", ID_1).await;
    let token = citizen(&app, "13900139133", "吴十", ID_2).await;
    for (who, expected) in [(&token, 1), (&stranger, 0)] {
        let listed = my_case_ids(&app, who).await;
        assert_eq!(listed.len(), expected, "{listed:?}");
        let (status, list) = call(&app, who, Method::GET, "/api/v1/me/licences", json!(null)).await;
        assert_eq!(status, 200, "{list}");
        let licences = list["licences"].as_array().unwrap();
        assert_eq!(licences.len(), expected, "{list}");
        if expected == 1 {
            assert_eq!(listed, [id.as_str()]);
            assert_eq!(licences[0]["case_id"], id.as_str());
        }
    }
    let (status, mine) = my_case(&app, &token, &id).await;
    assert_eq!(status, 200, "{mine}");
    let claimed: i64 = db
        .query_one(
            "SELECT count(*) FROM audit_record
              WHERE aggregate_type = 'case' AND aggregate_id = $1
                AND action = 'case.applicant_claimed'",
            &[&id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(claimed, 1);
    app.stop().await;
}
