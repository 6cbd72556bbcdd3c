//! The elements a guide is made of that read the same in the draft and in the published guide:
//! legal bases, downloadable forms, fees, process steps, the result and the extension allowance.

use poem_openapi::Object;
use serde::{Deserialize, Serialize};

use super::enums::{Category, ResultKind, StepKind};

/// 设定依据: one legal source of the item.
#[derive(Debug, Clone, PartialEq, Eq, Object, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LegalBasis {
    /// e.g. 《中华人民共和国食品安全法》
    pub document: String,
    /// e.g. 第三十五条
    #[oai(default)]
    #[serde(default)]
    pub article: String,
}

/// A downloadable file (blank or sample form), stored in the blob store by SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Object, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormFile {
    pub sha256: String,
    pub file_name: String,
    pub content_type: String,
}

/// One fee item (收费项目) with its basis.
#[derive(Debug, Clone, PartialEq, Eq, Object, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fee {
    pub name: String,
    /// Amount in fen (分), integer to avoid rounding.
    pub amount_fen: i64,
    /// 收费依据
    pub basis: String,
}

/// 收费标准: free, or the fee items with their basis.
#[derive(Debug, Clone, PartialEq, Eq, Object, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fees {
    /// 不收费
    pub free: bool,
    #[oai(default)]
    #[serde(default)]
    pub items: Vec<Fee>,
}

/// One step of the item's process.
#[derive(Debug, Clone, PartialEq, Eq, Object, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub kind: StepKind,
    pub name: String,
    /// The step's own limit in working days (0 for same-day steps of instant items).
    pub limit_days: u32,
    /// Handling department code; the lead department when absent.
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(default)]
    pub department_code: Option<String>,
    /// Steps sharing a stage run in parallel (并联审批); stages run in ascending order.
    pub stage: u32,
}

/// 办理结果
#[derive(Debug, Clone, PartialEq, Eq, Object, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResultSpec {
    pub kind: ResultKind,
    /// e.g. 食品经营许可证
    pub name: String,
}

/// How far a case's deadline may be extended (延期), with the head's approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Object, Serialize, Deserialize)]
pub struct ExtensionAllowance {
    /// Working days all extensions of one case may add together.
    pub working_days: u32,
    /// How many extensions one case may have.
    pub times: u32,
}

impl ExtensionAllowance {
    /// 行政许可法 art. 42: a licence not decided within 20 working days may, with the head of
    /// the agency's approval, be extended once by 10 working days. The other categories have no
    /// general statute here; they follow the same rule unless the item sets its own.
    pub const LICENSING_LAW: ExtensionAllowance = ExtensionAllowance {
        working_days: 10,
        times: 1,
    };

    /// The allowance of an item whose guide sets none.
    pub fn default_for(_category: Category) -> ExtensionAllowance {
        Self::LICENSING_LAW
    }
}
