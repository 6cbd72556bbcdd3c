//! The notices a case sends its applicant (and agent) through the notification hub, written in
//! the transaction of the change that calls for them.

use super::*;
use crate::cases::legal_frame::ResultNotice;
use crate::documents::LegalFrame;

/// What an event's notice says beyond the case row: the calendar (for provisional dates), the
/// promised deadline of an acceptance, the documents the event issued and the legal frame of
/// the item (the decision's words).
pub(super) struct EventContext<'a> {
    pub(super) calendar: &'a Calendar,
    pub(super) promised: Option<&'a PromisedDeadline>,
    pub(super) issued: &'a [IssuedDocument],
    pub(super) frame: &'a LegalFrame,
}

impl CaseService {
    pub(super) async fn notify_event(
        &self,
        tx: &impl Prepare,
        row: &CaseRow,
        event: &Event,
        context: &EventContext<'_>,
    ) -> AppResult<()> {
        let EventContext {
            calendar,
            promised,
            issued,
            frame,
        } = *context;
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
                let printed: Vec<String> = missing.iter().map(CorrectionItem::printed).collect();
                v.insert("missing".to_owned(), json!(printed.join("、")));
                ("case.correction_requested", true)
            }
            Event::Accepted { .. } => {
                let promised = promised.ok_or_else(|| {
                    anyhow::anyhow!("an acceptance notice without its promised deadline")
                })?;
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
                // The clock stops: the applicant must know (行政许可法 art. 45 asks the agency to
                // tell the applicant the time a special step takes).
                ("case.suspended", true)
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
            Event::Approved => {
                // The outcome in the item's own words; the licence library only when a licence
                // was issued.
                let licence_issued = issued.iter().any(|d| d.licence_id.is_some());
                let notice = ResultNotice::approval(frame, licence_issued);
                v.insert("outcome".to_owned(), json!(notice.outcome));
                v.insert("result_note".to_owned(), json!(notice.result_note));
                ("case.approved", true)
            }
            Event::Denied { reasons, remedies } => {
                v.insert("reasons".to_owned(), json!(reasons));
                v.insert("remedies".to_owned(), json!(remedies));
                v.insert(
                    "outcome".to_owned(),
                    json!(ResultNotice::denial(frame).outcome),
                );
                ("case.denied", true)
            }
            Event::SuspensionExtended {
                special_step,
                expected_end,
                reason,
            } => {
                v.insert(
                    "special_step".to_owned(),
                    json!(special_step_label(*special_step)),
                );
                v.insert(
                    "expected_end".to_owned(),
                    json!(expected_end.format("%Y年%m月%d日").to_string()),
                );
                v.insert("reason".to_owned(), json!(reason));
                ("case.suspension_extended", true)
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
    pub(super) async fn notify(
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
    pub(super) fn plan_notices(
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
}

/// The agent's phone, for the SMS a push cannot replace (agents are citizens).
pub(super) async fn agent_phone(
    client: &impl Prepare,
    agent: Option<&str>,
) -> AppResult<Option<String>> {
    Ok(match agent.map(str::parse::<Subject>) {
        Some(Ok(Subject::Citizen(id))) => client
            .query_opt_prepared("SELECT phone FROM citizen WHERE id = $1", &[&id])
            .await?
            .map(|r| r.get(0)),
        _ => None,
    })
}

/// Reads [`NoticeFacts`] for a notice from `template` to the applicant (`applicant`: their
/// account, `None` for a bare phone) and the agent. The reads go out together: issued beside
/// the submission's other checks they cost no round trip of their own.
pub(super) async fn notice_facts(
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
pub(super) fn case_notifications<'n>(
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
        // A window applicant without an account is told by SMS alone, and a legal notice to
        // them is as must-reach as to anyone (never limited per address).
        (None, Some(phone)) => recipients.push((
            Recipient::Phone(phone.to_owned()),
            notice.must_reach,
            "applicant",
        )),
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
            // The case the notice is about: the app's message centre links to it.
            let mut variables = notice.variables.clone();
            variables.insert("case_id".to_owned(), json!(row.case_id));
            let notification = NewNotification {
                template_key: notice.template.to_owned(),
                variables,
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
