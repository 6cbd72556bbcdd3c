//! The item catalog's pure types and rules: a guide (办事指南) is edited as a draft with every
//! element optional, and only a complete, consistent guide can be published [004 art.9(1)].

use poem_openapi::{Enum, Object};
use serde::{Deserialize, Serialize};

use crate::http::FieldError;

/// 事项类别 — the "6+1" categories [002 三(一)].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Enum, Serialize, Deserialize)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// 行政许可
    Licence,
    /// 行政给付
    Benefit,
    /// 行政确认
    Confirmation,
    /// 行政奖励
    Award,
    /// 行政裁决
    Adjudication,
    /// 其他行政权力
    OtherPower,
    /// 公共服务
    PublicService,
}

impl Category {
    pub const ALL: [Category; 7] = [
        Category::Licence,
        Category::Benefit,
        Category::Confirmation,
        Category::Award,
        Category::Adjudication,
        Category::OtherPower,
        Category::PublicService,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Licence => "licence",
            Category::Benefit => "benefit",
            Category::Confirmation => "confirmation",
            Category::Award => "award",
            Category::Adjudication => "adjudication",
            Category::OtherPower => "other_power",
            Category::PublicService => "public_service",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Category::Licence => "行政许可",
            Category::Benefit => "行政给付",
            Category::Confirmation => "行政确认",
            Category::Award => "行政奖励",
            Category::Adjudication => "行政裁决",
            Category::OtherPower => "其他行政权力",
            Category::PublicService => "公共服务",
        }
    }

    pub fn parse(s: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// A process step: the three core steps (受理, 审查, 办结) and the special steps with their own
/// limits (现场踏勘, 专家评审, 听证, 检验检测, 公示) [002 三(四)3].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Serialize, Deserialize)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// 受理
    Accept,
    /// 审查
    Review,
    /// 办结（决定）
    Decide,
    /// 现场踏勘
    SiteInspection,
    /// 专家评审
    ExpertReview,
    /// 听证
    Hearing,
    /// 检验检测
    Testing,
    /// 公示
    PublicNotice,
}

impl StepKind {
    pub fn is_special(self) -> bool {
        !matches!(self, StepKind::Accept | StepKind::Review | StepKind::Decide)
    }
}

/// 网上办理深度 — how far an item can be handled online.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Serialize, Deserialize)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum OnlineDepth {
    /// 一级：网上信息公开
    Information,
    /// 二级：表格下载
    FormDownload,
    /// 三级：网上预审
    PreReview,
    /// 四级：全程网办
    FullyOnline,
}

/// Who may apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Serialize, Deserialize)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum ApplicantType {
    /// 自然人
    Citizen,
    /// 法人
    Enterprise,
}

/// File types an applicant may upload for a material.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Serialize, Deserialize)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum MaterialFileType {
    Pdf,
    Jpeg,
    Png,
    Ofd,
}

/// 办理结果类型
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Serialize, Deserialize)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum ResultKind {
    /// 证照
    Licence,
    /// 批准文书
    ApprovalDocument,
    /// 证明
    Certificate,
    /// 其他
    Other,
}

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

/// Accepts an item code (统一事项编码): 6–40 characters of digits, capital letters and `-`.
pub fn check_item_code(code: &str) -> Result<(), FieldError> {
    let ok = (6..=40).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(FieldError::new(
            "code",
            "invalid_format",
            "item code must be 6-40 characters of digits, capital letters and '-'",
        ))
    }
}

fn is_phone(s: &str) -> bool {
    let digits = s.bytes().filter(u8::is_ascii_digit).count();
    (5..=20).contains(&digits)
        && s.bytes()
            .all(|b| b.is_ascii_digit() || b == b'-' || b == b' ')
}

fn is_material_key(s: &str) -> bool {
    (1..=40).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && s.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
}

/// What the publication check needs to know from outside the draft.
pub struct PublishContext<'a> {
    pub item_code: &'a str,
    pub known_department: &'a (dyn Fn(&str) -> bool + Sync),
    pub lead_department_code: &'a str,
    /// Whether a code names a published main item.
    pub known_main_item: &'a (dyn Fn(&str) -> bool + Sync),
    pub known_blob: &'a (dyn Fn(&str) -> bool + Sync),
}

