//! SMS codes (验证码): limited per phone and per address with Retry-After, wrong and expired
//! codes refused and a code burnt after five wrong guesses, expired codes scrubbed from the
//! outbox once delivered.

use std::time::Duration;

use serde_json::json;

use crate::support::fixtures::{ID_2, code_sent_to, post};
use crate::support::{expect_problem, spawn_app, spawn_app_with};

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
