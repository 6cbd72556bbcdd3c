//! Every operation of the OpenAPI document, called with hostile input by the kind of caller it
//! is meant for: each body property in turn of the wrong type, null, empty, absurdly long or
//! out of range; whole bodies that are not objects, broken or deeply nested; path and query
//! parameters that are not what they claim; upload bodies whose bytes are nothing. Never a 5xx,
//! and every refusal a problem+json with a stable code.

use reqwest::Method;
use serde_json::{Map, Value, json};

use crate::support::fixtures::{ID_2, ITEM, PDF, applicant_with_case, set_up, upload};
use crate::support::spawn_app;

/// Values put in place of one property (or one parameter) at a time.
fn hostile_values() -> Vec<Value> {
    vec![
        Value::Null,
        json!(""),
        json!("字".repeat(70_000)),
        json!("\u{0}"),
        json!(12345),
        json!(-1),
        json!(1e300),
        // One past i64::MAX: no integer type of the server holds it.
        serde_json::from_str("9223372036854775808").unwrap(),
        json!(true),
        json!([]),
        json!([1, "x", null]),
        json!({}),
        json!({"nested": {"deeper": [1, 2, 3]}}),
        json!("2026-02-30T25:61:00+08:00"),
        json!("00000000-0000-0000-0000-000000000000"),
        json!("../../etc/passwd"),
    ]
}

/// Whole request bodies that are not the object an operation takes.
fn hostile_bodies() -> Vec<String> {
    vec![
        String::new(),
        "null".to_owned(),
        "[]".to_owned(),
        "\"text\"".to_owned(),
        "{\"a\":".to_owned(),
        "{\"a\": 1} trailing".to_owned(),
        format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)),
        format!("{{\"padding\": \"{}\"}}", "x".repeat(3 * 1024 * 1024)),
        "\u{feff}{}".to_owned(),
        // A lone surrogate (no Unicode character) and a number beyond f64.
        "{\"name\": \"\\ud800\"}".to_owned(),
        "{\"limit\": 1e400}".to_owned(),
    ]
}

/// Path parameter values: nothing an id, a code or a year can be.
fn hostile_path_values() -> Vec<String> {
    vec![
        "not-a-uuid".to_owned(),
        "00000000-0000-0000-0000-000000000000".to_owned(),
        "..%2F..%2Fetc%2Fpasswd".to_owned(),
        "%00".to_owned(),
        "%E5%AD%97".to_owned(),
        "9".repeat(40),
        "-1".to_owned(),
        "a".repeat(600),
    ]
}

/// Query parameter values.
fn hostile_query_values() -> Vec<String> {
    vec![
        "-1".to_owned(),
        "0".to_owned(),
        "99999999999999999999999".to_owned(),
        "2026-13-45".to_owned(),
        "not-a-cursor".to_owned(),
        "%00".to_owned(),
        "\u{0}".to_owned(),
        "x".repeat(5_000),
    ]
}

/// Who calls an operation: the caller it is meant for, so that requests get past
/// authentication and reach the checks of their input.
struct Callers {
    admin: String,
    reviewer: String,
    clerk: String,
    citizen: String,
}

impl Callers {
    /// A signed-in caller an operation under `path` is not meant for.
    fn wrong_for_path(&self, path: &str) -> &str {
        if path.starts_with("/api/v1/me") || path == "/api/v1/cases" {
            &self.reviewer
        } else {
            &self.citizen
        }
    }

    fn for_path(&self, path: &str) -> Option<&str> {
        let under = |prefix: &str| path.starts_with(prefix);
        if under("/api/v1/admin/") {
            Some(&self.admin)
        } else if under("/api/v1/staff/") {
            Some(&self.reviewer)
        } else if under("/api/v1/window/") {
            Some(&self.clerk)
        } else if under("/api/v1/me") || path == "/api/v1/cases" {
            Some(&self.citizen)
        } else {
            None
        }
    }
}

/// The JSON schema a `$ref` names, or the schema itself.
fn resolve<'a>(spec: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => {
            let name = reference.trim_start_matches("#/components/schemas/");
            &spec["components"]["schemas"][name]
        }
        None => schema,
    }
}

