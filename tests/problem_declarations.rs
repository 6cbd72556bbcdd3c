//! Every problem every capability declares: a snake_case code, an error status and a Chinese
//! title, and a code declared twice always means one thing. (A test binary of its own: the
//! HTTP layer must not import the capabilities to list them.)

use std::collections::{HashMap, HashSet};

use fingertip::calendar::errors::CalendarProblem;
use fingertip::cases::errors::CaseProblem;
use fingertip::catalog::errors::CatalogProblem;
use fingertip::department::errors::DepartmentProblem;
use fingertip::http::ProblemKind;
use fingertip::http::errors::HttpProblem;
use fingertip::identity::errors::IdentityProblem;
use fingertip::licences::errors::LicenceProblem;
use fingertip::notify::errors::NotifyProblem;
use fingertip::seals::errors::SealProblem;

fn every_declared_problem() -> Vec<ProblemKind> {
    fn all<K: Copy + Into<ProblemKind>>(kinds: &[K]) -> impl Iterator<Item = ProblemKind> + '_ {
        kinds.iter().map(|kind| (*kind).into())
    }
    all(HttpProblem::ALL)
        .chain(all(IdentityProblem::ALL))
        .chain(all(CatalogProblem::ALL))
        .chain(all(CalendarProblem::ALL))
        .chain(all(CaseProblem::ALL))
        .chain(all(LicenceProblem::ALL))
        .chain(all(SealProblem::ALL))
        .chain(all(DepartmentProblem::ALL))
        .chain(all(NotifyProblem::ALL))
        .collect()
}

fn is_snake_case(code: &str) -> bool {
    code.starts_with(|c: char| c.is_ascii_lowercase())
        && !code.ends_with('_')
        && !code.contains("__")
        && code
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn has_chinese(title: &str) -> bool {
    title
        .chars()
        .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
}

#[test]
fn every_declared_problem_has_a_snake_case_code_an_error_status_and_a_chinese_title() {
    let all = every_declared_problem();
    assert!(all.len() > 200, "{} problems declared", all.len());
    for kind in &all {
        let (code, status, title) = (kind.code(), kind.status(), kind.title());
        assert!(is_snake_case(code), "{kind:?}: {code:?} is not snake_case");
        assert!(
            status.is_client_error() || status.is_server_error(),
            "{kind:?}: {status} is not an error"
        );
        assert!(!title.trim().is_empty(), "{kind:?} has a blank title");
        assert!(has_chinese(title), "{kind:?}: {title:?} is not Chinese");
    }
}

#[test]
fn a_code_declared_twice_means_one_thing() {
    // A code may be declared by two capabilities, or twice by one with two statuses (a
    // `licence_revoked` share link is 410, revoking it again 409): always with one title, and
    // never twice by one capability with the same status.
    let mut by_code: HashMap<&str, Vec<ProblemKind>> = HashMap::new();
    for kind in every_declared_problem() {
        by_code.entry(kind.code()).or_default().push(kind);
    }
    for (code, kinds) in &by_code {
        let titles: HashSet<&str> = kinds.iter().map(|k| k.title()).collect();
        assert_eq!(titles.len(), 1, "{code} has several titles: {titles:?}");
        let declarations: HashSet<_> = kinds
            .iter()
            .map(|k| (k.declared_in(), k.status()))
            .collect();
        assert_eq!(
            declarations.len(),
            kinds.len(),
            "{code} is declared twice alike: {kinds:?}"
        );
    }
}

#[test]
fn a_declared_problem_keeps_its_code_status_and_title() {
    let kind: ProblemKind = CaseProblem::CaseNotFound.into();
    assert_eq!(
        (
            kind.declared_in(),
            kind.code(),
            kind.status().as_u16(),
            kind.title()
        ),
        ("CaseProblem", "case_not_found", 404, "办件不存在")
    );
}
