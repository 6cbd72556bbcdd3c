//! The documents of a case and the data every one of them carries.

use chrono::NaiveDate;

// ----- Page geometry, shared by the renderer (which places the seal) and the sealer (which
// signs there). -----

/// A rectangle in PDF user space (points, origin at the page's lower left, y up).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PdfRect {
    pub x0: f32,
    pub y0: f32,
    pub x1: f32,
    pub y1: f32,
}

impl PdfRect {
    pub fn width(&self) -> f32 {
        self.x1 - self.x0
    }

    pub fn height(&self) -> f32 {
        self.y1 - self.y0
    }
}

/// Where the seal goes: the page (0-based) and the widget's rectangle on it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SealPlacement {
    pub page: usize,
    pub rect: PdfRect,
}

/// A promised date (承诺办结日期) and, when it crosses a year whose holiday arrangement is not
/// yet published, the basis it was counted on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromisedDeadline {
    pub date: NaiveDate,
    /// e.g. "2027年节假日安排尚未公布，暂按周一至周五为工作日计算，以国务院公布的节假日安排为准".
    pub provisional_basis: Option<String>,
}

impl PromisedDeadline {
    /// The basis as a note to follow the date in a sentence: "（……）", or "" when official.
    pub fn basis_note(&self) -> String {
        self.provisional_basis
            .as_ref()
            .map(|b| format!("（{b}）"))
            .unwrap_or_default()
    }
}

/// Which document, with the fields only that kind has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocumentKind {
    /// 受理通知书.
    AcceptanceNotice {
        /// The date by which the decision is promised (承诺办结日期), when known.
        decide_by: Option<PromisedDeadline>,
    },
    /// 一次性补正告知书: everything missing or wrong, told once.
    CorrectionNotice {
        /// One entry per material to supply or correct, with what is wrong with it.
        missing_materials: Vec<String>,
        /// The date by which the corrections are due, when the item sets one.
        correct_by: Option<NaiveDate>,
    },
    /// 不予受理决定书.
    RejectionDecision { reasons: Vec<String> },
    /// 准予（行政）许可决定书.
    ApprovalDecision {
        /// The number of the licence issued with the decision, if any.
        licence_number: Option<String>,
    },
    /// The licence itself (电子证照).
    Licence(LicenceFields),
    /// 不予（行政）许可决定书, which must state the reasons and the applicant's remedies
    /// (行政复议 / 行政诉讼, where and within how long).
    DenialDecision {
        reasons: Vec<String>,
        remedies: Vec<String>,
    },
}

/// What a case's documents are called and the law each cites: chosen by what the item is
/// (its category and result), so a 行政给付 is never decided by a 准予行政许可决定书 citing the
/// licensing law. The texts live in one table, `cases::legal_frame`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegalFrame {
    /// The legal basis the notices before the decision cite (受理, 补正, 不予受理), e.g.
    /// `《中华人民共和国行政许可法》第三十二条第一款`.
    pub acceptance_basis: String,
    pub correction_basis: String,
    pub rejection_basis: String,
    /// The approving decision's title, e.g. 准予行政许可决定书, 认定工伤决定书.
    pub approval_title: String,
    /// What the approval decides, e.g. 准予行政许可, 准予给付.
    pub approval_outcome: String,
    pub approval_basis: String,
    /// The refusing decision's title, e.g. 不予行政许可决定书.
    pub denial_title: String,
    /// What the refusal decides, e.g. 不予行政许可.
    pub denial_outcome: String,
    pub denial_basis: String,
}

impl DocumentKind {
    /// The document's title as printed, in the case's legal frame.
    pub fn title(&self, frame: &LegalFrame) -> String {
        match self {
            DocumentKind::AcceptanceNotice { .. } => "受理通知书".to_owned(),
            DocumentKind::CorrectionNotice { .. } => "一次性补正告知书".to_owned(),
            DocumentKind::RejectionDecision { .. } => "不予受理决定书".to_owned(),
            DocumentKind::ApprovalDecision { .. } => frame.approval_title.clone(),
            DocumentKind::Licence(licence) => licence.type_name.clone(),
            DocumentKind::DenialDecision { .. } => frame.denial_title.clone(),
        }
    }

