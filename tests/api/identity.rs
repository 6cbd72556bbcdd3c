//! The identity gateway end to end: citizens by SMS code (through the notification hub),
//! sessions (rotation, reuse, logout), staff passwords with lockout, roles and AB backups.

use std::time::Duration;

use fingertip::notify::setup::SmsProvider;
use reqwest::Method;
use serde_json::{Value, json};

use crate::fake_aliyun::FakeAliyun;
use crate::support::fixtures::{
    ID_1, ID_2, STAFF_PASSWORD, code_sent_to, create_department, create_staff, json_of, post,
    register_citizen,
};
use crate::support::{expect_problem, spawn_app, spawn_app_with, staff_login};

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
async fn codes_are_limited_per_phone_and_per_address_with_retry_after() {
    let app = spawn_app_with(|c| c.identity.otp.per_ip_hourly = 3).await;
    let first = post(
        &app,
        "/api/v1/auth/otp",
        json!({"phone": "13800000001", "purpose": "login"}),
    )
    .await;
    assert_eq!(first.status(), 202);
    let second = post(
        &app,
        "/api/v1/auth/otp",
        json!({"phone": "13800000001", "purpose": "login"}),
    )
    .await;
    let retry_after: u64 = second.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "retry after {retry_after}");
    expect_problem(second, 429, "rate_limited").await;

    // Ten a day per phone: with nine more in the last day, the next waits for the oldest to age.
    let db = app.db().await;
    db.execute(
        "INSERT INTO otp_code (id, phone, purpose, code_hash, expires_at, created_at)
         SELECT gen_random_uuid(), '13800000002', 'login', '\\x00', now(), now() - (n || ' hours')::interval
           FROM generate_series(2, 11) AS n",
        &[],
    )
    .await
    .unwrap();
    let daily = post(
        &app,
        "/api/v1/auth/otp",
        json!({"phone": "13800000002", "purpose": "login"}),
    )
    .await;
    let retry_after: u64 = daily.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (12 * 3600..=13 * 3600).contains(&retry_after),
        "retry after {retry_after}"
    );
    expect_problem(daily, 429, "rate_limited").await;

    // Per address: the limit is 3 an hour in this test.
    assert_eq!(
        post(
            &app,
            "/api/v1/auth/otp",
            json!({"phone": "13800000003", "purpose": "login"})
        )
        .await
        .status(),
        202
    );
    assert_eq!(
        post(
            &app,
            "/api/v1/auth/otp",
            json!({"phone": "13800000004", "purpose": "login"})
        )
        .await
        .status(),
        202
    );
    let blocked = post(
        &app,
        "/api/v1/auth/otp",
        json!({"phone": "13800000005", "purpose": "login"}),
    )
    .await;
    expect_problem(blocked, 429, "rate_limited").await;

    // A malformed phone is a 422 naming the field.
    let bad = post(
        &app,
        "/api/v1/auth/otp",
        json!({"phone": "12345", "purpose": "login"}),
    )
    .await;
    let body = expect_problem(bad, 422, "invalid_phone").await;
    assert_eq!(body["field"], "phone");
    app.stop().await;
}

