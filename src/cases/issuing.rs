//! The sealed documents a case's events issue, produced inside the event's own transaction:
//! acceptance makes the 受理通知书, a correction request the 一次性补正告知书, a rejection the
//! 不予受理决定书 (all under the accepting department's 受理专用章), an approval the approving
//! decision and, when the item's result is a licence (证照), the licence itself (entered into the
//! licence library), a denial the refusing decision (under the deciding department's 行政审批
//! 专用章). Titles and cited law follow the item's category and result (`cases::legal_frame`).
//!
//! A document that cannot be sealed (no seal in force) fails the action with 409
//! `seal_unavailable`: an unsealed decision has no legal effect, so none is recorded.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Datelike, Months, NaiveDate, Utc};
use serde_json::json;
use tokio_postgres::Transaction;
use uuid::Uuid;

use super::model::Event;
use super::store::CaseRow;
use crate::audit::{self, AuditEntry};
use crate::blobs::BlobStore;
use crate::cases::errors::CaseProblem;
use crate::catalog::model::ResultKind;
use crate::catalog::views::ItemDetail;
use crate::document_register::{self, NewDocument};
use crate::documents::model::PromisedDeadline;
use crate::documents::seal_image::SEAL_DIAMETER_PT;
use crate::documents::{
    Applicant, DocumentData, DocumentError, DocumentFonts, DocumentKind, HolderId, LicenceFields,
    SealAppearance, SealImage, SealRequest, SoftwareSigner, render, seal_pdf,
};
use crate::http::{AppError, AppResult};
use crate::identity::account_claims::ApplicantKind;
use crate::licences::{self, store::NewLicence};
use crate::notify::model::shanghai;
use crate::seals::registry::{LoadedSeal, SealPurpose, SealRegistry};

/// How long a licence is valid when the approver does not say (the five years most licences
/// under the 行政许可法 carry, e.g. 食品经营许可证).
pub const DEFAULT_LICENCE_YEARS: u32 = 5;

/// What the approver states about the licence an approval issues.
#[derive(Debug, Clone, Default)]
pub struct LicenceTerms {
    /// The last day of validity; `None`: [`DEFAULT_LICENCE_YEARS`] from the decision date.
    pub valid_to: Option<NaiveDate>,
    /// Further printed fields (e.g. 经营场所, 许可范围), label then value.
    pub details: Vec<(String, String)>,
}

/// A document an event calls for.
#[derive(Debug, Clone)]
pub enum Planned {
    Acceptance {
        decide_by: Option<PromisedDeadline>,
    },
    Correction {
        missing: Vec<String>,
    },
    Rejection {
        reason: String,
    },
    /// The approval decision, and the licence when the item's result is one.
    Approval {
        licence: Option<LicenceTerms>,
    },
    Denial {
        reasons: String,
        remedies: String,
    },
}

impl Planned {
    fn purpose(&self) -> SealPurpose {
        match self {
            Planned::Acceptance { .. } | Planned::Correction { .. } | Planned::Rejection { .. } => {
                SealPurpose::Acceptance
            }
            Planned::Approval { .. } | Planned::Denial { .. } => SealPurpose::Decision,
        }
    }

    /// Decisions carry the deciding department's seal; notices the accepting department's.
    pub fn is_decision(&self) -> bool {
        self.purpose() == SealPurpose::Decision
    }

    /// The word of the document number (文号) that tells the kind apart.
    fn number_word(&self) -> &'static str {
        match self {
            Planned::Acceptance { .. } => "受字",
            Planned::Correction { .. } => "补字",
            Planned::Rejection { .. } => "不受字",
            Planned::Approval { .. } => "准许字",
            Planned::Denial { .. } => "不许字",
        }
    }
}

