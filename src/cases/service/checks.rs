//! The checks a submission or an action passes before anything is written: the applicant's
//! type, the idempotency key, the form, the back-dating of work entered afterwards, and the
//! materials against the item's list.

use super::*;
use crate::cases::errors::CaseProblem;

pub(super) fn check_applicant_type(guide: &Guide, kind: &str) -> AppResult<()> {
    use crate::catalog::model::ApplicantType;
    let wanted = if kind == "citizen" {
        ApplicantType::Citizen
    } else {
        ApplicantType::Enterprise
    };
    if guide.applicant_types.is_empty() || guide.applicant_types.contains(&wanted) {
        Ok(())
    } else {
        Err(AppError::new(
            CaseProblem::ApplicantTypeNotAllowed,
            format!("this item is not for {kind} applicants"),
        ))
    }
}

pub(super) fn check_idempotency_key(key: &str) -> AppResult<()> {
    let ok = (8..=128).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b':');
    if ok {
        Ok(())
    } else {
        Err(AppError::in_field(
            CaseProblem::InvalidIdempotencyKey,
            "Idempotency-Key",
            "8-128 characters of letters, digits, '-', '_' or ':' (a UUID will do)",
        ))
    }
}

/// The digest of a request body, for idempotent replays: the request types are
/// Deserialize-only, and their Debug form shows every field.
/// The digest an idempotency key is bound to: SHA-256 of the request as canonical JSON (the
/// audit log's encoding: object keys sorted at every level), so the same request digests the
/// same whatever the order of its fields on the wire — and, unlike `Debug` output, whatever the
/// compiler or library version (a retry that spans an upgrade is still recognised).
pub(super) fn request_digest<T: poem_openapi::types::ToJSON>(body: &T) -> String {
    crate::audit::canonical::digest_json(&body.to_json().unwrap_or(Value::Null))
}

pub(super) fn check_form(form: Option<Value>) -> AppResult<Value> {
    let form = form.unwrap_or_else(|| json!({}));
    if !form.is_object() {
        return Err(AppError::invalid_field(
            "form",
            CaseProblem::FormInvalid,
            "the form is a JSON object of fields",
        ));
    }
    if form.to_string().len() > MAX_FORM_BYTES {
        return Err(AppError::invalid_field(
            "form",
            CaseProblem::FormTooLarge,
            "the form is larger than 64 KiB",
        ));
    }
    Ok(form)
}

pub(super) fn check_occurred_at(
    at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> AppResult<Option<DateTime<Utc>>> {
    let Some(at) = at else { return Ok(None) };
    // The limits are named in China time, as the clerk reads their own clock.
    let china = |t: DateTime<Utc>| {
        t.with_timezone(&crate::clock::shanghai())
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
    };
    // A minute of clock skew between a clerk's PC and the server is not "the future".
    let latest = now + chrono::Duration::minutes(1);
    if at > latest {
        return Err(AppError::invalid_field(
            "occurred_at",
            CaseProblem::OccurredAtFuture,
            format!(
                "work cannot be recorded as happening in the future: give {} or earlier",
                china(latest)
            ),
        ));
    }
    let earliest = now - chrono::Duration::days(MAX_BACKDATE_DAYS);
    if at < earliest {
        return Err(AppError::invalid_field(
            "occurred_at",
            CaseProblem::OccurredAtTooOld,
            format!(
                "work older than {MAX_BACKDATE_DAYS} days cannot be entered afterwards: give {} or later",
                china(earliest)
            ),
        ));
    }
    Ok(Some(at))
}

/// Checks the materials against the item's list and the owner's files: every key known and
/// given once, every file the owner's and of a type the entry accepts, and — for a new case —
/// every required key material present. Returns them ready to link.
pub(super) async fn check_materials(
    client: &impl Prepare,
    guide: &Guide,
    owner: &str,
    materials: &[MaterialRef],
    paper: &[PaperMaterial],
) -> AppResult<Vec<NewMaterialOwned>> {
    let mut errors = Vec::new();
    let all_ids: Vec<Uuid> = materials.iter().flat_map(|m| m.file_ids.clone()).collect();
    let owned: HashMap<Uuid, store::OwnedFile> = store::owned_files(client, owner, &all_ids)
        .await?
        .into_iter()
        .map(|f| (f.id, f))
        .collect();
    let mut seen: Vec<&str> = Vec::new();
    let mut out = Vec::new();
    for (index, entry) in materials.iter().enumerate() {
        let field = format!("materials[{index}]");
        let Some(spec) = guide.materials.iter().find(|m| m.key == entry.material_key) else {
            errors.push(FieldError::new(
                format!("{field}.material_key"),
                "unknown_material",
                "not on the item's material list",
            ));
            continue;
        };
        if seen.contains(&spec.key.as_str()) {
            errors.push(FieldError::new(
                format!("{field}.material_key"),
                "duplicate_material",
                "this material is listed twice",
            ));
            continue;
        }
        seen.push(&spec.key);
        if entry.file_ids.is_empty() {
            errors.push(FieldError::new(
                format!("{field}.file_ids"),
                "files_required",
                "at least one file",
            ));
        }
        if entry.file_ids.len() > MAX_FILES_PER_MATERIAL {
            errors.push(FieldError::new(
                format!("{field}.file_ids"),
                "too_many_files",
                format!("at most {MAX_FILES_PER_MATERIAL} files per material"),
            ));
        }
        for (j, id) in entry.file_ids.iter().enumerate() {
            match owned.get(id) {
                None => errors.push(FieldError::new(
                    format!("{field}.file_ids[{j}]"),
                    "file_not_found",
                    "no such file on file for you",
                )),
                Some(file)
                    if !crate::cases::files::allowed_for(&file.content_type, &spec.file_types) =>
                {
                    errors.push(FieldError::new(
                        format!("{field}.file_ids[{j}]"),
                        "file_type_not_allowed",
                        format!("{} accepts only {:?}", spec.name, spec.file_types),
                    ))
                }
                Some(file) => out.push(NewMaterialOwned {
                    key: spec.key.clone(),
                    file_id: Some(*id),
                    paper_note: None,
                    file: Some(file.clone()),
                }),
            }
        }
    }
    for (index, entry) in paper.iter().enumerate() {
        let field = format!("paper_materials[{index}]");
        if !guide.materials.iter().any(|m| m.key == entry.material_key) {
            errors.push(FieldError::new(
                format!("{field}.material_key"),
                "unknown_material",
                "not on the item's material list",
            ));
            continue;
        }
        let note = entry.note.trim();
        if note.is_empty() {
            errors.push(FieldError::new(
                format!("{field}.note"),
                "required",
                "say why it stays on paper",
            ));
            continue;
        }
        seen.push(&entry.material_key);
        out.push(NewMaterialOwned {
            key: entry.material_key.clone(),
            file_id: None,
            paper_note: Some(note.to_owned()),
            file: None,
        });
    }
    invalid(errors)?;
    Ok(out)
}

/// Required key materials missing from a new case (non-key ones may be deferred: 容缺).
pub fn missing_key_materials(guide: &Guide, given: &[MaterialRef]) -> Vec<FieldError> {
    guide
        .materials
        .iter()
        .filter(|m| m.required && m.key_material)
        .filter(|m| !given.iter().any(|g| g.material_key == m.key))
        .map(|m| {
            FieldError::new(
                format!("materials.{}", m.key),
                "materials_missing",
                format!("{} is a required key material", m.name),
            )
        })
        .collect()
}
