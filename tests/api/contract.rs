//! Replays every scenario of `mobile-contract/scenarios` against the running server, so the
//! contract with the 指尖办 app can never drift silently.

use std::collections::HashMap;

use serde_json::Value;

use crate::support::{TestApp, spawn_app_with, spawn_demo_app};

/// Follows a path like `items[0].lead_department.name` (or `[0].code` for a top-level array).
fn lookup<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    let mut current = value;
    for segment in path.split('.') {
        let (name, indexes) = match segment.find('[') {
            Some(i) => (&segment[..i], &segment[i..]),
            None => (segment, ""),
        };
        if !name.is_empty() {
            current = current.get(name)?;
        }
        for index in indexes.split('[').filter(|s| !s.is_empty()) {
            let n: usize = index.trim_end_matches(']').parse().ok()?;
            current = current.get(n)?;
        }
    }
    Some(current)
}

fn satisfies(actual: Option<&Value>, expected: &Value) -> bool {
    match expected {
        Value::String(kind) => match (kind.as_str(), actual) {
            ("string?", None) | ("string?", Some(Value::String(_))) => true,
            (_, None) => false,
            ("string", Some(v)) => v.is_string(),
            ("number", Some(v)) => v.is_number(),
            ("integer", Some(v)) => v.is_i64() || v.is_u64(),
            ("boolean", Some(v)) => v.is_boolean(),
            ("array", Some(v)) => v.is_array(),
            ("object", Some(v)) => v.is_object(),
            ("null", Some(v)) => v.is_null(),
            (exact, Some(v)) => exact
                .strip_prefix('=')
                .is_some_and(|text| v.as_str() == Some(text)),
        },
        other => actual == Some(other),
    }
}