/// A plausible value for `schema`: the body the hostile values are put into, one property at a
/// time, so that the other properties pass and the check of that property is reached.
fn plausible(spec: &Value, schema: &Value, depth: usize) -> Value {
    let schema = resolve(spec, schema);
    if let Some(all_of) = schema["allOf"].as_array()
        && let Some(first) = all_of.first()
    {
        return plausible(spec, first, depth);
    }
    if let Some(one_of) = schema["oneOf"].as_array().or(schema["anyOf"].as_array())
        && let Some(first) = one_of.first()
    {
        return plausible(spec, first, depth);
    }
    if let Some(values) = schema["enum"].as_array()
        && let Some(first) = values.first()
    {
        return first.clone();
    }
    match schema["type"].as_str() {
        Some("object") if depth < 4 => {
            let mut object = Map::new();
            if let Some(properties) = schema["properties"].as_object() {
                for (name, property) in properties {
                    object.insert(name.clone(), plausible(spec, property, depth + 1));
                }
            }
            Value::Object(object)
        }
        Some("array") if depth < 4 => json!([plausible(spec, &schema["items"], depth + 1)]),
        Some("integer") => json!(1),
        Some("number") => json!(1.5),
        Some("boolean") => json!(false),
        Some("string") => match schema["format"].as_str() {
            Some("uuid") => json!("3f2504e0-4f89-41d3-9a0c-0305e82c3301"),
            Some("date") => json!("2026-06-01"),
            Some("date-time") => json!("2026-06-01T09:00:00+08:00"),
            _ => json!("测试"),
        },
        _ => json!({}),
    }
}

/// One request and what came back, kept when the answer breaks the rule.
struct Call {
    method: Method,
    path: String,
    what: String,
}

async fn check(call: Call, request: reqwest::RequestBuilder, broken: &mut Vec<String>) {
    let response = match request.send().await {
        Ok(response) => response,
        Err(e) => {
            broken.push(format!(
                "{} {} ({}): no response: {e}",
                call.method, call.path, call.what
            ));
            return;
        }
    };
    let status = response.status().as_u16();
    let content_type = crate::support::content_type(&response);
    let body = response.bytes().await.unwrap_or_default();
    let problem: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    // Certificate login on a server without `[identity.certificates]` is a deliberate 501 (the
    // server does not offer it), not a fault.
    let not_offered = status == 501 && problem["code"] == "certificate_login_disabled";
    let fault = if status >= 500 && !not_offered {
        Some(format!("{status}"))
    } else if status >= 400 && !content_type.starts_with("application/problem+json") {
        Some(format!("{status} as {content_type:?}"))
    } else if status >= 400 && problem["code"].as_str().is_none_or(str::is_empty) {
        Some(format!("{status} without a code"))
    } else {
        None
    };
    if let Some(fault) = fault {
        let shown = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
        broken.push(format!(
            "{} {} ({}): {fault}: {shown}",
            call.method, call.path, call.what
        ));
    }
}

/// Operations left out: they end the callers' own sessions, which the calls after them need.
fn left_out(path: &str) -> bool {
    path.starts_with("/api/v1/auth/logout")
}

