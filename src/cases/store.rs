//! The cases tables: one case row (its state machine state as jsonb, with the columns indexes
//! need), its materials and its timeline.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;
use tokio_postgres::GenericClient;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::audit::first_in_statement::FirstRecordPlan;
use crate::db::prepared::Prepare;
use crate::notify::outbox::NotificationPlan;
use uuid::Uuid;

use super::clock::{Extension, SuspensionPeriod};
use super::model::{CaseState, Event, SpecialStep, Step};

/// Suspensions, extensions and special steps as the `clock` column keeps them.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ClockRecord {
    pub suspensions: Vec<SuspensionPeriod>,
    pub extensions: Vec<Extension>,
    /// When each special step ran (records written before special steps ran as steps have
    /// none).
    #[serde(default)]
    pub special_steps: Vec<SpecialStepPeriod>,
    /// The day the latest correction answer was received: the pre-review clock restarts from
    /// it (`cases::pre_review_clock`); None until a correction is answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correction_answered_on: Option<NaiveDate>,
}

/// When a special step of the case ran; `end` is None while it runs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SpecialStepPeriod {
    pub department: String,
    pub name: String,
    pub kind: SpecialStep,
    pub start: NaiveDate,
    pub end: Option<NaiveDate>,
}

impl ClockRecord {
    /// The day the materials under pre-review were received: the latest correction answer, or
    /// the submission.
    pub fn materials_received_on(&self, submitted_on: NaiveDate) -> NaiveDate {
        self.correction_answered_on.unwrap_or(submitted_on)
    }

    /// The clock's stops: suspensions, and the special steps that do not count toward the
    /// limit (行政许可法 art. 45), which stop the clock exactly as a suspension does.
    pub fn stops(&self) -> Vec<SuspensionPeriod> {
        let mut stops = self.suspensions.clone();
        stops.extend(
            self.special_steps
                .iter()
                .filter(|s| !s.kind.counts_toward_limit())
                .map(|s| SuspensionPeriod {
                    start: s.start,
                    end: s.end,
                }),
        );
        stops
    }

    /// Records the special steps `events` start and complete on `day`; `steps` are the case's
    /// steps after the change (they say which step is special).
    pub fn follow_special_steps<'e>(
        &mut self,
        events: impl IntoIterator<Item = &'e Event>,
        steps: &[Step],
        day: NaiveDate,
    ) {
        let special_of = |department: &str, name: &str| {
            steps
                .iter()
                .find(|s| s.department == department && s.name == name)
                .and_then(|s| s.special)
        };
        for event in events {
            match event {
                Event::StepStarted { department, name } => {
                    if let Some(kind) = special_of(department, name) {
                        self.special_steps.push(SpecialStepPeriod {
                            department: department.clone(),
                            name: name.clone(),
                            kind,
                            start: day,
                            end: None,
                        });
                    }
                }
                Event::StepCompleted { department, name } => {
                    if let Some(open) = self
                        .special_steps
                        .iter_mut()
                        .find(|s| s.end.is_none() && &s.department == department && &s.name == name)
                    {
                        open.end = Some(day);
                    }
                }
                _ => {}
            }
        }
    }

    /// Closes whatever still runs when the case ends.
    pub fn close_all(&mut self, day: NaiveDate) {
        for open in self.suspensions.iter_mut().filter(|s| s.end.is_none()) {
            open.end = Some(day);
        }
        for open in self.special_steps.iter_mut().filter(|s| s.end.is_none()) {
            open.end = Some(day);
        }
    }
}

