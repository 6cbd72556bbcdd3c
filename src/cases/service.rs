//! The case service: submission (online and at the window), every action through the state
//! machine, and the views. Each change is one transaction: the case row (guarded by its
//! revision), the timeline events, the audit record and the applicant's notifications commit
//! together or not at all.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use deadpool_postgres::Pool;
use serde_json::{Map, Value, json};
use tokio_postgres::GenericClient;
use tokio_postgres::Transaction;
use uuid::Uuid;

use super::acceptance_number::{AcceptanceNumber, RegionCode, Sequence};
use super::claims;
use super::clock::{self, CaseClock, Extension, SuspensionPeriod};
use super::documents::{self, DocumentRecord, DocumentView};
use super::issuing::{self, DocumentIssuer, IssueContext, IssuedDocument, LicenceTerms};
use super::model::{
    Action, ActorKind, CaseState, ErrorClass, Event, Stage, StepSpec, TransitionError, transition,
};
use super::store::{self, CaseRow, NewEvent, NewMaterial};
use super::tasks::{self, Process, Task};
use super::views::*;
use crate::audit::chain::FirstRecord;
use crate::audit::{self, AuditEntry};
use crate::calendar::model::Calendar;
use crate::calendar::provisional;
use crate::calendar::service::CalendarService;
use crate::catalog::model::{Guide, StepKind};
use crate::catalog::service::CatalogService;
use crate::catalog::views::ItemDetail;
use crate::clock::{Clock, date_in_china};
use crate::db::Prepare;
use crate::documents::model::PromisedDeadline;
use crate::http::{AppError, AppResult, FieldError};
use crate::identity::model::{Principal, Role, Subject};
use crate::identity::pii::IdentityKeys;
use crate::identity::policy::{Rule, allows};
use crate::masking::mask_code;
use crate::notify::model::Channel;
use crate::notify::outbox::{self, Attachment, NewNotification, OutboxSettings, Recipient};

mod checks;
mod notices;
mod process;
mod recompute;
mod views;

use checks::*;
use notices::*;
use process::*;
use views::*;

pub use checks::missing_key_materials;
pub use process::process_of;

/// The largest application form accepted, serialized.
const MAX_FORM_BYTES: usize = 64 * 1024;
/// Files per material entry.
const MAX_FILES_PER_MATERIAL: usize = 20;
/// How far back staff may date work entered afterwards (事后补录).
const MAX_BACKDATE_DAYS: i64 = 30;
/// The notice a new case sends its applicant (and agent).
const SUBMITTED_TEMPLATE: &str = "case.submitted";

/// A 404 that says nothing about whether the case exists.
fn case_not_found() -> AppError {
    AppError::not_found("case_not_found", "no such case")
}

/// The problem for a refused transition.
pub fn transition_problem(error: TransitionError) -> AppError {
    let code = error.code();
    let detail = error.to_string();
    match error.class() {
        ErrorClass::Forbidden => AppError::Forbidden { code, detail },
        ErrorClass::Conflict => AppError::Conflict { code, detail },
        ErrorClass::Invalid => AppError::Invalid {
            code,
            errors: vec![FieldError::new(
                error.field().unwrap_or_else(|| "body".to_owned()),
                code,
                detail,
            )],
        },
    }
}

fn invalid(errors: Vec<FieldError>) -> AppResult<()> {
    match errors.len() {
        0 => Ok(()),
        _ => {
            // One kind of error (say, two missing materials) keeps its own code.
            let code = if errors.iter().all(|e| e.code == errors[0].code) {
                stable_code(&errors[0].code)
            } else {
                "validation_failed"
            };
            Err(AppError::Invalid { code, errors })
        }
    }
}

/// Field error codes used here, as static strings for the problem's top-level code.
fn stable_code(code: &str) -> &'static str {
    const CODES: &[&str] = &[
        "unknown_material",
        "duplicate_material",
        "files_required",
        "too_many_files",
        "file_not_found",
        "file_type_not_allowed",
        "materials_missing",
        "form_invalid",
        "form_too_large",
        "item_not_found",
        "deferred_key_material",
        "deferred_due_past",
        "expected_end_past",
        "occurred_at_future",
        "occurred_at_too_old",
        "materials_required",
        "required",
        "invalid_phone",
        "invalid_id_number",
        "invalid_credit_code",
        "invalid_name",
    ];
    CODES
        .iter()
        .find(|c| **c == code)
        .copied()
        .unwrap_or("validation_failed")
}

/// Who an action is taken by, as the state machine and the timeline see it.
struct Acting {
    kind: ActorKind,
    actor: String,
    department_id: Option<Uuid>,
}

/// What an action carries besides the state machine's own content.
pub struct ActRequest {
    pub action: Action,
    pub revision: Option<i32>,
    pub occurred_at: Option<DateTime<Utc>>,
    /// Materials supplied with the action (a correction answer, a deferred material).
    pub materials: Vec<MaterialRef>,
    /// Staff's words kept on the timeline (a step's opinion).
    pub note: Option<String>,
    /// An approval's licence terms (licence items).
    pub licence: Option<LicenceTerms>,
}

impl ActRequest {
    pub fn new(action: Action, revision: Option<i32>, occurred_at: Option<DateTime<Utc>>) -> Self {
        ActRequest {
            action,
            revision,
            occurred_at,
            materials: Vec::new(),
            note: None,
            licence: None,
        }
    }
}

/// One notice to a case's applicant (and agent).
struct CaseNotice<'a> {
    template: &'a str,
    variables: Map<String, Value>,
    /// Legal notices: push first, SMS when the push does not arrive.
    must_reach: bool,
    /// Part of the idempotency key (with the case and its revision).
    event_kind: &'a str,
    /// Emailed to the applicant with the notice (the sealed result documents).
    attachments: &'a [Attachment],
}

/// Who a case's notices go to, and the case revision that makes each notice's idempotency key.
/// A new case's notice is written in the same flight of statements as the case itself, so it
/// is addressed from what the submission knows rather than from the stored row.
struct Addressees<'a> {
    case_id: Uuid,
    revision: i32,
    applicant_subject: Option<&'a str>,
    applicant_phone: Option<&'a str>,
    agent_subject: Option<&'a str>,
}

impl<'a> Addressees<'a> {
    /// A new case's addressees, from the row about to be inserted (revision 1).
    fn of_new(row: &store::NewCaseRow<'a>) -> Self {
        Addressees {
            case_id: row.id,
            revision: 1,
            applicant_subject: row.applicant_subject,
            applicant_phone: row.applicant_phone,
            agent_subject: row.agent_subject,
        }
    }

