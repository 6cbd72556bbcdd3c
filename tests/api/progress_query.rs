//! The public progress query (办件进度查询): the acceptance number and a second factor (the ID
//! number's tail or an SMS code), the same answer for a wrong number and a wrong factor, and a
//! limit on failures.

use serde_json::{Value, json};

use crate::support::fixtures::{ID_1, accepted_case, code_sent_to, set_up};
use crate::support::{TestApp, spawn_app};

async fn progress(app: &TestApp, body: Value) -> (u16, Value) {
    let response = app
        .http
        .post(app.url("/api/v1/public/progress"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_public_progress_query_needs_the_number_and_a_second_factor_and_refuses_enumeration() {
    let app = spawn_app().await;
    let cast = set_up(&app).await;
    let phone = "13900139020";
    let (_, case) = accepted_case(&app, &cast, phone, ID_1).await;
    let number = case["acceptance_number"].as_str().unwrap().to_owned();

    let (status, seen) = progress(
        &app,
        json!({"acceptance_number": number, "id_tail": "31002x"}),
    )
    .await;
    assert_eq!(status, 200, "{seen}");
    assert_eq!(seen["applicant"], "李*");
    assert_eq!(seen["stage"], "in_review");
    // The two review steps and the site inspection that follows them (a special step).
    assert_eq!(seen["steps"].as_array().unwrap().len(), 3);
    assert!(seen["deadline"]["deadline"].is_string());
    assert!(seen.get("form").is_none() && seen.get("materials").is_none());

    // A wrong factor and an unknown (well-formed) number get the same answer.
    let (status, wrong_tail) = progress(
        &app,
        json!({"acceptance_number": number, "id_tail": "000000"}),
    )
    .await;
    assert_eq!(status, 404);
    let mut other = number[..20].to_owned();
    other.replace_range(14..20, "999999");
    let unknown_number = (0..=10)
        .map(|c| {
            format!(
                "{other}{}",
                if c == 10 {
                    'X'
                } else {
                    char::from(b'0' + c as u8)
                }
            )
        })
        .find(|n| fingertip::cases::acceptance_number::AcceptanceNumber::parse(n).is_ok())
        .unwrap();
    let (status, unknown) = progress(
        &app,
        json!({"acceptance_number": unknown_number, "id_tail": "31002X"}),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(wrong_tail["code"], "progress_not_found");
    assert_eq!(
        wrong_tail, unknown,
        "nothing tells a wrong number from a wrong factor"
    );
    // A typo in the number is caught by its check character, before any lookup.
    let mut typo = number.clone();
    let last = typo.pop().unwrap();
    typo.push(if last == '1' { '2' } else { '1' });
    let (status, body) = progress(
        &app,
        json!({"acceptance_number": typo, "id_tail": "31002X"}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["errors"][0]["field"], "acceptance_number");
    let (status, body) = progress(&app, json!({"acceptance_number": number})).await;
    assert_eq!(status, 422);
    assert_eq!(body["code"], "second_factor_required");

    // Or with an SMS code sent to the phone the case was applied with; a code works once.
    // (A minute has passed since the registration code.)
    app.db()
        .await
        .execute(
            "UPDATE otp_code SET created_at = created_at - interval '61 seconds'",
            &[],
        )
        .await
        .unwrap();
    let response = app
        .http
        .post(app.url("/api/v1/auth/otp"))
        .json(&json!({"phone": phone, "purpose": "progress"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let code = code_sent_to(&app, phone).await;
    let (status, seen) = progress(&app, json!({"acceptance_number": number, "code": code})).await;
    assert_eq!(status, 200, "{seen}");
    let (status, _) = progress(&app, json!({"acceptance_number": number, "code": code})).await;
    assert_eq!(status, 404);

    // Too many failures from one address: 429, even with the right factor.
    for _ in 0..17 {
        let (status, _) = progress(
            &app,
            json!({"acceptance_number": number, "id_tail": "000000"}),
        )
        .await;
        assert_eq!(status, 404);
    }
    let (status, _) = progress(
        &app,
        json!({"acceptance_number": number, "id_tail": "31002X"}),
    )
    .await;
    assert_eq!(status, 429);
    app.stop().await;
}
