//! The special steps (特别程序) as steps of a case: which of them stop the decision clock, and
//! how long a suspension for one may run.
//!
//! 行政许可法 art. 45: "行政机关作出行政许可决定，依法需要听证、招标、拍卖、检验、检测、检疫、
//! 鉴定和专家评审的，所需时间不计算在本节规定的期限内". So hearing, testing and expert review
//! run outside the limit; a site inspection (现场核查, art. 34) is part of the review and counts;
//! a public notice (公示) is not in art. 45's list and counts too (低保's 7-day 公示 sits inside
//! its 30-day limit, 《最低生活保障审核确认办法》). The rule is per step kind, here and nowhere
//! else, so the clock, the case view and the documentation cannot disagree.

use super::SpecialStep;
use crate::catalog::model::StepKind;

impl SpecialStep {
    /// The case's special step for a step kind of the item's process; None for the core steps.
    /// Special steps run as steps of the case, in their stage, completed by their department's
    /// reviewer.
    pub fn of_step_kind(kind: StepKind) -> Option<SpecialStep> {
        match kind {
            StepKind::Accept | StepKind::Review | StepKind::Decide => None,
            StepKind::SiteInspection => Some(SpecialStep::SiteInspection),
            StepKind::ExpertReview => Some(SpecialStep::ExpertReview),
            StepKind::Hearing => Some(SpecialStep::Hearing),
            StepKind::Testing => Some(SpecialStep::Testing),
            StepKind::PublicNotice => Some(SpecialStep::PublicNotice),
        }
    }

    /// Every special step.
    pub const ALL: [SpecialStep; 5] = [
        SpecialStep::SiteInspection,
        SpecialStep::ExpertReview,
        SpecialStep::Hearing,
        SpecialStep::Testing,
        SpecialStep::PublicNotice,
    ];

    /// Whether the step's working days count toward the case's promised limit.
    pub fn counts_toward_limit(self) -> bool {
        match self {
            // 行政许可法 art. 45.
            SpecialStep::Hearing | SpecialStep::Testing | SpecialStep::ExpertReview => false,
            SpecialStep::SiteInspection | SpecialStep::PublicNotice => true,
        }
    }

    /// The legal reason of [`SpecialStep::counts_toward_limit`], shown beside the step.
    pub fn limit_rule(self) -> &'static str {
        if self.counts_toward_limit() {
            "计入承诺办理时限"
        } else {
            "依《中华人民共和国行政许可法》第四十五条，所需时间不计入办理时限"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_steps_article_45_names_stop_the_clock() {
        let outside: Vec<SpecialStep> = SpecialStep::ALL
            .into_iter()
            .filter(|s| !s.counts_toward_limit())
            .collect();
        assert_eq!(
            outside,
            [
                SpecialStep::ExpertReview,
                SpecialStep::Hearing,
                SpecialStep::Testing
            ]
        );
        assert!(SpecialStep::Hearing.limit_rule().contains("第四十五条"));
        assert_eq!(SpecialStep::PublicNotice.limit_rule(), "计入承诺办理时限");
    }
}