    fn of(row: &'a CaseRow) -> Self {
        Addressees {
            case_id: row.id,
            revision: row.revision,
            applicant_subject: row.applicant_subject.as_deref(),
            applicant_phone: row.applicant_phone.as_deref(),
            agent_subject: row.agent_subject.as_deref(),
        }
    }
}

/// The applicant a new case is for.
struct ApplicantFacts {
    kind: &'static str,
    subject: Option<String>,
    name: String,
    id_masked: String,
    /// The last six characters of the ID number or credit code (the progress query's factor).
    tail: String,
    /// Blind index of the ID number or credit code when the applicant has no verified account
    /// yet (window intake): the case joins the account they get later.
    unclaimed_index: Option<Vec<u8>>,
    phone: Option<String>,
    assurance: i16,
}

/// Everything submission needs, whichever the channel.
struct Intake<'a> {
    detail: &'a ItemDetail,
    /// The item's row facts, read with the submission's checks; `None` when the item is no
    /// longer in force at `detail`'s version.
    item: Option<ItemInForce>,
    applicant: ApplicantFacts,
    agent: Option<(String, String)>,
    submitted_by: String,
    channel: &'static str,
    idempotency: Option<(&'a str, String)>,
    form: Value,
    materials: Vec<NewMaterialOwned>,
    acting: Acting,
    occurred_at: Option<DateTime<Utc>>,
    /// For the `case.submitted` notice, read with the submission's checks.
    notice_facts: NoticeFacts,
}

/// What a new case copies from its item's row: the item still published at the version the
/// applicant saw, its lead department and region, and the ids of the departments involved.
struct ItemInForce {
    item_id: Uuid,
    lead_department_id: Uuid,
    region_code: String,
    departments: HashMap<String, Uuid>,
}

/// The item still in force at `detail`'s version, and the involved departments' ids, in one
/// statement. It is read before the case's transaction, with the submission's other checks (one
/// round trip for all of them); reading it inside would not hold it either: under READ COMMITTED
/// and without a row lock, a republication may commit between the read and the case's commit
/// wherever the read is.
async fn item_in_force(
    client: &impl Prepare,
    detail: &ItemDetail,
) -> Result<Option<ItemInForce>, tokio_postgres::Error> {
    let involved = involved_departments(detail);
    let row = client
        .query_opt_prepared(
            "SELECT i.id, i.lead_department_id, i.region_code, d.codes, d.ids
             FROM item i,
                  LATERAL (SELECT array_agg(code) AS codes, array_agg(id) AS ids
                           FROM department WHERE code = ANY($3)) AS d
             WHERE i.code = $1 AND i.status = 'published' AND i.current_version = $2",
            &[&detail.code, &detail.version, &involved],
        )
        .await?;
    Ok(row.map(|item| ItemInForce {
        item_id: item.get(0),
        lead_department_id: item.get(1),
        region_code: item.get(2),
        departments: item
            .get::<_, Option<Vec<String>>>(3)
            .unwrap_or_default()
            .into_iter()
            .zip(item.get::<_, Option<Vec<Uuid>>>(4).unwrap_or_default())
            .collect(),
    }))
}

struct NewMaterialOwned {
    key: String,
    file_id: Option<Uuid>,
    paper_note: Option<String>,
    /// The file's facts, for the new case's view.
    file: Option<store::OwnedFile>,
}

#[derive(Clone)]
pub struct CaseService {
    pool: Pool,
    calendar: Arc<CalendarService>,
    catalog: Arc<CatalogService>,
    keys: Arc<IdentityKeys>,
    outbox: OutboxSettings,
    /// Renders and seals the documents the actions issue.
    issuer: DocumentIssuer,
    /// Published item versions are immutable: each is read from the database once.
    versions: moka::future::Cache<(String, i32), Arc<ItemDetail>>,
    /// The application's clock: acceptance dates, "today" for every deadline, signing times.
    clock: Clock,
}

impl CaseService {
    pub fn new(
        pool: Pool,
        calendar: Arc<CalendarService>,
        catalog: Arc<CatalogService>,
        keys: Arc<IdentityKeys>,
        outbox: OutboxSettings,
        issuer: DocumentIssuer,
        clock: Clock,
    ) -> Self {
        CaseService {
            clock,
            pool,
            calendar,
            catalog,
            keys,
            outbox,
            issuer,
            versions: moka::future::Cache::builder().max_capacity(2_000).build(),
        }
    }

    // ----- submission -------------------------------------------------------------------

    /// An application from the app. Returns the case and whether it was created now (false:
    /// the idempotency key already made it).
    pub async fn submit(
        &self,
        principal: &Principal,
        idempotency_key: &str,
        body: NewCase,
    ) -> AppResult<(CaseDetail, bool)> {
        let submitted_by = principal.subject.to_string();
        let digest = request_digest(&body);
        // A repeated key is found by the insert itself (ON CONFLICT), which answers with the
        // case it made: no lookup before every submission.
        check_idempotency_key(idempotency_key)?;
        let detail = self.current_item(&body.item_code).await?;
        let guide = &detail.guide;
        if matches!(
            guide.online_depth,
            crate::catalog::model::OnlineDepth::Information
                | crate::catalog::model::OnlineDepth::FormDownload
        ) {
            return Err(AppError::invalid_field(
                "item_code",
                "item_not_online",
                "this item cannot be applied for online; apply at the window",
            ));
        }
        let form = check_form(body.form)?;
        let client = self.pool.get().await?;
        // The applicant: the caller, or the one who authorised them (代办).
        let (applicant_subject, agent) = match body.on_behalf_of {
            None => (principal.subject, None),
            Some(authorisation) => {
                let grantor =
                    agent_grantor(&**client, authorisation, &submitted_by, &detail.code).await?;
                let agent_name = account_name(&**client, &principal.subject).await?;
                (grantor, Some((submitted_by.clone(), agent_name)))
            }
        };
        // The reads at once on the connection (one round trip), with what the new case's
        // notice needs; their checks in the order they always had, so the same request gets
        // the same answer.
        let applicant_owner = applicant_subject.to_string();
        let agent_subject = agent.as_ref().map(|(subject, _)| subject.as_str());
        let (applicant, materials, item, notice_facts) = tokio::join!(
            self.applicant_facts(&client, &applicant_subject, body.contact_phone.as_deref()),
            check_materials(&client, guide, &submitted_by, &body.materials, &[]),
            item_in_force(&client, &detail),
            notice_facts(
                &client,
                Some(&applicant_owner),
                agent_subject,
                SUBMITTED_TEMPLATE
            ),
        );
        let applicant = applicant?;
        check_applicant_type(guide, applicant.kind)?;
        let required = guide.required_assurance_level;
        // The agent acts on the applicant's identity: both must reach the item's level.
        let caller_level = principal.assurance.level();
        if applicant.assurance < required || caller_level < required {
            return Err(AppError::Forbidden {
                code: "assurance_too_low",
                detail: format!(
                    "this item needs identity assurance level {required} (real-name verified for 2, certificate for 3)"
                ),
            });
        }
        let materials = materials?;
        invalid(missing_key_materials(guide, &body.materials))?;
        let item = item?;
        let notice_facts = notice_facts?;
        drop(client);
        let kind = ActorKind::Applicant;
        self.create(Intake {
            detail: &detail,
            item,
            applicant,
            agent,
            submitted_by: submitted_by.clone(),
            channel: "online",
            idempotency: Some((idempotency_key, digest.clone())),
            form,
            materials,
            acting: Acting {
                kind,
                actor: submitted_by.clone(),
                department_id: None,
            },
            occurred_at: None,
            notice_facts,
        })
        .await
    }