/// A case as stored.
#[derive(Debug, Clone)]
pub struct CaseRow {
    pub id: Uuid,
    pub region_code: String,
    pub item_id: Uuid,
    pub item_code: String,
    pub item_version: i32,
    pub item_name: String,
    pub lead_department_id: Uuid,
    pub channel: String,
    pub applicant_kind: String,
    pub applicant_subject: Option<String>,
    pub applicant_name: String,
    pub applicant_id_masked: String,
    pub applicant_tail_mac: Vec<u8>,
    pub applicant_phone: Option<String>,
    pub agent_subject: Option<String>,
    pub agent_name: Option<String>,
    pub submitted_by: String,
    pub form: Value,
    pub state: CaseState,
    pub revision: i32,
    pub department_ids: Vec<Uuid>,
    pub acceptance_number: Option<String>,
    pub accepted_on: Option<NaiveDate>,
    pub limit_working_days: i32,
    pub instant: bool,
    pub clock: ClockRecord,
    pub submitted_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
}

pub(super) const COLUMNS: &str = "id, region_code, item_id, item_code, item_version, item_name, \
    lead_department_id, channel, applicant_kind, applicant_subject, applicant_name, \
    applicant_id_masked, applicant_tail_mac, applicant_phone, agent_subject, agent_name, \
    submitted_by, form, state, revision, department_ids, acceptance_number, accepted_on, \
    limit_working_days, instant, clock, submitted_at, updated_at, closed_at";

impl CaseRow {
    pub(super) fn from_row(row: &Row) -> anyhow::Result<CaseRow> {
        Ok(CaseRow {
            id: row.try_get(0)?,
            region_code: row.try_get(1)?,
            item_id: row.try_get(2)?,
            item_code: row.try_get(3)?,
            item_version: row.try_get(4)?,
            item_name: row.try_get(5)?,
            lead_department_id: row.try_get(6)?,
            channel: row.try_get(7)?,
            applicant_kind: row.try_get(8)?,
            applicant_subject: row.try_get(9)?,
            applicant_name: row.try_get(10)?,
            applicant_id_masked: row.try_get(11)?,
            applicant_tail_mac: row.try_get(12)?,
            applicant_phone: row.try_get(13)?,
            agent_subject: row.try_get(14)?,
            agent_name: row.try_get(15)?,
            submitted_by: row.try_get(16)?,
            form: row.try_get(17)?,
            state: serde_json::from_value(row.try_get(18)?)?,
            revision: row.try_get(19)?,
            department_ids: row.try_get(20)?,
            acceptance_number: row.try_get(21)?,
            accepted_on: row.try_get(22)?,
            limit_working_days: row.try_get(23)?,
            instant: row.try_get(24)?,
            clock: serde_json::from_value(row.try_get(25)?)?,
            submitted_at: row.try_get(26)?,
            updated_at: row.try_get(27)?,
            closed_at: row.try_get(28)?,
        })
    }

    /// Whether `subject` is this case's applicant or their agent.
    pub fn belongs_to(&self, subject: &str) -> bool {
        self.applicant_subject.as_deref() == Some(subject)
            || self.agent_subject.as_deref() == Some(subject)
    }
}

pub async fn load(client: &impl GenericClient, id: Uuid) -> anyhow::Result<Option<CaseRow>> {
    let row = client
        .query_opt(
            &format!("SELECT {COLUMNS} FROM cases WHERE id = $1"),
            &[&id],
        )
        .await?;
    row.as_ref().map(CaseRow::from_row).transpose()
}

pub async fn load_by_acceptance_number(
    client: &impl GenericClient,
    number: &str,
) -> anyhow::Result<Option<CaseRow>> {
    let row = client
        .query_opt(
            &format!("SELECT {COLUMNS} FROM cases WHERE acceptance_number = $1"),
            &[&number],
        )
        .await?;
    row.as_ref().map(CaseRow::from_row).transpose()
}

/// The case an idempotency key already created for `submitted_by`, with its request digest.
pub async fn find_by_idempotency_key(
    client: &impl GenericClient,
    submitted_by: &str,
    key: &str,
) -> anyhow::Result<Option<(Uuid, Option<String>)>> {
    let row = client
        .query_opt(
            "SELECT id, request_digest FROM cases WHERE submitted_by = $1 AND idempotency_key = $2",
            &[&submitted_by, &key],
        )
        .await?;
    Ok(row.map(|r| (r.get(0), r.get(1))))
}

