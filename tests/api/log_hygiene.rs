//! Logs never hold secrets or full identity numbers, even at the most verbose level an operator
//! can set: the real binary serves a citizen's registration, login, upload, application and
//! progress query, a staff password login and a token refresh at `FINGERTIP_LOG=debug` (asking
//! for the statement logger at trace too), and its whole log is searched for what those requests
//! carried. Then every table is searched for the ID number in the clear.

use std::process::Stdio;

use serde_json::{Value, json};

use crate::support::binary::{free_port, serve_command, wait_ready};
use crate::support::fixtures::{ID_1, ITEM, PDF, PNG, STAFF_PASSWORD, set_up};
use crate::support::spawn_app;

const PHONE: &str = "13812345678";

async fn post(http: &reqwest::Client, url: String, token: Option<&str>, body: Value) -> Value {
    let mut request = http.post(url).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert!(status < 300, "{status} {body}");
    body
}

async fn upload(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    bytes: &[u8],
    kind: &str,
) -> String {
    let response = http
        .post(format!("{base}/api/v1/me/files"))
        .bearer_auth(token)
        .header("content-type", kind)
        .header("X-File-Name", "%E8%BA%AB%E4%BB%BD%E8%AF%81.pdf")
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    body["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn debug_logs_hold_no_id_number_phone_code_password_or_token() {
    fingertip::tls::install_crypto_provider();
    let app = spawn_app().await;
    set_up(&app).await;
    let (database, data_dir) = app.stop_keeping_data().await;
    let log_path = data_dir.path().join("server.log");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    // A login code right after the registration code: no wait between codes.
    let config = data_dir.path().join("fingertip.toml");
    std::fs::write(&config, "[identity.otp]\nresend_seconds = 0\n").unwrap();
    let mut server = serve_command(&database.url, data_dir.path(), port)
        .arg("--config")
        .arg(&config)
        .env("FINGERTIP_LOG", "debug,tokio_postgres::query=trace")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    wait_ready(&http, port, &mut server).await;
    let (db, connection) =
        tokio_postgres::connect(&database.connection_string, tokio_postgres::NoTls)
            .await
            .unwrap();
    tokio::spawn(connection);
    let code_sent = || async {
        db.query_one(
            "SELECT variables->>'code' FROM notification WHERE phone = $1 ORDER BY created_at DESC LIMIT 1",
            &[&PHONE],
        )
        .await
        .unwrap()
        .get::<_, String>(0)
    };

    post(
        &http,
        format!("{base}/api/v1/auth/otp"),
        None,
        json!({"phone": PHONE, "purpose": "register"}),
    )
    .await;
    let register_code = code_sent().await;
    let registered = post(
        &http,
        format!("{base}/api/v1/auth/citizen/register"),
        None,
        json!({"phone": PHONE, "code": register_code, "name": "赵六", "id_number": ID_1}),
    )
    .await;
    post(
        &http,
        format!("{base}/api/v1/auth/otp"),
        None,
        json!({"phone": PHONE, "purpose": "login"}),
    )
    .await;
    let login_code = code_sent().await;
    let login = post(
        &http,
        format!("{base}/api/v1/auth/citizen/login"),
        None,
        json!({"phone": PHONE, "code": login_code}),
    )
    .await;
    let token = login["access_token"].as_str().unwrap().to_owned();
    let form = upload(&http, &base, &token, PDF, "application/pdf").await;
    let licence = upload(&http, &base, &token, PNG, "image/png").await;
    let case = http
        .post(format!("{base}/api/v1/cases"))
        .bearer_auth(&token)
        .header("Idempotency-Key", "log-hygiene-1")
        .json(
            &json!({"item_code": ITEM, "form": {"经营场所": "大安市长虹路1号"}, "materials": [
                {"material_key": "application_form", "file_ids": [form]},
                {"material_key": "business_licence", "file_ids": [licence]}
            ]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(case.status(), 201);
    // The progress query's second factor (its answer does not matter here).
    let _ = http
        .post(format!("{base}/api/v1/public/progress"))
        .json(&json!({"acceptance_number": "220882202611220000001", "id_tail": &ID_1[12..]}))
        .send()
        .await
        .unwrap();
    let staff = post(
        &http,
        format!("{base}/api/v1/auth/staff/login"),
        None,
        json!({"username": "c.reviewer", "password": STAFF_PASSWORD}),
    )
    .await;
    let refresh = post(
        &http,
        format!("{base}/api/v1/auth/refresh"),
        None,
        json!({"refresh_token": login["refresh_token"]}),
    )
    .await;

    // Every SMS handed to the (demo) provider before the server stops: its log line is part of
    // what is checked.
    for _ in 0..100 {
        let waiting: i64 = db
            .query_one(
                "SELECT count(*) FROM notification_delivery
                  WHERE channel = 'sms' AND status IN ('created', 'temporary_failure')",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if waiting == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(server.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    server.wait().unwrap();
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(log.lines().count() > 20, "a debug log was written: {log}");
    let secrets = [
        ("ID number", ID_1.to_owned()),
        (
            "ID number's last six (the progress factor)",
            ID_1[12..].to_owned(),
        ),
        ("phone number", PHONE.to_owned()),
        ("registration code", register_code.clone()),
        ("login code", login_code.clone()),
        ("staff password", STAFF_PASSWORD.to_owned()),
    ]
    .into_iter()
    .chain(
        [
            ("registration access token", &registered["access_token"]),
            ("registration refresh token", &registered["refresh_token"]),
            ("access token", &login["access_token"]),
            ("refresh token", &login["refresh_token"]),
            ("staff access token", &staff["access_token"]),
            ("refreshed access token", &refresh["access_token"]),
            ("refreshed refresh token", &refresh["refresh_token"]),
        ]
        .into_iter()
        .filter_map(|(what, value)| value.as_str().map(|v| (what, v.to_owned()))),
    );
    // The one exception: in development the log-only demo SMS provider prints the message it
    // stands in for, codes included — a mobile developer signs in with them (production refuses
    // that provider). No other line may hold a code, and that line nothing else.
    let demo_line = |l: &str| l.contains("demo provider: message not sent, only logged");
    for code in [&register_code, &login_code] {
        assert!(
            log.lines()
                .any(|l| demo_line(l) && l.contains(code.as_str())),
            "the demo provider shows each code in development"
        );
    }
    for (what, secret) in secrets {
        let is_code = what.ends_with("code");
        if let Some(line) = log
            .lines()
            .find(|l| l.contains(&secret) && !(is_code && demo_line(l)))
        {
            panic!("the log holds the {what}: {line}");
        }
    }

    // Nor does any table hold the ID number in the clear: the citizen row keeps it sealed and
    // a blind index, cases a masked copy; audit details, forms and notices never take it.
    let tables: Vec<String> = db
        .query(
            "SELECT quote_ident(table_name) FROM information_schema.tables
              WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(tables.len() > 20, "{tables:?}");
    for table in tables {
        let holding: i64 = db
            .query_one(
                &format!("SELECT count(*) FROM {table} t WHERE t::text ILIKE '%' || $1 || '%'"),
                &[&ID_1],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(holding, 0, "{table} holds the ID number in the clear");
    }
}