#[tokio::test]
async fn wrong_and_expired_codes_are_refused_and_five_wrong_guesses_burn_a_code() {
    let app = spawn_app().await;
    let phone = "13700137000";
    assert_eq!(
        post(
            &app,
            "/api/v1/auth/otp",
            json!({"phone": phone, "purpose": "register"})
        )
        .await
        .status(),
        202
    );
    let code = code_sent_to(&app, phone).await;
    let wrong = if code == "000000" { "000001" } else { "000000" };
    let body = json!({"phone": phone, "code": wrong, "name": "李四", "id_number": ID_2});
    for _ in 0..5 {
        expect_problem(
            post(&app, "/api/v1/auth/citizen/register", body.clone()).await,
            401,
            "otp_invalid",
        )
        .await;
    }
    let right = json!({"phone": phone, "code": code, "name": "李四", "id_number": ID_2});
    expect_problem(
        post(&app, "/api/v1/auth/citizen/register", right.clone()).await,
        401,
        "otp_attempts_exceeded",
    )
    .await;
    // Each wrong guess is in the audit log, under a digest of the phone, never the number.
    let db = app.db().await;
    let rows = db
        .query(
            "SELECT aggregate_id, details::text FROM audit_record WHERE action = 'login.failure'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 5);
    for row in rows {
        let aggregate: String = row.get(0);
        let details: String = row.get(1);
        assert!(
            aggregate.starts_with("phone:") && !aggregate.contains(phone),
            "{aggregate}"
        );
        assert!(!details.contains(phone), "{details}");
    }

    // A fresh code that has expired.
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
            json!({"phone": phone, "purpose": "register"})
        )
        .await
        .status(),
        202
    );
    let code = code_sent_to(&app, phone).await;
    app.db().await.execute("UPDATE otp_code SET expires_at = now() - interval '1 second' WHERE consumed_at IS NULL", &[]).await.unwrap();
    let right = json!({"phone": phone, "code": code, "name": "李四", "id_number": ID_2});
    expect_problem(
        post(&app, "/api/v1/auth/citizen/register", right).await,
        401,
        "otp_expired",
    )
    .await;
    app.stop().await;
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
async fn refresh_tokens_rotate_and_a_reused_one_ends_the_session() {
    let app = spawn_app().await;
    let login = register_citizen(&app, "13400134000", "钱七", ID_2).await;
    let first_refresh = login["refresh_token"].as_str().unwrap().to_owned();
    let (status, rotated) = json_of(
        post(
            &app,
            "/api/v1/auth/refresh",
            json!({"refresh_token": first_refresh}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{rotated}");
    assert_ne!(rotated["refresh_token"], login["refresh_token"]);
    assert_eq!(rotated["session_id"], login["session_id"]);
    let access = rotated["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        app.with_token(Method::GET, "/api/v1/me", &access)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // The old refresh token again: someone copied it. The whole session ends.
    let reuse = post(
        &app,
        "/api/v1/auth/refresh",
        json!({"refresh_token": first_refresh}),
    )
    .await;
    expect_problem(reuse, 401, "refresh_token_reused").await;
    let newest = post(
        &app,
        "/api/v1/auth/refresh",
        json!({"refresh_token": rotated["refresh_token"]}),
    )
    .await;
    expect_problem(newest, 401, "session_revoked").await;
    expect_problem(
        app.with_token(Method::GET, "/api/v1/me", &access)
            .send()
            .await
            .unwrap(),
        401,
        "session_revoked",
    )
    .await;
    let garbage = post(
        &app,
        "/api/v1/auth/refresh",
        json!({"refresh_token": "rt_nothing"}),
    )
    .await;
    expect_problem(garbage, 401, "refresh_token_invalid").await;
    app.stop().await;
}

#[tokio::test]
async fn logout_ends_one_session_and_logout_all_ends_every_device() {
    let app = spawn_app().await;
    let a = staff_login(
        &app.http,
        &app.address,
        crate::support::ADMIN_USERNAME,
        crate::support::ADMIN_PASSWORD,
    )
    .await;
    let b = staff_login(
        &app.http,
        &app.address,
        crate::support::ADMIN_USERNAME,
        crate::support::ADMIN_PASSWORD,
    )
    .await;
    assert_eq!(
        app.with_token(Method::POST, "/api/v1/auth/logout", &a)
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    expect_problem(
        app.with_token(Method::GET, "/api/v1/me", &a)
            .send()
            .await
            .unwrap(),
        401,
        "session_revoked",
    )
    .await;
    assert_eq!(
        app.with_token(Method::GET, "/api/v1/me", &b)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let (status, ended) = json_of(
        app.with_token(Method::POST, "/api/v1/auth/logout-all", &b)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert!(ended["sessions_ended"].as_u64().unwrap() >= 2, "{ended}");
    expect_problem(
        app.with_token(Method::GET, "/api/v1/me", &b)
            .send()
            .await
            .unwrap(),
        401,
        "session_revoked",
    )
    .await;
    expect_problem(
        app.admin(Method::GET, "/api/v1/me").send().await.unwrap(),
        401,
        "session_revoked",
    )
    .await;
    app.stop().await;
}

/// The gate remembers a citizen's live session between requests while it hears the database's
/// revocation announcements; a revocation made anywhere else (another instance, an
/// administrator's SQL) is announced and ends the session here at once. Remembering lasts 300 s
/// by default; the test waits at most 5.
#[tokio::test]
async fn a_session_revoked_elsewhere_stops_working_at_once() {
    let app = spawn_app().await;
    let started = std::time::Instant::now();
    while !app
        .get("/metrics")
        .await
        .text()
        .await
        .unwrap()
        .contains("fingertip_session_revocations_listening 1")
    {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "not listening"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let login = register_citizen(&app, "13300133000", "孙八", ID_1).await;
    let access = login["access_token"].as_str().unwrap().to_owned();
    let me = || async {
        app.with_token(Method::GET, "/api/v1/me", &access)
            .send()
            .await
            .unwrap()
    };
    assert_eq!(me().await.status(), 200);
    let session: uuid::Uuid = login["session_id"].as_str().unwrap().parse().unwrap();
    let db = app.db().await;

    // Revoked with the announcement switched off (triggers do not fire for a replica): the
    // remembered session still works, which shows the request is answered from memory.
    db.batch_execute("SET session_replication_role = replica")
        .await
        .unwrap();
    db.execute(
        "UPDATE auth_session SET revoked_at = now(), revoked_reason = 'silent' WHERE id = $1",
        &[&session],
    )
    .await
    .unwrap();
    assert_eq!(me().await.status(), 200, "answered from memory");

    // Announced: forgotten at once, and the database says it has ended.
    db.batch_execute("SET session_replication_role = origin")
        .await
        .unwrap();
    db.execute(
        "UPDATE auth_session SET revoked_at = now() WHERE id = $1",
        &[&session],
    )
    .await
    .unwrap();
    let revoked = std::time::Instant::now();
    loop {
        let response = me().await;
        if response.status() == 401 {
            expect_problem(response, 401, "session_revoked").await;
            break;
        }
        assert_eq!(response.status(), 200);
        assert!(
            revoked.elapsed() < std::time::Duration::from_secs(5),
            "the revoked session still works"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    app.stop().await;
}

#[tokio::test]
async fn staff_are_locked_out_after_five_wrong_passwords_and_every_attempt_is_audited() {
    let app = spawn_app().await;
    create_department(&app, "LOCK-A").await;
    let id = create_staff(&app, "lock.clerk", "window_clerk", Some("LOCK-A")).await;
    for _ in 0..5 {
        let wrong = post(
            &app,
            "/api/v1/auth/staff/login",
            json!({"username": "lock.clerk", "password": "Wrong-password-1"}),
        )
        .await;
        expect_problem(wrong, 401, "invalid_credentials").await;
    }
    let locked = post(
        &app,
        "/api/v1/auth/staff/login",
        json!({"username": "lock.clerk", "password": STAFF_PASSWORD}),
    )
    .await;
    expect_problem(locked, 423, "account_locked").await;
    let unknown = post(
        &app,
        "/api/v1/auth/staff/login",
        json!({"username": "nobody", "password": STAFF_PASSWORD}),
    )
    .await;
    expect_problem(unknown, 401, "invalid_credentials").await;

    let db = app.db().await;
    let actions: Vec<String> = db
        .query(
            "SELECT action FROM audit_record WHERE aggregate_id = $1 ORDER BY id",
            &[&format!("staff:{id}")],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        actions.iter().filter(|a| *a == "login.failure").count(),
        6,
        "{actions:?}"
    );
    assert_eq!(
        actions.iter().filter(|a| *a == "login.lockout").count(),
        1,
        "{actions:?}"
    );
    assert!(
        actions.contains(&"staff.create".to_owned())
            && actions.contains(&"staff.role.grant".to_owned())
    );
    let who: String = db
        .query_one(
            "SELECT actor FROM audit_record WHERE action = 'staff.create' AND aggregate_id = $1",
            &[&format!("staff:{id}")],
        )
        .await
        .unwrap()
        .get(0);
    assert!(
        who.starts_with("staff:"),
        "changes name who did them: {who}"
    );

    // The platform admin unlocks; the right password works again.
    assert_eq!(
        app.admin(Method::POST, &format!("/api/v1/admin/staff/{id}/unlock"))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    staff_login(&app.http, &app.address, "lock.clerk", STAFF_PASSWORD).await;
    app.stop().await;
}

#[tokio::test]
async fn failed_passwords_from_one_address_are_limited() {
    let app = spawn_app_with(|c| c.identity.login_failures_per_ip_hourly = 3).await;
    for _ in 0..3 {
        let wrong = post(
            &app,
            "/api/v1/auth/staff/login",
            json!({"username": "ghost", "password": "Wrong-password-1"}),
        )
        .await;
        expect_problem(wrong, 401, "invalid_credentials").await;
    }
    let limited = post(
        &app,
        "/api/v1/auth/staff/login",
        json!({"username": "ghost", "password": "Wrong-password-1"}),
    )
    .await;
    assert!(limited.headers().contains_key("retry-after"));
    expect_problem(limited, 429, "rate_limited").await;
    app.stop().await;
}

#[tokio::test]
async fn department_admins_grant_roles_in_their_own_department_only_and_ab_backups_cover() {
    let app = spawn_app().await;
    create_department(&app, "DEPT-A").await;
    create_department(&app, "DEPT-B").await;
    create_staff(&app, "a.admin", "department_admin", Some("DEPT-A")).await;
    let clerk = create_staff(&app, "a.clerk", "window_clerk", Some("DEPT-A")).await;
    let backup = create_staff(&app, "b.clerk", "window_clerk", Some("DEPT-B")).await;
    let a_admin = staff_login(&app.http, &app.address, "a.admin", STAFF_PASSWORD).await;

    let own = app.with_token(Method::POST, &format!("/api/v1/admin/staff/{clerk}/roles"), &a_admin)
        .json(&json!({"role": "reviewer", "department_code": "DEPT-A", "item_code": "FOOD-01", "step": "review"}))
        .send().await.unwrap();
    assert_eq!(own.status(), 201);
    let other = app
        .with_token(
            Method::POST,
            &format!("/api/v1/admin/staff/{backup}/roles"),
            &a_admin,
        )
        .json(&json!({"role": "reviewer", "department_code": "DEPT-B"}))
        .send()
        .await
        .unwrap();
    expect_problem(other, 403, "forbidden").await;
    let platform_role = app
        .with_token(
            Method::POST,
            &format!("/api/v1/admin/staff/{clerk}/roles"),
            &a_admin,
        )
        .json(&json!({"role": "platform_admin"}))
        .send()
        .await
        .unwrap();
    expect_problem(platform_role, 403, "forbidden").await;
    let bad_shape = app.admin(Method::POST, &format!("/api/v1/admin/staff/{clerk}/roles"))
        .json(&json!({"role": "department_admin", "department_code": "DEPT-A", "item_code": "FOOD-01"}))
        .send().await.unwrap();
    let problem = expect_problem(bad_shape, 422, "not_allowed").await;
    assert_eq!(problem["field"], "item_code");

    // AB岗: b.clerk covers a.clerk for a day and, meanwhile, holds a.clerk's handling roles.
    let now = fingertip::clock::system_time();
    let designation = app
        .with_token(
            Method::POST,
            &format!("/api/v1/admin/staff/{clerk}/backups"),
            &a_admin,
        )
        .json(
            &json!({"backup_id": backup, "starts_at": now - chrono::Duration::minutes(1),
                      "ends_at": now + chrono::Duration::days(1), "reason": "年休假"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(designation.status(), 201);
    let b_token = staff_login(&app.http, &app.address, "b.clerk", STAFF_PASSWORD).await;
    let me: Value = app
        .with_token(Method::GET, "/api/v1/me", &b_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let covering: Vec<&Value> = me["roles"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["covering_for"] == json!(clerk))
        .collect();
    assert_eq!(
        covering.len(),
        2,
        "window_clerk and the narrowed reviewer role: {me}"
    );
    assert!(
        covering
            .iter()
            .any(|r| r["role"] == "reviewer" && r["step"] == "review")
    );

    // Disabling an account ends its sessions at once.
    assert_eq!(
        app.admin(
            Method::POST,
            &format!("/api/v1/admin/staff/{backup}/disable")
        )
        .send()
        .await
        .unwrap()
        .status(),
        204
    );
    let refused = app
        .with_token(Method::GET, "/api/v1/me", &b_token)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    app.stop().await;
}

#[tokio::test]
async fn a_weak_password_or_taken_username_is_refused() {
    let app = spawn_app().await;
    let (status, body) = app
        .admin_json(
            Method::POST,
            "/api/v1/admin/staff",
            &json!({"username": "weak.one", "display_name": "弱密码", "password": "password"}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["field"], "password");
    let (status, _) = app
        .admin_json(
            Method::POST,
            "/api/v1/admin/staff",
            &json!({"username": "test.admin", "display_name": "重名", "password": STAFF_PASSWORD}),
        )
        .await;
    assert_eq!(status, 409);
    app.stop().await;
}

#[tokio::test]
async fn tokens_from_another_key_or_tampered_are_refused() {
    let app = spawn_app().await;
    let mut parts: Vec<String> = app.admin_token.split('.').map(str::to_owned).collect();
    // Another valid base64url character in the middle of the signature.
    let mut signature: Vec<char> = parts[2].chars().collect();
    signature[20] = if signature[20] == 'A' { 'B' } else { 'A' };
    parts[2] = signature.into_iter().collect();
    let tampered = parts.join(".");
    expect_problem(
        app.with_token(Method::GET, "/api/v1/me", &tampered)
            .send()
            .await
            .unwrap(),
        401,
        "token_invalid",
    )
    .await;
    expect_problem(
        app.with_token(Method::GET, "/api/v1/me", "not-a-token")
            .send()
            .await
            .unwrap(),
        401,
        "token_malformed",
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn housekeeping_deletes_what_the_limits_and_logins_no_longer_need() {
    let app = spawn_app().await;
    let db = app.db().await;
    let config: tokio_postgres::Config = app.database.connection_string.parse().unwrap();
    let pool = fingertip::db::pool_for(config, 2).unwrap();
    // The app runs housekeeping once at start-up: wait until that run has let go of the lock,
    // so that it neither holds it during the run below nor deletes the rows inserted next.
    for _ in 0..100 {
        if fingertip::identity::housekeeping::run_once(&pool)
            .await
            .unwrap()
            .is_some()
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    db.batch_execute(
        "INSERT INTO login_challenge (challenge_hash, expires_at) VALUES
            ('\\x01', now() - interval '2 hours'), ('\\x02', now() + interval '5 minutes');
         INSERT INTO otp_code (id, phone, purpose, code_hash, expires_at, created_at) VALUES
            (gen_random_uuid(), '13800000009', 'login', '\\x00', now() - interval '3 days', now() - interval '3 days'),
            (gen_random_uuid(), '13800000009', 'login', '\\x00', now(), now() - interval '20 hours');
         INSERT INTO login_failure (client_ip, at) VALUES ('192.0.2.1', now() - interval '3 hours'), ('192.0.2.1', now());
         INSERT INTO owner_email_code (id, owner, address, code_hash, expires_at, created_at) VALUES
            (gen_random_uuid(), 'citizen:00000000-0000-0000-0000-000000000001', 'a@example.cn', '\\x00', now() - interval '3 days', now() - interval '3 days'),
            (gen_random_uuid(), 'citizen:00000000-0000-0000-0000-000000000001', 'a@example.cn', '\\x00', now(), now() - interval '20 hours');",
    )
    .await
    .unwrap();
    let deleted = fingertip::identity::housekeeping::run_once(&pool)
        .await
        .unwrap();
    assert_eq!(deleted, Some(4));
    let left: i64 = db
        .query_one(
            "SELECT (SELECT count(*) FROM login_challenge) + (SELECT count(*) FROM otp_code)
                  + (SELECT count(*) FROM login_failure) + (SELECT count(*) FROM owner_email_code)",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 4, "the rows still inside their windows stay");
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

#[tokio::test]
async fn expired_sms_codes_are_scrubbed_from_the_outbox_once_delivered() {
    let app = spawn_app().await;
    let phone = "13200132000";
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
    let code = code_sent_to(&app, phone).await;
    let db = app.db().await;
    // The log provider sends it; then time passes beyond the code's life.
    let mut sent = false;
    for _ in 0..200 {
        let status: String = db
            .query_one(
                "SELECT status FROM notification_delivery WHERE address = $1",
                &[&phone],
            )
            .await
            .unwrap()
            .get(0);
        if status == "sent" || status == "delivered" {
            sent = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(sent, "the code SMS was sent");
    db.execute(
        "UPDATE notification SET created_at = created_at - interval '11 minutes'",
        &[],
    )
    .await
    .unwrap();
    let config: tokio_postgres::Config = app.database.connection_string.parse().unwrap();
    let pool = fingertip::db::pool_for(config, 2).unwrap();
    fingertip::identity::housekeeping::run_once(&pool)
        .await
        .unwrap();
    let row = db
        .query_one(
            "SELECT n.variables::text, d.body FROM notification n
               JOIN notification_delivery d ON d.notification_id = n.id WHERE d.address = $1",
            &[&phone],
        )
        .await
        .unwrap();
    let variables: String = row.get(0);
    let body: String = row.get(1);
    assert!(
        !variables.contains(&code) && !body.contains(&code),
        "{variables} / {body}"
    );
    app.stop().await;
}