    /// A case registered by a window clerk for an applicant present in person.
    pub async fn window_intake(
        &self,
        clerk: &Principal,
        idempotency_key: Option<&str>,
        body: WindowCase,
    ) -> AppResult<(CaseDetail, bool)> {
        let submitted_by = clerk.subject.to_string();
        let digest = request_digest(&body);
        if let Some(key) = idempotency_key
            && let Some(existing) = self.replay(&submitted_by, key, &digest).await?
        {
            return Ok((existing, false));
        }
        let detail = self.current_item(&body.item_code).await?;
        let process = process_of(&detail);
        let client = self.pool.get().await?;
        let accepting = department_id(&**client, &process.accepting_department).await?;
        let allowed = allows(
            clerk,
            &Rule::Handle {
                role: Role::WindowClerk,
                department: accepting,
                item_code: &detail.code,
                step: &process.accept_step,
            },
        );
        if !allowed {
            return Err(AppError::Forbidden {
                code: "not_accepting_clerk",
                detail:
                    "only a window clerk of the item's accepting department registers its cases"
                        .to_owned(),
            });
        }
        let occurred_at = check_occurred_at(body.occurred_at, self.clock.now())?;
        let form = check_form(body.form)?;
        let applicant = self.window_applicant(&**client, &body.applicant).await?;
        check_applicant_type(&detail.guide, applicant.kind)?;
        let (materials, item, notice_facts) = tokio::join!(
            check_materials(
                &client,
                &detail.guide,
                &submitted_by,
                &body.materials,
                &body.paper_materials,
            ),
            item_in_force(&client, &detail),
            notice_facts(
                &client,
                applicant.subject.as_deref(),
                None,
                SUBMITTED_TEMPLATE
            ),
        );
        let (materials, item, notice_facts) = (materials?, item?, notice_facts?);
        drop(client);
        self.create(Intake {
            detail: &detail,
            item,
            applicant,
            agent: None,
            submitted_by: submitted_by.clone(),
            channel: "window",
            idempotency: idempotency_key.map(|k| (k, digest.clone())),
            form,
            materials,
            acting: Acting {
                kind: ActorKind::WindowClerk,
                actor: submitted_by,
                department_id: Some(accepting),
            },
            occurred_at,
            notice_facts,
        })
        .await
    }

    /// The case an idempotency key already made, if any; the same key with a different
    /// request is refused.
    async fn replay(
        &self,
        submitted_by: &str,
        key: &str,
        digest: &str,
    ) -> AppResult<Option<CaseDetail>> {
        check_idempotency_key(key)?;
        let client = self.pool.get().await?;
        match store::find_by_idempotency_key(&**client, submitted_by, key).await? {
            None => Ok(None),
            Some((_, Some(stored))) if stored != digest => Err(AppError::Invalid {
                code: "idempotency_key_reused",
                errors: vec![FieldError::new(
                    "Idempotency-Key",
                    "idempotency_key_reused",
                    "this key was used for a different application",
                )],
            }),
            Some((id, _)) => {
                let row = store::load(&**client, id)
                    .await?
                    .ok_or_else(case_not_found)?;
                drop(client);
                Ok(Some(self.detail_of(&row).await?))
            }
        }
    }

    async fn current_item(&self, code: &str) -> AppResult<Arc<ItemDetail>> {
        match self.catalog.current_detail(code).await {
            Ok(hit) => Ok(hit.detail),
            Err(AppError::NotFound { .. }) => Err(AppError::invalid_field(
                "item_code",
                "item_not_found",
                "no item in force with this code",
            )),
            Err(e) => Err(e),
        }
    }

    /// The item version a case runs under (immutable once published).
    async fn case_item(&self, row: &CaseRow) -> AppResult<Arc<ItemDetail>> {
        let key = (row.item_code.clone(), row.item_version);
        if let Some(hit) = self.versions.get(&key).await {
            return Ok(hit);
        }
        let detail = self
            .catalog
            .detail(&row.item_code, Some(row.item_version))
            .await?;
        self.versions.insert(key, detail.clone()).await;
        Ok(detail)
    }

