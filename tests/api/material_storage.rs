//! Where uploaded bytes are kept: small files with their row in the database, larger ones in the
//! blob store; uploads arriving together share group inserts, and a refused batch is retried row
//! by row.

use reqwest::Method;

use crate::support::fixtures::material_files::*;
use crate::support::fixtures::{ID_1, ID_2};
use crate::support::{TestApp, spawn_app};

/// Whether the blob store on disk holds `bytes`.
async fn in_blob_store(app: &TestApp, bytes: &[u8]) -> bool {
    use fingertip::blobs::{BlobStore, FileBlobStore};
    let store = FileBlobStore::new(app.config.data_dir.join("blobs"));
    store.get(&sha256_hex(bytes)).await.unwrap().is_some()
}

/// The bytes `material_bytes` keeps under the SHA-256 of `bytes`.
async fn kept_bytes(app: &TestApp, bytes: &[u8]) -> Option<Vec<u8>> {
    app.db()
        .await
        .query_opt(
            "SELECT bytes FROM material_bytes WHERE sha256 = $1",
            &[&sha256_hex(bytes)],
        )
        .await
        .unwrap()
        .map(|row| row.get(0))
}

/// A small file's bytes are kept in the database, written by the statement that writes its row
/// (one commit makes both durable); a larger file's go to the blob store on disk, made durable
/// before its row. Both come back intact, and no row of a small file
/// ever lacks its bytes. (Staff download a case's kept materials in `case_journey.rs`.)
#[tokio::test]
async fn small_files_keep_their_bytes_with_their_row_and_larger_ones_go_to_the_blob_store() {
    use fingertip::cases::files::KEPT_IN_DATABASE_UP_TO;
    let app = spawn_app().await;
    let zhang = citizen(&app, "13811112009", "张三", ID_1).await;
    let li = citizen(&app, "13811112010", "李四", ID_2).await;
    let small = pdf_of_size(KEPT_IN_DATABASE_UP_TO);
    let large = pdf_of_size(KEPT_IN_DATABASE_UP_TO + 1);
    let mut ids = Vec::new();
    for bytes in [&small, &large] {
        let (status, file) =
            json_of(upload(&app, &zhang, "application/pdf", None, bytes).await).await;
        assert_eq!(status, 201, "{file}");
        ids.push(file["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        kept_bytes(&app, &small).await.as_deref(),
        Some(small.as_slice())
    );
    assert!(
        !in_blob_store(&app, &small).await,
        "a small file is not written to the blob store"
    );
    assert_eq!(kept_bytes(&app, &large).await, None);
    assert!(
        in_blob_store(&app, &large).await,
        "a larger file is in the blob store"
    );

    // Another owner's same small bytes: a file of their own, the bytes kept once.
    let (status, file) = json_of(upload(&app, &li, "application/pdf", None, &small).await).await;
    assert_eq!(status, 201, "{file}");
    let copies: i64 = app
        .db()
        .await
        .query_one("SELECT count(*) FROM material_bytes", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(copies, 1);

    for (id, bytes) in ids.iter().zip([&small, &large]) {
        let response = app
            .with_token(Method::GET, &format!("/api/v1/me/files/{id}"), &zhang.token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.bytes().await.unwrap().as_ref(), bytes.as_slice());
    }
    let lacking: i64 = app
        .db()
        .await
        .query_one(
            "SELECT count(*) FROM material_file f
             WHERE f.size_bytes <= $1
               AND NOT EXISTS (SELECT 1 FROM material_bytes b WHERE b.sha256 = f.sha256)",
            &[&(KEPT_IN_DATABASE_UP_TO as i64)],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(lacking, 0, "every small file's row has its bytes");
    app.stop().await;
}

/// Uploads arriving together go into the database in shared statements (a group insert): each
/// still gets its own row, the same bytes twice in one burst are one file, and two owners'
/// identical bytes stay two files.
#[tokio::test]
async fn uploads_at_once_each_get_their_row_and_repeats_in_the_same_burst_find_it() {
    let app = spawn_app().await;
    let zhang = citizen(&app, "13811112011", "张三", ID_1).await;
    let li = citizen(&app, "13811112012", "李四", ID_2).await;
    let distinct: Vec<Vec<u8>> = (0..12)
        .map(|i| format!("%PDF-1.4\n% burst file {i}\n%%EOF\n").into_bytes())
        .collect();
    // Zhang's twelve files, his first four again, and Li's copies of those four: all at once.
    let mut burst: Vec<(&Applicant, &[u8])> = distinct.iter().map(|b| (&zhang, &b[..])).collect();
    burst.extend(distinct[..4].iter().map(|b| (&zhang, &b[..])));
    burst.extend(distinct[..4].iter().map(|b| (&li, &b[..])));
    let answers = futures_util::future::join_all(burst.iter().map(|(who, bytes)| async {
        json_of(upload(&app, who, "application/pdf", None, bytes).await).await
    }))
    .await;

    let mut ids: std::collections::HashMap<(&str, String), Vec<(u16, String)>> = Default::default();
    for ((who, bytes), (status, file)) in burst.iter().zip(&answers) {
        assert!(*status == 201 || *status == 200, "{status}: {file}");
        assert_eq!(file["sha256"], sha256_hex(bytes));
        ids.entry((who.subject.as_str(), sha256_hex(bytes)))
            .or_default()
            .push((*status, file["id"].as_str().unwrap().to_owned()));
    }
    assert_eq!(ids.len(), 16, "twelve files of Zhang's, four of Li's");
    for (key, answers) in &ids {
        let created = answers.iter().filter(|(status, _)| *status == 201).count();
        assert_eq!(
            created, 1,
            "{key:?}: one upload created the file: {answers:?}"
        );
        assert!(
            answers.iter().all(|(_, id)| *id == answers[0].1),
            "{key:?}: every upload of the same bytes names the same file: {answers:?}"
        );
    }
    assert_eq!(rows_of(&app, &zhang.subject).await, 12);
    assert_eq!(rows_of(&app, &li.subject).await, 4);
    let zhangs_first = &ids[&(zhang.subject.as_str(), sha256_hex(&distinct[0]))][0].1;
    let lis_first = &ids[&(li.subject.as_str(), sha256_hex(&distinct[0]))][0].1;
    assert_ne!(
        zhangs_first, lis_first,
        "the same bytes are two owners' two files"
    );
}

/// The group insert itself: rows queued together come back inserted or already on file, and a
/// batch the database refuses (here one row breaks the content-type CHECK) is not retried as a
/// batch: every row in it is handed back to be inserted alone, so the good rows still land.
#[tokio::test]
async fn a_refused_batch_hands_every_row_back_to_be_inserted_alone() {
    use fingertip::cases::file_rows::{FileRowWriter, NewFileRow, Outcome};
    let app = spawn_app().await;
    let pool = fingertip::db::pool_for(app.database.connection_string.parse().unwrap(), 2).unwrap();
    // One slot: rows queued while it is busy go in together.
    let writer = FileRowWriter::start(pool, 1);
    let row = |owner: &str, n: u8, content_type: &'static str| NewFileRow {
        id: uuid::Uuid::new_v4(),
        owner: owner.to_owned(),
        sha256: hex::encode([n; 32]),
        size_bytes: 10,
        content_type,
        file_name: None,
        kept_bytes: None,
    };
    let kind = |outcome: &Outcome| match outcome {
        Outcome::Inserted(_) => "inserted",
        Outcome::Conflict => "conflict",
        Outcome::InsertAlone => "alone",
    };

    let first = writer.insert(row("citizen:a", 1, "application/pdf")).await;
    assert_eq!(kind(&first), "inserted");
    let outcomes = futures_util::future::join_all([
        writer.insert(row("citizen:a", 1, "application/pdf")),
        writer.insert(row("citizen:a", 2, "application/pdf")),
        writer.insert(row("citizen:b", 1, "application/pdf")),
    ])
    .await;
    let kinds: Vec<&str> = outcomes.iter().map(kind).collect();
    assert_eq!(kinds, ["conflict", "inserted", "inserted"]);

    let outcomes = futures_util::future::join_all([
        writer.insert(row("citizen:c", 1, "application/pdf")),
        writer.insert(row("citizen:c", 2, "text/plain")),
    ])
    .await;
    let kinds: Vec<&str> = outcomes.iter().map(kind).collect();
    assert!(
        kinds == ["inserted", "alone"] || kinds == ["alone", "alone"],
        "a good row goes in by itself or is handed back with the bad one, never lost: {kinds:?}"
    );
    assert_eq!(rows_of(&app, "citizen:a").await, 2);
    assert_eq!(rows_of(&app, "citizen:b").await, 1);
    assert_eq!(
        rows_of(&app, "citizen:c").await,
        i64::from(kinds[0] == "inserted"),
        "nothing of the refused batch was written"
    );
}
