//! Enterprise login through the API with each certificate of the development PKI: the challenge,
//! the signed answer, the enterprise identified by its credit code; the bad certificates refused
//! with distinct codes.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::pki::{chain, dev, mtls_client, sign, standard_files};
use crate::support::{TestApp, expect_problem, spawn_app_with};

async fn certificate_app() -> TestApp {
    spawn_app_with(|c| c.identity.certificates = Some(standard_files())).await
}

async fn challenge(app: &TestApp) -> String {
    let response = app
        .http
        .post(app.url("/api/v1/auth/enterprise/challenge"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    body["challenge"].as_str().unwrap().to_owned()
}

/// The login request a client makes for `leaf` answering `challenge`.
fn login_body(leaf: &str, challenge: &str) -> Value {
    json!({
        "challenge": challenge,
        "certificate_chain": chain(leaf).iter().map(|der| STANDARD.encode(der)).collect::<Vec<_>>(),
        "signature": STANDARD.encode(sign(leaf, challenge.as_bytes())),
    })
}

async fn login(app: &TestApp, body: &Value) -> reqwest::Response {
    app.http
        .post(app.url("/api/v1/auth/enterprise/login"))
        .json(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn each_good_certificate_logs_in_and_is_identified_by_its_credit_code() {
    let app = certificate_app().await;
    let cases = [
        ("enterprise-rsa-cfca", "91440300MA5F3K7Q81", "uscc"),
        ("enterprise-p256-gmt", "91110108MA01T6X294", "uscc"),
        ("enterprise-p384-ou", "91310115MA1H8W3R5G", "uscc"),
        ("enterprise-rsa-legacy", "MA5D12340", "organisation"),
        ("enterprise-sm2", "91330106MA27Y8JK99", "uscc"),
    ];
    for (leaf, code, kind) in cases {
        let challenge = challenge(&app).await;
        let response = login(&app, &login_body(leaf, &challenge)).await;
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, 200, "{leaf}: {body}");
        assert_eq!(body["enterprise"]["code"], code, "{leaf}: {body}");
        assert_eq!(body["enterprise"]["code_kind"], kind, "{leaf}");
        assert!(body["enterprise"]["matched_field"].is_string());
        assert_eq!(body["assurance_level"], 3, "a certificate is L3");
        let me: Value = app
            .with_token(
                Method::GET,
                "/api/v1/me",
                body["access_token"].as_str().unwrap(),
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(me["enterprise"]["code"], code, "{me}");
    }
    // A second login maps to the same account.
    let first = login(
        &app,
        &login_body("enterprise-p256-gmt", &challenge(&app).await),
    )
    .await
    .json::<Value>()
    .await
    .unwrap();
    let second = login(
        &app,
        &login_body("enterprise-p256-gmt", &challenge(&app).await),
    )
    .await
    .json::<Value>()
    .await
    .unwrap();
    assert_eq!(first["subject"], second["subject"]);
    let db = app.db().await;
    let enterprises: i64 = db
        .query_one("SELECT count(*) FROM enterprise", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(enterprises, 5);
    app.stop().await;
}

#[tokio::test]
async fn revoked_expired_wrong_root_and_badly_signed_certificates_are_refused_with_distinct_codes()
{
    let app = certificate_app().await;
    for (leaf, code) in [
        ("enterprise-revoked", "certificate_revoked"),
        ("enterprise-expired", "certificate_expired"),
        ("enterprise-wrong-root", "certificate_untrusted"),
        ("enterprise-bad-code", "certificate_invalid_enterprise_code"),
        ("enterprise-no-code", "certificate_no_enterprise_code"),
    ] {
        let challenge = challenge(&app).await;
        expect_problem(login(&app, &login_body(leaf, &challenge)).await, 401, code).await;
    }
    // A signature over something else.
    let challenge_text = challenge(&app).await;
    let mut body = login_body("enterprise-rsa-cfca", &challenge_text);
    body["signature"] = json!(STANDARD.encode(sign("enterprise-rsa-cfca", b"another message")));
    expect_problem(login(&app, &body).await, 401, "certificate_bad_signature").await;
    // Someone else's key with this certificate.
    let mut body = login_body("enterprise-rsa-cfca", &challenge(&app).await);
    let challenge_text = body["challenge"].as_str().unwrap().to_owned();
    body["signature"] =
        json!(STANDARD.encode(sign("enterprise-revoked", challenge_text.as_bytes())));
    expect_problem(login(&app, &body).await, 401, "certificate_bad_signature").await;

    // A challenge works once, and only as issued.
    let challenge_text = challenge(&app).await;
    let body = login_body("enterprise-p384-ou", &challenge_text);
    assert_eq!(login(&app, &body).await.status(), 200);
    expect_problem(login(&app, &body).await, 401, "challenge_invalid").await;
    let forged = login_body("enterprise-p384-ou", "fingertip-login:made-up:1");
    expect_problem(login(&app, &forged).await, 401, "challenge_invalid").await;

    // Malformed input names the field.
    let mut bad = login_body("enterprise-p384-ou", &challenge(&app).await);
    bad["certificate_chain"] = json!(["not base64!"]);
    let problem = expect_problem(login(&app, &bad).await, 422, "invalid_base64").await;
    assert_eq!(problem["field"], "certificate_chain[0]");

    // Every refusal is in the audit log.
    let refusals: i64 = app
        .db().await
        .query_one("SELECT count(*) FROM audit_record WHERE aggregate_type = 'certificate' AND action = 'login.failure'", &[])
        .await.unwrap().get(0);
    assert_eq!(refusals, 7);
    app.stop().await;
}

#[tokio::test]
async fn without_certificate_configuration_the_endpoints_say_so() {
    let app = crate::support::spawn_app().await;
    let response = app
        .http
        .post(app.url("/api/v1/auth/enterprise/challenge"))
        .send()
        .await
        .unwrap();
    expect_problem(response, 501, "certificate_login_disabled").await;
    app.stop().await;
}

#[tokio::test]
async fn a_browser_with_a_usb_key_logs_in_on_the_mtls_listener() {
    let app = spawn_app_with(|c| {
        c.identity.certificates = Some(standard_files());
        c.identity.mtls = Some(fingertip::identity::config::MtlsListenerConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            certificate_file: dev("server-localhost.chain.pem"),
            key_file: dev("server-localhost.key.pem"),
        });
    })
    .await;
    let port = app.mtls_address.expect("the mTLS listener runs").port();
    let url = format!("https://127.0.0.1:{port}/api/v1/auth/enterprise/mtls-login");
    let response = mtls_client(Some("enterprise-p384-ou"))
        .post(&url)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["enterprise"]["code"], "91310115MA1H8W3R5G");
    assert_eq!(body["assurance_level"], 3);
    // The session works on the main listener too.
    let me: Value = app
        .with_token(
            Method::GET,
            "/api/v1/me",
            body["access_token"].as_str().unwrap(),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["enterprise"]["code"], "91310115MA1H8W3R5G");
    // No certificate, or a revoked one: no TLS session at all.
    assert!(mtls_client(None).post(&url).send().await.is_err());
    assert!(
        mtls_client(Some("enterprise-revoked"))
            .post(&url)
            .send()
            .await
            .is_err()
    );
    // On the main listener the endpoint says what it needs.
    let plain = app
        .http
        .post(app.url("/api/v1/auth/enterprise/mtls-login"))
        .send()
        .await
        .unwrap();
    expect_problem(plain, 401, "client_certificate_required").await;
    app.stop().await;
}

#[tokio::test]
async fn staff_log_in_with_a_certificate_an_administrator_bound_to_their_account() {
    let app = certificate_app().await;
    let (status, created) = app
        .admin_json(
            Method::POST,
            "/api/v1/admin/staff",
            &json!({"username": "cert.clerk", "display_name": "证书用户", "password": "Staff-password-42"}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap();
    let leaf = "enterprise-p384-ou";
    let chain_b64: Vec<String> = chain(leaf).iter().map(|d| STANDARD.encode(d)).collect();

    // Not yet bound: refused.
    let url = "/api/v1/auth/staff/certificate-login";
    let unbound = app
        .http
        .post(app.url(url))
        .json(&login_body(leaf, &challenge(&app).await))
        .send()
        .await
        .unwrap();
    expect_problem(unbound, 401, "certificate_not_bound").await;

    // A revoked certificate cannot be bound.
    let revoked: Vec<String> = chain("enterprise-revoked")
        .iter()
        .map(|d| STANDARD.encode(d))
        .collect();
    let refused = app
        .admin(
            Method::PUT,
            &format!("/api/v1/admin/staff/{id}/certificate"),
        )
        .json(&json!({"certificate_chain": revoked}))
        .send()
        .await
        .unwrap();
    expect_problem(refused, 401, "certificate_revoked").await;

    let bound = app
        .admin(
            Method::PUT,
            &format!("/api/v1/admin/staff/{id}/certificate"),
        )
        .json(&json!({"certificate_chain": chain_b64}))
        .send()
        .await
        .unwrap();
    assert_eq!(bound.status(), 204);
    let response = app
        .http
        .post(app.url(url))
        .json(&login_body(leaf, &challenge(&app).await))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["subject"], format!("staff:{id}"));
    assert_eq!(body["assurance_level"], 3);
    // Someone else's signature with this certificate is refused.
    let challenge_text = challenge(&app).await;
    let mut forged = login_body(leaf, &challenge_text);
    forged["signature"] =
        json!(STANDARD.encode(sign("enterprise-p256-gmt", challenge_text.as_bytes())));
    let forged = app
        .http
        .post(app.url(url))
        .json(&forged)
        .send()
        .await
        .unwrap();
    expect_problem(forged, 401, "certificate_bad_signature").await;
    app.stop().await;
}

/// An enterprise registered at the window before it ever logged in: its first certificate
/// login (which proves the credit code) brings the case into its account; another enterprise's
/// login does not.
#[tokio::test]
async fn the_first_certificate_login_brings_the_window_cases_under_the_credit_code() {
    let app = certificate_app().await;
    let cast = crate::support::fixtures::set_up(&app).await;
    let id = crate::support::fixtures::paper_window_case(
        &app,
        &cast.clerk,
        json!({"kind": "enterprise", "name": "大安示范食品有限公司",
               "id_number": "91110108MA01T6X294", "phone": "13900139151"}),
    )
    .await;

    let mut listed = Vec::new();
    for leaf in ["enterprise-rsa-cfca", "enterprise-p256-gmt"] {
        let body: Value = login(&app, &login_body(leaf, &challenge(&app).await))
            .await
            .json()
            .await
            .unwrap();
        let token = body["access_token"].as_str().unwrap();
        listed.push(crate::support::fixtures::my_case_ids(&app, token).await);
    }
    assert_eq!(
        listed,
        [vec![], vec![id]],
        "only 91110108MA01T6X294's login gets it"
    );
    app.stop().await;
}