/// Cases of an applicant (as applicant or agent), newest first.
pub async fn list_for_subject(
    client: &impl GenericClient,
    subject: &str,
    limit: i64,
) -> anyhow::Result<Vec<CaseRow>> {
    let rows = client
        .query(
            &format!(
                "SELECT {COLUMNS} FROM cases WHERE applicant_subject = $1 \
                 UNION SELECT {COLUMNS} FROM cases WHERE agent_subject = $1 \
                 ORDER BY submitted_at DESC LIMIT $2"
            ),
            &[&subject, &limit],
        )
        .await?;
    rows.iter().map(CaseRow::from_row).collect()
}

/// Keeps the case's events recorded with `occurred_at` (事后补录) whose legal date lies
/// `gap_working_days` (more than one) working days before the day they were recorded: what
/// e-supervision reads as a late entry (its anomaly kind 8).
pub async fn record_backfill(
    client: &impl GenericClient,
    case_id: Uuid,
    occurred_at: DateTime<Utc>,
    gap_working_days: i32,
) -> anyhow::Result<()> {
    client
        .execute(
            "INSERT INTO case_backfill (case_id, seq, region_code, kind, occurred_at, recorded_at,
                                        gap_working_days, actor)
             SELECT case_id, seq, region_code, kind, occurred_at, recorded_at, $3, actor
               FROM case_event WHERE case_id = $1 AND occurred_at = $2 AND actor_kind <> 'system'
             ON CONFLICT (case_id, seq) DO NOTHING",
            &[&case_id, &occurred_at, &gap_working_days],
        )
        .await?;
    Ok(())
}

/// Accepted, open cases after `after` in id order, locked for this transaction: the deadline
/// recompute's batches (a staff action on one of them waits, so event numbers cannot collide).
pub async fn open_accepted_after(
    client: &impl GenericClient,
    after: Option<Uuid>,
    limit: i64,
) -> anyhow::Result<Vec<CaseRow>> {
    let rows = client
        .query(
            &format!(
                "SELECT {COLUMNS} FROM cases
                  WHERE accepted_on IS NOT NULL AND closed_at IS NULL
                    AND ($1::uuid IS NULL OR id > $1)
                  ORDER BY id LIMIT $2 FOR UPDATE"
            ),
            &[&after, &limit],
        )
        .await?;
    rows.iter().map(CaseRow::from_row).collect()
}

