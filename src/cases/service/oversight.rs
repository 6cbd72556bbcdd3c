//! Oversight reads (decision record 0016). Observers (观察员: 人大代表、政协委员) follow cases of
//! every department — the case, its timeline and deadline, the documents issued — with the
//! applicant masked, never the applicant's own materials (ID cards, licences, forms), and every
//! read of theirs is audited. Supervisors (监察人员) investigate: they keep the materials, and
//! each material they open outside a department of theirs is audited.
//!
//! What decides is how the caller reaches the case: a role in one of its departments reads as
//! department staff, whatever else they hold; otherwise through the oversight rule, as the
//! platform administrator, a supervisor or an observer, in that order.

use super::*;

/// How a member of staff reaches a case they may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reader {
    /// A role in a department the case involves.
    Department,
    PlatformAdmin,
    Supervisor,
    Observer,
}

pub(super) fn reader(principal: &Principal, row: &CaseRow) -> Reader {
    reader_of(principal, &row.department_ids)
}

/// [`reader`] of a case involving `departments`.
fn reader_of(principal: &Principal, departments: &[Uuid]) -> Reader {
    let in_department = principal
        .grants
        .iter()
        .any(|g| g.department_id.is_some_and(|d| departments.contains(&d)));
    if in_department {
        Reader::Department
    } else if principal.has_role(Role::PlatformAdmin) {
        Reader::PlatformAdmin
    } else if principal.has_role(Role::Supervisor) {
        Reader::Supervisor
    } else {
        Reader::Observer
    }
}

/// Whether every role the caller holds is the observer's: such a login reaches no case but as
/// an observer, so it is refused materials before any case is looked up.
pub(super) fn observer_only_login(principal: &Principal) -> bool {
    !principal.grants.is_empty() && principal.grants.iter().all(|g| g.role == Role::Observer)
}

pub(super) fn raw_materials_refused() -> AppError {
    AppError::new(
        CaseProblem::RawMaterialsNotForOversight,
        "observers read the case, its timeline, deadlines and issued documents, not the \
         applicant's materials",
    )
}

/// The case as an observer sees it: the applicant's and agent's names masked, the application
/// form withheld, materials listed without their file names or digests.
pub(super) fn masked_for_observer(mut detail: CaseDetail) -> CaseDetail {
    detail.applicant.name = crate::masking::mask_name(&detail.applicant.name);
    if let Some(agent) = detail.agent.as_mut() {
        agent.name = crate::masking::mask_name(&agent.name);
    }
    detail.form = json!({});
    for material in &mut detail.materials {
        material.file_name = None;
        material.sha256 = None;
        material.file_id = None;
    }
    detail
}

/// The audit chain of a reader's audited reads: one per member of staff, so reads never wait
/// on a case's own chain.
pub(crate) const READS_AGGREGATE: &str = "staff_reads";

impl CaseService {
    /// Records an audited read (`action`, e.g. `case.view`) by `principal` in its own
    /// transaction: the read is answered only once its record is committed.
    pub(super) async fn record_read(
        &self,
        principal: &Principal,
        action: &str,
        details: Value,
    ) -> AppResult<()> {
        let actor = principal.subject.to_string();
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        audit::append(
            &tx,
            AuditEntry {
                aggregate_type: READS_AGGREGATE,
                aggregate_id: &actor,
                actor: &actor,
                action,
                before: None,
                after: None,
                details,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The staff view of a case for this reader: masked and audited for an observer.
    pub(super) async fn as_read_by(
        &self,
        principal: &Principal,
        row: &CaseRow,
        detail: CaseDetail,
    ) -> AppResult<CaseDetail> {
        if reader(principal, row) != Reader::Observer {
            return Ok(detail);
        }
        self.record_read(
            principal,
            "case.view",
            json!({"case_id": row.id, "acceptance_number": row.acceptance_number}),
        )
        .await?;
        Ok(masked_for_observer(detail))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::model::{Assurance, Grant};

    fn principal(grants: &[(Role, Option<Uuid>)]) -> Principal {
        Principal {
            subject: Subject::Staff(Uuid::new_v4()),
            session_id: Uuid::new_v4(),
            assurance: Assurance::PhoneProven,
            grants: grants
                .iter()
                .map(|(role, department_id)| Grant {
                    role: *role,
                    department_id: *department_id,
                    item_code: None,
                    step: None,
                    covering_for: None,
                    until: None,
                })
                .collect(),
        }
    }

    #[test]
    fn a_department_role_outranks_oversight_and_the_observer_comes_last() {
        let mine = Uuid::new_v4();
        let reaches = |p: &Principal| reader_of(p, &[mine]);
        let observer_and_clerk =
            principal(&[(Role::Observer, None), (Role::WindowClerk, Some(mine))]);
        assert_eq!(reaches(&observer_and_clerk), Reader::Department);
        assert!(!observer_only_login(&observer_and_clerk));
        let observer = principal(&[(Role::Observer, None)]);
        assert_eq!(reaches(&observer), Reader::Observer);
        assert!(observer_only_login(&observer));
        let both = principal(&[(Role::Observer, None), (Role::Supervisor, None)]);
        assert_eq!(reaches(&both), Reader::Supervisor);
        let elsewhere = principal(&[
            (Role::Observer, None),
            (Role::Reviewer, Some(Uuid::new_v4())),
        ]);
        assert_eq!(reaches(&elsewhere), Reader::Observer);
        assert_eq!(
            reaches(&principal(&[
                (Role::PlatformAdmin, None),
                (Role::Observer, None)
            ])),
            Reader::PlatformAdmin
        );
        assert!(!observer_only_login(&principal(&[])));
    }
}
