//! The case endpoints: applicants apply and follow their cases from the app; staff work their
//! inbox and act at the step whose turn it is; window clerks register cases for applicants
//! present in person. Rules: applicant endpoints need a signed-in citizen or enterprise (the
//! item's own assurance level is checked on submission); staff endpoints need a staff account
//! and then the role the action needs in the department whose turn it is (the service decides
//! that from the case). Another applicant's case, or a case of departments the caller does not
//! belong to, is a 404: ids reveal nothing.

use chrono::NaiveDate;
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};
use uuid::Uuid;

use super::issuing::LicenceTerms;
use super::model::{Action, CorrectionItem, DeferredMaterial};
use super::search::{self, DeadlineFilter, SearchParams};
use super::search_views::FoundCases;
use super::service::{ActRequest, CaseService};
use super::views::*;
use crate::cases::errors::CaseProblem;
use crate::http::download::FileDownload;
use crate::http::{ApiTags, AppError, AppResult, FieldError, JsonBody, path_uuid};
use crate::identity::gate::{AccessToken, Gate};
use crate::identity::model::Assurance;
use crate::identity::policy::Rule;

#[derive(ApiResponse)]
pub enum Submitted {
    /// The case was created.
    #[oai(status = 201)]
    Created(Json<CaseDetail>),
    /// This `Idempotency-Key` already created a case: here it is (a retry never makes two).
    #[oai(status = 200)]
    Existing(Json<CaseDetail>),
}

impl Submitted {
    fn from((case, created): (CaseDetail, bool)) -> Self {
        if created {
            Submitted::Created(Json(case))
        } else {
            Submitted::Existing(Json(case))
        }
    }
}

fn require_idempotency_key(key: Option<String>) -> AppResult<String> {
    key.ok_or_else(|| {
        AppError::in_field(
            CaseProblem::IdempotencyKeyRequired,
            "Idempotency-Key",
            "send an Idempotency-Key header (a UUID per application) so a retry never \
                 creates a second case"
                .to_owned(),
        )
    })
}

pub struct CasesApi {
    pub service: CaseService,
    pub gate: Gate,
    pub files: super::files::MaterialFiles,
}

#[OpenApi]
impl CasesApi {
    /// 申请 — apply for an item (its version in force) with the form and materials on file.
    /// Send an `Idempotency-Key`: the same key returns the same case.
    #[oai(path = "/api/v1/cases", method = "post", tag = "ApiTags::App")]
    async fn submit(
        &self,
        auth: AccessToken,
        #[oai(name = "Idempotency-Key")] idempotency_key: Header<Option<String>>,
        body: JsonBody<NewCase>,
    ) -> AppResult<Submitted> {
        let principal = self
            .gate
            .require(&auth, Rule::Applicant(Assurance::PhoneProven))
            .await?;
        let key = require_idempotency_key(idempotency_key.0)?;
        let body = body.parse()?;
        Ok(Submitted::from(
            self.service.submit(&principal, &key, body).await?,
        ))
    }

    /// 我的办件 — the caller's cases (as applicant or as agent), newest first.
    #[oai(path = "/api/v1/me/cases", method = "get", tag = "ApiTags::App")]
    async fn my_cases(&self, auth: AccessToken) -> AppResult<Json<CaseList>> {
        let principal = self
            .gate
            .require(&auth, Rule::Applicant(Assurance::PhoneProven))
            .await?;
        Ok(Json(self.service.my_cases(&principal).await?))
    }

    /// One of my cases: timeline, current step, deadline, and what I must do now.
    #[oai(path = "/api/v1/me/cases/:id", method = "get", tag = "ApiTags::App")]
    async fn my_case(&self, auth: AccessToken, id: Path<String>) -> AppResult<Json<CaseDetail>> {
        let principal = self
            .gate
            .require(&auth, Rule::Applicant(Assurance::PhoneProven))
            .await?;
        let id = path_uuid("id", &id.0)?;
        Ok(Json(self.service.my_case(&principal, id).await?))
    }

