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

mod recompute;

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

    // ----- notifications ----------------------------------------------------------------

    async fn notify_event(
        &self,
        tx: &impl Prepare,
        row: &CaseRow,
        event: &Event,
        calendar: &Calendar,
        issued: &[IssuedDocument],
    ) -> AppResult<()> {
        let number = row.acceptance_number.clone().unwrap_or_default();
        let mut v = Map::new();
        v.insert("item".to_owned(), json!(row.item_name));
        v.insert("acceptance_number".to_owned(), json!(number));
        // Results carry the link to the sealed decision (the first document the event issued).
        if let Some(document) = issued.iter().find(|d| d.kind != "licence") {
            v.insert(
                "document_url".to_owned(),
                json!(self.issuer.download_url(row.id, document.id)),
            );
        }
        let (template, must_reach) = match event {
            Event::CorrectionRequested { missing, .. } => {
                v.insert("missing".to_owned(), json!(missing.join("、")));
                ("case.correction_requested", true)
            }
            Event::Accepted { .. } => {
                let promised = promised_deadline(row, calendar)?;
                v.insert(
                    "deadline".to_owned(),
                    json!(promised.date.format("%Y年%m月%d日").to_string()),
                );
                v.insert("deadline_basis".to_owned(), json!(promised.basis_note()));
                ("case.accepted", true)
            }
            Event::Rejected { reason } => {
                v.insert("reason".to_owned(), json!(reason));
                ("case.rejected", true)
            }
            Event::Suspended {
                special_step,
                expected_end,
                ..
            } => {
                v.insert(
                    "special_step".to_owned(),
                    json!(special_step_label(*special_step)),
                );
                v.insert(
                    "expected_end".to_owned(),
                    json!(expected_end.format("%Y年%m月%d日").to_string()),
                );
                ("case.suspended", false)
            }
            Event::Resumed { special_step } => {
                v.insert(
                    "special_step".to_owned(),
                    json!(special_step_label(*special_step)),
                );
                ("case.resumed", false)
            }
            Event::Extended {
                reason,
                new_deadline,
            } => {
                v.insert("reason".to_owned(), json!(reason));
                v.insert(
                    "new_deadline".to_owned(),
                    json!(new_deadline.format("%Y年%m月%d日").to_string()),
                );
                let from = row.accepted_on.unwrap_or(*new_deadline);
                let basis = provisional::basis(&calendar.provisional_years(from, *new_deadline));
                v.insert(
                    "deadline_basis".to_owned(),
                    json!(basis.map(|b| format!("（{b}）")).unwrap_or_default()),
                );
                ("case.extended", true)
            }
            Event::Approved => ("case.approved", true),
            Event::Denied { reasons, remedies } => {
                v.insert("reasons".to_owned(), json!(reasons));
                v.insert("remedies".to_owned(), json!(remedies));
                ("case.denied", true)
            }
            Event::Terminated { reason } => {
                v.insert("reason".to_owned(), json!(reason));
                ("case.terminated", true)
            }
            Event::Withdrawn { .. } => ("case.withdrawn", false),
            _ => return Ok(()),
        };
        // Results go by email too, with the sealed documents attached (when the applicant has
        // a verified address; the result templates have email text).
        let attachments: Vec<Attachment> = match event {
            Event::Rejected { .. } | Event::Approved | Event::Denied { .. } => issued
                .iter()
                .map(|d| Attachment {
                    filename: format!("{}-{}.pdf", d.title, d.document_number),
                    content_type: "application/pdf".to_owned(),
                    blob_sha256: d.sha256.clone(),
                })
                .collect(),
            _ => Vec::new(),
        };
        let notice = CaseNotice {
            template,
            variables: v,
            must_reach,
            event_kind: event.kind(),
            attachments: &attachments,
        };
        self.notify(tx, &Addressees::of(row), notice).await
    }

    /// Tells the applicant (and their agent) through the notification hub, in `tx`.
    async fn notify(
        &self,
        tx: &impl Prepare,
        row: &Addressees<'_>,
        notice: CaseNotice<'_>,
    ) -> AppResult<()> {
        let agent_phone = agent_phone(tx, row.agent_subject).await?;
        for (notification, attached) in case_notifications(row, &notice, agent_phone) {
            outbox::enqueue_prepared(tx, &notification, attached, &self.outbox)
                .await
                .map_err(|e| anyhow::anyhow!("enqueueing {}: {e}", notice.template))?;
        }
        Ok(())
    }

    /// `notice` for the case's applicant and agent, planned ahead to be written by the
    /// statement that creates the case (no transaction of its own needed), from what
    /// [`notice_facts`] read with the submission's checks.
    fn plan_notices(
        &self,
        facts: &NoticeFacts,
        row: &Addressees<'_>,
        notice: &CaseNotice<'_>,
    ) -> AppResult<Vec<outbox::NotificationPlan>> {
        case_notifications(row, notice, facts.agent_phone.clone())
            .iter()
            .map(|(notification, _)| {
                let owner = match &notification.recipient {
                    Recipient::Owner { owner, .. } => Some(owner.as_str()),
                    _ => None,
                };
                let context = facts.context_of(owner).ok_or_else(|| {
                    anyhow::anyhow!("no notice facts were read for {}", notice.template)
                })?;
                outbox::plan(notification, context, &self.outbox).map_err(|e| {
                    AppError::from(anyhow::anyhow!("planning {}: {e}", notice.template))
                })
            })
            .collect()
    }

    // ----- views ------------------------------------------------------------------------

    /// The caller's cases, as applicant or agent.
    pub async fn my_cases(&self, principal: &Principal) -> AppResult<CaseList> {
        let client = self.pool.get().await?;
        let rows = store::list_for_subject(&**client, &principal.subject.to_string(), 200).await?;
        let calendar = self.calendar.calendar().await?;
        Ok(CaseList {
            cases: rows
                .iter()
                .map(|r| summary(r, &calendar, self.clock.today()))
                .collect(),
        })
    }

    pub async fn my_case(&self, principal: &Principal, case_id: Uuid) -> AppResult<CaseDetail> {
        let client = self.pool.get().await?;
        let row = store::load(&**client, case_id)
            .await?
            .filter(|r| r.belongs_to(&principal.subject.to_string()))
            .ok_or_else(case_not_found)?;
        drop(client);
        self.detail_of(&row).await
    }

    /// A case as staff see it: every department it involves (the lead, co-departments — who
    /// see the shared materials, never asking again — accepting and deciding ones) and oversight.
    pub async fn staff_case(&self, principal: &Principal, case_id: Uuid) -> AppResult<CaseDetail> {
        let client = self.pool.get().await?;
        let row = store::load(&**client, case_id)
            .await?
            .filter(|r| staff_may_see(principal, r))
            .ok_or_else(case_not_found)?;
        drop(client);
        self.detail_of(&row).await
    }

    /// A sealed document of one of the caller's cases (as applicant or agent): the record and
    /// the PDF.
    pub async fn my_document(
        &self,
        principal: &Principal,
        case_id: Uuid,
        document_id: Uuid,
    ) -> AppResult<(DocumentRecord, Vec<u8>)> {
        let subject = principal.subject.to_string();
        self.document(case_id, document_id, |row| row.belongs_to(&subject))
            .await
    }

    /// A sealed document of a case the staff member may see.
    pub async fn staff_document(
        &self,
        principal: &Principal,
        case_id: Uuid,
        document_id: Uuid,
    ) -> AppResult<(DocumentRecord, Vec<u8>)> {
        self.document(case_id, document_id, |row| staff_may_see(principal, row))
            .await
    }

    async fn document(
        &self,
        case_id: Uuid,
        document_id: Uuid,
        may_see: impl Fn(&CaseRow) -> bool,
    ) -> AppResult<(DocumentRecord, Vec<u8>)> {
        let record = {
            let client = self.pool.get().await?;
            store::load(&**client, case_id)
                .await?
                .filter(|row| may_see(row))
                .ok_or_else(case_not_found)?;
            documents::one(&**client, case_id, document_id)
                .await?
                .ok_or_else(|| AppError::not_found("document_not_found", "no such document"))?
        };
        let bytes = self.issuer.pdf(&record.sha256).await?;
        Ok((record, bytes))
    }

    /// A material file of a case, for staff who may see the case.
    pub async fn staff_material(
        &self,
        principal: &Principal,
        case_id: Uuid,
        material_id: Uuid,
    ) -> AppResult<(String, String)> {
        let client = self.pool.get().await?;
        store::load(&**client, case_id)
            .await?
            .filter(|r| staff_may_see(principal, r))
            .ok_or_else(case_not_found)?;
        let row = client
            .query_opt(
                "SELECT f.sha256, f.content_type FROM case_material m
                 JOIN material_file f ON f.id = m.file_id
                 WHERE m.case_id = $1 AND m.id = $2",
                &[&case_id, &material_id],
            )
            .await?
            .ok_or_else(|| AppError::not_found("material_not_found", "no such material"))?;
        Ok((row.get(0), row.get(1)))
    }

    /// The staff inbox: open cases waiting on a role the caller holds (narrowed grants and AB
    /// backups included), soonest deadline first.
    pub async fn inbox(&self, principal: &Principal) -> AppResult<Inbox> {
        let department_ids: Vec<Uuid> = principal
            .grants
            .iter()
            .filter(|g| g.role.is_handling())
            .filter_map(|g| g.department_id)
            .collect();
        if department_ids.is_empty() {
            return Ok(Inbox {
                entries: Vec::new(),
            });
        }
        let client = self.pool.get().await?;
        let codes: HashMap<Uuid, String> = client
            .query(
                "SELECT id, code FROM department WHERE id = ANY($1)",
                &[&department_ids],
            )
            .await?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        let entries: Vec<String> = principal
            .grants
            .iter()
            .filter(|g| g.role.is_handling())
            .filter_map(|g| {
                let code = codes.get(&g.department_id?)?;
                Some(format!("{code}:{}", g.role.as_str()))
            })
            .collect();
        let rows = store::waiting_on(&**client, &entries, 500).await?;
        drop(client);
        let calendar = self.calendar.calendar().await?;
        let mut inbox = Vec::with_capacity(rows.len());
        for row in rows {
            let detail = self.case_item(&row).await?;
            let process = process_of(&detail);
            let mine: Vec<TaskView> = tasks::staff_tasks(&row.state, &process)
                .into_iter()
                .filter(|task| {
                    codes.iter().any(|(id, code)| {
                        *code == task.department
                            && allows(
                                principal,
                                &Rule::Handle {
                                    role: task.role,
                                    department: *id,
                                    item_code: &row.item_code,
                                    step: &task.step,
                                },
                            )
                    })
                })
                .map(task_view)
                .collect();
            if mine.is_empty() {
                continue;
            }
            inbox.push(InboxEntry {
                case: summary(&row, &calendar, self.clock.today()),
                tasks: mine,
                applicant_name: row.applicant_name.clone(),
            });
        }
        inbox.sort_by_key(|e| {
            (
                e.case.deadline.as_ref().map(|d| d.deadline),
                e.case.submitted_at,
            )
        });
        Ok(Inbox { entries: inbox })
    }

    /// One case with its timeline and materials. Takes its own connection, after the
    /// calendar and the item version (cached; a miss reads the database): callers must not
    /// hold a connection while calling it, or a cold cache could wait on a full pool.
    pub async fn detail_of(&self, row: &CaseRow) -> AppResult<CaseDetail> {
        let (events, materials, documents) = {
            let client = self.pool.get().await?;
            (
                store::events(&client, row.id).await?,
                store::materials(&client, row.id).await?,
                documents::for_case(&**client, row.id).await?,
            )
        };
        self.detail_with(row, events, materials, documents).await
    }

    /// The case's view from its row, timeline and materials (the calendar and the item
    /// version come from their caches; a miss takes a connection of its own).
    async fn detail_with(
        &self,
        row: &CaseRow,
        events: Vec<store::EventRow>,
        materials: Vec<store::MaterialRow>,
        documents: Vec<DocumentRecord>,
    ) -> AppResult<CaseDetail> {
        let calendar = self.calendar.calendar().await?;
        let item = self.case_item(row).await?;
        let process = process_of(&item);
        let (deadline, deadline_unavailable) = deadline_of(row, &calendar, self.clock.today());
        let backfilled = events
            .iter()
            .rev()
            .find(|e| e.occurred_at != e.recorded_at)
            .map(|e| BackfillView {
                kind: e.kind.clone(),
                recorded_at: e.recorded_at,
                occurred_at: e.occurred_at,
            });
        let steps = match &row.state.stage {
            Stage::InReview(review)
            | Stage::Suspended {
                resume_to: super::model::ResumeStage::InReview(review),
                ..
            } => review
                .steps
                .iter()
                .map(|s| StepView {
                    department_code: s.department.clone(),
                    name: s.name.clone(),
                    stage: s.stage,
                    status: serde_json::to_value(s.status)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default(),
                })
                .collect(),
            _ => Vec::new(),
        };
        Ok(CaseDetail {
            id: row.id,
            item_code: row.item_code.clone(),
            item_name: row.item_name.clone(),
            item_version: row.item_version,
            channel: row.channel.clone(),
            applicant: ApplicantView {
                kind: row.applicant_kind.clone(),
                name: row.applicant_name.clone(),
                id_masked: row.applicant_id_masked.clone(),
            },
            agent: row.agent_subject.as_ref().map(|subject| AgentView {
                subject: subject.clone(),
                name: row.agent_name.clone().unwrap_or_default(),
            }),
            stage: row.state.stage.name().to_owned(),
            stage_label: tasks::stage_label(&row.state.stage).to_owned(),
            stage_details: stage_details(&row.state.stage),
            correction_count: row.state.correction_count,
            acceptance_number: row.acceptance_number.clone(),
            accepted_on: row.accepted_on,
            acceptance: row
                .state
                .acceptance
                .as_ref()
                .and_then(|a| serde_json::to_value(a).ok()),
            limit_working_days: row.limit_working_days,
            deadline,
            deadline_unavailable,
            steps,
            waiting_on: tasks::staff_tasks(&row.state, &process)
                .into_iter()
                .map(task_view)
                .collect(),
            applicant_todo: tasks::applicant_todo(&row.state).map(str::to_owned),
            form: row.form.clone(),
            materials: materials
                .into_iter()
                .map(|m| MaterialView {
                    id: m.id,
                    material_key: m.material_key,
                    file_id: m.file_id,
                    sha256: m.sha256,
                    content_type: m.content_type,
                    file_name: m.file_name,
                    size_bytes: m.size_bytes,
                    paper_note: m.paper_note,
                    supplied_in: m.supplied_in,
                    added_at: m.added_at,
                })
                .collect(),
            documents: documents
                .into_iter()
                .map(|d| DocumentView::of(d, self.issuer.public_base_url()))
                .collect(),
            timeline: events
                .into_iter()
                .map(|e| EventView {
                    seq: e.seq,
                    kind: e.kind,
                    details: e.details,
                    actor_kind: e.actor_kind,
                    recorded_at: e.recorded_at,
                    occurred_at: e.occurred_at,
                })
                .collect(),
            backfilled,
            revision: row.revision,
            submitted_at: row.submitted_at,
            closed_at: row.closed_at,
        })
    }

    /// The application's clock.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    pub fn issuer(&self) -> &DocumentIssuer {
        &self.issuer
    }

    /// The pool, for the progress query and agent authorisations.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    pub async fn calendar(&self) -> AppResult<Calendar> {
        self.calendar.calendar().await
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