/// Collects every problem with a draft at once and, when there is none, returns the guide to
/// publish. The error names each missing or inconsistent element by its JSON path.
pub fn check_for_publication(
    draft: &GuideDraft,
    ctx: &PublishContext<'_>,
) -> Result<Guide, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut missing = |field: &str, what: &str| {
        errors.push(FieldError::new(
            field,
            "required",
            format!("{what} is required"),
        ));
    };
    let text = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };

    let name = text(&draft.name);
    if name.is_none() {
        missing("name", "the item name (事项名称)");
    }
    if draft.category.is_none() {
        missing("category", "the category (事项类型)");
    }
    if draft.legal_basis.is_empty() {
        missing("legal_basis", "at least one legal basis (设定依据)");
    }
    if draft.conditions.is_empty() {
        missing("conditions", "the conditions (受理条件)");
    }
    if draft.materials.is_empty() {
        missing("materials", "the materials list (申请材料)");
    }
    if draft.statutory_limit_days.is_none() {
        missing(
            "statutory_limit_days",
            "the statutory time limit (法定时限)",
        );
    }
    if draft.promised_limit_days.is_none() {
        missing("promised_limit_days", "the promised time limit (承诺时限)");
    }
    if draft.instant.is_none() {
        missing("instant", "whether the item is instant (即办件)");
    }
    if draft.fees.is_none() {
        missing("fees", "the fees and their basis (收费标准及依据)");
    }
    if draft.steps.is_empty() {
        missing("steps", "the process steps (办理流程)");
    }
    if draft.result.is_none() {
        missing("result", "the result type (办理结果)");
    }
    if draft.online_depth.is_none() {
        missing("online_depth", "the online handling depth (网上办理深度)");
    }
    if draft.applicant_types.is_empty() {
        missing("applicant_types", "who may apply (服务对象)");
    }
    let consultation_phone = text(&draft.consultation_phone);
    if consultation_phone.is_none() {
        missing("consultation_phone", "the consultation phone (咨询电话)");
    }
    let complaint_phone = text(&draft.complaint_phone);
    if complaint_phone.is_none() {
        missing("complaint_phone", "the complaint phone (监督投诉电话)");
    }

    let mut invalid = |field: String, code: &str, detail: String| {
        errors.push(FieldError::new(field, code, detail))
    };

    if let Some(n) = &name
        && n.chars().count() > 100
    {
        invalid(
            "name".into(),
            "too_long",
            "the item name has at most 100 characters".into(),
        );
    }
    for (field, phone) in [
        ("consultation_phone", &consultation_phone),
        ("complaint_phone", &complaint_phone),
    ] {
        if let Some(p) = phone
            && !is_phone(p)
        {
            invalid(
                field.into(),
                "invalid_format",
                "a phone number is 5-20 digits, with optional '-'".into(),
            );
        }
    }
    if let Some(parent) = &draft.parent_code
        && (parent == ctx.item_code || !(ctx.known_main_item)(parent))
    {
        invalid(
            "parent_code".into(),
            "unknown_item",
            format!("{parent} is not a published main item"),
        );
    }
    for (i, basis) in draft.legal_basis.iter().enumerate() {
        if basis.document.trim().is_empty() {
            invalid(
                format!("legal_basis[{i}].document"),
                "required",
                "the legal document is required".into(),
            );
        }
    }
    for (i, condition) in draft.conditions.iter().enumerate() {
        if condition.trim().is_empty() {
            invalid(
                format!("conditions[{i}]"),
                "required",
                "a condition cannot be empty".into(),
            );
        }
    }
    for (i, code) in draft.co_department_codes.iter().enumerate() {
        if code == ctx.lead_department_code {
            invalid(
                format!("co_department_codes[{i}]"),
                "duplicate",
                "the lead department cannot also be a co-department".into(),
            );
        } else if !(ctx.known_department)(code) {
            invalid(
                format!("co_department_codes[{i}]"),
                "unknown_department",
                format!("no department {code}"),
            );
        }
    }

    let mut materials = Vec::new();
    let mut keys = std::collections::HashSet::new();
    for (i, m) in draft.materials.iter().enumerate() {
        let at = |f: &str| format!("materials[{i}].{f}");
        let key = text(&m.key);
        match &key {
            None => invalid(at("key"), "required", "the material key is required".into()),
            Some(k) if !is_material_key(k) => invalid(
                at("key"),
                "invalid_format",
                "a material key is 1-40 characters of a-z, 0-9 and '_', starting with a letter"
                    .into(),
            ),
            Some(k) if !keys.insert(k.clone()) => {
                invalid(at("key"), "duplicate", format!("key {k} is used twice"))
            }
            Some(_) => {}
        }
        let mname = text(&m.name);
        if mname.is_none() {
            invalid(
                at("name"),
                "required",
                "the material name is required".into(),
            );
        }
        if m.required.is_none() {
            invalid(
                at("required"),
                "required",
                "whether the material is required must be stated".into(),
            );
        }
        if m.originals.is_none() {
            invalid(
                at("originals"),
                "required",
                "the number of originals is required".into(),
            );
        }
        if m.copies.is_none() {
            invalid(
                at("copies"),
                "required",
                "the number of copies is required".into(),
            );
        }
        if m.file_types.is_empty() {
            invalid(
                at("file_types"),
                "required",
                "at least one accepted file type is required".into(),
            );
        }
        for (slot, form) in [
            ("blank_form", &m.blank_form),
            ("sample_form", &m.sample_form),
        ] {
            if let Some(f) = form
                && !(ctx.known_blob)(&f.sha256)
            {
                invalid(
                    at(slot),
                    "unknown_file",
                    format!("no uploaded file {}", f.sha256),
                );
            }
        }
        if let (Some(key), Some(name), Some(required), Some(originals), Some(copies)) =
            (key, mname, m.required, m.originals, m.copies)
        {
            materials.push(Material {
                key,
                name,
                required,
                key_material: m.key_material.unwrap_or(true),
                originals,
                copies,
                file_types: m.file_types.clone(),
                blank_form: m.blank_form.clone(),
                sample_form: m.sample_form.clone(),
                note: text(&m.note),
            });
        }
    }

    if let (Some(statutory), Some(promised)) =
        (draft.statutory_limit_days, draft.promised_limit_days)
    {
        if promised > statutory {
            invalid(
                "promised_limit_days".into(),
                "exceeds_statutory",
                format!(
                    "the promised limit ({promised}) cannot exceed the statutory limit ({statutory})"
                ),
            );
        }
        match draft.instant {
            Some(true) if promised != 0 => invalid(
                "promised_limit_days".into(),
                "instant_with_limit",
                "an instant item (即办件) is decided on the day of acceptance: its promised limit is 0".into(),
            ),
            Some(false) if promised == 0 => invalid(
                "promised_limit_days".into(),
                "out_of_range",
                "a promised item (承诺件) needs a promised limit of at least 1 working day".into(),
            ),
            _ => {}
        }
    }

    if let Some(fees) = &draft.fees {
        if fees.free && !fees.items.is_empty() {
            invalid(
                "fees.items".into(),
                "free_with_items",
                "a free item lists no fee items".into(),
            );
        }
        if !fees.free && fees.items.is_empty() {
            invalid(
                "fees.items".into(),
                "required",
                "a charged item lists its fee items".into(),
            );
        }
        for (i, fee) in fees.items.iter().enumerate() {
            if fee.name.trim().is_empty() {
                invalid(
                    format!("fees.items[{i}].name"),
                    "required",
                    "the fee name is required".into(),
                );
            }
            if fee.basis.trim().is_empty() {
                invalid(
                    format!("fees.items[{i}].basis"),
                    "required",
                    "the fee basis (收费依据) is required".into(),
                );
            }
            if fee.amount_fen <= 0 {
                invalid(
                    format!("fees.items[{i}].amount_fen"),
                    "out_of_range",
                    "a fee is a positive amount".into(),
                );
            }
        }
    }

    if !draft.steps.is_empty() {
        check_steps(draft, ctx, &mut invalid);
    }

    if let Some(result) = &draft.result
        && result.name.trim().is_empty()
    {
        invalid(
            "result.name".into(),
            "required",
            "the result's name (e.g. the licence name) is required".into(),
        );
    }

    if let Some(extension) = draft.extension
        && !(1..=60).contains(&extension.working_days)
    {
        errors.push(FieldError::new(
            "extension.working_days",
            "out_of_range",
            "from 1 to 60 working days",
        ));
    }
    if let Some(extension) = draft.extension
        && !(1..=3).contains(&extension.times)
    {
        errors.push(FieldError::new(
            "extension.times",
            "out_of_range",
            "from 1 to 3 extensions",
        ));
    }
    if let Some(level) = draft.required_assurance_level
        && !(1..=3).contains(&level)
    {
        errors.push(FieldError::new(
            "required_assurance_level",
            "out_of_range",
            "1 (phone proven), 2 (real name verified) or 3 (CA certificate)",
        ));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    // Every Option below was checked above; a `None` here is unreachable, reported as an error
    // rather than a panic all the same.
    let incomplete = || {
        vec![FieldError::new(
            "guide",
            "incomplete",
            "guide is incomplete",
        )]
    };
    Ok(Guide {
        name: name.ok_or_else(incomplete)?,
        category: draft.category.ok_or_else(incomplete)?,
        parent_code: draft.parent_code.clone(),
        legal_basis: draft.legal_basis.clone(),
        conditions: draft
            .conditions
            .iter()
            .map(|c| c.trim().to_owned())
            .collect(),
        co_department_codes: draft.co_department_codes.clone(),
        materials,
        statutory_limit_days: draft.statutory_limit_days.ok_or_else(incomplete)?,
        promised_limit_days: draft.promised_limit_days.ok_or_else(incomplete)?,
        instant: draft.instant.ok_or_else(incomplete)?,
        fees: draft.fees.clone().ok_or_else(incomplete)?,
        steps: draft.steps.clone(),
        result: draft.result.clone().ok_or_else(incomplete)?,
        online_depth: draft.online_depth.ok_or_else(incomplete)?,
        applicant_types: draft.applicant_types.clone(),
        consultation_phone: consultation_phone.ok_or_else(incomplete)?,
        complaint_phone: complaint_phone.ok_or_else(incomplete)?,
        handling_location: text(&draft.handling_location),
        required_assurance_level: draft
            .required_assurance_level
            .unwrap_or(DEFAULT_ASSURANCE_LEVEL),
        extension: draft.extension,
    })
}

