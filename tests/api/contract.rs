//! Replays every scenario of `mobile-contract/scenarios` against the running server, so the
//! contract with the 指尖办 app can never drift silently. Steps are the app's requests (JSON or
//! raw upload bytes), what the phone does outside the API (`device`), and what the department's
//! staff do on their side of a case (`back_office`, as the demo staff).

use std::collections::HashMap;

use serde_json::Value;

use fingertip::identity::demo::{DEMO_DEPARTMENT, DEMO_STAFF};

use crate::support::{TestApp, spawn_app_with, spawn_demo_app, staff_login};

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
            ("absent", found) => found.is_none(),
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

/// CRC-32 (ISO-HDLC, as PNG chunks use it).
fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// A small valid file of the kind a phone uploads (`raw_body.sample`): `pdf`, `png` (a 1×1
/// RGB image) or `jpeg` (a JFIF header). `variant` makes the bytes differ — a PDF comment, a PNG
/// `tEXt` chunk, a JPEG comment segment — so two uploads of one kind are two files.
fn sample_bytes(kind: &str, variant: Option<&str>) -> Vec<u8> {
    match kind {
        "pdf" => {
            let mut pdf = b"%PDF-1.7\n".to_vec();
            if let Some(variant) = variant {
                pdf.extend_from_slice(format!("% {variant}\n").as_bytes());
            }
            pdf.extend_from_slice(
                b"1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n",
            );
            pdf
        }
        "png" => {
            let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
            // 1×1, 8-bit RGB.
            png_chunk(&mut png, b"IHDR", &[0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0]);
            if let Some(variant) = variant {
                png_chunk(&mut png, b"tEXt", format!("Comment\0{variant}").as_bytes());
            }
            // One scanline (filter 0, a white pixel) in a stored zlib block.
            let scanline = [0u8, 0xFF, 0xFF, 0xFF];
            let (mut a, mut b) = (1u32, 0u32);
            for &byte in &scanline {
                a = (a + u32::from(byte)) % 65521;
                b = (b + a) % 65521;
            }
            let mut zlib = vec![0x78, 0x01, 0x01, 0x04, 0x00, 0xFB, 0xFF];
            zlib.extend_from_slice(&scanline);
            zlib.extend_from_slice(&((b << 16) | a).to_be_bytes());
            png_chunk(&mut png, b"IDAT", &zlib);
            png_chunk(&mut png, b"IEND", &[]);
            png
        }
        "jpeg" => {
            let mut jpeg = vec![
                0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00, 0x01, 0x01, 0x00,
                0x00, 0x01, 0x00, 0x01, 0x00, 0x00,
            ];
            if let Some(variant) = variant {
                let text = variant.as_bytes();
                jpeg.extend_from_slice(&[0xFF, 0xFE]);
                jpeg.extend_from_slice(&(text.len() as u16 + 2).to_be_bytes());
                jpeg.extend_from_slice(text);
            }
            jpeg.extend_from_slice(&[0xFF, 0xD9]);
            jpeg
        }
        other => panic!("unknown raw_body sample {other:?} (pdf, png or jpeg)"),
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
            let code = crate::support::fixtures::code_sent_to(app, phone).await;
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

/// Sends a step's `request` (with `bearer` as the access token when a back office acts), checks
/// its `expect` and keeps its `save`.
///
/// A `path` that is a full URL (what a QR code or a share link holds) is requested at its path
/// on the server under test: the URL's host is the deployment's public address.
fn on_this_server(path: &str) -> String {
    match path
        .strip_prefix("http://")
        .or_else(|| path.strip_prefix("https://"))
    {
        Some(rest) => rest[rest.find('/').unwrap_or(rest.len())..].to_owned(),
        None => path.to_owned(),
    }
}

async fn exchange(
    app: &TestApp,
    step: &Value,
    bearer: Option<&str>,
    saved: &mut HashMap<String, String>,
    name: &str,
) {
    let request = &step["request"];
    let method: reqwest::Method = request["method"].as_str().unwrap_or("GET").parse().unwrap();
    let path = on_this_server(&substitute(request["path"].as_str().expect("path"), saved));
    let mut builder = app.http.request(method, app.url(&path));
    if let Some(token) = bearer {
        builder = builder.bearer_auth(token);
    }
    if let Some(headers) = request["headers"].as_object() {
        for (k, v) in headers {
            builder = builder.header(k, substitute(v.as_str().unwrap_or_default(), saved));
        }
    }
    match (request.get("body"), request.get("raw_body")) {
        (Some(_), Some(_)) => panic!("{name}: a request has a body or a raw_body, not both"),
        (Some(body), None) => builder = builder.json(&substitute_json(body, saved)),
        (None, Some(raw)) => {
            let sample = raw["sample"].as_str().expect("raw_body.sample");
            let variant = raw
                .get("variant")
                .map(|v| v.as_str().expect("variant text"));
            builder = builder.body(sample_bytes(sample, variant));
        }
        (None, None) => {}
    }
    let response = builder.send().await.unwrap();
    let expect = &step["expect"];
    assert_eq!(
        response.status().as_u16() as u64,
        expect["status"].as_u64().unwrap(),
        "{name}: status"
    );
    let content_type = crate::support::content_type(&response);
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
            let expected = substitute_json(expected, saved);
            assert!(
                satisfies(lookup(&body, path), &expected),
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

/// The back office's staff in the `demo` fixture: the demo accounts (`serve --demo-data`), each
/// logged in once with the demo password.
struct BackOffice {
    created: bool,
    tokens: HashMap<String, String>,
}

impl BackOffice {
    /// An access token of the demo staff member `username`.
    async fn token(&mut self, app: &TestApp, username: &str, name: &str) -> String {
        if let Some(token) = self.tokens.get(username) {
            return token.clone();
        }
        assert!(
            DEMO_STAFF.iter().any(|s| s.0 == username),
            "{name}: {username} is not a demo staff account"
        );
        if !self.created {
            create_demo_staff(app).await;
            self.created = true;
        }
        let token = staff_login(
            &app.http,
            &app.address,
            username,
            &app.config.identity.demo_password,
        )
        .await;
        self.tokens.insert(username.to_owned(), token.clone());
        token
    }
}

/// The demo staff as `serve --demo-data` creates them on an empty database. (The test database
/// already holds the seeded platform administrator, so the server's own loader — which only
/// fills a database without staff — leaves them out: they are created through the admin API.)
async fn create_demo_staff(app: &TestApp) {
    for &(username, display_name, role) in DEMO_STAFF {
        let (status, created) = app
            .admin_json(
                reqwest::Method::POST,
                "/api/v1/admin/staff",
                &serde_json::json!({
                    "username": username,
                    "display_name": display_name,
                    "password": app.config.identity.demo_password,
                }),
            )
            .await;
        assert_eq!(status, 201, "demo staff {username}: {created}");
        let mut grant = serde_json::json!({"role": role.as_str()});
        if !role.is_platform_wide() {
            grant["department_code"] = DEMO_DEPARTMENT.into();
        }
        let id = created["id"].as_str().expect("staff id");
        let (status, body) = app
            .admin_json(
                reqwest::Method::POST,
                &format!("/api/v1/admin/staff/{id}/roles"),
                &grant,
            )
            .await;
        assert_eq!(status, 201, "demo staff {username} role: {body}");
    }
}

async fn replay(file: &std::path::Path) {
    let scenario: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    let journey = scenario["journey"].as_str().expect("journey");
    let fixture = scenario["fixture"].as_str();
    let app = match fixture {
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
    let mut back_office = BackOffice {
        created: false,
        tokens: HashMap::new(),
    };
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
        } else if let Some(office) = step.get("back_office") {
            assert_eq!(
                fixture,
                Some("demo"),
                "{name}: back office steps need the demo fixture"
            );
            let staff = office["staff"].as_str().expect("back_office.staff");
            let token = back_office.token(&app, staff, &name).await;
            exchange(&app, office, Some(&token), &mut saved, &name).await;
        } else {
            exchange(&app, step, None, &mut saved, &name).await;
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
    assert!(satisfies(lookup(&body, "missing"), &"absent".into()));
    assert!(!satisfies(lookup(&body, "next"), &"absent".into()));
    let saved = HashMap::from([("code".to_owned(), "A".to_owned())]);
    assert!(satisfies(
        lookup(&body, "items[0].code"),
        &substitute_json(&"={code}".into(), &saved)
    ));
}

#[test]
fn the_sample_files_are_what_they_claim_and_variants_differ() {
    let pdf = sample_bytes("pdf", None);
    assert!(pdf.starts_with(b"%PDF-1.7\n") && pdf.ends_with(b"%%EOF\n"));
    assert_ne!(pdf, sample_bytes("pdf", Some("补正后")));
    assert_ne!(
        sample_bytes("pdf", Some("a")),
        sample_bytes("pdf", Some("b"))
    );
    let png = sample_bytes("png", None);
    // Signature, then IHDR of a 1×1 RGB image with its CRC.
    assert!(
        png.starts_with(
            b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0\x90wS\xde"
        )
    );
    assert!(png.ends_with(b"IEND\xaeB`\x82"));
    assert_ne!(png, sample_bytes("png", Some("clearer")));
    let jpeg = sample_bytes("jpeg", Some("正面"));
    assert!(jpeg.starts_with(&[0xFF, 0xD8, 0xFF]) && jpeg.ends_with(&[0xFF, 0xD9]));
    assert_ne!(jpeg, sample_bytes("jpeg", None));
}
