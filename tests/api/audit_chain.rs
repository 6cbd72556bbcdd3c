//! The audit log against a real database: append, concurrency, checkpoints and every kind of
//! tampering `verify` must find.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio_postgres::{Client, Config, NoTls};

use fingertip::audit::*;

use crate::support::db::{TestDatabase, fresh_database};

struct TestDb {
    config: Config,
    /// Kept so the database lives as long as the test uses it.
    _database: TestDatabase,
}

impl TestDb {
    /// A fresh database (cloned from the migrated template, so it has the audit schema).
    async fn create(_label: &str) -> Option<TestDb> {
        let database = fresh_database().await;
        Some(TestDb {
            config: Config::from_str(&database.connection_string).unwrap(),
            _database: database,
        })
    }

    async fn connect(&self) -> Client {
        connect(&self.config).await
    }

    /// The database is dropped in the background once this is gone (see `support::db`).
    async fn drop(self) {}
}

async fn connect(config: &Config) -> Client {
    let (client, connection) = config.connect(NoTls).await.unwrap();
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

async fn append_one(
    client: &mut Client,
    aggregate_type: &str,
    aggregate_id: &str,
    action: &str,
    after: Option<&Value>,
) -> AuditReceipt {
    let tx = client.transaction().await.unwrap();
    let receipt = append(
        &tx,
        AuditEntry {
            aggregate_type,
            aggregate_id,
            actor: "admin-token",
            action,
            before: None,
            after,
            details: json!({"note": action}),
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    receipt
}

/// item/a: 3 records, department/b: 1 record.
async fn seed(client: &mut Client) {
    for action in ["item.create", "item.update", "item.publish"] {
        append_one(client, "item", "a", action, Some(&json!({"v": action}))).await;
    }
    append_one(client, "department", "b", "department.create", None).await;
}

async fn tamper(client: &Client, sql: &str) {
    client
        .batch_execute(&format!(
            "ALTER TABLE audit_record DISABLE TRIGGER USER; \
             ALTER TABLE audit_checkpoint DISABLE TRIGGER USER; \
             ALTER TABLE audit_checkpoint_head DISABLE TRIGGER USER; \
             {sql}; \
             ALTER TABLE audit_record ENABLE TRIGGER USER; \
             ALTER TABLE audit_checkpoint ENABLE TRIGGER USER; \
             ALTER TABLE audit_checkpoint_head ENABLE TRIGGER USER;"
        ))
        .await
        .unwrap();
}

async fn problem(client: &Client, signer: &AuditSigner) -> AuditProblem {
    let report = verify(client, signer.public_key()).await.unwrap();
    let problem = report.first_problem.expect("verify should find a problem");
    println!("detected: {problem}");
    problem
}

#[tokio::test]
async fn appends_chain_and_verify() {
    let Some(db) = TestDb::create("basic").await else {
        return;
    };
    let mut client = db.connect().await;
    let signer = AuditSigner::generate().unwrap();

    let before = json!({"title": "Passport", "fee": 100.0});
    let after = json!({"fee": 120.5, "title": "Passport", "tags": ["b", "a"]});
    let tx = client.transaction().await.unwrap();
    let first = append(
        &tx,
        AuditEntry {
            aggregate_type: "item",
            aggregate_id: "a",
            actor: "admin-token",
            action: "item.create",
            before: None,
            after: Some(&before),
            // Numbers that jsonb normalises: the hash must cover the stored form.
            details: json!({"n": 100.0, "z": -0.0, "big": 1e20, "small": 1.5e-7, "s": "ü\n"}),
        },
    )
    .await
    .unwrap();
    let second = append(
        &tx,
        AuditEntry {
            aggregate_type: "item",
            aggregate_id: "a",
            actor: "admin-token",
            action: "item.update",
            before: Some(&before),
            after: Some(&after),
            details: json!({}),
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let third = append_one(&mut client, "department", "b", "department.create", None).await;
    assert_eq!((first.seq, second.seq, third.seq), (1, 2, 1));

    let records = history(&client, "item", "a").await.unwrap();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0].prev_hash, GENESIS_HASH);
    assert_eq!(records[0].hash, first.hash);
    assert_eq!(records[1].prev_hash, first.hash);
    assert_eq!(
        records[1].before_digest.as_deref(),
        Some(digest_json(&before).as_str())
    );
    assert_eq!(
        records[1].after_digest.as_deref(),
        Some(digest_json(&after).as_str())
    );
    assert!(records.iter().all(|r| r.computed_hash() == r.hash));
    serde_json::to_string(&records).unwrap();

    // A rolled-back append leaves no trace, not even a new aggregate's head.
    let tx = client.transaction().await.unwrap();
    append(
        &tx,
        AuditEntry {
            aggregate_type: "item",
            aggregate_id: "never",
            actor: "x",
            action: "item.create",
            before: None,
            after: None,
            details: json!({}),
        },
    )
    .await
    .unwrap();
    tx.rollback().await.unwrap();
    assert!(history(&client, "item", "never").await.unwrap().is_empty());

    let report = verify(&client, signer.public_key()).await.unwrap();
    assert_eq!(
        report,
        VerifyReport {
            records_checked: 3,
            chains_checked: 2,
            checkpoints_checked: 0,
            first_problem: None
        }
    );

    let cp1 = checkpoint(&client, &signer).await.unwrap();
    assert!(cp1.is_some());
    assert_eq!(
        checkpoint(&client, &signer).await.unwrap(),
        None,
        "unchanged heads"
    );
    append_one(&mut client, "item", "a", "item.publish", None).await;
    let cp2 = checkpoint(&client, &signer).await.unwrap();
    assert!(cp2 > cp1);

    let report = verify(&client, signer.public_key()).await.unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!((report.records_checked, report.checkpoints_checked), (4, 2));
    assert_eq!(
        report.to_string(),
        "audit log intact: verified 4 records in 2 chains, 2 signed checkpoints"
    );
    // The client is usable afterwards (verify's transaction ended).
    client.batch_execute("SELECT 1").await.unwrap();

    // A key other than the trusted one fails every checkpoint.
    let stranger = AuditSigner::generate().unwrap();
    let report = verify(&client, stranger.public_key()).await.unwrap();
    assert!(matches!(
        report.first_problem,
        Some(AuditProblem::BadSignature {
            other_key: true,
            ..
        })
    ));
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_appends_have_no_gaps_and_checkpoints_do_not_fork() {
    let Some(db) = TestDb::create("concurrent").await else {
        return;
    };
    const TASKS: i64 = 8;
    const EACH: i64 = 15;
    let signer = Arc::new(AuditSigner::generate().unwrap());
    let mut appenders = Vec::new();
    for t in 0..TASKS {
        let mut client = db.connect().await;
        appenders.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for i in 0..EACH {
                // All tasks race to create the same aggregate's first record.
                let r = append_one(&mut client, "case", "shared", &format!("t{t}.{i}"), None).await;
                seqs.push(r.seq);
                // And each also writes its own aggregate in the same transaction pattern.
                append_one(&mut client, "case", &format!("own-{t}"), "x", None).await;
            }
            seqs
        }));
    }
    let mut checkpointers = Vec::new();
    for _ in 0..3 {
        let client = db.connect().await;
        let signer = signer.clone();
        checkpointers.push(tokio::spawn(async move {
            let mut made = 0;
            for _ in 0..20 {
                if checkpoint(&client, &signer).await.unwrap().is_some() {
                    made += 1;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            made
        }));
    }
    let mut seqs = Vec::new();
    for a in appenders {
        seqs.extend(a.await.unwrap());
    }
    let mut made = 0;
    for c in checkpointers {
        made += c.await.unwrap();
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=TASKS * EACH).collect::<Vec<_>>());

    let client = db.connect().await;
    checkpoint(&client, &signer).await.unwrap();
    let report = verify(&client, signer.public_key()).await.unwrap();
    assert!(report.is_ok(), "{:?}", report.first_problem);
    assert_eq!(report.records_checked as i64, 2 * TASKS * EACH);
    assert_eq!(report.chains_checked as i64, 1 + TASKS);
    println!("{made} concurrent checkpoints, report {report:?}");
    db.drop().await;
}

#[tokio::test]
async fn detects_an_edited_record() {
    let Some(db) = TestDb::create("edit").await else {
        return;
    };
    let mut client = db.connect().await;
    let signer = AuditSigner::generate().unwrap();
    seed(&mut client).await;
    checkpoint(&client, &signer).await.unwrap();
    tamper(
        &client,
        "UPDATE audit_record SET action = 'item.delete' WHERE aggregate_id = 'a' AND seq = 2",
    )
    .await;
    assert_eq!(
        problem(&client, &signer).await,
        AuditProblem::HashMismatch {
            aggregate_type: "item".into(),
            aggregate_id: "a".into(),
            seq: 2
        }
    );
    db.drop().await;
}

#[tokio::test]
async fn detects_a_deleted_middle_record() {
    let Some(db) = TestDb::create("middle").await else {
        return;
    };
    let mut client = db.connect().await;
    let signer = AuditSigner::generate().unwrap();
    seed(&mut client).await;
    tamper(
        &client,
        "DELETE FROM audit_record WHERE aggregate_id = 'a' AND seq = 2",
    )
    .await;
    assert_eq!(
        problem(&client, &signer).await,
        AuditProblem::SeqGap {
            aggregate_type: "item".into(),
            aggregate_id: "a".into(),
            expected_seq: 2,
            found_seq: 3
        }
    );
    db.drop().await;
}

#[tokio::test]
async fn detects_a_truncated_chain() {
    let Some(db) = TestDb::create("truncate").await else {
        return;
    };
    let mut client = db.connect().await;
    let signer = AuditSigner::generate().unwrap();
    seed(&mut client).await;
    let cp = checkpoint(&client, &signer).await.unwrap().unwrap();

    tamper(
        &client,
        "DELETE FROM audit_record WHERE aggregate_id = 'a' AND seq = 3",
    )
    .await;
    assert_eq!(
        problem(&client, &signer).await,
        AuditProblem::HeadMismatch {
            aggregate_type: "item".into(),
            aggregate_id: "a".into(),
            last_seq: 2,
            head_seq: Some(3)
        }
    );

    // Cover the tracks in the head too: now only the signed checkpoint tells.
    client
        .batch_execute(
            "UPDATE audit_chain_head h SET seq = r.seq, hash = r.hash FROM audit_record r \
             WHERE h.aggregate_id = 'a' AND r.aggregate_id = 'a' AND r.seq = 2",
        )
        .await
        .unwrap();
    assert_eq!(
        problem(&client, &signer).await,
        AuditProblem::CheckpointHeadMismatch {
            checkpoint_id: cp,
            aggregate_type: "item".into(),
            aggregate_id: "a".into(),
            seq: 3,
            record_missing: true
        }
    );
    db.drop().await;
}

#[tokio::test]
async fn detects_a_deleted_chain() {
    let Some(db) = TestDb::create("chain").await else {
        return;
    };
    let mut client = db.connect().await;
    let signer = AuditSigner::generate().unwrap();
    seed(&mut client).await;
    let cp = checkpoint(&client, &signer).await.unwrap().unwrap();

    tamper(&client, "DELETE FROM audit_record WHERE aggregate_id = 'a'").await;
    assert_eq!(
        problem(&client, &signer).await,
        AuditProblem::MissingChain {
            aggregate_type: "item".into(),
            aggregate_id: "a".into(),
            seq: 3,
            checkpoint_id: None
        }
    );
    client
        .batch_execute("DELETE FROM audit_chain_head WHERE aggregate_id = 'a'")
        .await
        .unwrap();
    let report = verify(&client, signer.public_key()).await.unwrap();
    assert_eq!((report.records_checked, report.chains_checked), (1, 1));
    assert_eq!(
        report.first_problem,
        Some(AuditProblem::MissingChain {
            aggregate_type: "item".into(),
            aggregate_id: "a".into(),
            seq: 3,
            checkpoint_id: Some(cp)
        })
    );
    db.drop().await;
}

#[tokio::test]
async fn detects_forged_and_altered_checkpoints() {
    let Some(db) = TestDb::create("forge").await else {
        return;
    };
    let mut client = db.connect().await;
    let signer = AuditSigner::generate().unwrap();
    seed(&mut client).await;
    let cp1 = checkpoint(&client, &signer).await.unwrap().unwrap();
    append_one(&mut client, "item", "c", "item.create", None).await;
    let cp2 = checkpoint(&client, &signer).await.unwrap().unwrap();
    assert!(verify(&client, signer.public_key()).await.unwrap().is_ok());

    // Someone with database access rewrites history and re-signs with their own key.
    let attacker = AuditSigner::generate().unwrap();
    append_one(&mut client, "item", "d", "item.create", None).await;
    let cp3 = checkpoint(&client, &attacker).await.unwrap().unwrap();
    assert_eq!(
        problem(&client, &signer).await,
        AuditProblem::BadSignature {
            checkpoint_id: cp3,
            other_key: true
        }
    );
    tamper(
        &client,
        &format!(
            "DELETE FROM audit_checkpoint_head WHERE checkpoint_id = {cp3}; \
             DELETE FROM audit_checkpoint WHERE id = {cp3}"
        ),
    )
    .await;

    // A forged signature that claims the trusted key.
    let row = client
        .query_one(
            "SELECT signature FROM audit_checkpoint WHERE id = $1",
            &[&cp2],
        )
        .await
        .unwrap();
    let original: String = row.get(0);
    let forged = hex::encode(attacker.sign(b"anything"));
    tamper(
        &client,
        &format!("UPDATE audit_checkpoint SET signature = '{forged}' WHERE id = {cp2}"),
    )
    .await;
    assert_eq!(
        problem(&client, &signer).await,
        AuditProblem::BadSignature {
            checkpoint_id: cp2,
            other_key: false
        }
    );
    tamper(
        &client,
        &format!("UPDATE audit_checkpoint SET signature = '{original}' WHERE id = {cp2}"),
    )
    .await;
    assert!(verify(&client, signer.public_key()).await.unwrap().is_ok());

    // Hiding a chain from a checkpoint's head list breaks its digest.
    tamper(
        &client,
        &format!(
            "DELETE FROM audit_checkpoint_head WHERE checkpoint_id = {cp1} AND aggregate_id = 'b'"
        ),
    )
    .await;
    assert_eq!(
        problem(&client, &signer).await,
        AuditProblem::CheckpointDigestMismatch { checkpoint_id: cp1 }
    );

    // Dropping the first checkpoint breaks the checkpoint chain.
    tamper(
        &client,
        &format!(
            "DELETE FROM audit_checkpoint_head WHERE checkpoint_id = {cp1}; \
             DELETE FROM audit_checkpoint WHERE id = {cp1}"
        ),
    )
    .await;
    assert_eq!(
        problem(&client, &signer).await,
        AuditProblem::BrokenCheckpointLink {
            checkpoint_id: cp2,
            previous_id: None
        }
    );
    db.drop().await;
}

#[tokio::test]
async fn append_only_triggers_refuse_changes() {
    let Some(db) = TestDb::create("triggers").await else {
        return;
    };
    let mut client = db.connect().await;
    seed(&mut client).await;
    let err = client
        .batch_execute("UPDATE audit_record SET actor = 'x'")
        .await
        .unwrap_err();
    assert!(format!("{err:?}").contains("append-only"), "{err:?}");
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpointer_runs_and_stops_promptly() {
    let Some(db) = TestDb::create("task").await else {
        return;
    };
    let mut client = db.connect().await;
    seed(&mut client).await;
    let manager = deadpool_postgres::Manager::from_config(
        db.config.clone(),
        NoTls,
        deadpool_postgres::ManagerConfig {
            recycling_method: deadpool_postgres::RecyclingMethod::Fast,
        },
    );
    let pool = deadpool_postgres::Pool::builder(manager)
        .max_size(2)
        .build()
        .unwrap();
    let signer = Arc::new(AuditSigner::generate().unwrap());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let handle = spawn_checkpointer(pool, signer.clone(), Duration::from_millis(20), stopped);

    let mut count = 0i64;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        count = client
            .query_one("SELECT count(*) FROM audit_checkpoint", &[])
            .await
            .unwrap()
            .get(0);
        if count >= 1 {
            break;
        }
    }
    assert_eq!(count, 1);
    append_one(&mut client, "item", "z", "item.create", None).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(2), handle)
        .await
        .expect("checkpointer should stop promptly")
        .unwrap();
    let report = verify(&client, signer.public_key()).await.unwrap();
    assert!(report.is_ok());
    assert_eq!(
        report.checkpoints_checked, 2,
        "one per change, none while unchanged"
    );
    db.drop().await;
}

/// A new case's first audit record is hashed by the statement that stores it, over the
/// database's clock: the SQL must give `record_hash`'s bytes exactly, whatever the timestamp
/// (a whole second, a single microsecond, a date before the epoch's tenth anniversary).
#[tokio::test]
async fn the_hash_taken_at_the_database_clock_is_record_hash() {
    let db = TestDb::create("hash_sql").await.unwrap();
    let client = db.connect().await;
    let details = json!({"item": "ITEM-1", "materials": 3, "agent": null, "note": "申请 \"x\""});
    let after = json!({"stage": "pre_review"});
    let entry = AuditEntry {
        aggregate_type: "case",
        aggregate_id: "0b7f6e0a-3d1c-4c55-9f7a-2f7d1c9f0e11",
        actor: "citizen:42",
        action: "case.submit",
        before: None,
        after: Some(&after),
        details: details.clone(),
    };
    let first = chain::FirstRecord::of(&entry);
    let sql = format!(
        "SELECT {}",
        chain::hash_at_database_clock_sql("$1::bytea", "$2::timestamptz", "$3::bytea")
    );
    for at in [
        "2026-11-23T02:41:07.123456Z",
        "2026-02-17T00:00:00Z",
        "2026-10-01T23:59:59.000001Z",
        "1979-05-04T12:00:00.5Z",
    ] {
        let at = chrono::DateTime::parse_from_rfc3339(at)
            .unwrap()
            .with_timezone(&chrono::Utc);
        let in_sql: String = client
            .query_one(
                &sql,
                &[&first.message_before_time, &at, &first.message_after_time],
            )
            .await
            .unwrap()
            .get(0);
        let in_rust = record_hash(&RecordFields {
            prev_hash: GENESIS_HASH,
            aggregate_type: entry.aggregate_type,
            aggregate_id: entry.aggregate_id,
            seq: 1,
            actor: entry.actor,
            action: entry.action,
            recorded_at: at,
            before_digest: first.before_digest.as_deref(),
            after_digest: first.after_digest.as_deref(),
            details: &details,
        });
        assert_eq!(in_sql, in_rust, "at {at}");
    }
    db.drop().await;
}