fn substitute(text: &str, saved: &HashMap<String, String>) -> String {
    let mut out = text.to_owned();
    for (name, value) in saved {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

fn substitute_json(value: &Value, saved: &HashMap<String, String>) -> Value {
    match value {
        Value::String(s) => Value::String(substitute(s, saved)),
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| substitute_json(v, saved)).collect())
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), substitute_json(v, saved)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// What the phone does outside the API: read an SMS, let time pass, sign with a USB key — or
/// what happens to it: a back office sends the user a notification.
async fn device_step(
    app: &TestApp,
    device: &Value,
    saved: &mut HashMap<String, String>,
    name: &str,
) {
    match device["action"].as_str() {
        Some("read_sms") => {
            let phone = device["phone"].as_str().expect("phone");
            let code = crate::identity::code_sent_to(app, phone).await;
            saved.insert(device["save"].as_str().expect("save").to_owned(), code);
        }
        Some("wait_for_resend") => {
            // Time passes: the codes of this phone move a minute into the past.
            let phone = device["phone"].as_str().expect("phone");
            app.db()
                .await
                .execute(
                    "UPDATE otp_code SET created_at = created_at - interval '61 seconds' WHERE phone = $1",
                    &[&phone],
                )
                .await
                .unwrap();
        }
        Some("sign_challenge") => {
            // The USB key signs the challenge; the chain leaves the key as PEM.
            use base64::Engine;
            let leaf = device["certificate"].as_str().expect("certificate");
            let challenge = substitute(device["challenge"].as_str().expect("challenge"), saved);
            let signature = crate::support::pki::sign(leaf, challenge.as_bytes());
            let engine = base64::engine::general_purpose::STANDARD;
            saved.insert(
                device["save_signature"]
                    .as_str()
                    .expect("save_signature")
                    .to_owned(),
                engine.encode(signature),
            );
            let names = device["save_chain"].as_array().expect("save_chain");
            for (der, name) in crate::support::pki::chain(leaf).iter().zip(names) {
                let pem = format!(
                    "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
                    engine.encode(der)
                );
                saved.insert(name.as_str().expect("chain name").to_owned(), pem);
            }
        }
        Some("notify") => {
            // A back office tells the user something: through the admin API, as a capability
            // would through the outbox (creating the template first when the step gives it).
            let device = substitute_json(device, saved);
            let key = device["template_key"].as_str().expect("template_key");
            if let Some(content) = device.get("template") {
                let (status, body) = app
                    .admin_json(
                        reqwest::Method::POST,
                        "/api/v1/admin/notification-templates",
                        &serde_json::json!({"key": key, "content": content}),
                    )
                    .await;
                assert_eq!(status, 201, "{name}: template: {body}");
            }
            let (status, body) = app
                .admin_json(
                    reqwest::Method::POST,
                    "/api/v1/admin/notifications",
                    &serde_json::json!({
                        "template_key": key,
                        "owner": device["owner"],
                        "variables": device["variables"],
                        "channels": device["channels"],
                        "idempotency_key": format!("contract-{}", uuid::Uuid::new_v4()),
                    }),
                )
                .await;
            assert_eq!(status, 202, "{name}: notification: {body}");
        }
        other => panic!("{name}: unknown device action {other:?}"),
    }
}

async fn replay(file: &std::path::Path) {
    let scenario: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    let journey = scenario["journey"].as_str().expect("journey");
    let app = match scenario["fixture"].as_str() {
        Some("demo") => spawn_demo_app().await,
        Some("empty") => {
            spawn_app_with(|c| {
                c.identity.certificates = Some(crate::support::pki::standard_files())
            })
            .await
        }
        other => panic!("{journey}: unknown fixture {other:?}"),
    };
    let mut saved = HashMap::new();
    for (i, step) in scenario["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .enumerate()
    {
        let name = format!(
            "{journey} / step {i} {}",
            step["name"].as_str().unwrap_or_default()
        );
        if let Some(device) = step.get("device") {
            device_step(&app, device, &mut saved, &name).await;
            continue;
        }
        let request = &step["request"];
        let method: reqwest::Method = request["method"].as_str().unwrap_or("GET").parse().unwrap();
        let path = substitute(request["path"].as_str().expect("path"), &saved);
        let mut builder = app.http.request(method, app.url(&path));
        if let Some(headers) = request["headers"].as_object() {
            for (k, v) in headers {
                builder = builder.header(k, substitute(v.as_str().unwrap_or_default(), &saved));
            }
        }
        if let Some(body) = request.get("body") {
            builder = builder.json(&substitute_json(body, &saved));
        }
        let response = builder.send().await.unwrap();
        let expect = &step["expect"];
        assert_eq!(
            response.status().as_u16() as u64,
            expect["status"].as_u64().unwrap(),
            "{name}: status"
        );
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        if let Some(prefix) = expect["content_type"].as_str() {
            assert!(
                content_type.starts_with(prefix),
                "{name}: content type {content_type}"
            );
        }
        let bytes = response.bytes().await.unwrap();
        let body: Value = if content_type.contains("json") {
            serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{name}: invalid JSON: {e}"))
        } else {
            Value::Null
        };
        if let Some(fields) = expect["fields"].as_object() {
            for (path, expected) in fields {
                assert!(
                    satisfies(lookup(&body, path), expected),
                    "{name}: field {path} should be {expected}, body: {body}"
                );
            }
        }
        if let Some(saves) = step["save"].as_object() {
            for (var, path) in saves {
                let value = lookup(&body, path.as_str().unwrap())
                    .unwrap_or_else(|| panic!("{name}: nothing at {path}"));
                let text = match value {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                saved.insert(var.clone(), text);
            }
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn every_mobile_contract_scenario_replays_against_the_server() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/mobile-contract/scenarios");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 3, "scenarios missing: {files:?}");
    for file in files {
        replay(&file).await;
    }
}

#[test]
fn the_replayer_checks_what_it_claims() {
    let body = serde_json::json!({"items": [{"code": "A", "n": 3}], "next": null});
    assert!(satisfies(lookup(&body, "items[0].code"), &"=A".into()));
    assert!(!satisfies(lookup(&body, "items[0].code"), &"=B".into()));
    assert!(satisfies(lookup(&body, "items[0].n"), &"integer".into()));
    assert!(!satisfies(lookup(&body, "items[1].code"), &"string".into()));
    assert!(satisfies(lookup(&body, "missing"), &"string?".into()));
    assert!(satisfies(
        lookup(&body, "items[0].n"),
        &serde_json::json!(3)
    ));
}