    /// Writes a new case; `false` with the existing case when the idempotency key was used.
    async fn create(&self, intake: Intake<'_>) -> AppResult<(CaseDetail, bool)> {
        let detail = intake.detail;
        let process = process_of(detail);
        let case_id = Uuid::new_v4();
        let tail_mac = self.tail_mac(case_id, &intake.applicant.tail);
        // What needs no database is worked out before the transaction opens: a connection
        // never waits inside a transaction for this process's CPU work.
        // Online cases go straight to the accepting department's pre-review; window cases are
        // in the clerk's hands already.
        let start = transition(
            &CaseState::submitted(),
            &Action::PreReviewStart {
                department: process.accepting_department.clone(),
            },
            &ActorKind::System,
        )
        .map_err(transition_problem)?;
        let waiting: Vec<String> = tasks::staff_tasks(&start.state, &process)
            .iter()
            .map(Task::index_entry)
            .collect();
        let after = serde_json::to_value(&start.state).map_err(anyhow::Error::from)?;
        let Some(ItemInForce {
            item_id,
            lead_department_id,
            region_code,
            departments,
        }) = intake.item
        else {
            // A retry of an application made before the item changed still gets its case.
            if let Some((key, digest)) = &intake.idempotency
                && let Some(existing) = self.replay(&intake.submitted_by, key, digest).await?
            {
                return Ok((existing, false));
            }
            return Err(AppError::conflict(
                "item_version_changed",
                "the item was republished or cancelled meanwhile; reload it and apply again",
            ));
        };

        let client = self.pool.get().await?;
        let department_list: Vec<Uuid> = departments.values().copied().collect();
        let idempotency_key = intake.idempotency.as_ref().map(|(k, _)| *k);
        let request_digest = intake.idempotency.as_ref().map(|(_, d)| d.as_str());
        let materials: Vec<NewMaterial<'_>> = intake
            .materials
            .iter()
            .map(|m| NewMaterial {
                material_key: &m.key,
                file_id: m.file_id,
                paper_note: m.paper_note.as_deref(),
                supplied_in: "submission",
            })
            .collect();
        // The new case's own timeline starts at 1: no need to look for earlier events.
        let mut events = vec![NewEvent {
            kind: "submitted",
            details: json!({
                "channel": intake.channel,
                "item_version": detail.version,
                "guide_sha256": detail.guide_sha256,
                "materials": intake.materials.len(),
                "agent": intake.agent.as_ref().map(|(s, _)| s),
            }),
            actor: &intake.acting.actor,
            actor_kind: actor_kind_name(intake.acting.kind),
            department_id: intake.acting.department_id,
            occurred_at: intake.occurred_at,
        }];
        events.extend(start.events.iter().map(|e| NewEvent {
            kind: e.kind(),
            details: event_details(e),
            actor: "system",
            actor_kind: "system",
            department_id: departments.get(&process.accepting_department).copied(),
            occurred_at: intake.occurred_at,
        }));
        let audit_id = case_id.to_string();
        let audit_details = json!({
            "item": detail.code, "item_version": detail.version,
            "channel": intake.channel, "materials": intake.materials.len(),
            "agent": intake.agent.as_ref().map(|(s, _)| s),
        });
        let mut variables = Map::new();
        variables.insert("item".to_owned(), json!(detail.guide.name));
        let notice = CaseNotice {
            template: SUBMITTED_TEMPLATE,
            variables,
            must_reach: false,
            event_kind: "submitted",
            attachments: &[],
        };
        let new_row = store::NewCaseRow {
            id: case_id,
            region_code: &region_code,
            item_id,
            item_code: &detail.code,
            item_version: detail.version,
            item_name: &detail.guide.name,
            lead_department_id,
            channel: intake.channel,
            applicant_kind: intake.applicant.kind,
            applicant_subject: intake.applicant.subject.as_deref(),
            applicant_name: &intake.applicant.name,
            applicant_id_masked: &intake.applicant.id_masked,
            applicant_tail_mac: &tail_mac,
            applicant_id_index: intake.applicant.unclaimed_index.as_deref(),
            applicant_phone: intake.applicant.phone.as_deref(),
            agent_subject: intake.agent.as_ref().map(|(s, _)| s.as_str()),
            agent_name: intake.agent.as_ref().map(|(_, n)| n.as_str()),
            submitted_by: &intake.submitted_by,
            idempotency_key,
            request_digest,
            form: &intake.form,
            state: &start.state,
            waiting_on: &waiting,
            department_ids: &department_list,
            limit_working_days: i32::try_from(detail.guide.promised_limit_days).unwrap_or(i32::MAX),
            instant: detail.guide.instant,
        };
        let addressees = Addressees::of_new(&new_row);
        let audit_entry = AuditEntry {
            aggregate_type: "case",
            aggregate_id: &audit_id,
            actor: &intake.acting.actor,
            action: "case.submit",
            before: None,
            after: Some(&after),
            details: audit_details,
        };
        let audit = store::NewCaseAudit {
            aggregate_type: audit_entry.aggregate_type,
            aggregate_id: audit_entry.aggregate_id,
            actor: audit_entry.actor,
            action: audit_entry.action,
            details: &audit_entry.details,
            record: FirstRecord::of(&audit_entry),
        };
        // The case with its materials, timeline, first audit record and notice is one
        // statement, so one commit and no transaction to open: the notice's rows hang off the
        // case insert, and a taken idempotency key writes nothing at all. The notice is planned
        // from what the submission's checks read.
        let notices = self.plan_notices(&intake.notice_facts, &addressees, &notice)?;
        let inserted =
            store::insert_new_case(&client, &new_row, &materials, &events, &audit, &notices)
                .await?;
        drop(client);
        let Some(store::NewCaseRows {
            case: row,
            materials: mut material_rows,
            events: event_rows,
        }) = inserted
        else {
            // The key was used before (a retry, or a concurrent request that won): the answer
            // is that case.
            let key = idempotency_key.unwrap_or_default();
            let digest = request_digest.unwrap_or_default();
            return self
                .replay(&intake.submitted_by, key, digest)
                .await?
                .map(|existing| (existing, false))
                .ok_or_else(|| anyhow::anyhow!("idempotent insert lost but no case found").into());
        };
        // The new case's timeline and materials are what the inserts returned, with the files'
        // facts read when the materials were checked.
        let files: HashMap<Uuid, &store::OwnedFile> = intake
            .materials
            .iter()
            .filter_map(|m| m.file.as_ref().map(|f| (f.id, f)))
            .collect();
        for material in &mut material_rows {
            if let Some(file) = material.file_id.and_then(|id| files.get(&id)) {
                material.sha256 = Some(file.sha256.clone());
                material.content_type = Some(file.content_type.clone());
                material.file_name = file.file_name.clone();
                material.size_bytes = Some(file.size_bytes);
            }
        }
        Ok((
            // A new case has issued no document yet.
            self.detail_with(&row, event_rows, material_rows, Vec::new())
                .await?,
            true,
        ))
    }

    fn tail_mac(&self, case_id: Uuid, tail: &str) -> Vec<u8> {
        self.keys.blind_index(&tail_input(case_id, tail))
    }