#[tokio::test]
async fn hostile_input_to_every_operation_gets_a_4xx_problem_with_a_code_never_a_5xx() {
    let app = spawn_app().await;
    let cast = set_up(&app).await;
    let (citizen, case) = applicant_with_case(&app, "13700137100", ID_2).await;
    let file = upload(&app, &citizen, PDF, "application/pdf").await;
    let case_id = case["id"].as_str().unwrap().to_owned();
    let callers = Callers {
        admin: app.admin_token.clone(),
        reviewer: cast.reviewer.clone(),
        clerk: cast.clerk.clone(),
        citizen,
    };
    let spec: Value = serde_json::from_str(include_str!("../../openapi/openapi.json")).unwrap();
    let mut broken = Vec::new();
    let mut calls = 0usize;
    for (template, operations) in spec["paths"].as_object().unwrap() {
        if left_out(template) {
            continue;
        }
        for (method_name, operation) in operations.as_object().unwrap() {
            let method: Method = method_name.to_uppercase().parse().unwrap();
            let token = callers.for_path(template);
            let parameters: Vec<&Value> = operation["parameters"]
                .as_array()
                .map(|p| p.iter().collect())
                .unwrap_or_default();
            // Real ids where the path takes them, so that body checks are reached.
            let real_path = fill_path(template, &parameters, |name| {
                real_value(name, template, &case_id, &file)
            });
            let request = |path: &str| {
                let builder = app.http.request(method.clone(), app.url(path));
                let builder = match token {
                    Some(token) => builder.bearer_auth(token),
                    None => builder,
                };
                builder.header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
            };

            // Callers it is not for: none, a forged token, and a signed-in caller of another
            // kind. An operation that requires a token answers 401 without one.
            let secured = operation["security"]
                .as_array()
                .is_some_and(|s| !s.is_empty());
            let wrong = callers.wrong_for_path(template);
            for (who, credential) in [
                ("no token", None),
                ("forged token", Some("eyJhbGciOiJFZERTQSJ9.e30.c2ln")),
                ("another kind of caller", Some(wrong)),
            ] {
                calls += 1;
                let builder = app.http.request(method.clone(), app.url(&real_path));
                let builder = match credential {
                    Some(token) => builder.bearer_auth(token),
                    None => builder,
                };
                let response = with_body(builder, operation, &spec).send().await.unwrap();
                let status = response.status().as_u16();
                if secured && credential != Some(wrong) && status != 401 {
                    broken.push(format!("{method} {real_path} ({who}): {status}, not 401"));
                }
                if status >= 500 && status != 501 {
                    broken.push(format!("{method} {real_path} ({who}): {status}"));
                }
            }

            // Path parameters, one at a time.
            for parameter in parameters.iter().filter(|p| p["in"] == "path") {
                let name = parameter["name"].as_str().unwrap();
                for value in hostile_path_values() {
                    let path = fill_path(template, &parameters, |n| {
                        if n == name {
                            value.clone()
                        } else {
                            real_value(n, template, &case_id, &file)
                        }
                    });
                    calls += 1;
                    let call = Call {
                        method: method.clone(),
                        path: path.clone(),
                        what: format!("path {name}"),
                    };
                    check(
                        call,
                        with_body(request(&path), operation, &spec),
                        &mut broken,
                    )
                    .await;
                }
            }

            // Header parameters (the Idempotency-Key), one at a time.
            for parameter in parameters.iter().filter(|p| p["in"] == "header") {
                let name = parameter["name"].as_str().unwrap();
                let values = ["", " ", "a b\tc", &"k".repeat(5_000), "%00"]
                    .map(|v| v.as_bytes().to_vec())
                    .into_iter()
                    // UTF-8 bytes of 字: legal on the wire (obs-text), not ASCII.
                    .chain([vec![0xE5, 0xAD, 0x97]]);
                for bytes in values {
                    let value = reqwest::header::HeaderValue::from_bytes(&bytes).unwrap();
                    calls += 1;
                    let call = Call {
                        method: method.clone(),
                        path: real_path.clone(),
                        what: format!("header {name}: {:?}", &bytes[..bytes.len().min(20)]),
                    };
                    let mut builder = app.http.request(method.clone(), app.url(&real_path));
                    if let Some(token) = token {
                        builder = builder.bearer_auth(token);
                    }
                    let builder = with_body(builder, operation, &spec).header(name, value);
                    check(call, builder, &mut broken).await;
                }
            }

            // Query parameters, one at a time.
            for parameter in parameters.iter().filter(|p| p["in"] == "query") {
                let name = parameter["name"].as_str().unwrap();
                for value in hostile_query_values() {
                    calls += 1;
                    let call = Call {
                        method: method.clone(),
                        path: real_path.clone(),
                        what: format!("query {name}={}", &value[..value.len().min(20)]),
                    };
                    let builder = request(&real_path).query(&[(name, value.as_str())]);
                    check(call, builder, &mut broken).await;
                }
            }

            // The body.
            let content = &operation["requestBody"]["content"];
            let Some(content) = content.as_object() else {
                continue;
            };
            if let Some((_, media)) = content
                .iter()
                .find(|(t, _)| t.starts_with("application/json"))
            {
                let plausible_body = plausible(&spec, &media["schema"], 0);
                let properties: Vec<String> = plausible_body
                    .as_object()
                    .map(|o| o.keys().cloned().collect())
                    .unwrap_or_default();
                for property in &properties {
                    for value in hostile_values() {
                        let mut body = plausible_body.clone();
                        body[property.as_str()] = value.clone();
                        calls += 1;
                        let shown = value.to_string();
                        let call = Call {
                            method: method.clone(),
                            path: real_path.clone(),
                            what: format!("{property} = {}", &shown[..shown.len().min(40)]),
                        };
                        check(call, request(&real_path).json(&body), &mut broken).await;
                    }
                }
                for raw in hostile_bodies() {
                    calls += 1;
                    let call = Call {
                        method: method.clone(),
                        path: real_path.clone(),
                        what: format!("body {:?}", &raw[..raw.len().min(20)]),
                    };
                    let builder = request(&real_path)
                        .header("content-type", "application/json")
                        .body(raw);
                    check(call, builder, &mut broken).await;
                }
            } else {
                // Upload endpoints: bytes that are no file of any accepted kind, under each
                // media type the operation names, and under none.
                let media_types: Vec<&String> = content.keys().collect();
                let bodies: [&[u8]; 4] = [b"", b"garbage", b"%PDF", b"\x89PNG\r\n"];
                for file_name in ["%00", "..", "a%2Fb", "%E5%AD", &"x".repeat(2_000)] {
                    calls += 1;
                    let call = Call {
                        method: method.clone(),
                        path: real_path.clone(),
                        what: format!("X-File-Name {:?}", &file_name[..file_name.len().min(20)]),
                    };
                    let builder = request(&real_path)
                        .header("content-type", "application/pdf")
                        .header("X-File-Name", file_name)
                        .body(PDF.to_vec());
                    check(call, builder, &mut broken).await;
                }
                for media_type in media_types.iter().map(|t| Some(t.as_str())).chain([None]) {
                    for bytes in bodies {
                        calls += 1;
                        let call = Call {
                            method: method.clone(),
                            path: real_path.clone(),
                            what: format!("{media_type:?} body of {} bytes", bytes.len()),
                        };
                        let builder = request(&real_path).body(bytes.to_vec());
                        let builder = match media_type {
                            Some(t) => builder.header("content-type", t),
                            None => builder,
                        };
                        check(call, builder, &mut broken).await;
                    }
                }
            }
        }
    }
    assert!(calls > 2_000, "only {calls} calls made");
    assert!(
        broken.is_empty(),
        "{} of {calls} calls broke the rule:\n{}",
        broken.len(),
        broken.join("\n")
    );
    app.stop().await;
}

