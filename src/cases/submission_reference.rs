//! 申请编号: the submission reference. A case has it from the moment it is submitted — online or
//! at the window — long before it has an acceptance number (受理编号): the case id written as 32
//! upper-case hexadecimal digits. The notices issued before acceptance print it, the case views
//! show it, and the public progress query takes it in place of the acceptance number.

use uuid::Uuid;

/// A case's submission reference (申请编号). The only ways in are [`SubmissionReference::of`] a
/// case id and [`SubmissionReference::parse`] of what a person typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubmissionReference(Uuid);

/// Why a typed reference is not one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubmissionReferenceError {
    /// Not 32 hexadecimal digits.
    Malformed,
}

impl SubmissionReference {
    /// The reference of the case `id`.
    pub fn of(id: Uuid) -> SubmissionReference {
        SubmissionReference(id)
    }

    /// What a person typed or a scanner read: 32 hexadecimal digits in either case, with
    /// surrounding blanks ignored. The hyphenated form of the id is accepted too, since an app
    /// or a support desk may copy the case id as it is elsewhere shown.
    pub fn parse(input: &str) -> Result<SubmissionReference, SubmissionReferenceError> {
        let input = input.trim();
        let digits = input.chars().filter(|c| *c != '-').count();
        if digits != 32 || !(input.len() == 32 || input.len() == 36) {
            return Err(SubmissionReferenceError::Malformed);
        }
        Uuid::try_parse(input)
            .map(SubmissionReference)
            .map_err(|_| SubmissionReferenceError::Malformed)
    }

    /// The case the reference names.
    pub fn case_id(self) -> Uuid {
        self.0
    }
}

impl std::fmt::Display for SubmissionReference {
    /// As printed: upper case, no hyphens.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0.simple().to_string().to_uppercase())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0191c7b0-5a2e-7c3d-9f00-1234567890ab";

    #[test]
    fn prints_upper_case_without_hyphens_and_reads_back_in_any_case() {
        let id = Uuid::parse_str(ID).unwrap();
        let printed = SubmissionReference::of(id).to_string();
        assert_eq!(printed, "0191C7B05A2E7C3D9F001234567890AB");
        for typed in [
            printed.clone(),
            printed.to_lowercase(),
            format!("  {printed} "),
            ID.to_owned(),
        ] {
            assert_eq!(
                SubmissionReference::parse(&typed).map(SubmissionReference::case_id),
                Ok(id),
                "{typed}"
            );
        }
    }

    #[test]
    fn anything_but_32_hexadecimal_digits_is_refused() {
        for typed in [
            "",
            "0191C7B05A2E7C3D9F001234567890A",
            "0191C7B05A2E7C3D9F001234567890ABC",
            "0191C7B05A2E7C3D9F001234567890AG",
            "{0191c7b0-5a2e-7c3d-9f00-1234567890ab}",
            "urn:uuid:0191c7b0-5a2e-7c3d-9f00-1234567890ab",
            "22088220261116000001X",
        ] {
            assert_eq!(
                SubmissionReference::parse(typed),
                Err(SubmissionReferenceError::Malformed),
                "{typed}"
            );
        }
    }
}