    /// Whether `tail` is the last six characters of the case applicant's ID number or code
    /// (compared in constant time: a wrong guess must not tell how much of it was right).
    pub fn tail_matches(&self, row: &CaseRow, tail: &str) -> bool {
        self.keys
            .blind_index_matches(&tail_input(row.id, tail.trim()), &row.applicant_tail_mac)
    }

    async fn applicant_facts(
        &self,
        client: &impl Prepare,
        subject: &Subject,
        contact_phone: Option<&str>,
    ) -> AppResult<ApplicantFacts> {
        let contact = contact_phone
            .map(|p| crate::identity::citizens::parse_phone("contact_phone", p))
            .transpose()?;
        match subject {
            Subject::Citizen(id) => {
                let row = client
                    .query_opt_prepared(
                        "SELECT name, id_number_sealed, id_number_masked, phone, assurance
                         FROM citizen WHERE id = $1",
                        &[id],
                    )
                    .await?
                    .ok_or_else(|| anyhow::anyhow!("the signed-in citizen {id} is missing"))?;
                let sealed: Vec<u8> = row.get(1);
                let number = self
                    .keys
                    .decrypt(&sealed, id.as_bytes())
                    .map_err(|e| anyhow::anyhow!("opening an ID number: {e}"))?;
                let number = String::from_utf8(number).map_err(anyhow::Error::from)?;
                Ok(ApplicantFacts {
                    kind: "citizen",
                    subject: Some(subject.to_string()),
                    name: row.get(0),
                    id_masked: row.get(2),
                    tail: tail_of(&number),
                    unclaimed_index: None,
                    phone: Some(contact.unwrap_or_else(|| row.get(3))),
                    assurance: row.get(4),
                })
            }
            Subject::Enterprise(id) => {
                let row = client
                    .query_opt_prepared("SELECT code, name FROM enterprise WHERE id = $1", &[id])
                    .await?
                    .ok_or_else(|| anyhow::anyhow!("the signed-in enterprise {id} is missing"))?;
                let code: String = row.get(0);
                let name: Option<String> = row.get(1);
                let Some(phone) = contact else {
                    return Err(AppError::invalid_field(
                        "contact_phone",
                        "required",
                        "an enterprise names a contact mobile number for notices",
                    ));
                };
                Ok(ApplicantFacts {
                    kind: "enterprise",
                    subject: Some(subject.to_string()),
                    name: name.unwrap_or_else(|| code.clone()),
                    id_masked: mask_code(&code),
                    tail: tail_of(&code),
                    unclaimed_index: None,
                    phone: Some(phone),
                    // Enterprises log in with a CA certificate.
                    assurance: 3,
                })
            }
            Subject::Staff(_) => Err(AppError::Forbidden {
                code: "case_action_forbidden",
                detail: "staff accounts do not apply".to_owned(),
            }),
        }
    }

    /// The applicant at the window, checked from their documents; linked to their account when
    /// they have one, so the case shows in their app.
    async fn window_applicant(
        &self,
        client: &impl GenericClient,
        applicant: &WindowApplicant,
    ) -> AppResult<ApplicantFacts> {
        let name = crate::identity::citizens::check_name(&applicant.name).map_err(|_| {
            AppError::invalid_field(
                "applicant.name",
                "invalid_name",
                "a name of 2-50 characters",
            )
        })?;
        let phone = applicant
            .phone
            .as_deref()
            .map(|p| crate::identity::citizens::parse_phone("applicant.phone", p))
            .transpose()?;
        match applicant.kind {
            ApplicantKind::Citizen => {
                let number =
                    crate::identity::citizen_id::CitizenIdNumber::parse(&applicant.id_number)
                        .map_err(|e| {
                            AppError::invalid_field(
                                "applicant.id_number",
                                "invalid_id_number",
                                e.to_string(),
                            )
                        })?;
                let index = claims::citizen_index(&self.keys, &number);
                // Only an account whose real name was verified is this person's: an unverified
                // one merely claims the number. Otherwise the case waits for the verified account.
                let account: Option<Uuid> = client
                    .query_opt(
                        "SELECT id FROM citizen WHERE id_number_index = $1 AND assurance >= 2",
                        &[&index],
                    )
                    .await?
                    .map(|r| r.get(0));
                Ok(ApplicantFacts {
                    kind: "citizen",
                    subject: account.map(|id| Subject::Citizen(id).to_string()),
                    name,
                    id_masked: number.masked(),
                    tail: tail_of(number.expose()),
                    unclaimed_index: account.is_none().then_some(index),
                    phone,
                    // Identity checked in person against the ID card.
                    assurance: 3,
                })
            }
            ApplicantKind::Enterprise => {
                let code = crate::identity::credit_code::CreditCode::parse(&applicant.id_number)
                    .map_err(|e| {
                        AppError::invalid_field(
                            "applicant.id_number",
                            "invalid_credit_code",
                            e.to_string(),
                        )
                    })?;
                let code = code.as_str().to_owned();
                let account: Option<Uuid> = client
                    .query_opt("SELECT id FROM enterprise WHERE code = $1", &[&code])
                    .await?
                    .map(|r| r.get(0));
                Ok(ApplicantFacts {
                    kind: "enterprise",
                    subject: account.map(|id| Subject::Enterprise(id).to_string()),
                    name,
                    id_masked: mask_code(&code),
                    tail: tail_of(&code),
                    unclaimed_index: account.is_none().then(|| claims::enterprise_index(&code)),
                    phone,
                    assurance: 3,
                })
            }
        }
    }

    // ----- actions ----------------------------------------------------------------------

    /// An action by the applicant (or their agent) on their own case.
    pub async fn applicant_act(
        &self,
        principal: &Principal,
        case_id: Uuid,
        request: ActRequest,
    ) -> AppResult<CaseDetail> {
        let subject = principal.subject.to_string();
        let client = self.pool.get().await?;
        let row = store::load(&**client, case_id)
            .await?
            .filter(|r| r.belongs_to(&subject))
            .ok_or_else(case_not_found)?;
        // An agent acts only while the applicant's authorisation holds.
        if row.applicant_subject.as_deref() != Some(subject.as_str())
            && let Some(grantor) = &row.applicant_subject
        {
            let valid = client
                .query_opt(
                    "SELECT 1 FROM agent_authorisation
                     WHERE grantor = $1 AND agent = $2 AND revoked_at IS NULL
                       AND valid_until > clock_now() AND (item_code IS NULL OR item_code = $3)",
                    &[grantor, &subject, &row.item_code],
                )
                .await?
                .is_some();
            if !valid {
                return Err(AppError::Forbidden {
                    code: "agent_not_authorised",
                    detail: "your authorisation to act for this applicant has ended".to_owned(),
                });
            }
        }
        drop(client);
        let acting = Acting {
            kind: ActorKind::Applicant,
            actor: subject,
            department_id: None,
        };
        self.apply(row, acting, request).await
    }