    /// A stable English code (file names, logs, metrics).
    pub fn code(&self) -> &'static str {
        match self {
            DocumentKind::AcceptanceNotice { .. } => "acceptance_notice",
            DocumentKind::CorrectionNotice { .. } => "correction_notice",
            DocumentKind::RejectionDecision { .. } => "rejection_decision",
            DocumentKind::ApprovalDecision { .. } => "approval_decision",
            DocumentKind::Licence(_) => "licence",
            DocumentKind::DenialDecision { .. } => "denial_decision",
        }
    }
}

/// The licence's own fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LicenceFields {
    /// The licence type's name, printed as the title (e.g. 食品经营许可证).
    pub type_name: String,
    /// The licence number (证照编号).
    pub number: String,
    /// The holder (持证主体); their masked ID or credit code is [`DocumentData::applicant`]'s.
    pub holder: String,
    pub valid_from: NaiveDate,
    /// `None`: valid without a time limit (长期).
    pub valid_to: Option<NaiveDate>,
    /// Further printed fields, label then value (e.g. 经营场所, 许可范围), in order.
    pub extra: Vec<(String, String)>,
}

/// The applicant's identifier, already masked by the caller (documents are shown to banks,
/// courts and anyone the holder shares them with).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HolderId {
    /// 公民身份号码, masked (e.g. `2102**********1234`).
    Citizen(String),
    /// 统一社会信用代码 (public for enterprises, printed as given).
    Enterprise(String),
}

impl HolderId {
    pub fn label(&self) -> &'static str {
        match self {
            HolderId::Citizen(_) => "公民身份号码",
            HolderId::Enterprise(_) => "统一社会信用代码",
        }
    }

    pub fn value(&self) -> &str {
        match self {
            HolderId::Citizen(v) | HolderId::Enterprise(v) => v,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applicant {
    pub name: String,
    pub id: HolderId,
}

/// What every document carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentData {
    /// The issuing department (作出机关), also the seal's name.
    pub department: String,
    /// The case's acceptance number (受理编号); for the documents issued before acceptance (the
    /// correction notice and the rejection), the application's number (申请编号).
    pub acceptance_number: String,
    /// The document number (文号), e.g. `大市监许〔2026〕123号`.
    pub document_number: String,
    /// The document's date (成文日期).
    pub date: NaiveDate,
    pub applicant: Applicant,
    /// The item applied for (事项名称).
    pub item_name: String,
    /// Further body paragraphs, after the kind's standard text.
    pub paragraphs: Vec<String>,
    /// The QR code's target, printed under it.
    pub verification_url: String,
    /// The titles and the law the documents cite.
    pub frame: LegalFrame,
}

impl DocumentData {
    pub(crate) fn validate(&self) -> Result<(), super::DocumentError> {
        let required = [
            ("department", &self.department),
            ("acceptance_number", &self.acceptance_number),
            ("document_number", &self.document_number),
            ("applicant.name", &self.applicant.name),
            ("item_name", &self.item_name),
            ("verification_url", &self.verification_url),
        ];
        for (field, value) in required {
            if value.trim().is_empty() {
                return Err(super::DocumentError::InvalidData(format!(
                    "{field} is empty"
                )));
            }
        }
        Ok(())
    }
}

/// `2026年3月5日` (Arabic numerals, as GB/T 9704-2012 prints dates).
pub fn chinese_date(date: NaiveDate) -> String {
    use chrono::Datelike;
    format!("{}年{}月{}日", date.year(), date.month(), date.day())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_print_without_leading_zeros() {
        let d = NaiveDate::from_ymd_opt(2026, 3, 5).unwrap();
        assert_eq!(chinese_date(d), "2026年3月5日");
    }

    #[test]
    fn decisions_take_their_titles_from_the_frame() {
        let frame = LegalFrame {
            acceptance_basis: String::new(),
            correction_basis: String::new(),
            rejection_basis: String::new(),
            approval_title: "准予给付决定书".to_owned(),
            approval_outcome: String::new(),
            approval_basis: String::new(),
            denial_title: "不予给付决定书".to_owned(),
            denial_outcome: String::new(),
            denial_basis: String::new(),
        };
        let kind = DocumentKind::DenialDecision {
            reasons: vec![],
            remedies: vec![],
        };
        assert_eq!(kind.title(&frame), "不予给付决定书");
        assert_eq!(kind.code(), "denial_decision");
        let approval = DocumentKind::ApprovalDecision {
            licence_number: None,
        };
        assert_eq!(approval.title(&frame), "准予给付决定书");
        assert_eq!(
            DocumentKind::AcceptanceNotice { decide_by: None }.title(&frame),
            "受理通知书"
        );
    }
}
