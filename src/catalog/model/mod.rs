//! The item catalog's pure types and rules: a guide (办事指南) is edited as a draft with every
//! element optional, and only a complete, consistent guide can be published [004 art.9(1)].
//!
//! A file per idea: `enums` the closed vocabularies (category, step kind, online depth…),
//! `elements` the parts a guide is made of, `draft` the guide as edited, `guide` the guide as
//! published, `formats` the format checks of codes, keys and phone numbers, `context` what the check needs from outside, `publication` the
//! completeness check that turns a draft into a guide and `process` its check of the steps.

mod context;
mod draft;
mod elements;
mod enums;
mod formats;
mod guide;
mod process;
mod publication;

pub use context::PublishContext;
pub use draft::{GuideDraft, MaterialDraft};
pub use elements::{ExtensionAllowance, Fee, Fees, FormFile, LegalBasis, ResultSpec, Step};
pub use enums::{ApplicantType, Category, MaterialFileType, OnlineDepth, ResultKind, StepKind};
pub use formats::check_item_code;
pub use guide::{DEFAULT_ASSURANCE_LEVEL, Guide, Material};
pub use publication::check_for_publication;
