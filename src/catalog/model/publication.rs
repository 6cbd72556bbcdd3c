//! The publication check: collects every problem with a draft at once and, when there is none,
//! builds the complete guide to publish. The check of the process steps is in `process`.

use super::context::PublishContext;
use super::draft::GuideDraft;
use super::formats::{is_material_key, is_phone};
use super::guide::{DEFAULT_ASSURANCE_LEVEL, Guide, Material};
use super::process::check_steps;
use crate::http::FieldError;

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
