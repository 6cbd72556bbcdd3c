//! Department rules: levels nest strictly downward, region codes are GB/T 2260 (6 digits) or,
//! for towns, the 9-digit statistical code that extends the county's.

use poem_openapi::{Enum, Object};
use serde::{Deserialize, Serialize};

use crate::http::FieldError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Enum, Serialize, Deserialize)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// 省级
    Province,
    /// 市级
    City,
    /// 县级
    County,
    /// 乡镇
    Town,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Province => "province",
            Level::City => "city",
            Level::County => "county",
            Level::Town => "town",
        }
    }

    pub fn parse(s: &str) -> Option<Level> {
        [Level::Province, Level::City, Level::County, Level::Town]
            .into_iter()
            .find(|l| l.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Object, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewDepartment {
    /// Stable code, e.g. `230882-SCJG` (capital letters, digits, '-').
    pub code: String,
    pub name: String,
    pub level: Level,
    /// GB/T 2260 region code (6 digits; 9 for towns).
    pub region_code: String,
    /// The parent department's code; absent only for the top of the hierarchy.
    #[serde(default)]
    #[oai(nullable)]
    pub parent_code: Option<String>,
    #[serde(default)]
    #[oai(nullable)]
    pub phone: Option<String>,
    #[serde(default)]
    #[oai(nullable)]
    pub address: Option<String>,
    /// The platform centre's comprehensive window (综合受理窗口, 一窗受理): its window clerks
    /// take in cases for any department's item and route them to the back office.
    #[serde(default)]
    #[oai(default)]
    pub comprehensive_window: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Object, Serialize, Deserialize)]
pub struct Department {
    pub code: String,
    pub name: String,
    pub level: Level,
    pub region_code: String,
    #[oai(skip_serializing_if_is_none)]
    pub parent_code: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub phone: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub address: Option<String>,
    /// The platform centre's comprehensive window (一窗受理).
    pub comprehensive_window: bool,
}

/// Checks a new department against its parent (`None` when it has none), listing every problem.
pub fn check_new(dept: &NewDepartment, parent: Option<&Department>) -> Result<(), Vec<FieldError>> {
    let mut errors = Vec::new();
    let code_ok = (2..=40).contains(&dept.code.len())
        && dept
            .code
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
        && !dept.code.starts_with('-');
    if !code_ok {
        errors.push(FieldError::new(
            "code",
            "invalid_format",
            "a department code is 2-40 capital letters, digits and '-'",
        ));
    }
    let name_len = dept.name.trim().chars().count();
    if !(2..=100).contains(&name_len) {
        errors.push(FieldError::new(
            "name",
            "invalid_length",
            "a department name has 2-100 characters",
        ));
    }
    let digits = dept.region_code.bytes().all(|b| b.is_ascii_digit());
    let expected_len = if dept.level == Level::Town { 9 } else { 6 };
    if !digits || dept.region_code.len() != expected_len {
        errors.push(FieldError::new(
            "region_code",
            "invalid_format",
            format!(
                "a {} region code has {expected_len} digits",
                dept.level.as_str()
            ),
        ));
    } else if !region_matches_level(&dept.region_code, dept.level) {
        errors.push(FieldError::new(
            "region_code",
            "level_mismatch",
            format!(
                "{} is not a {}-level region code",
                dept.region_code,
                dept.level.as_str()
            ),
        ));
    }
    match (parent, &dept.parent_code) {
        (None, Some(code)) => errors.push(FieldError::new(
            "parent_code",
            "unknown_department",
            format!("no department {code}"),
        )),
        (Some(parent), _) => {
            if parent.level > dept.level {
                errors.push(FieldError::new(
                    "level",
                    "level_mismatch",
                    format!(
                        "a {} department cannot sit under a {} department",
                        dept.level.as_str(),
                        parent.level.as_str()
                    ),
                ));
            } else if digits && !region_within(&dept.region_code, &parent.region_code, parent.level)
            {
                errors.push(FieldError::new(
                    "region_code",
                    "outside_parent",
                    format!(
                        "{} is not within the parent's region {}",
                        dept.region_code, parent.region_code
                    ),
                ));
            }
        }
        (None, None) => {}
    }
    if let Some(phone) = &dept.phone
        && !(phone.len() <= 20 && phone.bytes().all(|b| b.is_ascii_digit() || b == b'-'))
    {
        errors.push(FieldError::new(
            "phone",
            "invalid_format",
            "a phone number is digits and '-'",
        ));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// GB/T 2260: `PPCCDD` — a province code ends in 0000, a city (prefecture) code in 00.
fn region_matches_level(code: &str, level: Level) -> bool {
    let six = &code[..6];
    match level {
        Level::Province => six.ends_with("0000"),
        Level::City => six.ends_with("00") && !six.ends_with("0000"),
        Level::County => !six.ends_with("00"),
        Level::Town => !six.ends_with("00") && !code.ends_with("000"),
    }
}

/// Whether `code` lies within the region of a parent at `parent_level`. Departments of the same
/// level share the region (a county's bureaus all carry the county code).
fn region_within(code: &str, parent_code: &str, parent_level: Level) -> bool {
    let prefix = match parent_level {
        Level::Province => 2,
        Level::City => 4,
        Level::County => 6,
        Level::Town => 9,
    };
    code.len() >= prefix && parent_code.len() >= prefix && code[..prefix] == parent_code[..prefix]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(code: &str, level: Level, region: &str, parent: Option<&str>) -> NewDepartment {
        NewDepartment {
            code: code.into(),
            name: "某某部门".into(),
            level,
            region_code: region.into(),
            parent_code: parent.map(Into::into),
            phone: None,
            address: None,
            comprehensive_window: false,
        }
    }

    fn existing(level: Level, region: &str) -> Department {
        Department {
            code: "P".into(),
            name: "上级".into(),
            level,
            region_code: region.into(),
            parent_code: None,
            phone: None,
            address: None,
            comprehensive_window: false,
        }
    }

    #[test]
    fn accepts_a_county_bureau_under_its_county_government() {
        let parent = existing(Level::County, "230882");
        assert_eq!(
            check_new(
                &new("230882-SCJG", Level::County, "230882", Some("P")),
                Some(&parent)
            ),
            Ok(())
        );
        let town = new("230882-T1", Level::Town, "230882101", Some("P"));
        assert_eq!(check_new(&town, Some(&parent)), Ok(()));
    }

    #[test]
    fn refuses_levels_and_regions_that_do_not_nest() {
        let county = existing(Level::County, "230882");
        let errors =
            check_new(&new("X1", Level::City, "230800", Some("P")), Some(&county)).unwrap_err();
        assert_eq!(errors[0].field, "level");
        let errors = check_new(
            &new("X2", Level::County, "110105", Some("P")),
            Some(&county),
        )
        .unwrap_err();
        assert_eq!(errors[0].code, "outside_parent");
        let errors = check_new(&new("X3", Level::County, "230800", None), None).unwrap_err();
        assert_eq!(errors[0].code, "level_mismatch");
        let errors = check_new(&new("bad code", Level::Province, "23000", None), None).unwrap_err();
        assert_eq!(errors.len(), 2);
    }
}