    /// An action by staff: the caller must hold the role the action needs in the department
    /// whose turn it is (or be its AB backup); staff of departments the case does not involve
    /// get 404.
    pub async fn staff_act(
        &self,
        principal: &Principal,
        case_id: Uuid,
        request: ActRequest,
    ) -> AppResult<CaseDetail> {
        let client = self.pool.get().await?;
        let row = store::load(&**client, case_id)
            .await?
            .filter(|r| staff_may_see(principal, r))
            .ok_or_else(case_not_found)?;
        drop(client);
        let detail = self.case_item(&row).await?;
        let process = process_of(&detail);
        let candidates = candidates_for(&request.action, &row.state, &process);
        let codes: Vec<String> = candidates.iter().map(|t| t.department.clone()).collect();
        let ids = department_ids(&**self.pool.get().await?, &codes).await?;
        let chosen = candidates.iter().find_map(|task| {
            let department = *ids.get(&task.department)?;
            allows(
                principal,
                &Rule::Handle {
                    role: task.role,
                    department,
                    item_code: &row.item_code,
                    step: &task.step,
                },
            )
            .then_some((task.role, department))
        });
        let Some((role, department)) = chosen else {
            return Err(AppError::Forbidden {
                code: "case_action_forbidden",
                detail: format!(
                    "you hold no role that may {} this case at its current step",
                    request.action.name()
                ),
            });
        };
        let kind = ActorKind::from_role(role).ok_or_else(|| AppError::Forbidden {
            code: "case_action_forbidden",
            detail: "this role does not act on cases".to_owned(),
        })?;
        let acting = Acting {
            kind,
            actor: principal.subject.to_string(),
            department_id: Some(department),
        };
        self.apply(row, acting, request).await
    }

