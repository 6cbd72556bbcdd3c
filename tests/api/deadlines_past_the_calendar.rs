//! Deadlines past the published calendar: provisional days, cases still overdue with their
//! counts whatever today is, a corrected year recomputing every open case and telling people
//! whose date moved, and steps entered afterwards counting from when they happened.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::fixtures::{
    ID_1, ID_2, act, applicant_with_case, call, kinds, my_case, paper_window_case, set_up,
};
use crate::support::{TestApp, restart_at, spawn_app_at};

/// Monday 2026-12-21: a 10-working-day case accepted today runs into 2027, not yet published.
const DECEMBER: &str = "2026-12-21T10:00:00+08:00";
/// Monday 2027-01-04, with 2027 still not loaded.
const NEW_YEAR: &str = "2027-01-04T10:00:00+08:00";

fn deadline(case: &Value) -> &Value {
    &case["deadline"]
}

async fn notifications(app: &TestApp, template: &str) -> Vec<(String, Value)> {
    app.db()
        .await
        .query(
            "SELECT coalesce(owner, phone), variables FROM notification WHERE template_key = $1 ORDER BY created_at",
            &[&template],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

#[tokio::test]
async fn deadlines_run_on_provisionally_past_the_calendar_and_move_once_the_year_is_loaded() {
    let app = spawn_app_at(DECEMBER).await;
    let cast = set_up(&app).await;

    // A: accepted today. 10 working days: 12-22..12-25, 12-28..12-31, then Friday 1/1 and
    // Monday 1/4, provisionally.
    let (token, case) = applicant_with_case(&app, "13900139101", ID_1).await;
    let a = case["id"].as_str().unwrap().to_owned();
    let accepted = act(&app, &cast.clerk, &a, "accept", json!({})).await;
    assert_eq!(deadline(&accepted)["deadline"], "2027-01-04", "{accepted}");
    assert_eq!(deadline(&accepted)["provisional"], true);
    let basis = deadline(&accepted)["provisional_basis"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(basis.contains("2027年节假日安排尚未公布"), "{basis}");
    // The acceptance SMS says the date and its basis: never a missing date.
    let sent = notifications(&app, "case.accepted").await;
    let variables = &sent.last().unwrap().1;
    assert_eq!(variables["deadline"], "2027年01月04日");
    assert!(
        variables["deadline_basis"]
            .as_str()
            .unwrap()
            .contains("暂按周一至周五"),
        "{variables}"
    );

    // B: a window case accepted on 2026-12-01 and entered today (事后补录): the deadline counts
    // from 12-01 (due 12-15), so it is overdue already.
    let b = paper_window_case(
        &app,
        &cast.clerk,
        json!({"kind": "citizen", "name": "吴十", "id_number": ID_2, "phone": "13900139102"}),
    )
    .await;
    let backfilled = act(
        &app,
        &cast.clerk,
        &b,
        "accept",
        json!({"occurred_at": "2026-12-01T10:00:00+08:00"}),
    )
    .await;
    assert_eq!(backfilled["accepted_on"], "2026-12-01", "{backfilled}");
    assert_eq!(deadline(&backfilled)["deadline"], "2026-12-15");
    assert_eq!(deadline(&backfilled)["overdue"], true);
    assert_eq!(deadline(&backfilled)["working_days_left"], -4);
    let occurred = backfilled["backfilled"]["occurred_at"].as_str().unwrap();
    assert_eq!(
        chrono::DateTime::parse_from_rfc3339(occurred).unwrap(),
        crate::support::instant("2026-12-01T10:00:00+08:00"),
        "{backfilled}"
    );
    assert!(
        backfilled["backfilled"]["recorded_at"]
            .as_str()
            .unwrap()
            .starts_with("2026-12-21")
    );
    let gap: i32 = app
        .db()
        .await
        .query_one(
            "SELECT gap_working_days FROM case_backfill WHERE case_id = $1::text::uuid AND kind = 'accepted'",
            &[&b],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(gap, 14, "12-02..12-21 are 14 working days");

    // The new year comes and 2027 is still not published: every open case keeps a deadline.
    let app = restart_at(app.stop_keeping_data().await, NEW_YEAR).await;
    let (status, a_now) = my_case(&app, &token, &a).await;
    assert_eq!(status, 200);
    assert_eq!(deadline(&a_now)["deadline"], "2027-01-04");
    assert_eq!(deadline(&a_now)["overdue"], false);
    assert_eq!(deadline(&a_now)["working_days_left"], 0);
    let inbox = inbox_of(&app, &cast.reviewer).await;
    let entries = inbox["entries"].as_array().unwrap();
    assert!(!entries.is_empty());
    for entry in entries {
        assert!(entry["case"]["deadline"]["deadline"].is_string(), "{entry}");
    }
    let clerk_inbox = inbox_of(&app, &cast.clerk).await;
    let b_now = clerk_inbox["entries"]
        .as_array()
        .unwrap()
        .iter()
        .chain(entries)
        .find(|e| e["case"]["id"] == b.as_str())
        .map(|e| e["case"].clone())
        .unwrap_or_else(|| panic!("case B in no inbox: {clerk_inbox} {inbox}"));
    // Overdue since 12-15: 12-16..12-31 (12) and Friday 1/1, Monday 1/4 provisionally.
    assert_eq!(deadline(&b_now)["overdue"], true, "{b_now}");
    assert_eq!(deadline(&b_now)["working_days_left"], -14);
    assert_eq!(deadline(&b_now)["provisional"], true);

    // The State Council publishes 2027: New Year's Day off. A's deadline moves to Tuesday 1/5;
    // B's does not (its overdue count does).
    let notice = json!({
        "year": 2027,
        "source": "国务院办公厅关于2027年部分节假日安排的通知（测试数据）",
        "document_number": "测试〔2026〕1号",
        "notice_date": "2026-12-20",
        "days_off": [{"date": "2027-01-01", "note": "元旦"}],
        "adjusted_working_days": []
    });
    let (status, body) = app
        .admin_json(Method::PUT, "/api/v1/admin/calendar/2027", &notice)
        .await;
    assert_eq!(status, 201, "{body}");
    let a_moved = wait_for_event(&app, &token, &a, "deadline_recomputed").await;
    assert_eq!(deadline(&a_moved)["deadline"], "2027-01-05");
    assert_eq!(deadline(&a_moved)["provisional"], false);
    let event = a_moved["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "deadline_recomputed")
        .unwrap();
    assert_eq!(event["details"]["old_deadline"], "2027-01-04");
    assert_eq!(event["details"]["new_deadline"], "2027-01-05");
    // Told once: the applicant, and the reviewers the case waits on.
    let told = notifications(&app, "case.deadline_recomputed").await;
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0].1["new_deadline"], "2027年01月05日");
    let staff_told = notifications(&app, "staff.deadline_recomputed").await;
    assert!(!staff_told.is_empty());
    assert!(
        staff_told
            .iter()
            .all(|(owner, _)| owner.starts_with("staff:")),
        "{staff_told:?}"
    );
    // B's deadline did not move: no event, no notice.
    let clerk_view = act_view(&app, &cast.clerk, &b).await;
    assert!(!kinds(&clerk_view).contains(&"deadline_recomputed".to_owned()));

    // Loading the same days again moves nothing and tells nobody twice.
    let (status, body) = app
        .admin_json(Method::PUT, "/api/v1/admin/calendar/2027", &notice)
        .await;
    assert_eq!((status, &body["version"]), (200, &json!(2)), "{body}");
    wait_for_job(&app, 2).await;
    assert_eq!(
        notifications(&app, "case.deadline_recomputed").await.len(),
        1
    );
    app.stop().await;
}

/// A staff member's inbox.
async fn inbox_of(app: &TestApp, token: &str) -> Value {
    let (status, inbox) = call(app, token, Method::GET, "/api/v1/staff/inbox", json!(null)).await;
    assert_eq!(status, 200, "{inbox}");
    inbox
}

/// The staff view of a case.
async fn act_view(app: &TestApp, token: &str, id: &str) -> Value {
    let (status, case) = call(
        app,
        token,
        Method::GET,
        &format!("/api/v1/staff/cases/{id}"),
        json!(null),
    )
    .await;
    assert_eq!(status, 200, "{case}");
    case
}

async fn wait_for_event(app: &TestApp, token: &str, id: &str, kind: &str) -> Value {
    for _ in 0..400 {
        let (_, case) = my_case(app, token, id).await;
        if kinds(&case).iter().any(|k| k == kind) {
            return case;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("no {kind} event on case {id}");
}

async fn wait_for_job(app: &TestApp, version: i32) {
    let db = app.db().await;
    for _ in 0..400 {
        let done: bool = db
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM calendar_recompute_job
                                 WHERE year = 2027 AND version = $1 AND finished_at IS NOT NULL)",
                &[&version],
            )
            .await
            .unwrap()
            .get(0);
        if done {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("the recompute of 2027 v{version} did not finish");
}

#[tokio::test]
async fn a_recompute_cut_off_by_a_crash_resumes_after_the_last_case_it_committed() {
    let app = spawn_app_at(DECEMBER).await;
    let cast = set_up(&app).await;
    let mut ids = Vec::new();
    for (phone, id) in [
        ("13900139111", ID_1),
        ("13900139112", ID_2),
        ("13900139113", "110105198001010016"),
    ] {
        let (_, case) = applicant_with_case(&app, phone, id).await;
        let id = case["id"].as_str().unwrap().to_owned();
        act(&app, &cast.clerk, &id, "accept", json!({})).await;
        ids.push(id);
    }
    ids.sort();
    let (database, data_dir) = app.stop_keeping_data().await;
    // What a crash leaves: 2027 loaded (New Year's Day off) and its job's first batch committed
    // up to the first case, the process gone before the rest.
    {
        let (client, connection) =
            tokio_postgres::connect(&database.connection_string, tokio_postgres::NoTls)
                .await
                .unwrap();
        tokio::spawn(connection);
        client
            .batch_execute(
                "INSERT INTO calendar_year (year, source, document_number, notice_date, version)
                     VALUES (2027, '测试通知', '测试〔2026〕2号', '2026-12-20', 1);
                 INSERT INTO calendar_day (day, year, kind, note)
                     VALUES ('2027-01-01', 2027, 'day_off', '元旦');
                 INSERT INTO calendar_year_version (year, version, source, days, loaded_by)
                     VALUES (2027, 1, '测试通知',
                             '[{\"date\": \"2027-01-01\", \"kind\": \"day_off\", \"note\": \"元旦\"}]',
                             'test');",
            )
            .await
            .unwrap();
        client
            .execute(
                "INSERT INTO calendar_recompute_job (year, version, after_case, cases_seen)
                 VALUES (2027, 1, $1::text::uuid, 1)",
                &[&ids[0]],
            )
            .await
            .unwrap();
    }
    // The next start resumes: the two cases after the cursor are recomputed, the first is not.
    let app = restart_at((database, data_dir), DECEMBER).await;
    let db = app.db().await;
    let mut finished = None;
    for _ in 0..400 {
        let row = db
            .query_one(
                "SELECT finished_at IS NOT NULL, cases_seen, cases_moved FROM calendar_recompute_job
                  WHERE year = 2027 AND version = 1",
                &[],
            )
            .await
            .unwrap();
        if row.get::<_, bool>(0) {
            finished = Some((row.get::<_, i32>(1), row.get::<_, i32>(2)));
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(
        finished,
        Some((3, 2)),
        "seen 1 before the crash and 2 after; 2 moved"
    );
    let events: Vec<String> = db
        .query(
            "SELECT case_id::text FROM case_event WHERE kind = 'deadline_recomputed' ORDER BY case_id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(events, ids[1..].to_vec());
    assert_eq!(
        notifications(&app, "case.deadline_recomputed").await.len(),
        2
    );
    app.stop().await;
}