/// The staff accounts (`staff:<id>`) holding a role the case is waiting on now.
pub async fn current_handlers(
    client: &impl GenericClient,
    case_id: Uuid,
) -> anyhow::Result<Vec<String>> {
    let rows = client
        .query(
            "SELECT DISTINCT 'staff:' || s.id
               FROM cases c
               CROSS JOIN LATERAL unnest(c.waiting_on) AS w(entry)
               JOIN department d ON w.entry LIKE d.code || ':%'
               JOIN staff_role r ON r.department_id = d.id AND r.revoked_at IS NULL
                               AND w.entry = d.code || ':' || r.role
               JOIN staff s ON s.id = r.staff_id AND s.active
              WHERE c.id = $1",
            &[&case_id],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Open cases waiting on any of the inbox `entries` (`<department code>:<role>`), oldest first.
pub async fn waiting_on(
    client: &impl GenericClient,
    entries: &[String],
    limit: i64,
) -> anyhow::Result<Vec<CaseRow>> {
    let rows = client
        .query(
            &format!(
                "SELECT {COLUMNS} FROM cases WHERE waiting_on && $1 AND closed_at IS NULL \
                 ORDER BY submitted_at LIMIT $2"
            ),
            &[&entries, &limit],
        )
        .await?;
    rows.iter().map(CaseRow::from_row).collect()
}

/// A new case's row, as submission writes it.
pub struct NewCaseRow<'a> {
    pub id: Uuid,
    pub region_code: &'a str,
    pub item_id: Uuid,
    pub item_code: &'a str,
    pub item_version: i32,
    pub item_name: &'a str,
    pub lead_department_id: Uuid,
    pub channel: &'a str,
    pub applicant_kind: &'a str,
    pub applicant_subject: Option<&'a str>,
    pub applicant_name: &'a str,
    pub applicant_id_masked: &'a str,
    pub applicant_tail_mac: &'a [u8],
    /// Blind index of the ID number or credit code, for a window applicant without a verified
    /// account: found again when they get one (`cases::claims`).
    pub applicant_id_index: Option<&'a [u8]>,
    pub applicant_phone: Option<&'a str>,
    pub agent_subject: Option<&'a str>,
    pub agent_name: Option<&'a str>,
    pub submitted_by: &'a str,
    pub idempotency_key: Option<&'a str>,
    pub request_digest: Option<&'a str>,
    pub form: &'a Value,
    pub state: &'a CaseState,
    pub waiting_on: &'a [String],
    pub department_ids: &'a [Uuid],
    pub limit_working_days: i32,
    pub instant: bool,
}

/// A new case as [`insert_new_case`] wrote it.
pub struct NewCaseRows {
    pub case: CaseRow,
    pub materials: Vec<MaterialRow>,
    pub events: Vec<EventRow>,
}

/// The new case, its materials, its timeline from seq 1 and the first record of its audit
/// chain, in one statement: the case's insert feeds the others, so a taken idempotency key
/// (`None`) writes nothing at all. The events and the audit record share one reading of the
/// database's clock.
pub async fn insert_new_case(
    client: &impl Prepare,
    new: &NewCaseRow<'_>,
    materials: &[NewMaterial<'_>],
    events: &[NewEvent<'_>],
    audit: &FirstRecordPlan<'_>,
    notices: &[NotificationPlan],
) -> anyhow::Result<Option<NewCaseRows>> {
    let state = serde_json::to_value(new.state)?;
    let m = MaterialArrays::of(materials);
    let e = EventArrays::of(events, 1)?;
    let stage = new.state.stage.name();
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![
        &new.id,
        &new.region_code,
        &new.item_id,
        &new.item_code,
        &new.item_version,
        &new.item_name,
        &new.lead_department_id,
        &new.channel,
        &new.applicant_kind,
        &new.applicant_subject,
        &new.applicant_name,
        &new.applicant_id_masked,
        &new.applicant_tail_mac,
        &new.applicant_phone,
        &new.agent_subject,
        &new.agent_name,
        &new.submitted_by,
        &new.idempotency_key,
        &new.request_digest,
        &new.form,
        &state,
        &stage,
        &new.waiting_on,
        &new.department_ids,
        &new.limit_working_days,
        &new.instant,
        &new.applicant_id_index,
        &m.ids,
        &m.keys,
        &m.files,
        &m.notes,
        &m.supplied,
    ];
    params.extend(e.params());
    params.extend(audit.params());
    for notice in notices {
        params.extend(notice.params());
    }
    let row = client
        .query_opt_prepared(&new_case_sql(notices.len()), &params)
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let case = CaseRow::from_row(&row)?;
    // After the case's columns: the clock reading, then the materials' insert time.
    let case_columns = COLUMNS.split(',').count();
    let clock: DateTime<Utc> = row.try_get(case_columns)?;
    let added_at: Option<DateTime<Utc>> = row.try_get(case_columns + 1)?;
    // What the other inserts wrote is what was sent, with the clock readings just returned.
    let mut materials: Vec<MaterialRow> = materials
        .iter()
        .zip(&m.ids)
        .map(|(m, id)| MaterialRow {
            id: *id,
            material_key: m.material_key.to_owned(),
            file_id: m.file_id,
            sha256: None,
            content_type: None,
            file_name: None,
            size_bytes: None,
            paper_note: m.paper_note.map(str::to_owned),
            supplied_in: m.supplied_in.to_owned(),
            added_at: added_at.unwrap_or(clock),
        })
        .collect();
    // The order [`materials`] reads them in: by time added, then key.
    materials.sort_by(|a, b| a.material_key.cmp(&b.material_key));
    let events = events
        .iter()
        .zip(&e.seqs)
        .map(|(e, seq)| EventRow {
            seq: *seq,
            kind: e.kind.to_owned(),
            details: e.details.clone(),
            actor: e.actor.to_owned(),
            actor_kind: e.actor_kind.to_owned(),
            attribution: Attribution {
                account_id: staff_account(e.actor),
                department_id: e.department_id,
                on_behalf_of: e.on_behalf_of,
            },
            recorded_at: clock,
            occurred_at: e.occurred_at.unwrap_or(clock),
        })
        .collect();
    Ok(Some(NewCaseRows {
        case,
        materials,
        events,
    }))
}

/// The new-case statement with `notices` notifications' CTEs (each written only with the case:
/// their parent is its insert). Its text depends only on that count: the usual ones (none at
/// the window without a phone, the applicant's, the applicant's and the agent's) are built once.
fn new_case_sql(notices: usize) -> std::borrow::Cow<'static, str> {
    static USUAL: std::sync::LazyLock<[String; 3]> =
        std::sync::LazyLock::new(|| [0, 1, 2].map(build_new_case_sql));
    match USUAL.get(notices) {
        Some(sql) => std::borrow::Cow::Borrowed(sql.as_str()),
        None => std::borrow::Cow::Owned(build_new_case_sql(notices)),
    }
}

fn build_new_case_sql(notices: usize) -> String {
    const CASE_PARAMETERS: usize = 41 + FirstRecordPlan::PARAMETERS;
    let mut notice_ctes = String::new();
    for i in 0..notices {
        notice_ctes.push_str(",\n");
        notice_ctes.push_str(&NotificationPlan::ctes(
            &format!("notice{i}"),
            "c",
            CASE_PARAMETERS + 1 + i * NotificationPlan::PARAMETERS,
        ));
    }
    // The case's first audit record: the audit room's CTEs, on the events' clock reading.
    let audit = FirstRecordPlan::ctes("audit", "t", 42);
    format!(
        "WITH c AS (
             INSERT INTO cases (id, region_code, item_id, item_code, item_version, item_name,
                 lead_department_id, channel, applicant_kind, applicant_subject,
                 applicant_name, applicant_id_masked, applicant_tail_mac, applicant_phone,
                 agent_subject, agent_name, submitted_by, idempotency_key, request_digest,
                 form, state, stage, waiting_on, department_ids, limit_working_days, instant,
                 applicant_id_index)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
                     $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27)
             ON CONFLICT (submitted_by, idempotency_key) DO NOTHING
             RETURNING {COLUMNS}
         ), t AS (
             SELECT clock_instant() AS now FROM c
         ), m AS (
             INSERT INTO case_material (id, case_id, region_code, material_key, file_id,
                                        paper_note, supplied_in)
             SELECT m.id, c.id, c.region_code, m.key, m.file, m.note, m.supplied
             FROM c, unnest($28::uuid[], $29::text[], $30::uuid[], $31::text[], $32::text[])
                  AS m(id, key, file, note, supplied)
             RETURNING added_at
         ), e AS (
             INSERT INTO case_event (case_id, seq, region_code, kind, details, actor,
                                     actor_kind, department_id, recorded_at, occurred_at,
                                     actor_account_id, on_behalf_of_account_id)
             SELECT c.id, e.seq, c.region_code, e.kind, e.details, e.actor, e.actor_kind,
                    e.department, t.now, coalesce(e.occurred, t.now), e.account, e.behalf
             FROM c, t, unnest($33::int[], $34::text[], $35::jsonb[], $36::text[],
                               $37::text[], $38::uuid[], $39::timestamptz[], $40::uuid[],
                               $41::uuid[])
                  AS e(seq, kind, details, actor, actor_kind, department, occurred, account,
                       behalf)
         ), {audit}{notice_ctes}
         SELECT c.*, t.now, (SELECT max(added_at) FROM m) FROM c, t"
    )
}

