//! Scrubbing one-time codes out of the outbox once they are spent. The outbox must hold a code
//! in clear until the provider has it; after that, once the code has expired and its deliveries
//! are over (sent, failed or cancelled), its text is removed from the delivery bodies and then
//! from the notification's variables. The rooms that send codes (identity's SMS codes, notify's
//! own email-address proofs) run this from their housekeeping, in their transaction.

use tokio_postgres::GenericClient;

/// What a scrubbed body reads.
const SCRUBBED_BODY: &str = "（验证码已清除）";

/// Scrubs the spent codes sent with `templates`; returns how many rows changed.
pub async fn scrub_spent_codes(
    client: &impl GenericClient,
    templates: &[&str],
) -> Result<u64, tokio_postgres::Error> {
    let bodies = client
        .execute(
            "UPDATE notification_delivery d SET body = $2
               FROM notification n
              WHERE d.notification_id = n.id AND n.template_key = ANY($1)
                AND n.created_at < now() - interval '10 minutes'
                AND d.status NOT IN ('created', 'sending', 'temporary_failure')
                AND d.body <> $2",
            &[&templates, &SCRUBBED_BODY],
        )
        .await?;
    // Then the variables, once no delivery of the notification can still need them.
    let variables = client
        .execute(
            "UPDATE notification n SET variables = '{}'::jsonb
              WHERE n.template_key = ANY($1) AND n.created_at < now() - interval '10 minutes'
                AND n.variables <> '{}'::jsonb
                AND NOT EXISTS (SELECT 1 FROM notification_delivery d
                                 WHERE d.notification_id = n.id
                                   AND d.status IN ('created', 'sending', 'temporary_failure'))",
            &[&templates],
        )
        .await?;
    Ok(bodies + variables)
}

/// Deletes email-address proof codes past any use (two days: beyond every limit window).
pub async fn delete_old_email_codes(
    client: &impl GenericClient,
) -> Result<u64, tokio_postgres::Error> {
    client
        .execute(
            "DELETE FROM owner_email_code WHERE created_at < now() - interval '2 days'",
            &[],
        )
        .await
}