/// The documents `events` issue. `decide_by` is the deadline an acceptance promises; `licence`
/// the approver's terms (licence items only).
pub fn plan(
    events: &[Event],
    item: &ItemDetail,
    decide_by: Option<PromisedDeadline>,
    licence: Option<&LicenceTerms>,
) -> Vec<Planned> {
    let issues_licence = item.guide.result.kind == ResultKind::Licence;
    events
        .iter()
        .filter_map(|event| match event {
            Event::Accepted { .. } => Some(Planned::Acceptance {
                decide_by: decide_by.clone(),
            }),
            Event::CorrectionRequested { missing, .. } => Some(Planned::Correction {
                missing: missing.iter().map(|m| m.printed()).collect(),
            }),
            Event::Rejected { reason } => Some(Planned::Rejection {
                reason: reason.clone(),
            }),
            Event::Approved => Some(Planned::Approval {
                licence: issues_licence.then(|| licence.cloned().unwrap_or_default()),
            }),
            Event::Denied { reasons, remedies } => Some(Planned::Denial {
                reasons: reasons.clone(),
                remedies: remedies.clone(),
            }),
            _ => None,
        })
        .collect()
}

/// One sealed document, as recorded.
#[derive(Debug, Clone)]
pub struct IssuedDocument {
    pub id: Uuid,
    pub kind: &'static str,
    pub title: String,
    pub document_number: String,
    pub sha256: String,
    pub verify_token: String,
    pub licence_id: Option<Uuid>,
}

/// What issuing needs about the case and the moment.
pub struct IssueContext<'a> {
    /// The case as the action leaves it.
    pub row: &'a CaseRow,
    pub item: &'a ItemDetail,
    /// The department code whose seal the document carries.
    pub department_code: &'a str,
    /// Who applies the seal (the audit record of the seal's use names them).
    pub actor: &'a str,
    /// The signing time: the seal's signing-time attribute, the document's date, and for a
    /// decision the moment the case's clock stops.
    pub signed_at: DateTime<Utc>,
}

#[derive(Clone)]
pub struct DocumentIssuer {
    /// The CJK font, read on first use (or at start-up by [`DocumentIssuer::load_fonts`]):
    /// tools that only build the service (`fingertip openapi`) need no font installed.
    font_path: PathBuf,
    fonts: Arc<tokio::sync::OnceCell<DocumentFonts>>,
    seals: SealRegistry,
    blobs: Arc<dyn BlobStore>,
    public_base_url: String,
    /// A seal's drawn appearance depends only on the seal: drawn once per seal.
    images: moka::future::Cache<Uuid, Arc<SealImage>>,
}

struct Department {
    id: Uuid,
    name: String,
}

impl DocumentIssuer {
    pub fn new(
        font_path: &Path,
        seals: SealRegistry,
        blobs: Arc<dyn BlobStore>,
        public_base_url: &str,
    ) -> Self {
        DocumentIssuer {
            font_path: font_path.to_owned(),
            fonts: Arc::new(tokio::sync::OnceCell::new()),
            seals,
            blobs,
            public_base_url: public_base_url.trim_end_matches('/').to_owned(),
            images: moka::future::Cache::builder().max_capacity(1_000).build(),
        }
    }

    /// The font, read now if it was not yet: the server calls this at start-up so that a
    /// missing font stops it there, not at the first acceptance.
    pub async fn load_fonts(&self) -> Result<&DocumentFonts, DocumentError> {
        let path = self.font_path.clone();
        self.fonts
            .get_or_try_init(|| async move {
                tokio::task::spawn_blocking(move || DocumentFonts::load(&path, 0))
                    .await
                    .map_err(|e| DocumentError::Pdf(format!("font loading task: {e}")))?
            })
            .await
    }

    /// The URL a document's QR code points at.
    pub fn verification_url(&self, token: &str) -> String {
        document_register::records::verification_url(&self.public_base_url, token)
    }

    pub fn public_base_url(&self) -> &str {
        &self.public_base_url
    }

    /// A stored sealed PDF; a missing blob is a server fault (the row promises the bytes).
    pub async fn pdf(&self, sha256: &str) -> AppResult<Vec<u8>> {
        Ok(crate::blobs::get_existing(&*self.blobs, sha256).await?)
    }