/// A change to a case, written only if the case is still at `revision` (optimistic
/// concurrency); `false` when another change got there first.
pub struct CaseUpdate<'a> {
    pub id: Uuid,
    pub revision: i32,
    pub state: &'a CaseState,
    pub waiting_on: &'a [String],
    pub department_ids: &'a [Uuid],
    pub acceptance_number: Option<&'a str>,
    pub accepted_on: Option<NaiveDate>,
    pub clock: &'a ClockRecord,
    /// When the case ends (a decision: the seal's signing time); `None` while it runs.
    pub closed_at: Option<DateTime<Utc>>,
}

pub async fn update(client: &impl GenericClient, change: &CaseUpdate<'_>) -> anyhow::Result<bool> {
    let state = serde_json::to_value(change.state)?;
    let clock = serde_json::to_value(change.clock)?;
    let correction_count = i32::try_from(change.state.correction_count).unwrap_or(i32::MAX);
    let updated = client
        .execute(
            "UPDATE cases SET state = $3, stage = $4, revision = revision + 1, waiting_on = $5,
                 department_ids = $6, acceptance_number = $7, accepted_on = $8, clock = $9,
                 correction_count = $10, updated_at = clock_now(),
                 closed_at = CASE WHEN $11::timestamptz IS NOT NULL THEN coalesce(closed_at, $11) END
             WHERE id = $1 AND revision = $2",
            &[
                &change.id,
                &change.revision,
                &state,
                &change.state.stage.name(),
                &change.waiting_on,
                &change.department_ids,
                &change.acceptance_number,
                &change.accepted_on,
                &clock,
                &correction_count,
                &change.closed_at,
            ],
        )
        .await?;
    Ok(updated == 1)
}

