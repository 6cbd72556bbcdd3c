//! A guide as published: complete and immutable, with its materials, the extension allowance it
//! grants and the identity assurance an online applicant needs.

use poem_openapi::Object;
use serde::{Deserialize, Serialize};

use super::elements::{ExtensionAllowance, Fees, FormFile, LegalBasis, ResultSpec, Step};
use super::enums::{ApplicantType, Category, MaterialFileType, OnlineDepth};

/// One material of a published guide.
#[derive(Debug, Clone, PartialEq, Eq, Object, Serialize, Deserialize)]
pub struct Material {
    pub key: String,
    pub name: String,
    pub required: bool,
    pub key_material: bool,
    pub originals: u32,
    pub copies: u32,
    pub file_types: Vec<MaterialFileType>,
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blank_form: Option<FormFile>,
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sample_form: Option<FormFile>,
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A complete guide, as published (immutable once published).
#[derive(Debug, Clone, PartialEq, Eq, Object, Serialize, Deserialize)]
pub struct Guide {
    pub name: String,
    pub category: Category,
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_code: Option<String>,
    pub legal_basis: Vec<LegalBasis>,
    pub conditions: Vec<String>,
    pub co_department_codes: Vec<String>,
    pub materials: Vec<Material>,
    pub statutory_limit_days: u32,
    pub promised_limit_days: u32,
    pub instant: bool,
    pub fees: Fees,
    pub steps: Vec<Step>,
    pub result: ResultSpec,
    pub online_depth: OnlineDepth,
    pub applicant_types: Vec<ApplicantType>,
    pub consultation_phone: String,
    pub complaint_phone: String,
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handling_location: Option<String>,
    /// 1 phone proven, 2 real name verified, 3 CA certificate: what an applicant needs to apply
    /// online. Versions published before the field existed read as 2.
    #[serde(default = "default_assurance_level")]
    pub required_assurance_level: i16,
    /// How far a case's deadline may be extended (延期); absent: the category's default.
    #[oai(skip_serializing_if_is_none)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension: Option<ExtensionAllowance>,
}

impl Guide {
    /// The item's extension allowance: its own setting, or its category's default.
    pub fn extension_allowance(&self) -> ExtensionAllowance {
        self.extension
            .unwrap_or_else(|| ExtensionAllowance::default_for(self.category))
    }
}

/// Online applications need a verified real name unless the item says otherwise.
pub const DEFAULT_ASSURANCE_LEVEL: i16 = 2;

fn default_assurance_level() -> i16 {
    DEFAULT_ASSURANCE_LEVEL
}