    /// Where the applicant downloads a case's document (the app's authenticated link).
    pub fn download_url(&self, case_id: Uuid, document_id: Uuid) -> String {
        format!(
            "{}/api/v1/me/cases/{case_id}/documents/{document_id}/pdf",
            self.public_base_url
        )
    }

    /// Renders, seals, stores and records the document(s) `plan` calls for in `tx` (an
    /// approval of a licence item: the decision and the licence).
    pub async fn issue(
        &self,
        tx: &Transaction<'_>,
        context: &IssueContext<'_>,
        plan: &Planned,
    ) -> AppResult<Vec<IssuedDocument>> {
        let department = department(tx, context.department_code).await?;
        let date = context.signed_at.with_timezone(&shanghai()).date_naive();
        let seal = self
            .seals
            .load_for_signing(tx, department.id, plan.purpose())
            .await?;
        let document_number = format!(
            "{}{}〔{}〕{}号",
            department.name,
            plan.number_word(),
            date.year(),
            next_in_sequence(tx, context.department_code, date.year()).await?
        );
        let data = self.document_data(context, &department, &document_number, date);
        let kinds = match plan {
            Planned::Acceptance { decide_by } => vec![DocumentKind::AcceptanceNotice {
                decide_by: decide_by.clone(),
            }],
            Planned::Correction { missing } => vec![DocumentKind::CorrectionNotice {
                missing_materials: missing.clone(),
                correct_by: None,
            }],
            Planned::Rejection { reason } => vec![DocumentKind::RejectionDecision {
                reasons: vec![reason.clone()],
            }],
            Planned::Denial { reasons, remedies } => vec![DocumentKind::DenialDecision {
                reasons: vec![reasons.clone()],
                remedies: remedies.lines().map(str::to_owned).collect(),
            }],
            Planned::Approval { licence: None } => vec![DocumentKind::ApprovalDecision {
                licence_number: None,
            }],
            Planned::Approval {
                licence: Some(terms),
            } => {
                let number = licence_number(tx, &context.row.region_code, date).await?;
                vec![
                    DocumentKind::ApprovalDecision {
                        licence_number: Some(number.clone()),
                    },
                    DocumentKind::Licence(LicenceFields {
                        type_name: context.item.guide.result.name.clone(),
                        number,
                        holder: context.row.applicant_name.clone(),
                        valid_from: date,
                        valid_to: Some(licence_valid_to(terms, date)),
                        extra: terms.details.clone(),
                    }),
                ]
            }
        };
        let mut issued = Vec::new();
        for kind in kinds {
            issued.push(
                self.issue_one(tx, context, &seal, kind, data.clone(), &department)
                    .await?,
            );
        }
        Ok(issued)
    }

    fn document_data(
        &self,
        context: &IssueContext<'_>,
        department: &Department,
        document_number: &str,
        date: NaiveDate,
    ) -> DocumentData {
        let row = context.row;
        DocumentData {
            department: department.name.clone(),
            // Before acceptance, the application's own number (申请编号).
            acceptance_number: row.acceptance_number.clone().unwrap_or_else(|| {
                crate::cases::submission_reference::SubmissionReference::of(row.id).to_string()
            }),
            document_number: document_number.to_owned(),
            date,
            applicant: Applicant {
                name: row.applicant_name.clone(),
                id: if row.applicant_kind == "enterprise" {
                    HolderId::Enterprise(row.applicant_id_masked.clone())
                } else {
                    HolderId::Citizen(row.applicant_id_masked.clone())
                },
            },
            item_name: row.item_name.clone(),
            paragraphs: Vec::new(),
            verification_url: String::new(),
            frame: crate::cases::legal_frame::legal_frame(&context.item.guide),
        }
    }

