//! What callers see of cases: the applicant's list and case, the staff view and inbox, and the
//! deadline facts every view computes from the record.

use super::*;
use crate::cases::errors::CaseProblem;
use crate::cases::store::ClockRecord;
use crate::cases::submission_reference::SubmissionReference;

impl CaseService {
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
        self.detail_of(&row, Audience::Applicant).await
    }

    /// A case as staff see it: every department it involves (the lead, co-departments — who
    /// see the shared materials, never asking again — accepting and deciding ones) and oversight.
    /// An observer gets it masked, and the read audited (`oversight`).
    pub async fn staff_case(&self, principal: &Principal, case_id: Uuid) -> AppResult<CaseDetail> {
        let row = self.staff_row(principal, case_id).await?;
        let detail = self.detail_of(&row, Audience::Staff).await?;
        self.as_read_by(principal, &row, detail).await
    }

    /// The case's row when `principal` may see it as staff; otherwise the same 404 as for no
    /// case at all. Takes and returns its own connection.
    pub(super) async fn staff_row(
        &self,
        principal: &Principal,
        case_id: Uuid,
    ) -> AppResult<CaseRow> {
        let client = self.pool.get().await?;
        store::load(&**client, case_id)
            .await?
            .filter(|r| staff_may_see(principal, r))
            .ok_or_else(case_not_found)
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

    /// A sealed document of a case the staff member may see (an observer's read audited).
    pub async fn staff_document(
        &self,
        principal: &Principal,
        case_id: Uuid,
        document_id: Uuid,
    ) -> AppResult<(DocumentRecord, Vec<u8>)> {
        let observer = std::sync::atomic::AtomicBool::new(false);
        let document = self
            .document(case_id, document_id, |row| {
                observer.store(
                    oversight::reader(principal, row) == oversight::Reader::Observer,
                    std::sync::atomic::Ordering::Relaxed,
                );
                staff_may_see(principal, row)
            })
            .await?;
        if observer.load(std::sync::atomic::Ordering::Relaxed) {
            self.record_read(
                principal,
                "case.document",
                json!({"case_id": case_id, "document_id": document_id}),
            )
            .await?;
        }
        Ok(document)
    }

    pub(super) async fn document(
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
                .ok_or_else(|| AppError::new(CaseProblem::DocumentNotFound, "no such document"))?
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
        if oversight::observer_only_login(principal) {
            return Err(oversight::raw_materials_refused());
        }
        let client = self.pool.get().await?;
        let case = store::load(&**client, case_id)
            .await?
            .filter(|r| staff_may_see(principal, r))
            .ok_or_else(case_not_found)?;
        let reader = oversight::reader(principal, &case);
        if reader == oversight::Reader::Observer {
            return Err(oversight::raw_materials_refused());
        }
        let row = client
            .query_opt(
                "SELECT f.sha256, f.content_type FROM case_material m
                 JOIN material_file f ON f.id = m.file_id
                 WHERE m.case_id = $1 AND m.id = $2",
                &[&case_id, &material_id],
            )
            .await?
            .ok_or_else(|| AppError::new(CaseProblem::MaterialNotFound, "no such material"))?;
        drop(client);
        if reader == oversight::Reader::Supervisor {
            self.record_read(
                principal,
                "case.material",
                json!({"case_id": case_id, "material_id": material_id}),
            )
            .await?;
        }
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
    pub async fn detail_of(&self, row: &CaseRow, audience: Audience) -> AppResult<CaseDetail> {
        let (events, materials, documents) = {
            let client = self.pool.get().await?;
            (
                store::events(&client, row.id).await?,
                store::materials(&client, row.id).await?,
                documents::for_case(&**client, row.id).await?,
            )
        };
        self.detail_with(row, events, materials, documents, audience)
            .await
    }

    /// The case's view for `audience` from its row, timeline and materials (the calendar and
    /// the item version come from their caches; a miss takes a connection of its own, as does
    /// naming who acted on the timeline).
    pub(super) async fn detail_with(
        &self,
        row: &CaseRow,
        events: Vec<store::EventRow>,
        materials: Vec<store::MaterialRow>,
        documents: Vec<DocumentRecord>,
        audience: Audience,
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
        // A closed (or suspended-before-review) case keeps its steps as they ended, replayed from
        // the timeline.
        let steps: Vec<StepView> = match row.state.stage.review() {
            Some(review) => review
                .steps
                .iter()
                .map(|s| step_view(s, &row.clock, &calendar))
                .collect(),
            None => steps_as_they_ended(&events)
                .iter()
                .map(|s| step_view(s, &row.clock, &calendar))
                .collect(),
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
            submission_reference: SubmissionReference::of(row.id).to_string(),
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
            pre_review: pre_review_view(row, &calendar, self.clock.today()),
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
            timeline: self.timeline(audience, events).await?,
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

pub(super) fn task_view(task: Task) -> TaskView {
    TaskView {
        department_code: task.department,
        role: task.role.as_str().to_owned(),
        step: task.step,
    }
}

pub(super) fn stage_details(stage: &Stage) -> Value {
    match serde_json::to_value(stage) {
        Ok(Value::Object(mut map)) => {
            map.remove("stage");
            // Steps are shown in `steps`.
            map.remove("steps");
            if let Stage::AwaitingCorrection { missing, .. } = stage {
                // `missing` as the notice prints it (what the app showed from the start), and
                // the entries keyed to the item's materials, to answer them one by one.
                map.insert(
                    "correction_items".to_owned(),
                    map.get("missing").cloned().unwrap_or_default(),
                );
                map.insert(
                    "missing".to_owned(),
                    json!(missing.iter().map(|m| m.printed()).collect::<Vec<_>>()),
                );
            }
            Value::Object(map)
        }
        _ => json!({}),
    }
}

/// Deadline facts as of today, or as of the day the case closed (the decision ends the
/// clock [000 art.26]).
pub(super) fn deadline_of(
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

pub(super) fn summary(row: &CaseRow, calendar: &Calendar, today: NaiveDate) -> CaseSummary {
    CaseSummary {
        id: row.id,
        item_code: row.item_code.clone(),
        item_name: row.item_name.clone(),
        stage: row.state.stage.name().to_owned(),
        stage_label: tasks::stage_label(&row.state.stage).to_owned(),
        submission_reference: SubmissionReference::of(row.id).to_string(),
        acceptance_number: row.acceptance_number.clone(),
        submitted_at: row.submitted_at,
        deadline: deadline_of(row, calendar, today).0,
        applicant_todo: tasks::applicant_todo(&row.state).map(str::to_owned),
        revision: row.revision,
    }
}

pub(super) fn staff_may_see(principal: &Principal, row: &CaseRow) -> bool {
    allows(principal, &Rule::Oversight)
        || principal.grants.iter().any(|g| {
            g.department_id
                .is_some_and(|d| row.department_ids.contains(&d))
        })
}

/// A step as staff and the applicant see it; a special step with when it ran, when it is due by
/// its own limit and whether its time counts toward the promised limit.
fn step_view(
    step: &crate::cases::model::Step,
    clock: &ClockRecord,
    calendar: &Calendar,
) -> StepView {
    let period = step.special.and_then(|_| {
        clock
            .special_steps
            .iter()
            .rev()
            .find(|p| p.department == step.department && p.name == step.name)
    });
    let started_on = period.map(|p| p.start);
    let completed_on = period.and_then(|p| p.end);
    let due_on = match (started_on, completed_on) {
        (Some(start), None) if step.limit_days > 0 => {
            calendar.add_working_days(start, step.limit_days).ok()
        }
        _ => None,
    };
    StepView {
        department_code: step.department.clone(),
        name: step.name.clone(),
        stage: step.stage,
        status: serde_json::to_value(step.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        special_step: step
            .special
            .map(crate::cases::views::SpecialStep::from_model),
        limit_working_days: step.limit_days,
        counts_toward_limit: step.special.map(|k| k.counts_toward_limit()),
        limit_rule: step.special.map(|k| k.limit_rule().to_owned()),
        started_on,
        due_on,
        completed_on,
    }
}

/// The pre-review clock as the clerk sees it.
fn pre_review_view(row: &CaseRow, calendar: &Calendar, today: NaiveDate) -> Option<PreReviewView> {
    let clock = super::actions::pre_review_clock(row, calendar)
        .ok()
        .flatten()?;
    Some(PreReviewView {
        materials_received_on: clock.materials_received_on,
        notify_by: clock.notify_by,
        working_days_left: clock.working_days_left(calendar, today).ok()?,
        lapsed: clock.lapsed(today),
    })
}

/// The steps of a case no longer in review, as its timeline left them: the list the item's
/// process started (with each step's kind and limit), each one's status moved on by the step
/// events. Empty for a case that never reached review.
fn steps_as_they_ended(events: &[store::EventRow]) -> Vec<crate::cases::model::Step> {
    let Some(started) = events.iter().rev().find(|e| e.kind == "steps_started") else {
        return Vec::new();
    };
    let specs: Vec<StepSpec> = started
        .details
        .get("steps")
        .cloned()
        .and_then(|steps| serde_json::from_value(steps).ok())
        .unwrap_or_default();
    let replayed = crate::cases::progress_history::replayed_steps(events);
    specs
        .into_iter()
        .map(|spec| {
            let status = match replayed
                .iter()
                .find(|r| r.department == spec.department && r.name == spec.name)
                .map(|r| r.status)
            {
                Some("completed") => crate::cases::model::StepStatus::Completed,
                Some("running") => crate::cases::model::StepStatus::Running,
                _ => crate::cases::model::StepStatus::Waiting,
            };
            crate::cases::model::Step {
                department: spec.department,
                name: spec.name,
                stage: spec.stage,
                status,
                special: spec.special,
                limit_days: spec.limit_days,
            }
        })
        .collect()
}
