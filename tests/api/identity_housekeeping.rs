//! Identity housekeeping: login challenges, codes, login failures and e-mail codes are deleted
//! once no limit or login needs them.

use crate::support::spawn_app;

#[tokio::test]
async fn housekeeping_deletes_what_the_limits_and_logins_no_longer_need() {
    let app = spawn_app().await;
    let db = app.db().await;
    let config: tokio_postgres::Config = app.database.connection_string.parse().unwrap();
    let pool = fingertip::db::pool_for(config, 2).unwrap();
    // The app runs housekeeping once at start-up: wait until that run has let go of the lock,
    // so that it neither holds it during the run below nor deletes the rows inserted next.
    for _ in 0..100 {
        if fingertip::identity::housekeeping::run_once(&pool)
            .await
            .unwrap()
            .is_some()
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    db.batch_execute(
        "INSERT INTO login_challenge (challenge_hash, expires_at) VALUES
            ('\\x01', now() - interval '2 hours'), ('\\x02', now() + interval '5 minutes');
         INSERT INTO otp_code (id, phone, purpose, code_hash, expires_at, created_at) VALUES
            (gen_random_uuid(), '13800000009', 'login', '\\x00', now() - interval '3 days', now() - interval '3 days'),
            (gen_random_uuid(), '13800000009', 'login', '\\x00', now(), now() - interval '20 hours');
         INSERT INTO login_failure (client_ip, at) VALUES ('192.0.2.1', now() - interval '3 hours'), ('192.0.2.1', now());
         INSERT INTO owner_email_code (id, owner, address, code_hash, expires_at, created_at) VALUES
            (gen_random_uuid(), 'citizen:00000000-0000-0000-0000-000000000001', 'a@example.cn', '\\x00', now() - interval '3 days', now() - interval '3 days'),
            (gen_random_uuid(), 'citizen:00000000-0000-0000-0000-000000000001', 'a@example.cn', '\\x00', now(), now() - interval '20 hours');",
    )
    .await
    .unwrap();
    let deleted = fingertip::identity::housekeeping::run_once(&pool)
        .await
        .unwrap();
    assert_eq!(deleted, Some(4));
    let left: i64 = db
        .query_one(
            "SELECT (SELECT count(*) FROM login_challenge) + (SELECT count(*) FROM otp_code)
                  + (SELECT count(*) FROM login_failure) + (SELECT count(*) FROM owner_email_code)",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 4, "the rows still inside their windows stay");
    app.stop().await;
}