    async fn issue_one(
        &self,
        tx: &Transaction<'_>,
        context: &IssueContext<'_>,
        seal: &LoadedSeal,
        kind: DocumentKind,
        mut data: DocumentData,
        department: &Department,
    ) -> AppResult<IssuedDocument> {
        // 128 random bits: public in the QR code, but not guessable, so documents cannot be
        // enumerated.
        let token = crate::keys::random_url_token::<16>()?;
        data.verification_url = self.verification_url(&token);
        let image = self.seal_image(seal).await?;
        let fonts = self
            .load_fonts()
            .await
            .map_err(|e| anyhow::anyhow!("document font: {e}"))?
            .clone();
        let key = seal.key_pkcs8.clone();
        let chain = seal.chain_der.clone();
        let signed_at = context.signed_at;
        let title = kind.title(&data.frame);
        let kind_for_render = kind.clone();
        let data_for_render = data.clone();
        let location = department.name.clone();
        let sealed = tokio::task::spawn_blocking(move || {
            let rendered = render(&fonts, &kind_for_render, &data_for_render, None)?;
            let signer = SoftwareSigner::from_pkcs8(&key)?;
            seal_pdf(
                &rendered.bytes,
                &SealRequest {
                    placement: rendered.seal,
                    appearance: &image,
                    signer: &signer,
                    chain: &chain,
                    signing_time: signed_at,
                    name: Some(data_for_render.department.clone()),
                    reason: Some(kind_for_render.title(&data_for_render.frame)),
                    location: Some(location),
                },
            )
        })
        .await
        .map_err(|e| anyhow::anyhow!("sealing task: {e}"))?
        .map_err(|e| anyhow::anyhow!("sealing {title}: {e}"))?;
        let sha256 = self
            .blobs
            .put(&sealed)
            .await
            .map_err(|e| anyhow::anyhow!("storing a sealed document: {e}"))?;
        let id = Uuid::new_v4();
        let document_number = match &kind {
            DocumentKind::Licence(fields) => fields.number.clone(),
            _ => data.document_number.clone(),
        };
        let size = i64::try_from(sealed.len()).map_err(anyhow::Error::from)?;
        document_register::records::insert(
            tx,
            &NewDocument {
                id,
                case_id: context.row.id,
                region_code: &context.row.region_code,
                kind: kind.code(),
                document_number: &document_number,
                sha256: &sha256,
                size_bytes: size,
                seal_id: seal.id,
                signed_at,
                verify_token: &token,
                title: &title,
            },
        )
        .await?;
        let licence_id = match &kind {
            DocumentKind::Licence(fields) => {
                Some(insert_licence(tx, context, department, id, fields).await?)
            }
            _ => None,
        };
        // Each use of a seal is on the seal's own audit chain.
        audit::append(
            tx,
            AuditEntry {
                aggregate_type: "seal",
                aggregate_id: &seal.id.to_string(),
                actor: context.actor,
                action: "seal.use",
                before: None,
                after: None,
                details: json!({
                    "case": context.row.id,
                    "document": id,
                    "kind": kind.code(),
                    "document_number": document_number,
                    "sha256": sha256,
                    "signed_at": signed_at,
                }),
            },
        )
        .await?;
        Ok(IssuedDocument {
            id,
            kind: kind.code(),
            title,
            document_number,
            sha256,
            verify_token: token,
            licence_id,
        })
    }

    async fn seal_image(&self, seal: &LoadedSeal) -> AppResult<Arc<SealImage>> {
        if let Some(image) = self.images.get(&seal.id).await {
            return Ok(image);
        }
        let appearance =
            SealAppearance::new(&seal.department_name).with_subtitle(seal.label.as_str());
        let fonts = self
            .load_fonts()
            .await
            .map_err(|e| anyhow::anyhow!("document font: {e}"))?;
        let image = Arc::new(
            SealImage::draw(&appearance, fonts, SEAL_DIAMETER_PT)
                .map_err(|e| anyhow::anyhow!("drawing seal {}: {e}", seal.id))?,
        );
        self.images.insert(seal.id, image.clone()).await;
        Ok(image)
    }
}

