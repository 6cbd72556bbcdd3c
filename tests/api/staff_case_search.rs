//! Staff find cases (`GET /api/v1/staff/cases`): a clerk by the acceptance number, within their
//! departments only; oversight across departments; filters, pages, refused parameters; searches
//! by a person's identifier audited. Observers (人大代表、政协委员) read cases masked and audited
//! and never open an applicant's raw materials.

use chrono::Duration;
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::fixtures::{
    Cast, ID_1, ITEM, accepted_case, act, apply, both_materials, call, citizen, create_staff,
    found_ids, log_in, paper_window_case, search_cases, set_up, staff_member, staff_reads,
};
use crate::support::{TestApp, expect_problem, spawn_app};

/// The last six characters of [`ID_1`] (11010519491231002X).
const ID_1_TAIL: &str = "31002X";
const CREDIT_CODE: &str = "91110108MA01T6X294";

#[tokio::test]
async fn a_clerk_finds_a_case_by_its_acceptance_number_and_only_in_their_departments() {
    let app = spawn_app().await;
    let cast = set_up(&app).await;
    let (_, case) = accepted_case(&app, &cast, "13900139301", ID_1).await;
    let id = case["id"].as_str().unwrap();
    let number = case["acceptance_number"].as_str().unwrap();

    let (status, page) =
        search_cases(&app, &cast.clerk, &format!("acceptance_number={number}")).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["cases"].as_array().unwrap().len(), 1, "{page}");
    assert!(page.get("next_cursor").is_none(), "{page}");
    let found = &page["cases"][0];
    assert_eq!(found["id"], id);
    assert_eq!(found["acceptance_number"], number);
    assert_eq!(found["item_code"], ITEM);
    assert_eq!(found["item_name"], "食品经营许可");
    assert_eq!(found["lead_department"]["code"], "DA-SCJG");
    assert_eq!(found["stage"], "in_review");
    assert_eq!(found["accepted_on"], app.today().to_string());
    assert_eq!(found["deadline"]["overdue"], false);
    assert_eq!(found["deadline"]["working_days_left"], 10);
    // The applicant masked, for the clerk too: never the name or the number in full.
    assert_eq!(found["applicant"]["kind"], "citizen");
    assert_eq!(found["applicant"]["name_masked"], "李*");
    assert_eq!(found["applicant"]["id_masked"], "1101**********002X");
    let text = page.to_string();
    assert!(!text.contains(ID_1) && !text.contains("李四"), "{text}");
    // Typed in lower case with spaces around it, the number is still found.
    let typed = format!("acceptance_number=%20{}%20", number.to_lowercase());
    assert_eq!(found_ids(&app, &cast.clerk, &typed).await, [id]);

    // A clerk of another department finds nothing, by the number or at all.
    let other_clerk = staff_member(&app, "o.clerk", "window_clerk", Some("OTHER-DEPT")).await;
    let by_number = format!("acceptance_number={number}");
    assert!(found_ids(&app, &other_clerk, &by_number).await.is_empty());
    assert!(found_ids(&app, &other_clerk, "").await.is_empty());
    // The co-department's reviewer does; so does oversight, which holds no department.
    assert_eq!(
        found_ids(&app, &cast.health_reviewer, &by_number).await,
        [id]
    );
    let supervisor = staff_member(&app, "s.supervisor", "supervisor", None).await;
    let observer = staff_member(&app, "s.observer", "observer", None).await;
    assert_eq!(found_ids(&app, &supervisor, &by_number).await, [id]);
    assert_eq!(found_ids(&app, &observer, "").await, [id]);
    app.stop().await;
}

/// A new case of `token`'s applicant, in pre-review: its id.
async fn new_case(app: &TestApp, token: &str) -> String {
    let materials = both_materials(app, token).await;
    let (status, case) = apply(app, token, &uuid::Uuid::new_v4().to_string(), materials).await;
    assert_eq!(status, 201, "{case}");
    case["id"].as_str().unwrap().to_owned()
}