/// One timeline entry to write.
pub struct NewEvent<'a> {
    pub kind: &'a str,
    pub details: Value,
    pub actor: &'a str,
    pub actor_kind: &'a str,
    pub department_id: Option<Uuid>,
    pub occurred_at: Option<DateTime<Utc>>,
    /// The absent colleague whose post an AB backup (AB岗) held when acting.
    pub on_behalf_of: Option<Uuid>,
}

/// Appends events after the case's last one. Callers hold the case row lock (they have just
/// updated it), so sequence numbers cannot collide.
pub async fn append_events(
    client: &impl Prepare,
    case_id: Uuid,
    region_code: &str,
    events: &[NewEvent<'_>],
) -> anyhow::Result<()> {
    let last: i32 = client
        .query_one_prepared(
            "SELECT coalesce(max(seq), 0) FROM case_event WHERE case_id = $1",
            &[&case_id],
        )
        .await?
        .get(0);
    insert_events(client, case_id, region_code, last + 1, events).await
}

/// Writes `events` numbered from `first_seq`, in one statement.
pub async fn insert_events(
    client: &impl Prepare,
    case_id: Uuid,
    region_code: &str,
    first_seq: i32,
    events: &[NewEvent<'_>],
) -> anyhow::Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let e = EventArrays::of(events, first_seq)?;
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&case_id, &region_code];
    params.extend(e.params());
    client.execute_prepared(INSERT_EVENTS, &params).await?;
    Ok(())
}

const INSERT_EVENTS: &str =
    "INSERT INTO case_event (case_id, seq, region_code, kind, details, actor,
         actor_kind, department_id, recorded_at, occurred_at, actor_account_id,
         on_behalf_of_account_id)
     SELECT $1, seq, $2, kind, details, actor, actor_kind, department, t.now,
            coalesce(occurred, t.now), account, behalf
     FROM unnest($3::int[], $4::text[], $5::jsonb[], $6::text[], $7::text[], $8::uuid[],
                 $9::timestamptz[], $10::uuid[], $11::uuid[])
          AS e(seq, kind, details, actor, actor_kind, department, occurred, account, behalf),
          (SELECT clock_instant() AS now) AS t";

/// Events as the column arrays an `unnest` insert takes, numbered from `first_seq`.
struct EventArrays<'a> {
    seqs: Vec<i32>,
    kinds: Vec<&'a str>,
    details: Vec<&'a Value>,
    actors: Vec<&'a str>,
    actor_kinds: Vec<&'a str>,
    departments: Vec<Option<Uuid>>,
    occurred: Vec<Option<DateTime<Utc>>>,
    accounts: Vec<Option<Uuid>>,
    behalf: Vec<Option<Uuid>>,
}