async fn department(tx: &Transaction<'_>, code: &str) -> AppResult<Department> {
    let row = tx
        .query_opt("SELECT id, name FROM department WHERE code = $1", &[&code])
        .await?
        .ok_or_else(|| {
            AppError::new(
                CaseProblem::DepartmentMissing,
                format!("the item's department {code} is not registered"),
            )
        })?;
    Ok(Department {
        id: row.get(0),
        name: row.get(1),
    })
}

/// The department's next number this year (a SEQUENCE per department and year: no hot row).
async fn next_in_sequence(tx: &Transaction<'_>, sequence: &str, year: i32) -> AppResult<i64> {
    Ok(tx
        .query_one("SELECT next_document_sequence($1, $2)", &[&sequence, &year])
        .await?
        .get(0))
}

/// 证照编号: the region's six digits, the year, and the region's licence sequence (8 digits).
/// (The sequence's name cannot meet a department's: department codes have no `LICENCE-` form
/// with six digits after it in practice, and the numbers are unique by constraint anyway.)
async fn licence_number(
    tx: &Transaction<'_>,
    region_code: &str,
    date: NaiveDate,
) -> AppResult<String> {
    let region6: String = region_code.chars().take(6).collect();
    let sequence = next_in_sequence(tx, &format!("LICENCE-{region6}"), date.year()).await?;
    Ok(format!("{region6}{}{sequence:08}", date.year()))
}

/// The last day of validity: as stated, else [`DEFAULT_LICENCE_YEARS`] from the decision date
/// (the day before the anniversary).
pub fn licence_valid_to(terms: &LicenceTerms, from: NaiveDate) -> NaiveDate {
    terms.valid_to.unwrap_or_else(|| {
        // From the day before: 2028-02-29 runs to 2033-02-28, not the 27th.
        from.pred_opt()
            .and_then(|d| d.checked_add_months(Months::new(12 * DEFAULT_LICENCE_YEARS)))
            .unwrap_or(from)
    })
}

async fn insert_licence(
    tx: &Transaction<'_>,
    context: &IssueContext<'_>,
    department: &Department,
    document_id: Uuid,
    fields: &LicenceFields,
) -> AppResult<Uuid> {
    let row = context.row;
    let id = Uuid::new_v4();
    let holder_kind = if row.applicant_kind == "enterprise" {
        ApplicantKind::Enterprise
    } else {
        ApplicantKind::Citizen
    };
    licences::store::insert(
        tx,
        &NewLicence {
            id,
            number: &fields.number,
            licence_type: &fields.type_name,
            case_id: row.id,
            document_id,
            region_code: &row.region_code,
            holder_kind,
            holder_subject: row.applicant_subject.as_deref(),
            holder_name: &row.applicant_name,
            holder_id_masked: &row.applicant_id_masked,
            department_id: department.id,
            valid_from: fields.valid_from,
            valid_to: fields.valid_to,
        },
    )
    .await?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_validity_is_five_years_to_the_day_before() {
        let from = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        let to = licence_valid_to(&LicenceTerms::default(), from);
        assert_eq!(to, NaiveDate::from_ymd_opt(2031, 11, 22).unwrap());
        let leap = NaiveDate::from_ymd_opt(2028, 2, 29).unwrap();
        assert_eq!(
            licence_valid_to(&LicenceTerms::default(), leap),
            NaiveDate::from_ymd_opt(2033, 2, 28).unwrap()
        );
        let stated = LicenceTerms {
            valid_to: Some(from),
            details: vec![],
        };
        assert_eq!(licence_valid_to(&stated, from), from);
    }

    #[test]
    fn tokens_are_long_and_distinct() {
        let a = crate::keys::random_url_token::<16>().unwrap();
        let b = crate::keys::random_url_token::<16>().unwrap();
        assert_eq!(a.len(), 22);
        assert_ne!(a, b);
    }
}
