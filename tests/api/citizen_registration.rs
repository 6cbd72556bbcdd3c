//! A citizen registers and logs in by SMS code (delivered through the notification hub and the
//! fake Aliyun gateway); bad registrations name the field; one account per phone and per ID
//! number; the identity authority decides the assurance level (L2, or L1 when it fails).

use std::time::Duration;

use fingertip::notify::setup::SmsProvider;
use reqwest::Method;
use serde_json::{Value, json};

use crate::fake_aliyun::FakeAliyun;
use crate::support::fixtures::{ID_1, ID_2, code_sent_to, json_of, post, register_citizen};
use crate::support::{expect_problem, spawn_app, spawn_app_with};

#[tokio::test]
async fn a_citizen_registers_and_logs_in_with_codes_delivered_by_the_fake_sms_provider() {
    let fake = FakeAliyun::start("LTAI5tIdentity", "identity-secret").await;
    let sms = fake.client_config("指尖办");
    let app = spawn_app_with(move |c| {
        c.notify.sms_provider = SmsProvider::Aliyun;
        c.notify.aliyun = Some(sms);
        c.notify.retry_base_seconds = 0.05;
    })
    .await;
    // The approved Aliyun template for the code SMS.
    let (status, body) = app
        .admin_json(
            Method::POST,
            "/api/v1/admin/notification-templates",
            &json!({"key": "identity.otp", "content": {
                "sms_body": "您的验证码为{code}，{minutes}分钟内有效。",
                "provider_templates": {"aliyun": "SMS_470000001"}
            }}),
        )
        .await;
    assert_eq!(status, 201, "{body}");

    let phone = "13900139000";
    let response = post(
        &app,
        "/api/v1/auth/otp",
        json!({"phone": "+86 139-0013-9000", "purpose": "register"}),
    )
    .await;
    assert_eq!(response.status(), 202);
    let sms = wait_for_sms(&fake, 1).await;
    assert_eq!(sms.phone, phone);
    assert_eq!(sms.template_code, "SMS_470000001");
    let code = sms.params["code"].as_str().unwrap().to_owned();
    assert_eq!(sms.params["minutes"], "5");

    let (status, registered) = json_of(
        post(
            &app,
            "/api/v1/auth/citizen/register",
            json!({"phone": phone, "code": code, "name": "张三", "id_number": ID_1}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 201, "{registered}");
    assert_eq!(
        registered["assurance_level"], 2,
        "the demo authority confirms: L2"
    );
    assert_eq!(registered["realname_status"], "verified");
    assert!(
        registered["subject"]
            .as_str()
            .unwrap()
            .starts_with("citizen:")
    );

    // The code is single use.
    let again = post(
        &app,
        "/api/v1/auth/citizen/register",
        json!({"phone": phone, "code": code, "name": "张三", "id_number": ID_1}),
    )
    .await;
    expect_problem(again, 401, "otp_invalid").await;

    // Log in later with a fresh code (the resend wait is a minute: move the first code back).
    app.db()
        .await
        .execute(
            "UPDATE otp_code SET created_at = created_at - interval '2 minutes'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        post(
            &app,
            "/api/v1/auth/otp",
            json!({"phone": phone, "purpose": "login"})
        )
        .await
        .status(),
        202
    );
    let sms = wait_for_sms(&fake, 2).await;
    let code = sms.params["code"].as_str().unwrap().to_owned();
    let (status, login) = json_of(
        post(
            &app,
            "/api/v1/auth/citizen/login",
            json!({"phone": phone, "code": code}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{login}");
    assert_eq!(login["subject"], registered["subject"]);

    // The owner sees the full ID number; the database holds it encrypted only.
    let me = app
        .with_token(
            Method::GET,
            "/api/v1/me",
            login["access_token"].as_str().unwrap(),
        )
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(me["citizen"]["id_number"], ID_1);
    assert_eq!(me["citizen"]["name"], "张三");
    let db = app.db().await;
    let row = db
        .query_one(
            "SELECT id_number_sealed, id_number_masked, id_number_index FROM citizen",
            &[],
        )
        .await
        .unwrap();
    let sealed: Vec<u8> = row.get(0);
    let masked: String = row.get(1);
    assert_eq!(masked, "1101**********002X");
    assert!(
        !String::from_utf8_lossy(&sealed).contains("19491231"),
        "the ID number is encrypted at rest"
    );
    let stored_codes: Vec<Vec<u8>> = db
        .query("SELECT code_hash FROM otp_code", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        stored_codes
            .iter()
            .all(|h| h.len() == 32 && !String::from_utf8_lossy(h).contains(&code))
    );
    app.stop().await;
}

async fn wait_for_sms(fake: &FakeAliyun, count: usize) -> crate::fake_aliyun::ReceivedSms {
    for _ in 0..200 {
        let received = fake.received();
        if received.len() >= count {
            return received[count - 1].clone();
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the fake SMS provider never received message {count}");
}

#[tokio::test]
async fn bad_registrations_name_the_field_and_the_wrong_part() {
    let app = spawn_app().await;
    let cases = [
        (
            json!({"phone": "13600136000", "code": "123456", "name": "王五", "id_number": "11010519491231002"}),
            "id_number",
            "id_number_length",
        ),
        (
            json!({"phone": "13600136000", "code": "123456", "name": "王五", "id_number": "110105194912310021"}),
            "id_number",
            "id_number_check_digit",
        ),
        (
            json!({"phone": "13600136000", "code": "123456", "name": "王五", "id_number": "110105202302300011"}),
            "id_number",
            "id_number_birth_date",
        ),
        (
            json!({"phone": "13600136000", "code": "123456", "name": "王", "id_number": ID_1}),
            "name",
            "invalid_name",
        ),
        (
            json!({"phone": "10086", "code": "123456", "name": "王五", "id_number": ID_1}),
            "phone",
            "invalid_phone",
        ),
    ];
    for (body, field, code) in cases {
        let problem = expect_problem(
            post(&app, "/api/v1/auth/citizen/register", body).await,
            422,
            code,
        )
        .await;
        assert_eq!(problem["field"], field, "{problem}");
    }
    let unknown_field = post(&app, "/api/v1/auth/citizen/register",
        json!({"phone": "13600136000", "code": "123456", "name": "王五", "id_number": ID_1, "admin": true})).await;
    expect_problem(unknown_field, 400, "invalid_body").await;
    app.stop().await;
}

#[tokio::test]
async fn one_account_per_phone_and_per_id_number() {
    let app = spawn_app().await;
    register_citizen(&app, "13500135000", "赵六", ID_1).await;
    app.db()
        .await
        .execute(
            "UPDATE otp_code SET created_at = created_at - interval '2 minutes'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        post(
            &app,
            "/api/v1/auth/otp",
            json!({"phone": "13500135001", "purpose": "register"})
        )
        .await
        .status(),
        202
    );
    let code = code_sent_to(&app, "13500135001").await;
    let duplicate = post(
        &app,
        "/api/v1/auth/citizen/register",
        json!({"phone": "13500135001", "code": code, "name": "赵六", "id_number": ID_1}),
    )
    .await;
    expect_problem(duplicate, 409, "id_number_registered").await;
    // Logging in with an unregistered phone says so, without using the code up.
    assert_eq!(
        post(
            &app,
            "/api/v1/auth/otp",
            json!({"phone": "13500135002", "purpose": "login"})
        )
        .await
        .status(),
        202
    );
    let code = code_sent_to(&app, "13500135002").await;
    let unknown = post(
        &app,
        "/api/v1/auth/citizen/login",
        json!({"phone": "13500135002", "code": code}),
    )
    .await;
    expect_problem(unknown, 404, "account_not_found").await;
    app.stop().await;
}

#[tokio::test]
async fn the_identity_authority_decides_l2_and_its_failure_leaves_a_whole_account_at_l1() {
    let fake =
        crate::fake_realname::FakeAuthority::start("fingertip-test", "authority-secret").await;
    fake.add_person("张三", ID_1);
    fake.add_person("李四", ID_2);
    let realname = fake.realname_config();
    let app = spawn_app_with(move |c| c.identity.realname = realname).await;

    // Match: L2.
    let verified = register_citizen(&app, "13300133001", "张三", ID_1).await;
    assert_eq!(verified["assurance_level"], 2);
    assert_eq!(verified["realname_status"], "verified");

    // The authority is down: the account exists, at L1, and says why.
    fake.fail_next(1, 503);
    let pending = register_citizen(&app, "13300133002", "李四", ID_2).await;
    assert_eq!(pending["assurance_level"], 1);
    assert_eq!(pending["realname_status"], "unavailable");
    let token = pending["access_token"].as_str().unwrap().to_owned();
    // Later the check goes through: the account and its session move to L2 (after a refresh).
    let (status, recheck) = json_of(
        app.with_token(Method::POST, "/api/v1/me/realname-check", &token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{recheck}");
    assert_eq!(recheck["realname_status"], "verified");
    let refreshed = post(
        &app,
        "/api/v1/auth/refresh",
        json!({"refresh_token": pending["refresh_token"]}),
    )
    .await
    .json::<Value>()
    .await
    .unwrap();
    assert_eq!(refreshed["assurance_level"], 2);

    // A name that does not match the ID number: L1, "mismatch".
    let valid_third = "110105199003070025";
    fake.add_person("王五", valid_third);
    let mismatch = register_citizen(&app, "13300133003", "王六", valid_third).await;
    assert_eq!(mismatch["assurance_level"], 1);
    assert_eq!(mismatch["realname_status"], "mismatch");
    // The authority saw signed requests only; the ID numbers never reached our logs or tables
    // in clear (checked elsewhere); each pair was asked once per registration or recheck.
    assert_eq!(fake.received().len(), 4);
    app.stop().await;
}
