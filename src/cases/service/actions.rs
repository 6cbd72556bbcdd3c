//! Actions on a case, by the applicant or by staff: read the case, decide through the state
//! machine and the checks the machine cannot make (materials, dates, extensions), then write the
//! new state, its events, documents, audit record and notices in one transaction.

use super::*;
use crate::cases::errors::CaseProblem;
use crate::cases::pre_review_clock::{DeemedAcceptance, PreReviewClock};
use crate::cases::suspension::SuspensionLimit;

impl CaseService {
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
                return Err(AppError::new(
                    CaseProblem::AgentNotAuthorised,
                    "your authorisation to act for this applicant has ended",
                ));
            }
        }
        drop(client);
        let acting = Acting {
            kind: ActorKind::Applicant,
            actor: subject,
            department_id: None,
            on_behalf_of: None,
        };
        self.apply(row, acting, request).await
    }

    /// An action by staff: the caller must hold the role the action needs in the department
    /// whose turn it is (or be its AB backup, recorded with whom they stand in for); staff of
    /// departments the case does not involve get 404, the others without the role a 403 that
    /// names it.
    pub async fn staff_act(
        &self,
        principal: &Principal,
        case_id: Uuid,
        request: ActRequest,
    ) -> AppResult<CaseDetail> {
        let row = self.staff_row(principal, case_id).await?;
        let detail = self.case_item(&row).await?;
        let process = process_of(&detail);
        let candidates = candidates_for(&request.action, &row.state, &process);
        let codes: Vec<String> = candidates.iter().map(|t| t.department.clone()).collect();
        let client = self.pool.get().await?;
        let ids = department_ids(&**client, &codes).await?;
        let own_window = candidates.iter().find_map(|task| {
            let department = *ids.get(&task.department)?;
            let grant = handling_grant(
                principal,
                &Rule::Handle {
                    role: task.role,
                    department,
                    item_code: &row.item_code,
                    step: &task.step,
                },
            )?;
            Some((task.role, department, grant.covering_for))
        });
        let chosen = match own_window {
            Some(chosen) => Some(chosen),
            // 一窗受理: the centre's clerk does the front desk's work for the item's department.
            None => one_window::centre_front_desk_task(&**client, principal, &row, &candidates)
                .await?
                .map(|(role, department)| (role, department, None)),
        };
        drop(client);
        let Some((role, department, on_behalf_of)) = chosen else {
            return Err(role_needed(
                CaseProblem::CaseActionForbidden,
                &format!(
                    "you hold no role that may {} this case at its current step",
                    request.action.name()
                ),
                &candidates,
            ));
        };
        let kind = ActorKind::from_role(role).ok_or_else(|| {
            AppError::new(
                CaseProblem::CaseActionForbidden,
                "this role does not act on cases",
            )
        })?;
        let acting = Acting {
            kind,
            actor: principal.subject.to_string(),
            department_id: Some(department),
            on_behalf_of,
        };
        self.apply(row, acting, request).await
    }

    pub(super) async fn apply(
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

        if matches!(request.action, Action::AnswerCorrection) {
            answer_covers_the_notice(&row.state.stage, &request.materials)?;
        }
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
        // 行政许可法 art. 32: past the pre-review clock, the law has accepted the application.
        let pre_review = pre_review_clock(&row, &calendar)?;
        let lapsed = pre_review.filter(|clock| clock.lapsed(legal_day));
        if matches!(request.action, Action::AnswerCorrection) {
            clock_record.correction_answered_on = Some(legal_day);
        }

        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        match request.action {
            Action::Approve => {
                cancelled_items::refuse_if_item_cancelled(&*tx, row.id, row.item_id).await?;
            }
            Action::ContinueDespiteCancellation { .. } => {
                cancelled_items::require_item_cancelled(&*tx, row.item_id).await?;
            }
            _ => {}
        }
        if state.stage == Stage::Accepted && row.state.stage != Stage::Accepted {
            // Acceptance issues the number and starts the item's department steps at once.
            let number = self
                .allocate_acceptance_number(&tx, &row, legal_day)
                .await?;
            acceptance_number = Some(number);
            accepted_on = Some(legal_day);
            if let (Some(clock), Some(acceptance)) = (lapsed, state.acceptance.as_mut()) {
                // Accepted from the day of receipt; the deadline counts from it.
                accepted_on = Some(clock.materials_received_on);
                acceptance.deemed = Some(DeemedAcceptance {
                    accepted_on: clock.materials_received_on,
                    notify_by: clock.notify_by,
                });
            }
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
        if let Some(review) = state.stage.review() {
            clock_record.follow_special_steps(
                events.iter().map(|(e, _, _)| e),
                &review.steps,
                legal_day,
            );
        }
        if closed {
            // A decision (or any end) closes an open suspension or special step that day.
            clock_record.close_all(legal_day);
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
                if let (Some(clock), Value::Object(map)) = (lapsed, &mut details) {
                    // For supervision: the five working days had run out.
                    match event {
                        Event::Accepted { .. } => {
                            map.insert(
                                "deemed_accepted_on".to_owned(),
                                json!(clock.materials_received_on),
                            );
                            map.insert("pre_review_notify_by".to_owned(), json!(clock.notify_by));
                        }
                        Event::CorrectionRequested { .. } => {
                            map.insert("late_notice".to_owned(), json!(true));
                            map.insert("pre_review_notify_by".to_owned(), json!(clock.notify_by));
                        }
                        _ => {}
                    }
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
                    on_behalf_of: if *kind == "system" {
                        None
                    } else {
                        acting.on_behalf_of
                    },
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
                    "on_behalf_of": acting.on_behalf_of,
                    "occurred_at": occurred_at,
                }),
            },
        )
        .await?;
        let updated_row = store::load(&*tx, row.id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("the case being changed is missing"))?;
        // What an acceptance promises, for its notice and its SMS alike: counted once, and only
        // when the action accepts.
        let promised = match events
            .iter()
            .any(|(e, _, _)| matches!(e, Event::Accepted { .. }))
        {
            true => Some(promised_deadline(&updated_row, &calendar)?),
            false => None,
        };
        let issued = self
            .issue_documents(
                &tx,
                &updated_row,
                &detail,
                &process,
                &events,
                &acting,
                &request,
                promised.clone(),
                signed_at,
            )
            .await?;
        let frame = crate::cases::legal_frame::legal_frame(&detail.guide);
        for (event, _, _) in &events {
            self.notify_event(
                &tx,
                &updated_row,
                event,
                &EventContext {
                    calendar: &calendar,
                    promised: promised.as_ref(),
                    issued: &issued,
                    frame: &frame,
                },
            )
            .await?;
        }
        tx.commit().await?;
        drop(client);
        self.detail_of(&updated_row, Audience::of(acting.kind))
            .await
    }

    /// Checks what the state machine cannot: material keys against the item, dates against
    /// today and the calendar; fills the standard remedies into a denial that gives none.
    pub(super) fn check_action_content(
        &self,
        row: &CaseRow,
        guide: &Guide,
        action: &mut Action,
        calendar: &Calendar,
        today: NaiveDate,
    ) -> AppResult<()> {
        match action {
            Action::RequestCorrection { missing } => {
                let mut errors = Vec::new();
                let mut seen: Vec<String> = Vec::new();
                for (index, entry) in missing.iter_mut().enumerate() {
                    let key = entry.material_key.trim().to_owned();
                    if key.is_empty() {
                        continue; // the state machine names the blank entry
                    }
                    match guide.materials.iter().find(|m| m.key == key) {
                        None => errors.push(FieldError::new(
                            format!("missing[{index}].material_key"),
                            "unknown_material",
                            format!("{key} is not on the item's material list"),
                        )),
                        Some(_) if seen.contains(&key) => errors.push(FieldError::new(
                            format!("missing[{index}].material_key"),
                            "duplicate_material",
                            format!("{key} is listed twice: one entry per material"),
                        )),
                        // The notice prints the material's name, never its key.
                        Some(material) => entry.material_name = material.name.clone(),
                    }
                    seen.push(key);
                }
                invalid(errors)
            }
            Action::AnswerCorrection => Ok(()),
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
                            format!(
                                "the date to supply it, {}, is in the past: give {today} or later",
                                entry.due
                            ),
                        ));
                    }
                }
                invalid(errors)
            }
            Action::Suspend { expected_end, .. } if *expected_end < today => {
                Err(AppError::invalid_field(
                    "expected_end",
                    CaseProblem::ExpectedEndPast,
                    format!(
                        "the expected end, {expected_end}, is in the past: give {today} or later"
                    ),
                ))
            }
            Action::Suspend {
                kind, expected_end, ..
            } => self.check_suspension_end(guide, *kind, today, *expected_end, calendar),
            Action::ExtendSuspension { expected_end, .. } => match &row.state.stage {
                // More time is counted from the end it replaces.
                Stage::Suspended {
                    kind,
                    expected_end: current_end,
                    ..
                } => self.check_suspension_end(
                    guide,
                    *kind,
                    (*current_end).max(today),
                    *expected_end,
                    calendar,
                ),
                _ => Ok(()), // the state machine refuses it: not suspended
            },
            Action::Extend { new_deadline, .. } => {
                let Some(accepted_on) = row.accepted_on else {
                    return Ok(()); // the state machine refuses it: not accepted yet
                };
                crate::cases::extension::check(
                    calendar,
                    &case_clock(row, accepted_on),
                    guide.extension_allowance(),
                    *new_deadline,
                    today,
                )
            }
            Action::Deny { remedies, .. } if remedies.trim().is_empty() => {
                *remedies = crate::cases::model::STANDARD_REMEDIES.to_owned();
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// A suspension for `kind` counted from `from` may end no later than its limit allows
    /// (see [`crate::cases::suspension`]).
    fn check_suspension_end(
        &self,
        guide: &Guide,
        kind: SpecialStep,
        from: NaiveDate,
        expected_end: NaiveDate,
        calendar: &Calendar,
    ) -> AppResult<()> {
        let limit = SuspensionLimit::of(guide, kind, self.max_suspension_working_days);
        let latest = limit.latest_end(calendar, from).map_err(|e| {
            AppError::invalid_field("expected_end", CaseProblem::CalendarError, e.to_string())
        })?;
        if expected_end > latest {
            return Err(AppError::invalid_field(
                "expected_end",
                CaseProblem::SuspensionTooLong,
                limit.explain(kind, latest),
            ));
        }
        Ok(())
    }

    /// Seals the documents the action's events issue (see [`issuing`]), in `tx`.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn issue_documents(
        &self,
        tx: &Transaction<'_>,
        row: &CaseRow,
        detail: &ItemDetail,
        process: &Process,
        events: &[(Event, &'static str, String)],
        acting: &Acting,
        request: &ActRequest,
        decide_by: Option<PromisedDeadline>,
        signed_at: DateTime<Utc>,
    ) -> AppResult<Vec<IssuedDocument>> {
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

    pub(super) async fn allocate_acceptance_number(
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

/// A correction answer supplies every material the notice listed [行政许可法 art. 32(4)]: one
/// left out is named in the 422, so the applicant is not sent round again.
fn answer_covers_the_notice(stage: &Stage, given: &[MaterialRef]) -> AppResult<()> {
    let Stage::AwaitingCorrection { missing, .. } = stage else {
        return Ok(()); // the state machine refuses it: no notice to answer
    };
    let left_out: Vec<&CorrectionItem> = missing
        .iter()
        .filter(|m| !m.material_key.is_empty())
        .filter(|m| !given.iter().any(|g| g.material_key == m.material_key))
        .collect();
    if left_out.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = left_out
        .iter()
        .map(|m| format!("{}（{}）", m.material_name, m.material_key))
        .collect();
    Err(AppError::invalid_field(
        "materials",
        CaseProblem::CorrectionIncomplete,
        format!("the correction notice also asks for: {}", names.join("、")),
    ))
}

/// The pre-review clock of a case in pre-review (None in any other stage).
pub(super) fn pre_review_clock(
    row: &CaseRow,
    calendar: &Calendar,
) -> AppResult<Option<PreReviewClock>> {
    if !matches!(row.state.stage, Stage::PreReview { .. }) {
        return Ok(None);
    }
    let received = row
        .clock
        .materials_received_on(date_in_china(row.submitted_at));
    PreReviewClock::starting(calendar, received)
        .map(Some)
        .map_err(|e| clock_problem(e.into()))
}
