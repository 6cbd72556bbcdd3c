//! What a case's documents and result notices say, by what the item is: the one table of
//! titles, outcomes and cited law (issue "the case as the law reads it", point 2).
//!
//! - A 行政许可 follows the licensing law: acceptance, correction and non-acceptance under
//!   《中华人民共和国行政许可法》art. 32, the decision under art. 38 (准予/不予行政许可决定书).
//! - Every other category (行政给付, 行政确认, 行政奖励, 行政裁决, 其他行政权力, 公共服务) is not
//!   a licence: its documents cite the item's own legal basis as its guide publishes it (e.g.
//!   《社会救助暂行办法》第九条、第十一条 for 低保), and its decisions carry the category's own
//!   words (准予给付, 予以确认…).
//! - When the item's result is a document of its own (批准文书 such as 认定工伤决定书, or a
//!   证明 such as 无犯罪记录证明 or a 备案凭证), the approving decision is that document, titled
//!   by its name.
//! - Only a result of kind 证照 issues a licence into the licence library; the result notice
//!   says so only then (see [`ResultNotice`]).

use crate::catalog::model::{Category, Guide, LegalBasis, ResultKind};
use crate::documents::LegalFrame;

const LICENSING_LAW: &str = "《中华人民共和国行政许可法》";

/// The frame of a 行政许可 whose result is a licence: what the licensing law prescribes.
pub fn licensing_frame() -> LegalFrame {
    let words = CategoryWords::of(Category::Licence);
    LegalFrame {
        acceptance_basis: format!("{LICENSING_LAW}第三十二条第一款第（五）项"),
        correction_basis: format!("{LICENSING_LAW}第三十二条第一款第（四）项"),
        rejection_basis: format!("{LICENSING_LAW}第三十二条第一款"),
        approval_title: words.approval_title.to_owned(),
        approval_outcome: words.approval_outcome.to_owned(),
        approval_basis: format!("{LICENSING_LAW}第三十八条第一款"),
        denial_title: words.denial_title.to_owned(),
        denial_outcome: words.denial_outcome.to_owned(),
        denial_basis: format!("{LICENSING_LAW}第三十八条第二款"),
    }
}

/// The frame of the documents of a case of the item with `guide`.
pub fn legal_frame(guide: &Guide) -> LegalFrame {
    let own_result_document = matches!(
        guide.result.kind,
        ResultKind::ApprovalDocument | ResultKind::Certificate
    )
    .then(|| guide.result.name.trim().to_owned())
    .filter(|name| !name.is_empty());
    if guide.category == Category::Licence {
        let frame = licensing_frame();
        return LegalFrame {
            approval_title: own_result_document.unwrap_or(frame.approval_title),
            ..frame
        };
    }
    let words = CategoryWords::of(guide.category);
    let basis = item_basis(&guide.legal_basis);
    LegalFrame {
        acceptance_basis: basis.clone(),
        correction_basis: basis.clone(),
        rejection_basis: basis.clone(),
        approval_title: own_result_document.unwrap_or_else(|| words.approval_title.to_owned()),
        approval_outcome: words.approval_outcome.to_owned(),
        approval_basis: basis.clone(),
        denial_title: words.denial_title.to_owned(),
        denial_outcome: words.denial_outcome.to_owned(),
        denial_basis: basis,
    }
}

/// The words of a category's decisions.
struct CategoryWords {
    approval_title: &'static str,
    approval_outcome: &'static str,
    denial_title: &'static str,
    denial_outcome: &'static str,
}

impl CategoryWords {
    fn of(category: Category) -> CategoryWords {
        let words =
            |approval_title, approval_outcome, denial_title, denial_outcome| CategoryWords {
                approval_title,
                approval_outcome,
                denial_title,
                denial_outcome,
            };
        match category {
            Category::Licence => words(
                "准予行政许可决定书",
                "准予行政许可",
                "不予行政许可决定书",
                "不予行政许可",
            ),
            Category::Benefit => words("给付决定书", "准予给付", "不予给付决定书", "不予给付"),
            Category::Confirmation => words("确认决定书", "予以确认", "不予确认决定书", "不予确认"),
            Category::Award => words("奖励决定书", "给予奖励", "不予奖励决定书", "不予奖励"),
            Category::Adjudication => words("行政裁决书", "作出裁决", "驳回申请决定书", "驳回申请"),
            Category::OtherPower => {
                words("准予办理决定书", "准予办理", "不予办理决定书", "不予办理")
            }
            Category::PublicService => {
                words("办理结果告知书", "予以办理", "不予办理告知书", "不予办理")
            }
        }
    }
}