    /// Download a sealed document of my case (notice, decision, licence) as the PDF.
    #[oai(
        path = "/api/v1/me/cases/:id/documents/:document_id/pdf",
        method = "get",
        tag = "ApiTags::App"
    )]
    async fn my_document(
        &self,
        auth: AccessToken,
        id: Path<String>,
        document_id: Path<String>,
    ) -> AppResult<FileDownload> {
        let principal = self
            .gate
            .require(&auth, Rule::Applicant(Assurance::PhoneProven))
            .await?;
        let id = path_uuid("id", &id.0)?;
        let document_id = path_uuid("document_id", &document_id.0)?;
        let (record, bytes) = self
            .service
            .my_document(&principal, id, document_id)
            .await?;
        Ok(pdf_download(&record, bytes))
    }

    /// 补正 — answer the one-time correction notice with the materials it lists.
    #[oai(
        path = "/api/v1/me/cases/:id/correction-answer",
        method = "post",
        tag = "ApiTags::App"
    )]
    async fn answer_correction(
        &self,
        auth: AccessToken,
        id: Path<String>,
        body: JsonBody<CorrectionAnswer>,
    ) -> AppResult<Json<CaseDetail>> {
        let principal = self
            .gate
            .require(&auth, Rule::Applicant(Assurance::PhoneProven))
            .await?;
        let id = path_uuid("id", &id.0)?;
        let body = body.parse()?;
        if body.materials.is_empty() {
            return Err(AppError::invalid_field(
                "materials",
                CaseProblem::MaterialsRequired,
                "answer with the materials the notice asks for",
            ));
        }
        let mut request = ActRequest::new(Action::AnswerCorrection, body.revision, None);
        request.materials = body.materials;
        Ok(Json(
            self.service.applicant_act(&principal, id, request).await?,
        ))
    }

    /// 容缺补交 — supply a material the case was accepted without.
    #[oai(
        path = "/api/v1/me/cases/:id/deferred-materials",
        method = "post",
        tag = "ApiTags::App"
    )]
    async fn supply_deferred(
        &self,
        auth: AccessToken,
        id: Path<String>,
        body: JsonBody<DeferredSupply>,
    ) -> AppResult<Json<CaseDetail>> {
        let principal = self
            .gate
            .require(&auth, Rule::Applicant(Assurance::PhoneProven))
            .await?;
        let id = path_uuid("id", &id.0)?;
        let body = body.parse()?;
        let mut request = ActRequest::new(
            Action::SupplyDeferred {
                material: body.material_key.clone(),
            },
            body.revision,
            None,
        );
        request.materials = vec![MaterialRef {
            material_key: body.material_key,
            file_ids: body.file_ids,
        }];
        Ok(Json(
            self.service.applicant_act(&principal, id, request).await?,
        ))
    }

    /// 撤回 — withdraw my application (a reason is optional; when given, not blank).
    #[oai(
        path = "/api/v1/me/cases/:id/withdraw",
        method = "post",
        tag = "ApiTags::App"
    )]
    async fn withdraw(
        &self,
        auth: AccessToken,
        id: Path<String>,
        body: JsonBody<WithdrawRequest>,
    ) -> AppResult<Json<CaseDetail>> {
        let principal = self
            .gate
            .require(&auth, Rule::Applicant(Assurance::PhoneProven))
            .await?;
        let id = path_uuid("id", &id.0)?;
        let body = body.parse()?;
        let request = ActRequest::new(
            Action::Withdraw {
                reason: body.reason,
            },
            body.revision,
            None,
        );
        Ok(Json(
            self.service.applicant_act(&principal, id, request).await?,
        ))
    }

    /// 待办 — the cases waiting on a role the caller holds, soonest deadline first, with the
    /// days left.
    #[oai(path = "/api/v1/staff/inbox", method = "get", tag = "ApiTags::Staff")]
    async fn inbox(&self, auth: AccessToken) -> AppResult<Json<Inbox>> {
        let principal = self.gate.require(&auth, Rule::Staff).await?;
        Ok(Json(self.service.inbox(&principal).await?))
    }

    /// 办件查询 — find cases: by acceptance number, applicant (ID-number tail or credit code),
    /// item, stage, received or decided dates, deadline; newest received first, in pages. Staff
    /// find the cases of their departments, oversight those of every department; the applicant
    /// is masked. A search by a person's identifier, and every observer's search, is audited.
    #[oai(path = "/api/v1/staff/cases", method = "get", tag = "ApiTags::Staff")]
    #[allow(clippy::too_many_arguments)]
    async fn staff_cases(
        &self,
        auth: AccessToken,
        /// The 21-character acceptance number (受理编号), exactly.
        acceptance_number: Query<Option<String>>,
        /// The last 4 or 6 characters of the applicant's ID number (or credit code).
        applicant_id_tail: Query<Option<String>>,
        /// An enterprise applicant's unified social credit code (18 characters).
        applicant_credit_code: Query<Option<String>>,
        /// An item code.
        item: Query<Option<String>>,
        /// A stage: submitted, pre_review, awaiting_correction, accepted, in_review,
        /// suspended, decided_approved, decided_denied, rejected, terminated, withdrawn.
        stage: Query<Option<String>>,
        /// Received on or after this day (Beijing).
        received_from: Query<Option<NaiveDate>>,
        /// Received on or before this day (Beijing).
        received_to: Query<Option<NaiveDate>>,
        /// Ended (decided, rejected, withdrawn, terminated) on or after this day (Beijing).
        decided_from: Query<Option<NaiveDate>>,
        /// Ended on or before this day (Beijing).
        decided_to: Query<Option<NaiveDate>>,
        /// overdue, or near (open, at most 2 working days left).
        deadline: Query<Option<DeadlineFilter>>,
        /// Page size, 1–100 (default 20).
        limit: Query<Option<i64>>,
        /// From the previous page's `next_cursor`.
        cursor: Query<Option<String>>,
    ) -> AppResult<Json<FoundCases>> {
        let principal = self.gate.require(&auth, Rule::Staff).await?;
        let search = search::check(SearchParams {
            acceptance_number: acceptance_number.0,
            applicant_id_tail: applicant_id_tail.0,
            applicant_credit_code: applicant_credit_code.0,
            item: item.0,
            stage: stage.0,
            received_from: received_from.0,
            received_to: received_to.0,
            decided_from: decided_from.0,
            decided_to: decided_to.0,
            deadline: deadline.0,
            limit: limit.0,
            cursor: cursor.0,
        })?;
        Ok(Json(self.service.search(&principal, search).await?))
    }

    /// A case, for staff of a department it involves (co-departments see the shared materials)
    /// and for oversight (an observer sees the applicant masked and no application form).
    #[oai(
        path = "/api/v1/staff/cases/:id",
        method = "get",
        tag = "ApiTags::Staff"
    )]
    async fn staff_case(&self, auth: AccessToken, id: Path<String>) -> AppResult<Json<CaseDetail>> {
        let principal = self.gate.require(&auth, Rule::Staff).await?;
        let id = path_uuid("id", &id.0)?;
        Ok(Json(self.service.staff_case(&principal, id).await?))
    }

    /// Download a sealed document of a case (notice, decision, licence) as the PDF.
    #[oai(
        path = "/api/v1/staff/cases/:id/documents/:document_id/pdf",
        method = "get",
        tag = "ApiTags::Staff"
    )]
    async fn staff_document(
        &self,
        auth: AccessToken,
        id: Path<String>,
        document_id: Path<String>,
    ) -> AppResult<FileDownload> {
        let principal = self.gate.require(&auth, Rule::Staff).await?;
        let id = path_uuid("id", &id.0)?;
        let document_id = path_uuid("document_id", &document_id.0)?;
        let (record, bytes) = self
            .service
            .staff_document(&principal, id, document_id)
            .await?;
        Ok(pdf_download(&record, bytes))
    }

    /// Download one of a case's material files. Not for observers (403
    /// `raw_materials_not_for_oversight`); a supervisor's download is audited.
    #[oai(
        path = "/api/v1/staff/cases/:id/materials/:material_id",
        method = "get",
        tag = "ApiTags::Staff"
    )]
    async fn staff_material(
        &self,
        auth: AccessToken,
        id: Path<String>,
        material_id: Path<String>,
    ) -> AppResult<FileDownload> {
        let principal = self.gate.require(&auth, Rule::Staff).await?;
        let id = path_uuid("id", &id.0)?;
        let material_id = path_uuid("material_id", &material_id.0)?;
        let (sha256, content_type) = self
            .service
            .staff_material(&principal, id, material_id)
            .await?;
        let bytes = self.files.bytes(&sha256).await?;
        let extension = match content_type.as_str() {
            "application/pdf" => "pdf",
            "image/jpeg" => "jpg",
            "image/png" => "png",
            _ => "ofd",
        };
        Ok(FileDownload {
            bytes,
            content_type,
            file_name: format!("{material_id}.{extension}"),
        })
    }

    /// 一次性补正告知 — ONE notice listing every missing or wrong material.
    #[oai(
        path = "/api/v1/staff/cases/:id/correction-notice",
        method = "post",
        tag = "ApiTags::Staff"
    )]
    async fn correction_notice(
        &self,
        auth: AccessToken,
        id: Path<String>,
        body: JsonBody<CorrectionNotice>,
    ) -> AppResult<Json<CaseDetail>> {
        let (principal, id) = self.staff(&auth, &id).await?;
        let body = body.parse()?;
        let request = ActRequest::new(
            Action::RequestCorrection {
                missing: body
                    .missing
                    .iter()
                    .map(|m| CorrectionItem::of(&m.material_key, &m.note))
                    .collect(),
            },
            body.revision,
            body.occurred_at,
        );
        Ok(Json(self.service.staff_act(&principal, id, request).await?))
    }

    /// 受理 — accept: issues the acceptance number, fixes the deadline and starts the item's
    /// department steps. 容缺受理 with `deferred`, 告知承诺制 with `commitment`.
    #[oai(
        path = "/api/v1/staff/cases/:id/accept",
        method = "post",
        tag = "ApiTags::Staff"
    )]
    async fn accept(
        &self,
        auth: AccessToken,
        id: Path<String>,
        body: JsonBody<AcceptRequest>,
    ) -> AppResult<Json<CaseDetail>> {
        let (principal, id) = self.staff(&auth, &id).await?;
        let body = body.parse()?;
        let request = ActRequest::new(
            Action::Accept {
                deferred: body
                    .deferred
                    .into_iter()
                    .map(|d| DeferredMaterial {
                        material: d.material_key,
                        due: d.due,
                    })
                    .collect(),
                commitment: body.commitment,
            },
            body.revision,
            body.occurred_at,
        );
        Ok(Json(self.service.staff_act(&principal, id, request).await?))
    }

    /// 不予受理 — a reason is mandatory.
    #[oai(
        path = "/api/v1/staff/cases/:id/reject",
        method = "post",
        tag = "ApiTags::Staff"
    )]
    async fn reject(
        &self,
        auth: AccessToken,
        id: Path<String>,
        body: JsonBody<ReasonRequest>,
    ) -> AppResult<Json<CaseDetail>> {
        let (principal, id) = self.staff(&auth, &id).await?;
        let body = body.parse()?;
        let request = ActRequest::new(
            Action::Reject {
                reason: body.reason,
            },
            body.revision,
            body.occurred_at,
        );
        Ok(Json(self.service.staff_act(&principal, id, request).await?))
    }

    /// A department completes its step (并联 steps of one stage complete independently).
    #[oai(
        path = "/api/v1/staff/cases/:id/complete-step",
        method = "post",
        tag = "ApiTags::Staff"
    )]
    async fn complete_step(
        &self,
        auth: AccessToken,
        id: Path<String>,
        body: JsonBody<CompleteStepRequest>,
    ) -> AppResult<Json<CaseDetail>> {
        let (principal, id) = self.staff(&auth, &id).await?;
        let body = body.parse()?;
        let mut request = ActRequest::new(
            Action::CompleteStep {
                department: body.department_code,
                name: body.step,
            },
            body.revision,
            body.occurred_at,
        );
        request.note = body
            .opinion
            .map(|o| o.trim().to_owned())
            .filter(|o| !o.is_empty());
        Ok(Json(self.service.staff_act(&principal, id, request).await?))
    }

    /// 挂起 — stop the clock for a special step, with a reason and an expected end.
    #[oai(
        path = "/api/v1/staff/cases/:id/suspend",
        method = "post",
        tag = "ApiTags::Staff"
    )]
    async fn suspend(
        &self,
        auth: AccessToken,
        id: Path<String>,
        body: JsonBody<SuspendRequest>,
    ) -> AppResult<Json<CaseDetail>> {
        let (principal, id) = self.staff(&auth, &id).await?;
        let body = body.parse()?;
        let request = ActRequest::new(
            Action::Suspend {
                kind: body.special_step.to_model(),
                reason: body.reason,
                expected_end: body.expected_end,
            },
            body.revision,
            body.occurred_at,
        );
        Ok(Json(self.service.staff_act(&principal, id, request).await?))
    }

    /// 延长挂起 — the special step needs more time than its limit: a later expected end, with
    /// the reason (the approver's to grant; bounded like the suspension, from the end it
    /// replaces).
    #[oai(
        path = "/api/v1/staff/cases/:id/suspension/extend",
        method = "post",
        tag = "ApiTags::Staff"
    )]
    async fn extend_suspension(
        &self,
        auth: AccessToken,
        id: Path<String>,
        body: JsonBody<SuspensionExtensionRequest>,
    ) -> AppResult<Json<CaseDetail>> {
        let (principal, id) = self.staff(&auth, &id).await?;
        let body = body.parse()?;
        let request = ActRequest::new(
            Action::ExtendSuspension {
                reason: body.reason,
                expected_end: body.expected_end,
            },
            body.revision,
            body.occurred_at,
        );
        Ok(Json(self.service.staff_act(&principal, id, request).await?))
    }

    /// 恢复 — the special step is over; the clock runs again.
    #[oai(
        path = "/api/v1/staff/cases/:id/resume",
        method = "post",
        tag = "ApiTags::Staff"
    )]
    async fn resume(
        &self,
        auth: AccessToken,
        id: Path<String>,
        body: JsonBody<PlainRequest>,
    ) -> AppResult<Json<CaseDetail>> {
        let (principal, id) = self.staff(&auth, &id).await?;
        let body = body.parse()?;
        let request = ActRequest::new(Action::Resume, body.revision, body.occurred_at);
        Ok(Json(self.service.staff_act(&principal, id, request).await?))
    }

    /// 延期 — extend the deadline to a later working day, with a reason.
    #[oai(
        path = "/api/v1/staff/cases/:id/extend",
        method = "post",
        tag = "ApiTags::Staff"
    )]
    async fn extend(
        &self,
        auth: AccessToken,
        id: Path<String>,
        body: JsonBody<ExtendRequest>,
    ) -> AppResult<Json<CaseDetail>> {
        let (principal, id) = self.staff(&auth, &id).await?;
        let body = body.parse()?;
        let request = ActRequest::new(
            Action::Extend {
                reason: body.reason,
                new_deadline: body.new_deadline,
            },
            body.revision,
            body.occurred_at,
        );
        Ok(Json(self.service.staff_act(&principal, id, request).await?))
    }

    /// 终止 — end the case without a decision, with a reason.
    #[oai(
        path = "/api/v1/staff/cases/:id/terminate",
        method = "post",
        tag = "ApiTags::Staff"
    )]
    async fn terminate(
        &self,
        auth: AccessToken,
        id: Path<String>,
        body: JsonBody<ReasonRequest>,
    ) -> AppResult<Json<CaseDetail>> {
        let (principal, id) = self.staff(&auth, &id).await?;
        let body = body.parse()?;
        let request = ActRequest::new(
            Action::Terminate {
                reason: body.reason,
            },
            body.revision,
            body.occurred_at,
        );
        Ok(Json(self.service.staff_act(&principal, id, request).await?))
    }

    /// 继续办理 — go on with a case whose item was cancelled, recording the legal basis
    /// (approver; supervision sees it). Without it a cancelled item's case cannot be approved.
    #[oai(
        path = "/api/v1/staff/cases/:id/continue-despite-cancellation",
        method = "post",
        tag = "ApiTags::Staff"
    )]
    async fn continue_despite_cancellation(
        &self,
        auth: AccessToken,
        id: Path<String>,
        body: JsonBody<LegalBasisRequest>,
    ) -> AppResult<Json<CaseDetail>> {
        let (principal, id) = self.staff(&auth, &id).await?;
        let body = body.parse()?;
        let request = ActRequest::new(
            Action::ContinueDespiteCancellation {
                legal_basis: body.legal_basis,
            },
            body.revision,
            None,
        );
        Ok(Json(self.service.staff_act(&principal, id, request).await?))
    }

    /// 准予许可 — approve, once every department step is complete. Two approvers at once: one
    /// wins, the other gets 409.
    #[oai(
        path = "/api/v1/staff/cases/:id/approve",
        method = "post",
        tag = "ApiTags::Staff"
    )]
    async fn approve(
        &self,
        auth: AccessToken,
        id: Path<String>,
        body: JsonBody<ApproveRequest>,
    ) -> AppResult<Json<CaseDetail>> {
        let (principal, id) = self.staff(&auth, &id).await?;
        let body = body.parse()?;
        let mut request = ActRequest::new(Action::Approve, body.revision, body.occurred_at);
        request.licence = Some(licence_terms(&body, self.service.clock().today())?);
        Ok(Json(self.service.staff_act(&principal, id, request).await?))
    }

    /// 不予许可 — deny with reasons and the applicant's remedies (the standard text when none
    /// is given).
    #[oai(
        path = "/api/v1/staff/cases/:id/deny",
        method = "post",
        tag = "ApiTags::Staff"
    )]
    async fn deny(
        &self,
        auth: AccessToken,
        id: Path<String>,
        body: JsonBody<DenyRequest>,
    ) -> AppResult<Json<CaseDetail>> {
        let (principal, id) = self.staff(&auth, &id).await?;
        let body = body.parse()?;
        let request = ActRequest::new(
            Action::Deny {
                reasons: body.reasons,
                remedies: body.remedies.unwrap_or_default(),
            },
            body.revision,
            body.occurred_at,
        );
        Ok(Json(self.service.staff_act(&principal, id, request).await?))
    }

    /// 窗口收件 — register a case for an applicant present in person, with the paper
    /// digitised (`/window/files`) and the paper that cannot be noted. An `Idempotency-Key` is
    /// honoured when sent.
    #[oai(path = "/api/v1/window/cases", method = "post", tag = "ApiTags::Staff")]
    async fn window_case(
        &self,
        auth: AccessToken,
        #[oai(name = "Idempotency-Key")] idempotency_key: Header<Option<String>>,
        body: JsonBody<WindowCase>,
    ) -> AppResult<Submitted> {
        let principal = self.gate.require(&auth, Rule::Staff).await?;
        let body = body.parse()?;
        Ok(Submitted::from(
            self.service
                .window_intake(&principal, idempotency_key.0.as_deref(), body)
                .await?,
        ))
    }
}

