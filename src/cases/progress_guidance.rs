//! What the applicant must do now, in words, for the public progress query: an applicant who
//! applied at the window and has no app follows the case with its submission reference
//! (申请编号), and must learn there — not only from the app — that a correction is waiting and
//! where to answer it.

use super::model::{CaseState, Stage};
use super::tasks;

/// The next step for the applicant, in Chinese, from the case's state.
pub fn guidance(state: &CaseState) -> &'static str {
    if tasks::applicant_todo(state) == Some("supply_deferred") {
        return "已受理，正在审查。请在承诺期限内补交容缺材料：可在“指尖办”中提交，或携带材料到受理窗口办理。";
    }
    match &state.stage {
        Stage::Submitted => "申请已提交，等待受理部门审查，您暂无需办理。",
        Stage::PreReview { .. } => {
            "受理部门正在审查申请材料，您暂无需办理；材料需要补正的，将一次性告知。"
        }
        Stage::AwaitingCorrection { .. } => {
            "请按补正告知书一次性补正下列材料：可在“指尖办”中提交，或携带材料到受理窗口办理。"
        }
        Stage::Accepted | Stage::InReview(_) => "已受理，正在审查，您暂无需办理。",
        Stage::Suspended { .. } => {
            "办件处于特殊环节（暂停计时），您暂无需办理；需要您配合的，部门将另行通知。"
        }
        Stage::DecidedApproved => {
            // Words for every category: the decision's own (准予许可, 准予给付…) is in its
            // sealed document, and only a licence result has a 电子证照.
            "已办结，作出准予决定。可在“指尖办”查看决定书（颁发证照的，还可查看电子证照），或到受理窗口领取。"
        }
        Stage::DecidedDenied { .. } => {
            "已办结，作出不予决定，理由见办理记录和决定书；不服的，可依法申请行政复议或者提起行政诉讼。"
        }
        Stage::Rejected { .. } => {
            "申请不予受理，理由见办理记录和不予受理决定书；具备条件后可重新申请。"
        }
        Stage::Terminated { .. } => "办件已终止办理，理由见办理记录。",
        Stage::Withdrawn { .. } => "申请已撤回；如需办理，可重新申请。",
    }
}

/// The materials a correction notice asks for, as it prints them; empty in every other stage.
pub fn correction_items(stage: &Stage) -> Vec<String> {
    match stage {
        Stage::AwaitingCorrection { missing, .. } => missing.iter().map(|m| m.printed()).collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cases::model::CorrectionItem;

    #[test]
    fn a_waiting_correction_says_where_to_answer_and_lists_the_materials() {
        let mut state = CaseState::submitted();
        assert!(guidance(&state).contains("暂无需办理"));
        state.stage = Stage::AwaitingCorrection {
            department: "DA-SCJG".to_owned(),
            missing: vec![CorrectionItem::of("id_card", "")],
        };
        assert!(guidance(&state).contains("窗口") && guidance(&state).contains("指尖办"));
        assert_eq!(correction_items(&state.stage).len(), 1);
        state.stage = Stage::PreReview {
            department: "DA-SCJG".to_owned(),
        };
        assert!(correction_items(&state.stage).is_empty());
    }
}