/// The operation's body, when it takes JSON: a plausible one (path checks come first).
fn with_body(
    builder: reqwest::RequestBuilder,
    operation: &Value,
    spec: &Value,
) -> reqwest::RequestBuilder {
    let content = &operation["requestBody"]["content"];
    match content
        .as_object()
        .and_then(|c| c.iter().find(|(t, _)| t.starts_with("application/json")))
    {
        Some((_, media)) => builder.json(&plausible(spec, &media["schema"], 0)),
        None => builder,
    }
}

/// A value of the path parameter `name` that names something the test made.
fn real_value(name: &str, template: &str, case_id: &str, file: &str) -> String {
    match name {
        "id" if template.contains("/cases/") => case_id.to_owned(),
        "id" if template.contains("/files/") => file.to_owned(),
        "code" if template.contains("/items/") => ITEM.to_owned(),
        "code" => "DA-SCJG".to_owned(),
        "year" => "2026".to_owned(),
        _ => "3f2504e0-4f89-41d3-9a0c-0305e82c3301".to_owned(),
    }
}

/// The path with every `{parameter}` replaced by `value(name)`.
fn fill_path(template: &str, parameters: &[&Value], value: impl Fn(&str) -> String) -> String {
    let mut path = template.to_owned();
    for parameter in parameters.iter().filter(|p| p["in"] == "path") {
        let name = parameter["name"].as_str().unwrap();
        path = path.replace(&format!("{{{name}}}"), &value(name));
    }
    path
}
