//! Numbered plain-SQL migrations from `migrations/`, applied in order inside a PostgreSQL
//! advisory lock (two instances starting together never both migrate) and recorded with a
//! SHA-256 checksum; an already-applied migration whose file changed stops the server.

use ring::digest;
use tokio_postgres::Client;

/// Every migration, in order. `tests` check this list matches the `migrations/` folder.
pub const MIGRATIONS: &[(&str, &str)] = &[
    (
        "0001_foundation.sql",
        include_str!("../../migrations/0001_foundation.sql"),
    ),
    (
        "0002_calendar.sql",
        include_str!("../../migrations/0002_calendar.sql"),
    ),
    (
        "0003_audit.sql",
        include_str!("../../migrations/0003_audit.sql"),
    ),
    (
        "0004_catalog.sql",
        include_str!("../../migrations/0004_catalog.sql"),
    ),
    (
        "0005_notify.sql",
        include_str!("../../migrations/0005_notify.sql"),
    ),
    (
        "0006_identity.sql",
        include_str!("../../migrations/0006_identity.sql"),
    ),
    (
        "0007_notify_preferences.sql",
        include_str!("../../migrations/0007_notify_preferences.sql"),
    ),
    (
        "0008_cases.sql",
        include_str!("../../migrations/0008_cases.sql"),
    ),
    (
        "0009_seals_licences.sql",
        include_str!("../../migrations/0009_seals_licences.sql"),
    ),
    (
        "0010_case_documents.sql",
        include_str!("../../migrations/0010_case_documents.sql"),
    ),
    (
        "0011_notification_attachments.sql",
        include_str!("../../migrations/0011_notification_attachments.sql"),
    ),
    (
        "0012_session_end_announcements.sql",
        include_str!("../../migrations/0012_session_end_announcements.sql"),
    ),
    (
        "0013_drop_redundant_notification_index.sql",
        include_str!("../../migrations/0013_drop_redundant_notification_index.sql"),
    ),
    (
        "0014_window_applicants_claim_their_cases.sql",
        include_str!("../../migrations/0014_window_applicants_claim_their_cases.sql"),
    ),
    (
        "0015_no_hot_parent_locks_in_submissions.sql",
        include_str!("../../migrations/0015_no_hot_parent_locks_in_submissions.sql"),
    ),
    (
        "0016_case_rows_pipelined.sql",
        include_str!("../../migrations/0016_case_rows_pipelined.sql"),
    ),
    (
        "0017_leaner_deliveries.sql",
        include_str!("../../migrations/0017_leaner_deliveries.sql"),
    ),
    (
        "0018_small_material_bytes_in_database.sql",
        include_str!("../../migrations/0018_small_material_bytes_in_database.sql"),
    ),
    (
        "0019_clock_and_calendar_versions.sql",
        include_str!("../../migrations/0019_clock_and_calendar_versions.sql"),
    ),
    (
        "0020_decisions_in_the_items_words.sql",
        include_str!("../../migrations/0020_decisions_in_the_items_words.sql"),
    ),
    (
        "0021_staff_case_search.sql",
        include_str!("../../migrations/0021_staff_case_search.sql"),
    ),
    (
        "0022_event_attribution.sql",
        include_str!("../../migrations/0022_event_attribution.sql"),
    ),
    (
        "0023_comprehensive_window.sql",
        include_str!("../../migrations/0023_comprehensive_window.sql"),
    ),
    (
        "0024_item_cancelled_notice.sql",
        include_str!("../../migrations/0024_item_cancelled_notice.sql"),
    ),
];

/// Arbitrary constant naming the migration lock in `pg_advisory_lock`.
const MIGRATION_LOCK_KEY: i64 = 0x6669_6e67_6572_0001;

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(
        "migration {name} was edited after it was applied (recorded checksum {recorded}, file checksum {current}); \
         never edit an applied migration: add a new one instead"
    )]
    Edited {
        name: String,
        recorded: String,
        current: String,
    },
    #[error(
        "the database has migration {0} that this build does not know; is an older binary running against a newer database?"
    )]
    Unknown(String),
    #[error("migration {name} failed: {source}")]
    Failed {
        name: String,
        source: tokio_postgres::Error,
    },
    #[error(transparent)]
    Db(#[from] tokio_postgres::Error),
}

pub fn checksum(sql: &str) -> String {
    hex::encode(digest::digest(&digest::SHA256, sql.as_bytes()))
}

/// Applies what is missing; returns the names applied by this call.
pub async fn run(client: &mut Client) -> Result<Vec<String>, MigrateError> {
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK_KEY])
        .await?;
    let result = apply_pending(client).await;
    // Unlock even when a migration failed; the session ending would release it too.
    let unlock = client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK_KEY])
        .await;
    let applied = result?;
    unlock?;
    Ok(applied)
}

async fn apply_pending(client: &mut Client) -> Result<Vec<String>, MigrateError> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                name text PRIMARY KEY,
                checksum text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )",
        )
        .await?;
    let recorded: Vec<(String, String)> = client
        .query(
            "SELECT name, checksum FROM schema_migrations ORDER BY name",
            &[],
        )
        .await?
        .into_iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    for (name, recorded_sum) in &recorded {
        match MIGRATIONS.iter().find(|(n, _)| n == name) {
            None => return Err(MigrateError::Unknown(name.clone())),
            Some((_, sql)) => {
                let current = checksum(sql);
                if &current != recorded_sum {
                    return Err(MigrateError::Edited {
                        name: name.clone(),
                        recorded: recorded_sum.clone(),
                        current,
                    });
                }
            }
        }
    }
    let mut applied = Vec::new();
    for (name, sql) in MIGRATIONS {
        if recorded.iter().any(|(n, _)| n == name) {
            continue;
        }
        let tx = client.transaction().await?;
        tx.batch_execute(sql)
            .await
            .map_err(|source| MigrateError::Failed {
                name: (*name).to_owned(),
                source,
            })?;
        tx.execute(
            "INSERT INTO schema_migrations (name, checksum) VALUES ($1, $2)",
            &[name, &checksum(sql)],
        )
        .await?;
        tx.commit().await?;
        tracing::info!(migration = name, "applied migration");
        applied.push((*name).to_owned());
    }
    Ok(applied)
}

/// True when every known migration is recorded with its current checksum (for `/readyz`).
pub async fn is_current(client: &Client) -> Result<bool, tokio_postgres::Error> {
    let rows = client
        .query("SELECT name, checksum FROM schema_migrations", &[])
        .await?;
    Ok(MIGRATIONS.iter().all(|(name, sql)| {
        let sum = checksum(sql);
        rows.iter()
            .any(|r| r.get::<_, &str>(0) == *name && r.get::<_, &str>(1) == sum)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_matches_the_migrations_folder_in_order() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".sql"))
            .collect();
        files.sort();
        let listed: Vec<String> = MIGRATIONS.iter().map(|(n, _)| n.to_string()).collect();
        assert_eq!(files, listed);
        // Numbers rise strictly; a gap is allowed, as numbers are handed out to branches
        // before they merge (0020 and 0021 may land after 0022 is written).
        let numbers: Vec<u32> = listed
            .iter()
            .map(|name| {
                name[..4]
                    .parse()
                    .unwrap_or_else(|_| panic!("{name}: no number"))
            })
            .collect();
        assert_eq!(numbers.first(), Some(&1));
        for (pair, name) in numbers.windows(2).zip(listed.iter().skip(1)) {
            assert!(pair[0] < pair[1], "{name} out of sequence");
        }
    }
}
