//! A guide as edited: every element optional (a material as drafted too) until the publication
//! check ([`super::check_for_publication`]) finds it complete.

use poem_openapi::Object;
use serde::{Deserialize, Serialize};

use super::elements::{ExtensionAllowance, Fees, FormFile, LegalBasis, ResultSpec, Step};
use super::enums::{ApplicantType, Category, MaterialFileType, OnlineDepth};

/// One entry of the materials list as drafted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Object, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaterialDraft {
    /// Stable key within the item (e.g. `application_form`); cases link materials by it.
    #[oai(nullable)]
    pub key: Option<String>,
    #[oai(nullable)]
    pub name: Option<String>,
    #[oai(nullable)]
    pub required: Option<bool>,
    /// A key material cannot be pending at acceptance (容缺受理 only for non-key materials).
    #[oai(nullable)]
    pub key_material: Option<bool>,
    /// Number of originals (原件) to show.
    #[oai(nullable)]
    pub originals: Option<u32>,
    /// Number of copies (复印件) to hand in.
    #[oai(nullable)]
    pub copies: Option<u32>,
    #[oai(default)]
    #[serde(default)]
    pub file_types: Vec<MaterialFileType>,
    #[oai(nullable)]
    pub blank_form: Option<FormFile>,
    #[oai(nullable)]
    pub sample_form: Option<FormFile>,
    #[oai(nullable)]
    pub note: Option<String>,
}

/// A guide being edited: every element optional until publication.
#[derive(Debug, Clone, Default, PartialEq, Eq, Object, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuideDraft {
    #[oai(nullable)]
    pub name: Option<String>,
    #[oai(nullable)]
    pub category: Option<Category>,
    /// The main item's code when this is a sub-item (子项).
    #[oai(nullable)]
    pub parent_code: Option<String>,
    #[oai(default)]
    #[serde(default)]
    pub legal_basis: Vec<LegalBasis>,
    /// 受理条件
    #[oai(default)]
    #[serde(default)]
    pub conditions: Vec<String>,
    /// 协办部门 codes.
    #[oai(default)]
    #[serde(default)]
    pub co_department_codes: Vec<String>,
    #[oai(default)]
    #[serde(default)]
    pub materials: Vec<MaterialDraft>,
    /// 法定时限 in working days.
    #[oai(nullable)]
    pub statutory_limit_days: Option<u32>,
    /// 承诺时限 in working days (0 for instant items).
    #[oai(nullable)]
    pub promised_limit_days: Option<u32>,
    /// 即办件: decided on the day of acceptance.
    #[oai(nullable)]
    pub instant: Option<bool>,
    #[oai(nullable)]
    pub fees: Option<Fees>,
    #[oai(default)]
    #[serde(default)]
    pub steps: Vec<Step>,
    #[oai(nullable)]
    pub result: Option<ResultSpec>,
    #[oai(nullable)]
    pub online_depth: Option<OnlineDepth>,
    #[oai(default)]
    #[serde(default)]
    pub applicant_types: Vec<ApplicantType>,
    /// 咨询电话
    #[oai(nullable)]
    pub consultation_phone: Option<String>,
    /// 监督投诉电话
    #[oai(nullable)]
    pub complaint_phone: Option<String>,
    /// 办理地点
    #[oai(nullable)]
    pub handling_location: Option<String>,
    /// The identity assurance an applicant needs to apply online: 1 phone proven, 2 real name
    /// verified (the default), 3 CA certificate.
    #[oai(nullable)]
    pub required_assurance_level: Option<i16>,
    /// How far a case's deadline may be extended (延期); unset: the default of the item's
    /// category ([`ExtensionAllowance::default_for`]).
    #[oai(nullable)]
    pub extension: Option<ExtensionAllowance>,
}
