//! The notification hub from the app (`/api/v1/me/…`): push devices, the inbox, channel
//! preferences and quiet hours — each account sees and touches only its own.

use chrono::Duration;
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::fixtures::{ID_1, ID_2, register_citizen};
use crate::support::{TestApp, expect_problem, spawn_app};

const APNS_TOKEN: &str = "9f1c2b3a4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8";

struct Citizen {
    token: String,
    owner: String,
}

async fn citizen(app: &TestApp, phone: &str, name: &str, id_number: &str) -> Citizen {
    let login = register_citizen(app, phone, name, id_number).await;
    Citizen {
        token: login["access_token"].as_str().unwrap().to_owned(),
        owner: login["subject"].as_str().unwrap().to_owned(),
    }
}

async fn call(
    app: &TestApp,
    who: &Citizen,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = app.with_token(method, path, &who.token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

async fn json_call(
    app: &TestApp,
    who: &Citizen,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let response = call(app, who, method, path, body).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn create_template(app: &TestApp) {
    let (status, body) = app
        .admin_json(
            Method::POST,
            "/api/v1/admin/notification-templates",
            &json!({"key": "case.accepted", "content": {
                "sms_body": "【指尖办】{name}您好，您申请的{item}已受理，受理编号{no}。",
                "push_title": "申请已受理",
                "push_body": "您申请的{item}已受理，受理编号{no}。"
            }}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}

/// Sends a `case.accepted` notification to `owner` through the admin API; returns its id.
async fn notify(app: &TestApp, owner: &str, no: u32, channels: Value, must_reach: bool) -> String {
    let (status, body) = app
        .admin_json(
            Method::POST,
            "/api/v1/admin/notifications",
            &json!({
                "template_key": "case.accepted",
                "variables": {"name": "张三", "item": "食品经营许可", "no": format!("NO-{no}")},
                "owner": owner,
                "phone": "13900001111",
                "channels": channels,
                "must_reach": must_reach,
                "idempotency_key": format!("{owner}-{no}"),
            }),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

/// (channel, seconds from now until next_attempt_at) of every delivery of a notification.
async fn deliveries(app: &TestApp, notification: &str) -> Vec<(String, f64)> {
    let id: uuid::Uuid = notification.parse().unwrap();
    app.db()
        .await
        .query(
            "SELECT channel, extract(epoch FROM next_attempt_at - now())::float8
             FROM notification_delivery WHERE notification_id = $1 AND fallback_for IS NULL
             ORDER BY channel",
            &[&id],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

async fn register_device(app: &TestApp, who: &Citizen, token: &str) -> (u16, Value) {
    json_call(
        app,
        who,
        Method::POST,
        "/api/v1/me/devices",
        Some(
            json!({"platform": "apns", "token": token, "app_version": "3.2.1", "locale": "zh-CN"}),
        ),
    )
    .await
}

#[tokio::test]
async fn devices_are_registered_listed_updated_and_removed() {
    let app = spawn_app().await;
    let me = citizen(&app, "13811112001", "张三", ID_1).await;

    let (status, device) = register_device(&app, &me, APNS_TOKEN).await;
    assert_eq!(status, 201, "{device}");
    let id = device["id"].as_str().unwrap().to_owned();
    assert_eq!(device["platform"], "apns");
    assert_eq!(device["token"], "9f1c2b…");
    // The same registration again (a retry, or the app starting again): the same device.
    let (status, again) = register_device(&app, &me, &APNS_TOKEN.to_uppercase()).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["id"], id.as_str());

    let (status, fcm) = json_call(
        &app,
        &me,
        Method::POST,
        "/api/v1/me/devices",
        Some(json!({"platform": "fcm", "token": "fcm-token:APA91bHun4MxP5egoKMwt2KZFBaFUH-1RYqx"})),
    )
    .await;
    assert_eq!(status, 201, "{fcm}");
    let (status, list) = json_call(&app, &me, Method::GET, "/api/v1/me/devices", None).await;
    assert_eq!(status, 200);
    let devices = list["devices"].as_array().unwrap();
    assert_eq!(devices.len(), 2, "{list}");
    assert_eq!(devices[0]["id"], id.as_str());
    assert_eq!(devices[0]["locale"], "zh-CN");
    assert_eq!(devices[1]["token"], "fcm-to…");

    let path = format!("/api/v1/me/devices/{id}");
    let new_token = "ab".repeat(32);
    let (status, updated) = json_call(
        &app,
        &me,
        Method::PUT,
        &path,
        Some(json!({"app_version": "3.3.0", "locale": "en-US", "token": new_token})),
    )
    .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["app_version"], "3.3.0");
    assert_eq!(updated["locale"], "en-US");
    assert_eq!(updated["token"], "ababab…");
    // Another device's token cannot be taken over by an update.
    let (status, _) = register_device(&app, &me, &"cd".repeat(32)).await;
    assert_eq!(status, 201);
    let response = call(
        &app,
        &me,
        Method::PUT,
        &path,
        Some(json!({"token": "cd".repeat(32)})),
    )
    .await;
    expect_problem(response, 409, "device_token_registered").await;

    let response = call(&app, &me, Method::DELETE, &path, None).await;
    assert_eq!(response.status(), 204);
    let response = call(&app, &me, Method::DELETE, &path, None).await;
    assert_eq!(response.status(), 204, "removing again is a no-op");
    let (_, list) = json_call(&app, &me, Method::GET, "/api/v1/me/devices", None).await;
    assert_eq!(list["devices"].as_array().unwrap().len(), 2, "{list}");
    let row = app
        .db()
        .await
        .query_one(
            "SELECT active, deactivated_reason FROM device WHERE id = $1",
            &[&id.parse::<uuid::Uuid>().unwrap()],
        )
        .await
        .unwrap();
    assert!(!row.get::<_, bool>(0));
    assert_eq!(row.get::<_, String>(1), "unregistered_by_user");
    // A removed device cannot be updated.
    let response = call(
        &app,
        &me,
        Method::PUT,
        &path,
        Some(json!({"locale": "zh-CN"})),
    )
    .await;
    expect_problem(response, 404, "device_not_found").await;
    // Registering the token again brings the device back.
    let (status, back) = register_device(&app, &me, &new_token).await;
    assert_eq!(status, 200, "{back}");
    assert_eq!(back["id"], id.as_str());
    app.stop().await;
}

#[tokio::test]
async fn nobody_sees_or_touches_another_accounts_devices_or_notifications() {
    let app = spawn_app().await;
    create_template(&app).await;
    let me = citizen(&app, "13811112002", "张三", ID_1).await;
    let other = citizen(&app, "13811112003", "李四", ID_2).await;
    let (_, device) = register_device(&app, &me, APNS_TOKEN).await;
    let device_path = format!("/api/v1/me/devices/{}", device["id"].as_str().unwrap());
    // A push waiting for my phone.
    let mine = notify(&app, &me.owner, 1, json!(["push"]), false).await;

    let (_, list) = json_call(&app, &other, Method::GET, "/api/v1/me/devices", None).await;
    assert_eq!(list["devices"], json!([]));
    let response = call(
        &app,
        &other,
        Method::PUT,
        &device_path,
        Some(json!({"locale": "en-US"})),
    )
    .await;
    expect_problem(response, 404, "device_not_found").await;
    let response = call(&app, &other, Method::DELETE, &device_path, None).await;
    expect_problem(response, 404, "device_not_found").await;
    let response = call(
        &app,
        &other,
        Method::POST,
        &format!("/api/v1/me/notifications/{mine}/read"),
        None,
    )
    .await;
    expect_problem(response, 404, "notification_not_found").await;
    let (_, inbox) = json_call(&app, &other, Method::GET, "/api/v1/me/notifications", None).await;
    assert_eq!(inbox["items"], json!([]));
    assert_eq!(inbox["unread_count"], 0);
    let (_, inbox) = json_call(&app, &me, Method::GET, "/api/v1/me/notifications", None).await;
    assert_eq!(inbox["unread_count"], 1, "{inbox}");

    // The phone changes hands: the new user registers the same token and it becomes theirs;
    // what was still waiting for the old owner is not pushed to the new one.
    let db = app.db().await;
    db.execute(
        "UPDATE notification_delivery SET status = 'created', next_attempt_at = now() + interval '1 hour'
         WHERE notification_id = $1",
        &[&mine.parse::<uuid::Uuid>().unwrap()],
    )
    .await
    .unwrap();
    let (status, moved) = register_device(&app, &other, APNS_TOKEN).await;
    assert_eq!(status, 200, "{moved}");
    assert_eq!(moved["id"], device["id"]);
    let (_, list) = json_call(&app, &me, Method::GET, "/api/v1/me/devices", None).await;
    assert_eq!(list["devices"], json!([]));
    let status: String = db
        .query_one(
            "SELECT status FROM notification_delivery WHERE notification_id = $1",
            &[&mine.parse::<uuid::Uuid>().unwrap()],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(status, "cancelled");
    let response = call(&app, &me, Method::DELETE, &device_path, None).await;
    expect_problem(response, 404, "device_not_found").await;
    app.stop().await;
}

#[tokio::test]
async fn the_inbox_pages_newest_first_counts_unread_and_marks_read() {
    let app = spawn_app().await;
    create_template(&app).await;
    let me = citizen(&app, "13811112004", "张三", ID_1).await;
    let mut ids = Vec::new();
    for no in 1..=5 {
        ids.push(notify(&app, &me.owner, no, json!(["sms"]), false).await);
    }

    let (status, page) = json_call(
        &app,
        &me,
        Method::GET,
        "/api/v1/me/notifications?limit=2",
        None,
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["unread_count"], 5);
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["id"], ids[4].as_str(), "newest first");
    assert_eq!(items[1]["id"], ids[3].as_str());
    assert_eq!(items[0]["template_key"], "case.accepted");
    assert_eq!(items[0]["title"], "申请已受理");
    assert_eq!(
        items[0]["body"],
        "您申请的食品经营许可已受理，受理编号NO-5。"
    );
    assert!(items[0]["created_at"].is_string());
    assert!(items[0].get("read_at").is_none());

    // A notification arriving meanwhile does not shift the next pages.
    let newest = notify(&app, &me.owner, 6, json!(["sms"]), false).await;
    let cursor = page["next_cursor"].as_str().unwrap();
    let (_, page2) = json_call(
        &app,
        &me,
        Method::GET,
        &format!("/api/v1/me/notifications?limit=2&cursor={cursor}"),
        None,
    )
    .await;
    let got: Vec<&str> = page2["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, vec![ids[2].as_str(), ids[1].as_str()]);
    let cursor = page2["next_cursor"].as_str().unwrap();
    let (_, page3) = json_call(
        &app,
        &me,
        Method::GET,
        &format!("/api/v1/me/notifications?limit=2&cursor={cursor}"),
        None,
    )
    .await;
    assert_eq!(page3["items"].as_array().unwrap().len(), 1);
    assert_eq!(page3["items"][0]["id"], ids[0].as_str());
    assert!(page3.get("next_cursor").is_none(), "{page3}");
    assert_eq!(page3["unread_count"], 6);

    let read_path = format!("/api/v1/me/notifications/{}/read", ids[2]);
    let (status, read) = json_call(&app, &me, Method::POST, &read_path, None).await;
    assert_eq!(status, 200, "{read}");
    assert_eq!(read["unread_count"], 5);
    let (_, again) = json_call(&app, &me, Method::POST, &read_path, None).await;
    assert_eq!(
        again["read_at"], read["read_at"],
        "marking read again changes nothing"
    );
    assert_eq!(again["unread_count"], 5);
    let (_, unread) = json_call(
        &app,
        &me,
        Method::GET,
        "/api/v1/me/notifications?unread_only=true",
        None,
    )
    .await;
    let unread_ids: Vec<&str> = unread["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(unread_ids.len(), 5);
    assert!(!unread_ids.contains(&ids[2].as_str()));
    assert_eq!(unread_ids[0], newest.as_str());

    let (status, all) = json_call(
        &app,
        &me,
        Method::POST,
        "/api/v1/me/notifications/read-all",
        None,
    )
    .await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(all["marked"], 5);
    assert_eq!(all["unread_count"], 0);
    let (_, inbox) = json_call(&app, &me, Method::GET, "/api/v1/me/notifications", None).await;
    assert_eq!(inbox["unread_count"], 0);
    assert!(
        inbox["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["read_at"].is_string())
    );
    let response = call(
        &app,
        &me,
        Method::POST,
        &format!("/api/v1/me/notifications/{}/read", uuid::Uuid::new_v4()),
        None,
    )
    .await;
    expect_problem(response, 404, "notification_not_found").await;
    app.stop().await;
}

#[tokio::test]
async fn switched_off_sms_skips_normal_notifications_but_legal_notices_still_go() {
    let app = spawn_app().await;
    create_template(&app).await;
    let me = citizen(&app, "13811112005", "张三", ID_1).await;
    let (status, prefs) = json_call(
        &app,
        &me,
        Method::GET,
        "/api/v1/me/notification-preferences",
        None,
    )
    .await;
    assert_eq!(status, 200, "{prefs}");
    assert_eq!(prefs["sms"], true);
    assert_eq!(prefs["push"], true);
    assert!(prefs.get("quiet_hours").is_none());

    let (status, prefs) = json_call(
        &app,
        &me,
        Method::PUT,
        "/api/v1/me/notification-preferences",
        Some(json!({"push": true, "sms": false, "email": false})),
    )
    .await;
    assert_eq!(status, 200, "{prefs}");
    assert_eq!(prefs["sms"], false);
    assert_eq!(prefs["time_zone"], "Asia/Shanghai");

    // A normal notification by SMS: recorded in the inbox, no SMS.
    let normal = notify(&app, &me.owner, 1, json!(["sms"]), false).await;
    assert!(deliveries(&app, &normal).await.is_empty());
    // A legal notice (must reach) by SMS still goes…
    let notice = notify(&app, &me.owner, 2, json!(["sms"]), true).await;
    let channels: Vec<String> = deliveries(&app, &notice)
        .await
        .into_iter()
        .map(|d| d.0)
        .collect();
    assert_eq!(channels, vec!["sms"]);
    // …and so does its SMS fallback when it is sent by push to a phone-less account.
    let pushed = notify(&app, &me.owner, 3, json!(["push"]), true).await;
    let channels: Vec<String> = deliveries(&app, &pushed)
        .await
        .into_iter()
        .map(|d| d.0)
        .collect();
    assert_eq!(channels, vec!["sms"]);
    let (_, inbox) = json_call(&app, &me, Method::GET, "/api/v1/me/notifications", None).await;
    assert_eq!(inbox["unread_count"], 3);

    // Back on: SMS goes again.
    let (status, _) = json_call(
        &app,
        &me,
        Method::PUT,
        "/api/v1/me/notification-preferences",
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 200);
    let again = notify(&app, &me.owner, 4, json!(["sms"]), false).await;
    assert_eq!(deliveries(&app, &again).await.len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn quiet_hours_delay_a_normal_push_until_they_end_but_not_a_legal_notice() {
    let app = spawn_app().await;
    create_template(&app).await;
    let me = citizen(&app, "13811112006", "张三", ID_1).await;
    let (status, _) = register_device(&app, &me, APNS_TOKEN).await;
    assert_eq!(status, 201);
    // Quiet from an hour ago until two hours from now, Shanghai time.
    let local = (fingertip::clock::system_time() + Duration::hours(8)).time();
    let start = (local - Duration::hours(1)).format("%H:%M").to_string();
    let end = (local + Duration::hours(2)).format("%H:%M").to_string();
    let (status, prefs) = json_call(
        &app,
        &me,
        Method::PUT,
        "/api/v1/me/notification-preferences",
        Some(json!({"quiet_hours": {"start": start, "end": end}})),
    )
    .await;
    assert_eq!(status, 200, "{prefs}");
    assert_eq!(prefs["quiet_hours"]["start"], start.as_str());

    let normal = notify(&app, &me.owner, 1, json!(["push"]), false).await;
    let push = deliveries(&app, &normal).await;
    assert_eq!(push.len(), 1);
    assert_eq!(push[0].0, "push");
    let wait = push[0].1;
    assert!(
        (2.0 * 3600.0 - 120.0..=2.0 * 3600.0).contains(&wait),
        "the push waits until the quiet hours end: {wait}s"
    );
    let notice = notify(&app, &me.owner, 2, json!(["push"]), true).await;
    let push = deliveries(&app, &notice).await;
    assert_eq!(push[0].0, "push");
    assert!(
        push[0].1 <= 1.0,
        "a legal notice goes at once: {}s",
        push[0].1
    );
    app.stop().await;
}

#[tokio::test]
async fn bad_input_is_a_problem_naming_the_field() {
    let app = spawn_app().await;
    let me = citizen(&app, "13811112007", "张三", ID_1).await;
    let register = |body: Value| call(&app, &me, Method::POST, "/api/v1/me/devices", Some(body));

    let body = expect_problem(
        register(json!({"platform": "blackberry", "token": APNS_TOKEN})).await,
        400,
        "invalid_body",
    )
    .await;
    assert_eq!(body["field"], "platform");
    let body = expect_problem(
        register(json!({"platform": "apns", "token": "not-hex"})).await,
        422,
        "invalid_device_token",
    )
    .await;
    assert_eq!(body["field"], "token");
    let body = expect_problem(
        register(json!({"platform": "fcm", "token": "with space"})).await,
        422,
        "invalid_device_token",
    )
    .await;
    assert_eq!(body["field"], "token");
    let body = expect_problem(
        register(json!({"platform": "apns", "token": APNS_TOKEN, "locale": "zh_CN"})).await,
        422,
        "invalid_locale",
    )
    .await;
    assert_eq!(body["field"], "locale");
    let body = expect_problem(
        register(json!({"platform": "apns", "token": APNS_TOKEN, "app_version": "9".repeat(33)}))
            .await,
        422,
        "invalid_app_version",
    )
    .await;
    assert_eq!(body["field"], "app_version");
    let body = expect_problem(
        register(json!({"platform": "apns", "token": "x", "locale": "??"})).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(body["errors"].as_array().unwrap().len(), 2, "{body}");
    let body = expect_problem(
        register(json!({"platform": "apns", "token": APNS_TOKEN, "colour": "red"})).await,
        400,
        "invalid_body",
    )
    .await;
    assert!(
        body["detail"].as_str().unwrap().contains("colour"),
        "{body}"
    );

    let response = call(
        &app,
        &me,
        Method::PUT,
        "/api/v1/me/notification-preferences",
        Some(json!({"quiet_hours": {"start": "25:00", "end": "07:00"}})),
    )
    .await;
    let body = expect_problem(response, 422, "invalid_quiet_hours").await;
    assert_eq!(body["field"], "quiet_hours.start");
    let response = call(
        &app,
        &me,
        Method::PUT,
        "/api/v1/me/notification-preferences",
        Some(json!({"sms": "no"})),
    )
    .await;
    let body = expect_problem(response, 400, "invalid_body").await;
    assert_eq!(body["field"], "sms");

    let response = call(
        &app,
        &me,
        Method::GET,
        "/api/v1/me/notifications?cursor=bogus",
        None,
    )
    .await;
    let body = expect_problem(response, 400, "invalid_parameter").await;
    assert_eq!(body["field"], "cursor");
    let response = call(
        &app,
        &me,
        Method::GET,
        "/api/v1/me/notifications?limit=0",
        None,
    )
    .await;
    let body = expect_problem(response, 400, "invalid_parameter").await;
    assert_eq!(body["field"], "limit");
    let response = app.get("/api/v1/me/devices").await;
    expect_problem(response, 401, "unauthorized").await;
    app.stop().await;
}
