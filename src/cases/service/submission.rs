//! Submission: online (`submit`) and at the window (`window_intake`), each one flight of
//! statements that writes the case, its materials, its first events, the audit record and the
//! applicant's notice together (decision record 0010).

use super::*;
use crate::cases::errors::CaseProblem;
use crate::http::HttpProblem;
use crate::identity::errors::IdentityProblem;

impl CaseService {
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
                CaseProblem::ItemNotOnline,
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
            return Err(AppError::new(
                CaseProblem::AssuranceTooLow,
                format!(
                    "this item needs identity assurance level {required} (real-name verified for 2, certificate for 3)"
                ),
            ));
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
                on_behalf_of: None,
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
            && let Some(existing) = self
                .replay(&submitted_by, key, &digest, Audience::Staff)
                .await?
        {
            return Ok((existing, false));
        }
        let detail = self.current_item(&body.item_code).await?;
        let process = process_of(&detail);
        let client = self.pool.get().await?;
        let accepting = department_id(&**client, &process.accepting_department).await?;
        let grant = handling_grant(
            clerk,
            &Rule::Handle {
                role: Role::WindowClerk,
                department: accepting,
                item_code: &detail.code,
                step: &process.accept_step,
            },
        );
        // 一窗受理: a clerk of the centre's comprehensive window takes in any department's case.
        let (centre, on_behalf_of) = match grant {
            Some(grant) => (None, grant.covering_for),
            None => match one_window::centre_window_of(&**client, clerk).await? {
                Some(centre) => (Some(centre), None),
                None => {
                    let task = Task {
                        department: process.accepting_department.clone(),
                        role: Role::WindowClerk,
                        step: process.accept_step.clone(),
                    };
                    return Err(role_needed(
                        CaseProblem::NotAcceptingClerk,
                        "only a window clerk of the item's accepting department, or of the \
                         platform centre's comprehensive window, registers its cases",
                        &[task],
                    ));
                }
            },
        };
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
        let (materials, mut item, notice_facts) = (materials?, item?, notice_facts?);
        drop(client);
        if let (Some((centre_id, centre_code)), Some(item)) = (&centre, item.as_mut()) {
            // The centre joins the case's departments: its clerks find the case again.
            item.departments.insert(centre_code.clone(), *centre_id);
        }
        let acting_department = centre.as_ref().map_or(accepting, |(id, _)| *id);
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
                department_id: Some(acting_department),
                on_behalf_of,
            },
            occurred_at,
            notice_facts,
        })
        .await
    }

    /// The case an idempotency key already made, if any, as `audience` sees it; the same key
    /// with a different request is refused.
    pub(super) async fn replay(
        &self,
        submitted_by: &str,
        key: &str,
        digest: &str,
        audience: Audience,
    ) -> AppResult<Option<CaseDetail>> {
        check_idempotency_key(key)?;
        let client = self.pool.get().await?;
        match store::find_by_idempotency_key(&**client, submitted_by, key).await? {
            None => Ok(None),
            Some((_, Some(stored))) if stored != digest => Err(AppError::invalid(
                CaseProblem::IdempotencyKeyReused,
                vec![FieldError::new(
                    "Idempotency-Key",
                    "idempotency_key_reused",
                    "this key was used for a different application",
                )],
            )),
            Some((id, _)) => {
                let row = store::load(&**client, id)
                    .await?
                    .ok_or_else(case_not_found)?;
                drop(client);
                Ok(Some(self.detail_of(&row, audience).await?))
            }
        }
    }

    pub(super) async fn current_item(&self, code: &str) -> AppResult<Arc<ItemDetail>> {
        match self.catalog.current_detail(code).await {
            Ok(hit) => Ok(hit.detail),
            Err(e) if e.http_status() == poem::http::StatusCode::NOT_FOUND => {
                Err(AppError::invalid_field(
                    "item_code",
                    CaseProblem::ItemNotFound,
                    "no item in force with this code",
                ))
            }
            Err(e) => Err(e),
        }
    }

    /// The item version a case runs under (immutable once published).
    pub(super) async fn case_item(&self, row: &CaseRow) -> AppResult<Arc<ItemDetail>> {
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
    pub(super) async fn create(&self, intake: Intake<'_>) -> AppResult<(CaseDetail, bool)> {
        let detail = intake.detail;
        let process = process_of(detail);
        let audience = Audience::of(intake.acting.kind);
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
                && let Some(existing) = self
                    .replay(&intake.submitted_by, key, digest, audience)
                    .await?
            {
                return Ok((existing, false));
            }
            return Err(AppError::new(
                CaseProblem::ItemVersionChanged,
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
            on_behalf_of: intake.acting.on_behalf_of,
        }];
        events.extend(start.events.iter().map(|e| NewEvent {
            kind: e.kind(),
            details: event_details(e),
            actor: "system",
            actor_kind: "system",
            department_id: departments.get(&process.accepting_department).copied(),
            occurred_at: intake.occurred_at,
            on_behalf_of: None,
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
        let audit = FirstRecordPlan::of(&audit_entry);
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
                .replay(&intake.submitted_by, key, digest, audience)
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
            self.detail_with(&row, event_rows, material_rows, Vec::new(), audience)
                .await?,
            true,
        ))
    }

    pub(super) fn tail_mac(&self, case_id: Uuid, tail: &str) -> Vec<u8> {
        self.keys.blind_index(&tail_input(case_id, tail))
    }

    /// Whether `tail` is the last six characters of the case applicant's ID number or code
    /// (compared in constant time: a wrong guess must not tell how much of it was right).
    pub fn tail_matches(&self, row: &CaseRow, tail: &str) -> bool {
        self.keys
            .blind_index_matches(&tail_input(row.id, tail.trim()), &row.applicant_tail_mac)
    }

    pub(super) async fn applicant_facts(
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
                        HttpProblem::Required,
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
            Subject::Staff(_) => Err(AppError::new(
                CaseProblem::CaseActionForbidden,
                "staff accounts do not apply",
            )),
        }
    }

    /// The applicant at the window, checked from their documents; linked to their account when
    /// they have one, so the case shows in their app.
    pub(super) async fn window_applicant(
        &self,
        client: &impl GenericClient,
        applicant: &WindowApplicant,
    ) -> AppResult<ApplicantFacts> {
        let name = crate::identity::citizens::check_name(&applicant.name).map_err(|_| {
            AppError::invalid_field(
                "applicant.name",
                IdentityProblem::InvalidName,
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
                                CaseProblem::InvalidIdNumber,
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
                            CaseProblem::InvalidCreditCode,
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
}