    async fn apply(
        &self,
        row: CaseRow,
        acting: Acting,
        mut request: ActRequest,
    ) -> AppResult<CaseDetail> {
        if let Some(expected) = request.revision
            && expected != row.revision
        {
            return Err(revision_conflict(row.revision));
        }
        let occurred_at = check_occurred_at(request.occurred_at, self.clock.now())?;
        let detail = self.case_item(&row).await?;
        let process = process_of(&detail);
        let today = self.clock.today();
        // Work entered afterwards (事后补录) takes its legal date from when it happened: the
        // acceptance day, a suspension's start or end, an extension's grant, a decision's day.
        let legal_day = occurred_at.map_or(today, date_in_china);
        let calendar = self.calendar.calendar().await?;
        self.check_action_content(
            &row,
            &detail.guide,
            &mut request.action,
            &calendar,
            legal_day,
        )?;

        let mut outcome =
            transition(&row.state, &request.action, &acting.kind).map_err(transition_problem)?;
        let mut events: Vec<(Event, &'static str, String)> = outcome
            .events
            .drain(..)
            .map(|e| (e, actor_kind_name(acting.kind), acting.actor.clone()))
            .collect();
        let mut state = outcome.state;
        let mut clock_record = row.clock.clone();
        let mut acceptance_number = row.acceptance_number.clone();
        let mut accepted_on = row.accepted_on;

        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        if state.stage == Stage::Accepted && row.state.stage != Stage::Accepted {
            // Acceptance issues the number and starts the item's department steps at once.
            let number = self
                .allocate_acceptance_number(&tx, &row, legal_day)
                .await?;
            acceptance_number = Some(number);
            accepted_on = Some(legal_day);
            let steps = StartStepsPlan::from(detail.as_ref()).steps;
            let started = transition(&state, &Action::StartSteps { steps }, &ActorKind::System)
                .map_err(transition_problem)?;
            state = started.state;
            events.extend(
                started
                    .events
                    .into_iter()
                    .map(|e| (e, "system", "system".to_owned())),
            );
        }
        match &request.action {
            Action::Suspend { .. } => clock_record.suspensions.push(SuspensionPeriod {
                start: legal_day,
                end: None,
            }),
            Action::Resume => {
                if let Some(open) = clock_record
                    .suspensions
                    .iter_mut()
                    .rev()
                    .find(|s| s.end.is_none())
                {
                    open.end = Some(legal_day);
                }
            }
            Action::Extend { new_deadline, .. } => clock_record.extensions.push(Extension {
                granted_on: legal_day,
                new_deadline: *new_deadline,
            }),
            _ => {}
        }
        // The moment of this action: the seal's signing time of the documents it issues and,
        // for a decision, when the case's clock stops.
        let signed_at = self.clock.now();
        let closed = state.is_terminal();
        if closed {
            // A decision (or any end) closes an open suspension on the same day.
            for open in clock_record
                .suspensions
                .iter_mut()
                .filter(|s| s.end.is_none())
            {
                open.end = Some(legal_day);
            }
        }
        let waiting: Vec<String> = tasks::staff_tasks(&state, &process)
            .iter()
            .map(Task::index_entry)
            .collect();
        let updated = store::update(
            &*tx,
            &store::CaseUpdate {
                id: row.id,
                revision: row.revision,
                state: &state,
                waiting_on: &waiting,
                department_ids: &row.department_ids,
                acceptance_number: acceptance_number.as_deref(),
                accepted_on,
                clock: &clock_record,
                closed_at: closed.then_some(occurred_at.unwrap_or(signed_at)),
            },
        )
        .await?;
        if !updated {
            return Err(revision_conflict(row.revision + 1));
        }
        // Materials that came with the action.
        let supplied_in = match &request.action {
            Action::AnswerCorrection => "correction",
            _ => "deferred",
        };
        let materials =
            check_materials(&*tx, &detail.guide, &acting.actor, &request.materials, &[]).await?;
        let links: Vec<NewMaterial<'_>> = materials
            .iter()
            .map(|m| NewMaterial {
                material_key: &m.key,
                file_id: m.file_id,
                paper_note: None,
                supplied_in,
            })
            .collect();
        store::add_materials(&*tx, row.id, &row.region_code, &links).await?;

        let new_events: Vec<NewEvent<'_>> = events
            .iter()
            .map(|(event, kind, actor)| {
                let mut details = event_details(event);
                if let (Some(note), Value::Object(map)) = (&request.note, &mut details) {
                    map.insert("opinion".to_owned(), json!(note));
                }
                if !materials.is_empty()
                    && let Value::Object(map) = &mut details
                {
                    map.insert(
                        "materials".to_owned(),
                        json!(materials.iter().map(|m| &m.key).collect::<Vec<_>>()),
                    );
                }
                NewEvent {
                    kind: event.kind(),
                    details,
                    actor: actor.as_str(),
                    actor_kind: kind,
                    department_id: if *kind == "system" {
                        None
                    } else {
                        acting.department_id
                    },
                    occurred_at,
                }
            })
            .collect();
        store::append_events(&*tx, row.id, &row.region_code, &new_events).await?;
        if let Some(at) = occurred_at {
            let gap = calendar
                .working_days_between(legal_day, today)
                .map_err(|e| clock_problem(e.into()))?;
            if gap > 1 {
                let gap = i32::try_from(gap).unwrap_or(i32::MAX);
                store::record_backfill(&*tx, row.id, at, gap).await?;
            }
        }
        audit::append(
            &tx,
            AuditEntry {
                aggregate_type: "case",
                aggregate_id: &row.id.to_string(),
                actor: &acting.actor,
                action: &format!("case.{}", request.action.name()),
                before: Some(&serde_json::to_value(&row.state).map_err(anyhow::Error::from)?),
                after: Some(&serde_json::to_value(&state).map_err(anyhow::Error::from)?),
                details: json!({
                    "from": row.state.stage.name(),
                    "to": state.stage.name(),
                    "events": events.iter().map(|(e, _, _)| e.kind()).collect::<Vec<_>>(),
                    "revision": row.revision + 1,
                    "department": acting.department_id,
                    "occurred_at": occurred_at,
                }),
            },
        )
        .await?;
        let updated_row = store::load(&*tx, row.id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("the case being changed is missing"))?;
        let issued = self
            .issue_documents(
                &tx,
                &updated_row,
                &detail,
                &process,
                &events,
                &acting,
                &request,
                &calendar,
                signed_at,
            )
            .await?;
        for (event, _, _) in &events {
            self.notify_event(&tx, &updated_row, event, &calendar, &issued)
                .await?;
        }
        tx.commit().await?;
        drop(client);
        self.detail_of(&updated_row).await
    }

    /// Checks what the state machine cannot: material keys against the item, dates against
    /// today and the calendar; fills the standard remedies into a denial that gives none.
    fn check_action_content(
        &self,
        row: &CaseRow,
        guide: &Guide,
        action: &mut Action,
        calendar: &Calendar,
        today: NaiveDate,
    ) -> AppResult<()> {
        match action {
            Action::Accept { deferred, .. } => {
                let mut errors = Vec::new();
                for (index, entry) in deferred.iter().enumerate() {
                    match guide.materials.iter().find(|m| m.key == entry.material) {
                        None => errors.push(FieldError::new(
                            format!("deferred[{index}].material_key"),
                            "unknown_material",
                            "not on the item's material list",
                        )),
                        Some(m) if m.key_material => errors.push(FieldError::new(
                            format!("deferred[{index}].material_key"),
                            "deferred_key_material",
                            "a key material cannot be deferred (容缺 is for non-key materials)",
                        )),
                        Some(_) => {}
                    }
                    if entry.due < today {
                        errors.push(FieldError::new(
                            format!("deferred[{index}].due"),
                            "deferred_due_past",
                            "the date to supply it is in the past",
                        ));
                    }
                }
                invalid(errors)
            }
            Action::Suspend { expected_end, .. } if *expected_end < today => {
                Err(AppError::invalid_field(
                    "expected_end",
                    "expected_end_past",
                    "the expected end is in the past",
                ))
            }
            Action::Extend { new_deadline, .. } => {
                let Some(accepted_on) = row.accepted_on else {
                    return Ok(()); // the state machine refuses it: not accepted yet
                };
                super::extension::check(
                    calendar,
                    &case_clock(row, accepted_on),
                    guide.extension_allowance(),
                    *new_deadline,
                    today,
                )
            }
            Action::Deny { remedies, .. } if remedies.trim().is_empty() => {
                *remedies = super::model::STANDARD_REMEDIES.to_owned();
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Seals the documents the action's events issue (see [`issuing`]), in `tx`.
    #[allow(clippy::too_many_arguments)]
    async fn issue_documents(
        &self,
        tx: &Transaction<'_>,
        row: &CaseRow,
        detail: &ItemDetail,
        process: &Process,
        events: &[(Event, &'static str, String)],
        acting: &Acting,
        request: &ActRequest,
        calendar: &Calendar,
        signed_at: DateTime<Utc>,
    ) -> AppResult<Vec<IssuedDocument>> {
        let decide_by = match row.accepted_on {
            Some(_) => Some(promised_deadline(row, calendar)?),
            None => None,
        };
        let events: Vec<Event> = events.iter().map(|(e, _, _)| e.clone()).collect();
        let planned = issuing::plan(&events, detail, decide_by, request.licence.as_ref());
        let mut issued = Vec::new();
        for plan in planned {
            let department_code = if plan.is_decision() {
                &process.deciding_department
            } else {
                &process.accepting_department
            };
            let context = IssueContext {
                row,
                item: detail,
                department_code,
                actor: &acting.actor,
                signed_at,
            };
            issued.extend(self.issuer.issue(tx, &context, &plan).await?);
        }
        Ok(issued)
    }

    async fn allocate_acceptance_number(
        &self,
        tx: &Transaction<'_>,
        row: &CaseRow,
        today: NaiveDate,
    ) -> AppResult<String> {
        let region6: String = row.region_code.chars().take(6).collect();
        let region = RegionCode::parse(&region6)
            .map_err(|e| anyhow::anyhow!("department region {region6}: {e}"))?;
        let sequence: i64 = tx
            .query_one("SELECT next_acceptance_sequence($1)", &[&region6])
            .await?
            .get(0);
        let sequence = Sequence::new(u32::try_from(sequence).map_err(anyhow::Error::from)?)
            .map_err(|e| anyhow::anyhow!("acceptance sequence: {e}"))?;
        let number = AcceptanceNumber::new(region, today, sequence)
            .map_err(|e| anyhow::anyhow!("acceptance number: {e}"))?;
        Ok(number.to_string())
    }
}

// ----- helpers --------------------------------------------------------------------------

fn revision_conflict(current: i32) -> AppError {
    AppError::conflict(
        "case_revision_conflict",
        format!(
            "the case changed meanwhile (now at revision {current}); reload it and decide again"
        ),
    )
}

fn clock_problem(error: clock::ClockError) -> AppError {
    AppError::Status {
        status: poem::http::StatusCode::UNPROCESSABLE_ENTITY,
        code: error.code(),
        detail: error.to_string(),
    }
}

fn actor_kind_name(kind: ActorKind) -> &'static str {
    match kind {
        ActorKind::Applicant => "applicant",
        ActorKind::WindowClerk => "window_clerk",
        ActorKind::Reviewer => "reviewer",
        ActorKind::Approver => "approver",
        ActorKind::System => "system",
    }
}

/// The event's details for the timeline: its own fields minus the tag.
fn event_details(event: &Event) -> Value {
    match serde_json::to_value(event) {
        Ok(Value::Object(mut map)) => {
            map.remove("kind");
            Value::Object(map)
        }
        _ => json!({}),
    }
}

fn case_clock(row: &CaseRow, accepted_on: NaiveDate) -> CaseClock {
    CaseClock {
        accepted_on,
        limit_working_days: u32::try_from(row.limit_working_days).unwrap_or(0),
        suspensions: row.clock.suspensions.clone(),
        extensions: row.clock.extensions.clone(),
    }
}

/// The deadline an accepted case promises on its acceptance day, with the basis when it is
/// provisional: what the acceptance notice and its SMS state.
fn promised_deadline(row: &CaseRow, calendar: &Calendar) -> AppResult<PromisedDeadline> {
    let accepted_on = row
        .accepted_on
        .ok_or_else(|| anyhow::anyhow!("a promised deadline asked of a case not accepted"))?;
    let facts = clock::deadline_facts(calendar, &case_clock(row, accepted_on), accepted_on)
        .map_err(clock_problem)?;
    Ok(PromisedDeadline {
        date: facts.deadline,
        provisional_basis: provisional::basis(&facts.provisional_years),
    })
}

/// What the tail's blind index is taken over: the case binds it, so equal tails of two
/// applicants never show as equal indexes.
fn tail_input(case_id: Uuid, tail: &str) -> String {
    format!("case-tail\u{0}{case_id}\u{0}{}", tail.to_ascii_uppercase())
}

/// What planning a new case's notice reads from the database: the agent's phone, and the
/// template, preferences, devices and email of each addressee (an account, or `None` for a
/// bare phone).
struct NoticeFacts {
    agent_phone: Option<String>,
    contexts: Vec<(Option<String>, outbox::NoticeContext)>,
}

impl NoticeFacts {
    fn context_of(&self, owner: Option<&str>) -> Option<&outbox::NoticeContext> {
        self.contexts
            .iter()
            .find(|(o, _)| o.as_deref() == owner)
            .map(|(_, context)| context)
    }
}

/// The grantor of an agent authorisation the caller holds for this item.
async fn agent_grantor(
    client: &impl GenericClient,
    authorisation: Uuid,
    agent: &str,
    item_code: &str,
) -> AppResult<Subject> {
    let row = client
        .query_opt(
            "SELECT grantor FROM agent_authorisation
             WHERE id = $1 AND agent = $2 AND revoked_at IS NULL AND valid_until > clock_now()
               AND (item_code IS NULL OR item_code = $3)",
            &[&authorisation, &agent, &item_code],
        )
        .await?;
    let grantor: String = row.map(|r| r.get(0)).ok_or_else(|| AppError::Forbidden {
        code: "agent_not_authorised",
        detail: "no valid authorisation lets you apply for this applicant and item".to_owned(),
    })?;
    grantor
        .parse::<Subject>()
        .map_err(|()| anyhow::anyhow!("bad grantor {grantor}").into())
}

async fn account_name(client: &impl GenericClient, subject: &Subject) -> AppResult<String> {
    let name: Option<String> = match subject {
        Subject::Citizen(id) => client
            .query_opt("SELECT name FROM citizen WHERE id = $1", &[id])
            .await?
            .map(|r| r.get(0)),
        Subject::Enterprise(id) => client
            .query_opt(
                "SELECT coalesce(name, code) FROM enterprise WHERE id = $1",
                &[id],
            )
            .await?
            .map(|r| r.get(0)),
        Subject::Staff(_) => None,
    };
    Ok(name.unwrap_or_default())
}

fn tail_of(number: &str) -> String {
    let chars: Vec<char> = number.trim().chars().collect();
    chars[chars.len().saturating_sub(6)..]
        .iter()
        .collect::<String>()
        .to_ascii_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_digests_the_same_whatever_its_field_order_and_differs_when_it_differs() {
        let case = |text: &str| -> NewCase { serde_json::from_str(text).unwrap() };
        let one = case(r#"{"item_code": "A", "form": {"甲": 1, "乙": {"x": [1, 2], "y": "z"}}}"#);
        let reordered =
            case(r#"{"form": {"乙": {"y": "z", "x": [1, 2]}, "甲": 1}, "item_code": "A"}"#);
        let changed =
            case(r#"{"item_code": "A", "form": {"甲": 1, "乙": {"x": [2, 1], "y": "z"}}}"#);
        let digest = |c: &NewCase| request_digest(c);
        assert_eq!(digest(&one), digest(&reordered));
        assert_ne!(digest(&one), digest(&changed));
        let canonical =
            crate::audit::canonical::canonical_json(&json!({"b": [true, null], "a": "文"}));
        assert_eq!(canonical, r#"{"a":"文","b":[true,null]}"#);
    }

    #[test]
    fn tails_and_masks_keep_only_what_they_may() {
        assert_eq!(tail_of("11010519491231002x"), "31002X");
        assert_eq!(tail_of("12345"), "12345");
        assert_eq!(mask_code("91440300MA5F3K7Q81"), "9144**********7Q81");
    }

    #[test]
    fn backdated_work_is_bounded() {
        let now = DateTime::parse_from_rfc3339("2026-11-16T10:00:00+08:00")
            .unwrap()
            .with_timezone(&Utc);
        assert!(check_occurred_at(Some(now + chrono::Duration::hours(1)), now).is_err());
        assert!(check_occurred_at(Some(now - chrono::Duration::days(31)), now).is_err());
        assert!(check_occurred_at(Some(now - chrono::Duration::days(2)), now).is_ok());
    }
}