impl<'a> EventArrays<'a> {
    /// Parameters in the order of the `unnest` both event inserts share.
    fn params(&self) -> [&(dyn ToSql + Sync); 9] {
        [
            &self.seqs,
            &self.kinds,
            &self.details,
            &self.actors,
            &self.actor_kinds,
            &self.departments,
            &self.occurred,
            &self.accounts,
            &self.behalf,
        ]
    }

    fn of(events: &'a [NewEvent<'a>], first_seq: i32) -> anyhow::Result<EventArrays<'a>> {
        let count = i32::try_from(events.len())?;
        Ok(EventArrays {
            seqs: (first_seq..first_seq + count).collect(),
            kinds: events.iter().map(|e| e.kind).collect(),
            details: events.iter().map(|e| &e.details).collect(),
            actors: events.iter().map(|e| e.actor).collect(),
            actor_kinds: events.iter().map(|e| e.actor_kind).collect(),
            departments: events.iter().map(|e| e.department_id).collect(),
            occurred: events.iter().map(|e| e.occurred_at).collect(),
            accounts: events.iter().map(|e| staff_account(e.actor)).collect(),
            behalf: events.iter().map(|e| e.on_behalf_of).collect(),
        })
    }
}

/// A timeline entry as stored.
#[derive(Debug, Clone)]
pub struct EventRow {
    pub seq: i32,
    pub kind: String,
    pub details: Value,
    pub actor: String,
    pub actor_kind: String,
    pub attribution: Attribution,
    pub recorded_at: DateTime<Utc>,
    pub occurred_at: DateTime<Utc>,
}

/// Who acted, by id: the timeline's views resolve names from these (decision record 0017).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attribution {
    /// The staff account that acted; `None` for the applicant and the platform.
    pub account_id: Option<Uuid>,
    /// The department it acted in.
    pub department_id: Option<Uuid>,
    /// For an AB backup (AB岗): the colleague whose post it held.
    pub on_behalf_of: Option<Uuid>,
}

/// The staff account an event's `actor` (`staff:<uuid>`) names, if it is one.
fn staff_account(actor: &str) -> Option<Uuid> {
    actor
        .strip_prefix("staff:")
        .and_then(|id| Uuid::parse_str(id).ok())
}

fn event_of(r: &Row) -> EventRow {
    let actor: String = r.get(3);
    EventRow {
        seq: r.get(0),
        kind: r.get(1),
        details: r.get(2),
        actor_kind: r.get(4),
        attribution: Attribution {
            // Events recorded before the column existed name the account only in `actor`.
            account_id: r
                .get::<_, Option<Uuid>>(7)
                .or_else(|| staff_account(&actor)),
            department_id: r.get(8),
            on_behalf_of: r.get(9),
        },
        actor,
        recorded_at: r.get(5),
        occurred_at: r.get(6),
    }
}

pub async fn events(client: &impl Prepare, case_id: Uuid) -> anyhow::Result<Vec<EventRow>> {
    let rows = client
        .query_prepared(
            "SELECT seq, kind, details, actor, actor_kind, recorded_at, occurred_at,
                    actor_account_id, department_id, on_behalf_of_account_id
             FROM case_event WHERE case_id = $1 ORDER BY seq",
            &[&case_id],
        )
        .await?;
    Ok(rows.iter().map(event_of).collect())
}

/// A material to link to a case: a digitised file, or paper noted by the clerk.
pub struct NewMaterial<'a> {
    pub material_key: &'a str,
    pub file_id: Option<Uuid>,
    pub paper_note: Option<&'a str>,
    pub supplied_in: &'a str,
}

