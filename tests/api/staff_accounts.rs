//! Staff accounts: passwords with lockout after five wrong ones (every attempt audited) and a
//! limit per address, department administrators granting roles in their own department only,
//! AB backups (AB岗) covering an absence, weak passwords and taken usernames refused.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::fixtures::{STAFF_PASSWORD, create_department, create_staff, post};
use crate::support::{expect_problem, spawn_app, spawn_app_with, staff_login};

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