impl CasesApi {
    async fn staff(
        &self,
        auth: &AccessToken,
        id: &Path<String>,
    ) -> AppResult<(crate::identity::model::Principal, Uuid)> {
        let principal = self.gate.require(auth, Rule::Staff).await?;
        Ok((principal, path_uuid("id", &id.0)?))
    }
}

/// The approver's licence terms, checked: a validity end after today, short labelled fields.
fn licence_terms(body: &ApproveRequest, today: NaiveDate) -> AppResult<LicenceTerms> {
    let mut errors = Vec::new();
    if let Some(to) = body.licence_valid_to
        && to <= today
    {
        errors.push(FieldError::new(
            "licence_valid_to",
            "licence_valid_to_past",
            "the licence must be valid after today",
        ));
    }
    if body.licence_details.len() > 12 {
        errors.push(FieldError::new(
            "licence_details",
            "too_many_licence_details",
            "at most 12 fields fit on the licence",
        ));
    }
    for (index, detail) in body.licence_details.iter().enumerate() {
        let label = detail.label.trim();
        if label.is_empty() || label.chars().count() > 12 {
            errors.push(FieldError::new(
                format!("licence_details[{index}].label"),
                "invalid_licence_detail_label",
                "a label of 1 to 12 characters",
            ));
        }
        let value = detail.value.trim();
        if value.is_empty() || value.chars().count() > 200 {
            errors.push(FieldError::new(
                format!("licence_details[{index}].value"),
                "invalid_licence_detail_value",
                "a value of 1 to 200 characters",
            ));
        }
    }
    if !errors.is_empty() {
        return Err(AppError::invalid(CaseProblem::InvalidLicenceTerms, errors));
    }
    Ok(LicenceTerms {
        valid_to: body.licence_valid_to,
        details: body
            .licence_details
            .iter()
            .map(|d| (d.label.trim().to_owned(), d.value.trim().to_owned()))
            .collect(),
    })
}

fn pdf_download(record: &crate::document_register::DocumentRecord, bytes: Vec<u8>) -> FileDownload {
    FileDownload {
        bytes,
        content_type: "application/pdf".to_owned(),
        file_name: crate::document_register::records::file_name(record),
    }
}