/// The process: accept first, decide last, one review phase between them (at most three core
/// phases [002 三(四)3]); special steps sit between accept and decide with a limit of their own;
/// the core phases' limits fit within the promised limit.
fn check_steps(
    draft: &GuideDraft,
    ctx: &PublishContext<'_>,
    invalid: &mut dyn FnMut(String, &str, String),
) {
    let steps = &draft.steps;
    let count = |k: StepKind| steps.iter().filter(|s| s.kind == k).count();
    if count(StepKind::Accept) != 1 || steps.first().map(|s| s.kind) != Some(StepKind::Accept) {
        invalid(
            "steps".into(),
            "invalid_process",
            "the process starts with exactly one accept (受理) step".into(),
        );
    }
    if count(StepKind::Decide) != 1 || steps.last().map(|s| s.kind) != Some(StepKind::Decide) {
        invalid(
            "steps".into(),
            "invalid_process",
            "the process ends with exactly one decide (办结) step".into(),
        );
    }
    // Several departments may review in parallel (并联审批), but as one review phase: the
    // process keeps at most three core phases.
    let review_stages: std::collections::BTreeSet<u32> = steps
        .iter()
        .filter(|s| s.kind == StepKind::Review)
        .map(|s| s.stage)
        .collect();
    if review_stages.len() > 1 {
        invalid(
            "steps".into(),
            "invalid_process",
            "review (审查) steps form one phase: parallel reviews share one stage".into(),
        );
    }
    let mut previous_stage = 0;
    for (i, step) in steps.iter().enumerate() {
        if step.name.trim().is_empty() {
            invalid(
                format!("steps[{i}].name"),
                "required",
                "the step name is required".into(),
            );
        }
        if step.stage < previous_stage {
            invalid(
                format!("steps[{i}].stage"),
                "out_of_order",
                "stages must not decrease along the process".into(),
            );
        }
        previous_stage = step.stage;
        if step.kind.is_special() && step.limit_days == 0 {
            invalid(
                format!("steps[{i}].limit_days"),
                "out_of_range",
                "a special step (特别程序) states its own limit of at least 1 working day".into(),
            );
        }
        if let Some(code) = &step.department_code
            && code != ctx.lead_department_code
            && !draft.co_department_codes.contains(code)
        {
            invalid(
                format!("steps[{i}].department_code"),
                "unknown_department",
                format!("{code} is neither the lead department nor a co-department of this item"),
            );
        }
    }
    // Parallel steps of one stage take as long as the longest of them.
    let mut stage_days = std::collections::BTreeMap::<u32, u32>::new();
    for step in steps.iter().filter(|s| !s.kind.is_special()) {
        let days = stage_days.entry(step.stage).or_default();
        *days = (*days).max(step.limit_days);
    }
    let core_days: u32 = stage_days.values().sum();
    if let Some(promised) = draft.promised_limit_days
        && core_days > promised
    {
        invalid(
            "steps".into(),
            "exceeds_promised",
            format!(
                "the core steps take {core_days} working days, more than the promised limit ({promised})"
            ),
        );
    }
}