/// Accepts case `id` as of `days_ago` days ago (work entered afterwards).
async fn accept_days_ago(app: &TestApp, cast: &Cast, id: &str, days_ago: i64) {
    let at = (app.now() - Duration::days(days_ago)).to_rfc3339();
    act(app, &cast.clerk, id, "accept", json!({"occurred_at": at})).await;
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

#[tokio::test]
async fn filters_narrow_by_stage_item_dates_and_deadline_and_pages_show_each_case_once() {
    let app = spawn_app().await;
    let cast = set_up(&app).await;
    let applicant = citizen(&app, "13900139302", "李四", ID_1).await;
    // Five cases, received in this order (today, by the app's clock).
    let fresh = new_case(&app, &applicant).await;
    let overdue = new_case(&app, &applicant).await;
    accept_days_ago(&app, &cast, &overdue, 28).await;
    let near = new_case(&app, &applicant).await;
    // Accepted Wednesday 4 November: its 10 working days end Wednesday 18 November.
    accept_days_ago(&app, &cast, &near, 12).await;
    let on_time = new_case(&app, &applicant).await;
    accept_days_ago(&app, &cast, &on_time, 0).await;
    let ended = new_case(&app, &applicant).await;
    accept_days_ago(&app, &cast, &ended, 10).await;
    let at = (app.now() - Duration::days(5)).to_rfc3339();
    act(
        &app,
        &cast.approver,
        &ended,
        "terminate",
        json!({"reason": "申请人书面申请终止办理", "occurred_at": at}),
    )
    .await;
    let all = [&fresh, &overdue, &near, &on_time, &ended].map(|s| s.to_owned());
    let clerk = &cast.clerk;
    let app_ref = &app;
    let find = move |query: String| async move { sorted(found_ids(app_ref, clerk, &query).await) };

    assert_eq!(find("stage=pre_review".into()).await, [fresh.as_str()]);
    assert_eq!(find("stage=terminated".into()).await, [ended.as_str()]);
    assert_eq!(
        find("stage=in_review".into()).await,
        sorted(vec![overdue.clone(), near.clone(), on_time.clone()])
    );
    assert_eq!(find(format!("item={ITEM}")).await, sorted(all.to_vec()));
    assert!(find("item=NO-SUCH-ITEM".into()).await.is_empty());

    let today = app.today();
    let day = |days: i64| (today + Duration::days(days)).to_string();
    assert_eq!(find(format!("received_from={}", day(0))).await.len(), 5);
    assert_eq!(
        find(format!("received_from={}&received_to={}", day(0), day(0)))
            .await
            .len(),
        5
    );
    assert!(find(format!("received_from={}", day(1))).await.is_empty());
    assert!(find(format!("received_to={}", day(-1))).await.is_empty());
    assert_eq!(
        find(format!("decided_from={}&decided_to={}", day(-6), day(-4))).await,
        [ended.as_str()]
    );
    assert!(find(format!("decided_to={}", day(-6))).await.is_empty());

    assert_eq!(find("deadline=overdue".into()).await, [overdue.as_str()]);
    let (_, page) = search_cases(&app, clerk, "deadline=near").await;
    assert_eq!(page["cases"].as_array().unwrap().len(), 1, "{page}");
    assert_eq!(page["cases"][0]["id"], near.as_str());
    assert_eq!(page["cases"][0]["deadline"]["working_days_left"], 2);
    assert_eq!(
        find(format!("deadline=overdue&stage=in_review&item={ITEM}")).await,
        [overdue.as_str()]
    );

    // Pages of two: every case once, newest received first, then no cursor.
    let mut seen = Vec::new();
    let mut pages = 0;
    let mut query = "limit=2".to_owned();
    loop {
        let (status, page) = search_cases(&app, clerk, &query).await;
        assert_eq!(status, 200, "{page}");
        pages += 1;
        let cases = page["cases"].as_array().unwrap();
        assert!(cases.len() <= 2, "{page}");
        seen.extend(cases.iter().map(|c| c["id"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(cursor) => query = format!("limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let mut newest_first = all.to_vec();
    newest_first.reverse();
    assert_eq!(seen, newest_first);
    // A filtered search pages the same way.
    let first = search_cases(&app, clerk, "stage=in_review&limit=1").await.1;
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = found_ids(
        &app,
        clerk,
        &format!("stage=in_review&limit=2&cursor={cursor}"),
    )
    .await;
    assert_eq!(second, [near.clone(), overdue.clone()]);
    assert_eq!(first["cases"][0]["id"], on_time.as_str());
    app.stop().await;
}

#[tokio::test]
async fn every_wrong_parameter_is_refused_by_name() {
    let app = spawn_app().await;
    let cases = [
        ("limit=0", 422, "out_of_range", "limit"),
        ("limit=101", 422, "out_of_range", "limit"),
        ("limit=many", 400, "invalid_parameter", "limit"),
        ("stage=closed", 422, "invalid_stage", "stage"),
        ("deadline=soon", 400, "invalid_parameter", "deadline"),
        (
            "received_from=2026-13-01",
            400,
            "invalid_parameter",
            "received_from",
        ),
        (
            "decided_from=2026-11-02&decided_to=2026-11-01",
            422,
            "date_range_reversed",
            "decided_to",
        ),
        ("cursor=not-ours", 400, "invalid_cursor", "cursor"),
        (
            "acceptance_number=12345",
            422,
            "acceptance_number_length",
            "acceptance_number",
        ),
        (
            "applicant_id_tail=123",
            422,
            "invalid_id_tail",
            "applicant_id_tail",
        ),
        (
            "applicant_id_tail=1234567",
            422,
            "invalid_id_tail",
            "applicant_id_tail",
        ),
        (
            "applicant_credit_code=91110108MA01T6X295",
            422,
            "invalid_credit_code",
            "applicant_credit_code",
        ),
        (
            "applicant_id_tail=002X&applicant_credit_code=91110108MA01T6X294",
            422,
            "search_applicant_twice",
            "applicant_credit_code",
        ),
        ("item=not%20a%20code", 422, "invalid_item_code", "item"),
    ];
    for (query, status, code, field) in cases {
        let response = app
            .with_token(
                Method::GET,
                &format!("/api/v1/staff/cases?{query}"),
                &app.admin_token,
            )
            .send()
            .await
            .unwrap();
        let problem = expect_problem(response, status, code).await;
        assert_eq!(problem["field"], field, "{query}: {problem}");
    }
    app.stop().await;
}

#[tokio::test]
async fn searches_by_a_persons_identifier_are_audited_with_the_identifier_masked() {
    let app = spawn_app().await;
    let cast = set_up(&app).await;
    let (_, case) = accepted_case(&app, &cast, "13900139303", ID_1).await;
    let id = case["id"].as_str().unwrap().to_owned();
    let number = case["acceptance_number"].as_str().unwrap();
    let enterprise = paper_window_case(
        &app,
        &cast.clerk,
        json!({"kind": "enterprise", "name": "大安示范食品有限公司", "id_number": CREDIT_CODE}),
    )
    .await;

    // Not a person's identifier: not audited.
    assert_eq!(
        found_ids(&app, &cast.clerk, &format!("acceptance_number={number}")).await,
        [id.as_str()]
    );
    assert!(staff_reads(&app).await.is_empty());

    let clerk = &cast.clerk;
    let tail = format!("applicant_id_tail={ID_1_TAIL}");
    assert_eq!(found_ids(&app, clerk, &tail).await, [id.as_str()]);
    assert_eq!(
        found_ids(&app, clerk, "applicant_id_tail=002x").await,
        [id.as_str()]
    );
    // The same last four, another sixth-from-last: the case's tail MAC tells them apart.
    assert!(
        found_ids(&app, clerk, "applicant_id_tail=41002X")
            .await
            .is_empty()
    );
    let code = format!("applicant_credit_code={CREDIT_CODE}");
    assert_eq!(found_ids(&app, clerk, &code).await, [enterprise.as_str()]);
    let other_code = "applicant_credit_code=91310115MA1H8W3R5G";
    assert!(found_ids(&app, clerk, other_code).await.is_empty());

    let reads = staff_reads(&app).await;
    let masked: Vec<&str> = reads
        .iter()
        .map(|(_, _, details)| details["applicant"]["masked"].as_str().unwrap())
        .collect();
    assert_eq!(
        masked,
        [
            "**002X",
            "002X",
            "**002X",
            "9111**********X294",
            "9131**********3R5G"
        ]
    );
    for (actor, action, details) in &reads {
        assert!(actor.starts_with("staff:"), "{actor}");
        assert_eq!(action, "case.search");
        let text = details.to_string();
        assert!(
            !text.contains(ID_1_TAIL) && !text.contains(CREDIT_CODE),
            "{text}"
        );
    }
    assert_eq!(reads[0].2["cases"], json!([id]));
    assert_eq!(reads[2].2["cases"], json!([]));
    assert_eq!(reads[3].2["cases"], json!([enterprise]));
    app.stop().await;
}

fn actions_of(reads: &[(String, String, Value)], staff_id: &str) -> Vec<String> {
    reads
        .iter()
        .filter(|(actor, _, _)| *actor == format!("staff:{staff_id}"))
        .map(|(_, action, _)| action.clone())
        .collect()
}

#[tokio::test]
async fn observers_read_cases_masked_and_audited_and_never_open_raw_materials() {
    let app = spawn_app().await;
    let cast = set_up(&app).await;
    let (_, case) = accepted_case(&app, &cast, "13900139304", ID_1).await;
    let id = case["id"].as_str().unwrap();
    let material = case["materials"][0]["id"].as_str().unwrap();
    let document = case["documents"][0]["id"].as_str().unwrap();
    let observer_id = create_staff(&app, "s.observer", "observer", None).await;
    let observer = log_in(&app, "s.observer").await;
    let supervisor_id = create_staff(&app, "s.supervisor", "supervisor", None).await;
    let supervisor = log_in(&app, "s.supervisor").await;
    let case_path = format!("/api/v1/staff/cases/{id}");
    let material_path = format!("{case_path}/materials/{material}");

    // The clerk sees the applicant and the form; the observer the case masked.
    let (status, seen) = call(&app, &cast.clerk, Method::GET, &case_path, json!(null)).await;
    assert_eq!(status, 200, "{seen}");
    assert_eq!(seen["applicant"]["name"], "李四");
    assert_eq!(seen["form"]["经营场所"], "大安市长虹路1号");
    let (status, seen) = call(&app, &observer, Method::GET, &case_path, json!(null)).await;
    assert_eq!(status, 200, "{seen}");
    assert_eq!(seen["applicant"]["name"], "李*");
    assert_eq!(seen["applicant"]["id_masked"], "1101**********002X");
    assert_eq!(seen["form"], json!({}));
    assert!(seen["materials"][0].get("file_name").is_none(), "{seen}");
    assert!(seen["materials"][0].get("file_id").is_none(), "{seen}");
    assert!(!seen["timeline"].as_array().unwrap().is_empty());
    assert_eq!(seen["deadline"]["overdue"], false);
    assert_eq!(seen["documents"][0]["id"], document);
    let text = seen.to_string();
    assert!(!text.contains("李四") && !text.contains("长虹路"), "{text}");

    // The raw material: refused to the observer, opened by the supervisor and the clerk.
    let response = app
        .with_token(Method::GET, &material_path, &observer)
        .send()
        .await
        .unwrap();
    let problem = expect_problem(response, 403, "raw_materials_not_for_oversight").await;
    assert!(
        problem["title"].as_str().unwrap().contains("观察员"),
        "{problem}"
    );
    for token in [&supervisor, &cast.clerk] {
        let response = app
            .with_token(Method::GET, &material_path, token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    // The documents issued are the observer's to read, and so is the search.
    let response = app
        .with_token(
            Method::GET,
            &format!("{case_path}/documents/{document}/pdf"),
            &observer,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(found_ids(&app, &observer, "").await, [id]);

    // Every observer read is audited; the supervisor's material too; the clerk's reads not.
    let reads = staff_reads(&app).await;
    assert_eq!(
        actions_of(&reads, &observer_id),
        ["case.view", "case.document", "case.search"]
    );
    assert_eq!(actions_of(&reads, &supervisor_id), ["case.material"]);
    assert_eq!(reads.len(), 4, "{reads:?}");
    assert_eq!(reads[0].2["case_id"], id);
    app.stop().await;
}