fn task_view(task: Task) -> TaskView {
    TaskView {
        department_code: task.department,
        role: task.role.as_str().to_owned(),
        step: task.step,
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

fn stage_details(stage: &Stage) -> Value {
    match serde_json::to_value(stage) {
        Ok(Value::Object(mut map)) => {
            map.remove("stage");
            // Steps are shown in `steps`.
            map.remove("steps");
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

/// Deadline facts as of today, or as of the day the case closed (the decision ends the
/// clock [000 art.26]).
fn deadline_of(
    row: &CaseRow,
    calendar: &Calendar,
    today: NaiveDate,
) -> (Option<DeadlineView>, Option<String>) {
    let Some(accepted_on) = row.accepted_on else {
        return (None, None);
    };
    let as_of = row.closed_at.map_or(today, date_in_china);
    match clock::deadline_facts(calendar, &case_clock(row, accepted_on), as_of) {
        Ok(f) => (
            Some(DeadlineView {
                deadline: f.deadline,
                working_days_used: f.working_days_used,
                working_days_left: f.working_days_left,
                suspended_working_days: f.suspended_working_days,
                overdue: f.overdue,
                extended: f.extended,
                provisional: !f.provisional_years.is_empty(),
                provisional_basis: provisional::basis(&f.provisional_years),
            }),
            None,
        ),
        Err(e) => {
            tracing::warn!(case = %row.id, error = %e, "deadline facts unavailable");
            (None, Some(e.code().to_owned()))
        }
    }
}

fn summary(row: &CaseRow, calendar: &Calendar, today: NaiveDate) -> CaseSummary {
    CaseSummary {
        id: row.id,
        item_code: row.item_code.clone(),
        item_name: row.item_name.clone(),
        stage: row.state.stage.name().to_owned(),
        stage_label: tasks::stage_label(&row.state.stage).to_owned(),
        acceptance_number: row.acceptance_number.clone(),
        submitted_at: row.submitted_at,
        deadline: deadline_of(row, calendar, today).0,
        applicant_todo: tasks::applicant_todo(&row.state).map(str::to_owned),
        revision: row.revision,
    }
}

fn staff_may_see(principal: &Principal, row: &CaseRow) -> bool {
    allows(principal, &Rule::Oversight)
        || principal.grants.iter().any(|g| {
            g.department_id
                .is_some_and(|d| row.department_ids.contains(&d))
        })
}

/// What the tail's blind index is taken over: the case binds it, so equal tails of two
/// applicants never show as equal indexes.
fn tail_input(case_id: Uuid, tail: &str) -> String {
    format!("case-tail\u{0}{case_id}\u{0}{}", tail.to_ascii_uppercase())
}

/// The agent's phone, for the SMS a push cannot replace (agents are citizens).
async fn agent_phone(client: &impl Prepare, agent: Option<&str>) -> AppResult<Option<String>> {
    Ok(match agent.map(str::parse::<Subject>) {
        Some(Ok(Subject::Citizen(id))) => client
            .query_opt_prepared("SELECT phone FROM citizen WHERE id = $1", &[&id])
            .await?
            .map(|r| r.get(0)),
        _ => None,
    })
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

/// Reads [`NoticeFacts`] for a notice from `template` to the applicant (`applicant`: their
/// account, `None` for a bare phone) and the agent. The reads go out together: issued beside
/// the submission's other checks they cost no round trip of their own.
async fn notice_facts(
    client: &impl Prepare,
    applicant: Option<&str>,
    agent: Option<&str>,
    template: &str,
) -> AppResult<NoticeFacts> {
    let agent_context = async {
        match agent {
            Some(agent) => outbox::notice_context(client, Some(agent), template)
                .await
                .map(Some),
            None => Ok(None),
        }
    };
    let (agent_phone, applicant_context, agent_context) = tokio::join!(
        agent_phone(client, agent),
        outbox::notice_context(client, applicant, template),
        agent_context,
    );
    let mut contexts = vec![(applicant.map(str::to_owned), applicant_context?)];
    if let Some(context) = agent_context? {
        contexts.push((agent.map(str::to_owned), context));
    }
    Ok(NoticeFacts {
        agent_phone: agent_phone?,
        contexts,
    })
}

/// The notifications a case notice makes: the applicant's (push and SMS to an account, SMS to
/// a bare phone; with the sealed documents by email too) and the agent's, each with the files
/// it carries.
fn case_notifications<'n>(
    row: &Addressees<'_>,
    notice: &CaseNotice<'n>,
    agent_phone: Option<String>,
) -> Vec<(NewNotification, &'n [Attachment])> {
    let mut recipients = Vec::new();
    match (row.applicant_subject, row.applicant_phone) {
        (Some(owner), phone) => recipients.push((
            Recipient::Owner {
                owner: owner.to_owned(),
                phone: phone.map(str::to_owned),
                email: None,
            },
            notice.must_reach,
            "applicant",
        )),
        (None, Some(phone)) => {
            recipients.push((Recipient::Phone(phone.to_owned()), false, "applicant"))
        }
        (None, None) => {}
    }
    if let Some(agent) = row.agent_subject {
        recipients.push((
            Recipient::Owner {
                owner: agent.to_owned(),
                phone: agent_phone,
                email: None,
            },
            false,
            "agent",
        ));
    }
    recipients
        .into_iter()
        .map(|(recipient, must_reach, whom)| {
            let applicant = whom == "applicant";
            let channels = match &recipient {
                Recipient::Phone(_) => vec![Channel::Sms],
                _ if applicant && !notice.attachments.is_empty() => {
                    vec![Channel::Push, Channel::Sms, Channel::Email]
                }
                _ => vec![Channel::Push, Channel::Sms],
            };
            let attached: &'n [Attachment] = if applicant { notice.attachments } else { &[] };
            let notification = NewNotification {
                template_key: notice.template.to_owned(),
                variables: notice.variables.clone(),
                recipient,
                channels,
                must_reach,
                priority: 5,
                idempotency_key: format!(
                    "case:{}:{}:{}:{whom}",
                    row.case_id, row.revision, notice.event_kind
                ),
            };
            (notification, attached)
        })
        .collect()
}

/// The item's process: who accepts and who decides (the lead department unless a step names
/// another).
pub fn process_of(detail: &ItemDetail) -> Process {
    let lead = detail.lead_department.code.clone();
    let step_of = |kind: StepKind| detail.guide.steps.iter().find(|s| s.kind == kind);
    let accept = step_of(StepKind::Accept);
    let decide = step_of(StepKind::Decide);
    Process {
        accepting_department: accept
            .and_then(|s| s.department_code.clone())
            .unwrap_or_else(|| lead.clone()),
        accept_step: accept
            .map(|s| s.name.clone())
            .unwrap_or_else(|| "受理".to_owned()),
        deciding_department: decide
            .and_then(|s| s.department_code.clone())
            .unwrap_or_else(|| lead.clone()),
        decide_step: decide
            .map(|s| s.name.clone())
            .unwrap_or_else(|| "决定".to_owned()),
    }
}

/// The department steps the item's process runs after acceptance.
struct StartStepsPlan {
    steps: Vec<StepSpec>,
}

impl From<&ItemDetail> for StartStepsPlan {
    fn from(detail: &ItemDetail) -> Self {
        let lead = &detail.lead_department.code;
        let mut steps: Vec<StepSpec> = detail
            .guide
            .steps
            .iter()
            .filter(|s| s.kind == StepKind::Review)
            .map(|s| StepSpec {
                department: s.department_code.clone().unwrap_or_else(|| lead.clone()),
                name: s.name.clone(),
                stage: s.stage,
            })
            .collect();
        if steps.is_empty() {
            // An item without a review step (即办件) is reviewed by its lead department.
            steps.push(StepSpec {
                department: lead.clone(),
                name: "审查".to_owned(),
                stage: 1,
            });
        }
        StartStepsPlan { steps }
    }
}

/// Every department the item's process involves.
fn involved_departments(detail: &ItemDetail) -> Vec<String> {
    let mut codes = vec![detail.lead_department.code.clone()];
    codes.extend(detail.guide.co_department_codes.iter().cloned());
    codes.extend(
        detail
            .guide
            .steps
            .iter()
            .filter_map(|s| s.department_code.clone()),
    );
    codes.sort();
    codes.dedup();
    codes
}

async fn department_ids(
    client: &impl GenericClient,
    codes: &[String],
) -> AppResult<HashMap<String, Uuid>> {
    let rows = client
        .query(
            "SELECT code, id FROM department WHERE code = ANY($1)",
            &[&codes],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

async fn department_id(client: &impl GenericClient, code: &str) -> AppResult<Uuid> {
    department_ids(client, &[code.to_owned()])
        .await?
        .get(code)
        .copied()
        .ok_or_else(|| anyhow::anyhow!("the item's department {code} is missing").into())
}

/// The (department, role, step) combinations that may take `action` on a case in `state`.
fn candidates_for(action: &Action, state: &CaseState, process: &Process) -> Vec<Task> {
    let accepting = || {
        let department = match &state.stage {
            Stage::PreReview { department } | Stage::AwaitingCorrection { department, .. } => {
                department.clone()
            }
            _ => process.accepting_department.clone(),
        };
        Task {
            department,
            role: Role::WindowClerk,
            step: process.accept_step.clone(),
        }
    };
    let deciding = || Task {
        department: process.deciding_department.clone(),
        role: Role::Approver,
        step: process.decide_step.clone(),
    };
    match action {
        Action::PreReviewStart { .. }
        | Action::RequestCorrection { .. }
        | Action::Accept { .. }
        | Action::Reject { .. }
        | Action::SupplyDeferred { .. }
        | Action::StartSteps { .. } => vec![accepting()],
        Action::CompleteStep { department, name } => vec![Task {
            department: department.trim().to_owned(),
            role: Role::Reviewer,
            step: name.trim().to_owned(),
        }],
        Action::Suspend { .. } | Action::Resume => {
            let mut candidates = vec![deciding()];
            let review = match &state.stage {
                Stage::InReview(review) => Some(review),
                Stage::Suspended {
                    resume_to: super::model::ResumeStage::InReview(review),
                    ..
                } => Some(review),
                _ => None,
            };
            if let Some(review) = review {
                candidates.extend(
                    review
                        .steps
                        .iter()
                        .filter(|s| s.status == super::model::StepStatus::Running)
                        .map(|s| Task {
                            department: s.department.clone(),
                            role: Role::Reviewer,
                            step: s.name.clone(),
                        }),
                );
            }
            candidates
        }
        Action::Extend { .. }
        | Action::Terminate { .. }
        | Action::Approve
        | Action::Deny { .. } => {
            vec![deciding()]
        }
        Action::AnswerCorrection | Action::Withdraw { .. } => Vec::new(),
    }
}

fn check_applicant_type(guide: &Guide, kind: &str) -> AppResult<()> {
    use crate::catalog::model::ApplicantType;
    let wanted = if kind == "citizen" {
        ApplicantType::Citizen
    } else {
        ApplicantType::Enterprise
    };
    if guide.applicant_types.is_empty() || guide.applicant_types.contains(&wanted) {
        Ok(())
    } else {
        Err(AppError::Forbidden {
            code: "applicant_type_not_allowed",
            detail: format!("this item is not for {kind} applicants"),
        })
    }
}

fn check_idempotency_key(key: &str) -> AppResult<()> {
    let ok = (8..=128).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b':');
    if ok {
        Ok(())
    } else {
        Err(AppError::BadRequest {
            code: "invalid_idempotency_key",
            field: Some("Idempotency-Key".to_owned()),
            detail: "8-128 characters of letters, digits, '-', '_' or ':' (a UUID will do)"
                .to_owned(),
        })
    }
}

/// The digest of a request body, for idempotent replays: the request types are
/// Deserialize-only, and their Debug form shows every field.
/// The digest an idempotency key is bound to: SHA-256 of the request as canonical JSON (the
/// audit log's encoding: object keys sorted at every level), so the same request digests the
/// same whatever the order of its fields on the wire — and, unlike `Debug` output, whatever the
/// compiler or library version (a retry that spans an upgrade is still recognised).
fn request_digest<T: poem_openapi::types::ToJSON>(body: &T) -> String {
    crate::audit::canonical::digest_json(&body.to_json().unwrap_or(Value::Null))
}

fn check_form(form: Option<Value>) -> AppResult<Value> {
    let form = form.unwrap_or_else(|| json!({}));
    if !form.is_object() {
        return Err(AppError::invalid_field(
            "form",
            "form_invalid",
            "the form is a JSON object of fields",
        ));
    }
    if form.to_string().len() > MAX_FORM_BYTES {
        return Err(AppError::invalid_field(
            "form",
            "form_too_large",
            "the form is larger than 64 KiB",
        ));
    }
    Ok(form)
}

fn check_occurred_at(
    at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> AppResult<Option<DateTime<Utc>>> {
    let Some(at) = at else { return Ok(None) };
    // A minute of clock skew between a clerk's PC and the server is not "the future".
    if at > now + chrono::Duration::minutes(1) {
        return Err(AppError::invalid_field(
            "occurred_at",
            "occurred_at_future",
            "work cannot be recorded as happening in the future",
        ));
    }
    if at < now - chrono::Duration::days(MAX_BACKDATE_DAYS) {
        return Err(AppError::invalid_field(
            "occurred_at",
            "occurred_at_too_old",
            format!("work older than {MAX_BACKDATE_DAYS} days cannot be entered afterwards"),
        ));
    }
    Ok(Some(at))
}

/// Checks the materials against the item's list and the owner's files: every key known and
/// given once, every file the owner's and of a type the entry accepts, and — for a new case —
/// every required key material present. Returns them ready to link.
async fn check_materials(
    client: &impl Prepare,
    guide: &Guide,
    owner: &str,
    materials: &[MaterialRef],
    paper: &[PaperMaterial],
) -> AppResult<Vec<NewMaterialOwned>> {
    let mut errors = Vec::new();
    let all_ids: Vec<Uuid> = materials.iter().flat_map(|m| m.file_ids.clone()).collect();
    let owned: HashMap<Uuid, store::OwnedFile> = store::owned_files(client, owner, &all_ids)
        .await?
        .into_iter()
        .map(|f| (f.id, f))
        .collect();
    let mut seen: Vec<&str> = Vec::new();
    let mut out = Vec::new();
    for (index, entry) in materials.iter().enumerate() {
        let field = format!("materials[{index}]");
        let Some(spec) = guide.materials.iter().find(|m| m.key == entry.material_key) else {
            errors.push(FieldError::new(
                format!("{field}.material_key"),
                "unknown_material",
                "not on the item's material list",
            ));
            continue;
        };
        if seen.contains(&spec.key.as_str()) {
            errors.push(FieldError::new(
                format!("{field}.material_key"),
                "duplicate_material",
                "this material is listed twice",
            ));
            continue;
        }
        seen.push(&spec.key);
        if entry.file_ids.is_empty() {
            errors.push(FieldError::new(
                format!("{field}.file_ids"),
                "files_required",
                "at least one file",
            ));
        }
        if entry.file_ids.len() > MAX_FILES_PER_MATERIAL {
            errors.push(FieldError::new(
                format!("{field}.file_ids"),
                "too_many_files",
                format!("at most {MAX_FILES_PER_MATERIAL} files per material"),
            ));
        }
        for (j, id) in entry.file_ids.iter().enumerate() {
            match owned.get(id) {
                None => errors.push(FieldError::new(
                    format!("{field}.file_ids[{j}]"),
                    "file_not_found",
                    "no such file on file for you",
                )),
                Some(file) if !super::files::allowed_for(&file.content_type, &spec.file_types) => {
                    errors.push(FieldError::new(
                        format!("{field}.file_ids[{j}]"),
                        "file_type_not_allowed",
                        format!("{} accepts only {:?}", spec.name, spec.file_types),
                    ))
                }
                Some(file) => out.push(NewMaterialOwned {
                    key: spec.key.clone(),
                    file_id: Some(*id),
                    paper_note: None,
                    file: Some(file.clone()),
                }),
            }
        }
    }
    for (index, entry) in paper.iter().enumerate() {
        let field = format!("paper_materials[{index}]");
        if !guide.materials.iter().any(|m| m.key == entry.material_key) {
            errors.push(FieldError::new(
                format!("{field}.material_key"),
                "unknown_material",
                "not on the item's material list",
            ));
            continue;
        }
        let note = entry.note.trim();
        if note.is_empty() {
            errors.push(FieldError::new(
                format!("{field}.note"),
                "required",
                "say why it stays on paper",
            ));
            continue;
        }
        seen.push(&entry.material_key);
        out.push(NewMaterialOwned {
            key: entry.material_key.clone(),
            file_id: None,
            paper_note: Some(note.to_owned()),
            file: None,
        });
    }
    invalid(errors)?;
    Ok(out)
}

/// Required key materials missing from a new case (non-key ones may be deferred: 容缺).
pub fn missing_key_materials(guide: &Guide, given: &[MaterialRef]) -> Vec<FieldError> {
    guide
        .materials
        .iter()
        .filter(|m| m.required && m.key_material)
        .filter(|m| !given.iter().any(|g| g.material_key == m.key))
        .map(|m| {
            FieldError::new(
                format!("materials.{}", m.key),
                "materials_missing",
                format!("{} is a required key material", m.name),
            )
        })
        .collect()
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
