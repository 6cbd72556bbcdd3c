//! 一窗受理 [002 三(四)1: 前台综合受理、后台分类审批、统一窗口出件]: a window clerk of a department
//! flagged as the platform centre's comprehensive window (`department.comprehensive_window`)
//! takes in a case for any department's item at the window, handles its pre-review (correction
//! notice, acceptance or non-acceptance) for the item's accepting department, and the case goes
//! on to that department's back office. The centre joins the case's departments, so its clerks
//! find the case again (and hand the result out there); they never act on the back office's
//! steps or the decision. A department's own window keeps working as before.

use super::*;

/// The comprehensive window a clerk works at: the first department, among those where the
/// caller is a window clerk for every item, that is flagged as one.
pub(super) async fn centre_window_of(
    client: &impl GenericClient,
    principal: &Principal,
) -> AppResult<Option<(Uuid, String)>> {
    let clerk_departments: Vec<Uuid> = principal
        .grants
        .iter()
        .filter(|g| g.role == Role::WindowClerk && g.item_code.is_none() && g.step.is_none())
        .filter_map(|g| g.department_id)
        .collect();
    if clerk_departments.is_empty() {
        return Ok(None);
    }
    let windows =
        crate::department::store::comprehensive_windows_among(client, &clerk_departments).await?;
    Ok(windows.into_iter().next())
}

/// The front-desk task a centre clerk may take on a case the centre took in: the window clerk's
/// task of the accepting department, acted on from the centre (which the timeline records as
/// the acting department).
pub(super) async fn centre_front_desk_task(
    client: &impl GenericClient,
    principal: &Principal,
    row: &CaseRow,
    candidates: &[Task],
) -> AppResult<Option<(Role, Uuid)>> {
    if !candidates.iter().any(|t| t.role == Role::WindowClerk) {
        return Ok(None);
    }
    let Some((centre, _)) = centre_window_of(client, principal).await? else {
        return Ok(None);
    };
    Ok(row
        .department_ids
        .contains(&centre)
        .then_some((Role::WindowClerk, centre)))
}