/// The item's legal bases as one citation: `《社会救助暂行办法》第九条、第十一条和《最低生活
/// 保障审核确认办法》`. Articles of one document are joined; documents follow in the guide's order.
fn item_basis(bases: &[LegalBasis]) -> String {
    let mut documents: Vec<(String, Vec<String>)> = Vec::new();
    for basis in bases {
        let document = basis.document.trim();
        if document.is_empty() {
            continue;
        }
        let article = basis.article.trim();
        match documents.iter_mut().find(|(d, _)| d == document) {
            Some((_, articles)) => {
                if !article.is_empty() && !articles.iter().any(|a| a == article) {
                    articles.push(article.to_owned());
                }
            }
            None => {
                let articles = if article.is_empty() {
                    Vec::new()
                } else {
                    vec![article.to_owned()]
                };
                documents.push((document.to_owned(), articles));
            }
        }
    }
    if documents.is_empty() {
        // A published guide always states its basis; this only words a record without one.
        return "有关法律、法规".to_owned();
    }
    let cited: Vec<String> = documents
        .into_iter()
        .map(|(document, articles)| format!("{document}{}", articles.join("、")))
        .collect();
    match cited.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{}和{last}", rest.join("、")),
        _ => cited.concat(),
    }
}

/// What a result notice (SMS, push, email) says of the decision: the outcome in the category's
/// words, and the licence library only when a licence was issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultNotice {
    pub outcome: String,
    /// `电子证照已存入您的证照库。` when the approval issued a licence, else empty.
    pub result_note: String,
}

impl ResultNotice {
    pub fn approval(frame: &LegalFrame, licence_issued: bool) -> ResultNotice {
        ResultNotice {
            outcome: frame.approval_outcome.clone(),
            result_note: if licence_issued {
                "电子证照已存入您的证照库。".to_owned()
            } else {
                String::new()
            },
        }
    }

    pub fn denial(frame: &LegalFrame) -> ResultNotice {
        ResultNotice {
            outcome: frame.denial_outcome.clone(),
            result_note: String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::demo;

    fn guide_of(code: &str) -> Guide {
        demo::published_guide(code).unwrap_or_else(|| panic!("demo item {code}"))
    }

    #[test]
    fn a_licence_cites_the_licensing_law() {
        let frame = legal_frame(&guide_of("220882-SCJG-001"));
        assert_eq!(frame.approval_title, "准予行政许可决定书");
        assert_eq!(
            frame.approval_basis,
            "《中华人民共和国行政许可法》第三十八条第一款"
        );
        assert_eq!(frame.denial_title, "不予行政许可决定书");
        assert!(
            frame
                .acceptance_basis
                .ends_with("第三十二条第一款第（五）项")
        );
    }

    #[test]
    fn a_benefit_cites_its_own_law_and_never_the_licensing_law() {
        let frame = legal_frame(&guide_of("220882-MZ-001"));
        assert_eq!(frame.approval_title, "给付决定书");
        assert_eq!(frame.approval_outcome, "准予给付");
        assert_eq!(frame.denial_title, "不予给付决定书");
        assert_eq!(
            frame.approval_basis,
            "《社会救助暂行办法》第九条、第十一条和《最低生活保障审核确认办法》（民发〔2021〕57号）"
        );
        for basis in [
            &frame.acceptance_basis,
            &frame.correction_basis,
            &frame.rejection_basis,
            &frame.approval_basis,
            &frame.denial_basis,
        ] {
            assert!(!basis.contains("行政许可法"), "{basis}");
        }
    }

    #[test]
    fn an_item_whose_result_is_a_document_is_decided_by_that_document() {
        let injury = legal_frame(&guide_of("220882-RS-001"));
        assert_eq!(injury.approval_title, "认定工伤决定书");
        assert_eq!(injury.approval_outcome, "予以确认");
        assert!(!injury.acceptance_basis.contains("行政许可法"));
        let filing = legal_frame(&guide_of("220882-SCJG-002"));
        assert_eq!(filing.approval_title, "仅销售预包装食品备案凭证");
    }

    #[test]
    fn only_an_issued_licence_is_announced() {
        let frame = legal_frame(&guide_of("220882-MZ-001"));
        assert_eq!(ResultNotice::approval(&frame, false).result_note, "");
        assert!(
            ResultNotice::approval(&frame, true)
                .result_note
                .contains("证照库")
        );
        assert_eq!(ResultNotice::denial(&frame).outcome, "不予给付");
    }

    #[test]
    fn articles_of_one_document_are_joined() {
        let bases = [
            LegalBasis {
                document: "《甲法》".into(),
                article: "第一条".into(),
            },
            LegalBasis {
                document: "《乙条例》".into(),
                article: String::new(),
            },
            LegalBasis {
                document: "《甲法》".into(),
                article: "第二条".into(),
            },
        ];
        assert_eq!(item_basis(&bases), "《甲法》第一条、第二条和《乙条例》");
        assert_eq!(item_basis(&[]), "有关法律、法规");
    }
}