pub async fn add_materials(
    client: &impl Prepare,
    case_id: Uuid,
    region_code: &str,
    materials: &[NewMaterial<'_>],
) -> anyhow::Result<()> {
    if materials.is_empty() {
        return Ok(());
    }
    let m = MaterialArrays::of(materials);
    client
        .execute_prepared(
            INSERT_MATERIALS,
            &[
                &m.ids,
                &case_id,
                &region_code,
                &m.keys,
                &m.files,
                &m.notes,
                &m.supplied,
            ],
        )
        .await?;
    Ok(())
}

// One statement for every material: a submission with many files is one round trip.
const INSERT_MATERIALS: &str = "INSERT INTO case_material (id, case_id, region_code, material_key,
         file_id, paper_note, supplied_in)
     SELECT id, $2, $3, key, file, note, supplied
     FROM unnest($1::uuid[], $4::text[], $5::uuid[], $6::text[], $7::text[])
          AS m(id, key, file, note, supplied)";

/// Materials as the column arrays an `unnest` insert takes, each with a new id.
struct MaterialArrays<'a> {
    ids: Vec<Uuid>,
    keys: Vec<&'a str>,
    files: Vec<Option<Uuid>>,
    notes: Vec<Option<&'a str>>,
    supplied: Vec<&'a str>,
}

impl<'a> MaterialArrays<'a> {
    fn of(materials: &'a [NewMaterial<'a>]) -> MaterialArrays<'a> {
        MaterialArrays {
            ids: materials.iter().map(|_| Uuid::new_v4()).collect(),
            keys: materials.iter().map(|m| m.material_key).collect(),
            files: materials.iter().map(|m| m.file_id).collect(),
            notes: materials.iter().map(|m| m.paper_note).collect(),
            supplied: materials.iter().map(|m| m.supplied_in).collect(),
        }
    }
}

/// A case's material as stored, with its file's facts.
#[derive(Debug, Clone)]
pub struct MaterialRow {
    pub id: Uuid,
    pub material_key: String,
    pub file_id: Option<Uuid>,
    pub sha256: Option<String>,
    pub content_type: Option<String>,
    pub file_name: Option<String>,
    pub size_bytes: Option<i64>,
    pub paper_note: Option<String>,
    pub supplied_in: String,
    pub added_at: DateTime<Utc>,
}

fn material_of(r: &Row) -> MaterialRow {
    MaterialRow {
        id: r.get(0),
        material_key: r.get(1),
        file_id: r.get(2),
        sha256: r.get(3),
        content_type: r.get(4),
        file_name: r.get(5),
        size_bytes: r.get(6),
        paper_note: r.get(7),
        supplied_in: r.get(8),
        added_at: r.get(9),
    }
}

pub async fn materials(client: &impl Prepare, case_id: Uuid) -> anyhow::Result<Vec<MaterialRow>> {
    let rows = client
        .query_prepared(
            "SELECT m.id, m.material_key, m.file_id, f.sha256, f.content_type, f.file_name,
                    f.size_bytes, m.paper_note, m.supplied_in, m.added_at
             FROM case_material m LEFT JOIN material_file f ON f.id = m.file_id
             WHERE m.case_id = $1 ORDER BY m.added_at, m.material_key",
            &[&case_id],
        )
        .await?;
    Ok(rows.iter().map(material_of).collect())
}

/// A material file's facts, as a case's materials show them.
#[derive(Debug, Clone)]
pub struct OwnedFile {
    pub id: Uuid,
    pub sha256: String,
    pub content_type: String,
    pub file_name: Option<String>,
    pub size_bytes: i64,
}

/// Files of `owner` among `ids`.
pub async fn owned_files(
    client: &impl Prepare,
    owner: &str,
    ids: &[Uuid],
) -> anyhow::Result<Vec<OwnedFile>> {
    let rows = client
        .query_prepared(
            "SELECT id, sha256, content_type, file_name, size_bytes FROM material_file
             WHERE owner = $1 AND id = ANY($2)",
            &[&owner, &ids],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| OwnedFile {
            id: r.get(0),
            sha256: r.get(1),
            content_type: r.get(2),
            file_name: r.get(3),
            size_bytes: r.get(4),
        })
        .collect())
}
