//! Demo catalog for an empty database: 大安市 (吉林省白城市) with its bureaus, a town and published items.

use deadpool_postgres::Pool;

use super::model::{
    ApplicantType, Category, Fee, Fees, FormFile, GuideDraft, LegalBasis, MaterialDraft,
    MaterialFileType, OnlineDepth, ResultKind, ResultSpec, Step, StepKind,
};
use super::service::CatalogService;
use super::views::NewItem;
use crate::department::model::{Level, NewDepartment};
use crate::http::AppError;
use crate::identity::model::Actor;

const TOWN: &str = "220882101-ZF";
const LAND: &str = "220882-ZRZY";

const COUNTY: &str = "220882-ZF";
/// 大安市政务服务中心, the comprehensive window (一窗受理).
const CENTRE: &str = "220882-ZWFW";

/// The county's departments (code, name, phone), all at county level in region 220882.
const BUREAUS: &[(&str, &str, &str)] = &[
    (CENTRE, "大安市政务服务中心", "0436-5222000"),
    ("220882-SCJG", "大安市市场监督管理局", "0436-5223315"),
    ("220882-WSJK", "大安市卫生健康局", "0436-5222416"),
    ("220882-MZ", "大安市民政局", "0436-5222537"),
    ("220882-RS", "大安市人力资源和社会保障局", "0436-5225612"),
    ("220882-ZJ", "大安市住房和城乡建设局", "0436-5222783"),
    (LAND, "大安市自然资源局", "0436-5224168"),
    ("220882-GA", "大安市公安局", "0436-5222110"),
    ("220882-JY", "大安市教育局", "0436-5222345"),
    ("220882-NY", "大安市农业农村局", "0436-5222691"),
];

fn dept(code: &str, name: &str, level: Level, region: &str, parent: Option<&str>) -> NewDepartment {
    NewDepartment {
        code: code.to_owned(),
        name: name.to_owned(),
        level,
        region_code: region.to_owned(),
        parent_code: parent.map(str::to_owned),
        phone: None,
        address: None,
        comprehensive_window: false,
    }
}

/// Province → city → county government, its bureaus and one town, parents first.
fn departments() -> Vec<NewDepartment> {
    let phone = |d: NewDepartment, phone: &str| NewDepartment {
        phone: Some(phone.to_owned()),
        ..d
    };
    let mut all = vec![
        dept("JL", "吉林省人民政府", Level::Province, "220000", None),
        dept(
            "220800-ZF",
            "白城市人民政府",
            Level::City,
            "220800",
            Some("JL"),
        ),
        phone(
            dept(
                COUNTY,
                "大安市人民政府",
                Level::County,
                "220882",
                Some("220800-ZF"),
            ),
            "0436-5222001",
        ),
    ];
    for &(code, name, number) in BUREAUS {
        all.push(NewDepartment {
            // The government service centre's window takes in every bureau's cases (一窗受理).
            comprehensive_window: code == CENTRE,
            ..phone(
                dept(code, name, Level::County, "220882", Some(COUNTY)),
                number,
            )
        });
    }
    all.push(phone(
        dept(
            TOWN,
            "大安市安广镇人民政府",
            Level::Town,
            "220882101",
            Some(COUNTY),
        ),
        "0436-5510001",
    ));
    all
}

/// Loads the demo catalog when the database has no departments and no items; returns whether it loaded.
pub async fn load_demo(pool: &Pool, catalog: &CatalogService) -> anyhow::Result<bool> {
    {
        let client = pool.get().await?;
        let row = client
            .query_one(
                "SELECT (SELECT count(*) FROM department) + (SELECT count(*) FROM item)",
                &[],
            )
            .await?;
        let existing: i64 = row.try_get(0)?;
        if existing != 0 {
            return Ok(false);
        }
    }
    let actor = Actor("demo-loader".to_owned());
    let departments = departments();
    let department_count = departments.len();
    for dept in departments {
        let code = dept.code.clone();
        crate::department::service::create(pool, &actor, dept)
            .await
            .map_err(failed(format!("creating department {code}")))?;
    }
    let items = items();
    for item in &items {
        let DemoItem {
            code,
            lead,
            mut draft,
        } = item.clone();
        for (file, pdf) in form_slots(code, &mut draft) {
            let uploaded = catalog
                .upload_file(&actor, "application/pdf", &pdf)
                .await
                .map_err(failed(format!("uploading {}", file.file_name)))?;
            file.sha256 = uploaded.sha256;
        }
        let new = NewItem {
            code: code.to_owned(),
            lead_department_code: lead.to_owned(),
            draft,
        };
        let view = catalog
            .create_item(&actor, new)
            .await
            .map_err(failed(format!("creating item {code}")))?;
        catalog
            .publish(&actor, code, view.draft_revision)
            .await
            .map_err(failed(format!("publishing item {code}")))?;
    }
    tracing::info!(
        departments = department_count,
        items = items.len(),
        "demo catalog loaded"
    );
    Ok(true)
}

fn failed(what: String) -> impl FnOnce(AppError) -> anyhow::Error {
    move |e| anyhow::anyhow!("demo catalog: {what}: {e}")
}

/// The form slots of a draft still to be filled, named and paired with their generated PDF.
fn form_slots<'a>(code: &str, draft: &'a mut GuideDraft) -> Vec<(&'a mut FormFile, Vec<u8>)> {
    let mut slots = Vec::new();
    for m in &mut draft.materials {
        let key = m.key.clone().unwrap_or_default();
        for (slot, kind) in [(&mut m.blank_form, "blank"), (&mut m.sample_form, "sample")] {
            if let Some(file) = slot.as_mut() {
                file.file_name = format!("{code}-{key}-{kind}.pdf");
                let what = if kind == "blank" {
                    "Application form / blank"
                } else {
                    "Application form / sample (filled-in example)"
                };
                let pdf = simple_pdf(&[
                    "Da'an City Government Service Center (Jilin)",
                    &format!("Item: {code}"),
                    &format!("Material: {key}"),
                    what,
                    "See the published guide for the conditions and materials.",
                ]);
                slots.push((file, pdf));
            }
        }
    }
    slots
}

/// A one-page PDF 1.4 showing ASCII `lines` in Helvetica (other characters print as '?').
fn simple_pdf(lines: &[&str]) -> Vec<u8> {
    let mut content = String::from("BT\n/F1 12 Tf\n16 TL\n72 770 Td\n");
    for line in lines {
        let text: String = line
            .chars()
            .map(|c| match c {
                '(' | ')' | '\\' => format!("\\{c}"),
                c if c == ' ' || c.is_ascii_graphic() => c.to_string(),
                _ => "?".to_owned(),
            })
            .collect();
        content.push_str(&format!("({text}) Tj T*\n"));
    }
    content.push_str("ET");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] \
         /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>"
            .to_owned(),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
            .to_owned(),
        format!(
            "<< /Length {} >>\nstream\n{content}\nendstream",
            content.len()
        ),
    ];
    let mut pdf = b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
    }
    let xref = pdf.len();
    let size = objects.len() + 1;
    let mut tail = format!("xref\n0 {size}\n0000000000 65535 f \n");
    for offset in offsets {
        tail.push_str(&format!("{offset:010} 00000 n \n"));
    }
    tail.push_str(&format!(
        "trailer\n<< /Size {size} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
    ));
    pdf.extend_from_slice(tail.as_bytes());
    pdf
}

// ---- compact constructors for the catalog data ----

#[derive(Clone)]
struct DemoItem {
    code: &'static str,
    lead: &'static str,
    draft: GuideDraft,
}

/// Fills the lead department's phone as the consultation phone and the window as the location.
fn item(code: &'static str, lead: &'static str, location: &str, draft: GuideDraft) -> DemoItem {
    let phone = BUREAUS.iter().find(|b| b.0 == lead).map(|b| b.2);
    let draft = GuideDraft {
        consultation_phone: phone.map(str::to_owned),
        handling_location: Some(location.to_owned()),
        ..draft
    };
    DemoItem { code, lead, draft }
}

/// A guide with its head: free of charge, pre-review online, citizens and enterprises; instant
/// when the promised limit is 0. Materials and steps are added by the caller.
fn guide(
    name: &str,
    category: Category,
    basis: &[(&str, &str)],
    conditions: &[&str],
    (statutory, promised): (u32, u32),
    (kind, result): (ResultKind, &str),
) -> GuideDraft {
    GuideDraft {
        name: Some(name.to_owned()),
        category: Some(category),
        legal_basis: basis
            .iter()
            .map(|(d, a)| LegalBasis {
                document: (*d).to_owned(),
                article: (*a).to_owned(),
            })
            .collect(),
        conditions: conditions.iter().map(|c| (*c).to_owned()).collect(),
        statutory_limit_days: Some(statutory),
        promised_limit_days: Some(promised),
        instant: Some(promised == 0),
        fees: Some(Fees {
            free: true,
            items: vec![],
        }),
        result: Some(ResultSpec {
            kind,
            name: result.to_owned(),
        }),
        online_depth: Some(OnlineDepth::PreReview),
        applicant_types: vec![ApplicantType::Citizen, ApplicantType::Enterprise],
        complaint_phone: Some("12345".to_owned()),
        ..GuideDraft::default()
    }
}

/// Key: cannot be pending at acceptance; Required: required but may be supplied later (容缺);
/// Optional: only when it applies.
#[derive(Clone, Copy, PartialEq)]
enum Req {
    Key,
    Required,
    Optional,
}

fn material(key: &str, name: &str, req: Req, originals: u32, copies: u32) -> MaterialDraft {
    MaterialDraft {
        key: Some(key.to_owned()),
        name: Some(name.to_owned()),
        required: Some(req != Req::Optional),
        key_material: Some(req == Req::Key),
        originals: Some(originals),
        copies: Some(copies),
        file_types: vec![
            MaterialFileType::Pdf,
            MaterialFileType::Jpeg,
            MaterialFileType::Png,
        ],
        ..MaterialDraft::default()
    }
}

/// An application form with a blank and a sample PDF (generated and uploaded when loading).
fn form(key: &str, name: &str) -> MaterialDraft {
    let to_generate = || {
        Some(FormFile {
            sha256: String::new(),
            file_name: String::new(),
            content_type: "application/pdf".to_owned(),
        })
    };
    MaterialDraft {
        file_types: vec![MaterialFileType::Pdf, MaterialFileType::Ofd],
        blank_form: to_generate(),
        sample_form: to_generate(),
        ..material(key, name, Req::Key, 1, 0)
    }
}

fn step(kind: StepKind, name: &str, limit_days: u32, stage: u32) -> Step {
    Step {
        kind,
        name: name.to_owned(),
        limit_days,
        department_code: None,
        stage,
    }
}

fn by(department: &str, step: Step) -> Step {
    Step {
        department_code: Some(department.to_owned()),
        ..step
    }
}

/// 受理 → 审查 → 决定, one stage each.
fn steps(accept: u32, review: u32, decide: u32) -> Vec<Step> {
    vec![
        step(StepKind::Accept, "受理", accept, 1),
        step(StepKind::Review, "审查", review, 2),
        step(StepKind::Decide, "决定", decide, 3),
    ]
}

/// 受理 → 审查 → a special step with its own limit → 决定.
fn steps_with(accept: u32, review: u32, special: (StepKind, &str, u32), decide: u32) -> Vec<Step> {
    vec![
        step(StepKind::Accept, "受理", accept, 1),
        step(StepKind::Review, "审查", review, 2),
        step(special.0, special.1, special.2, 3),
        step(StepKind::Decide, "决定", decide, 4),
    ]
}

fn window(n: u32) -> String {
    format!("大安市政务服务中心一楼{n}号窗口")
}

const CITIZEN: &[ApplicantType] = &[ApplicantType::Citizen];
const ENTERPRISE: &[ApplicantType] = &[ApplicantType::Enterprise];
const FOOD_LAW: &str = "《中华人民共和国食品安全法》";
const FOREST_LAW: &str = "《中华人民共和国森林法》";

/// The demo items, sorted by code (a main item before its sub-items). Kept as a hand-laid table:
/// rustfmt would spread each guide over a hundred lines.
#[rustfmt::skip]
fn items() -> Vec<DemoItem> {
    use Category::*;
    use Req::{Key, Optional, Required};
    use ResultKind::{ApprovalDocument, Certificate, Licence as Permit, Other};
    use StepKind::{PublicNotice, SiteInspection};
    let id_card = |name: &str, n: u32| material("id_card", name, Key, n, n);
    let licence = || material("business_licence", "营业执照", Key, 1, 1);
    vec![
        item("220882-GA-001", "220882-GA", &window(8), GuideDraft {
            materials: vec![
                form("application_form", "无犯罪记录证明申请表"),
                id_card("申请人居民身份证", 1),
                material("power_of_attorney", "授权委托书及受托人身份证件（委托办理时）", Optional, 1, 1),
            ],
            steps: steps(0, 1, 0),
            applicant_types: CITIZEN.to_vec(),
            online_depth: Some(OnlineDepth::FullyOnline),
            ..guide("无犯罪记录证明出具", PublicService,
                &[("《公安机关办理犯罪记录查询工作规定》（公通字〔2021〕19号）", "")],
                &["申请人查询本人在中国境内有无犯罪记录",
                  "委托他人代为申请的，出具委托书和委托双方的有效身份证件"],
                (3, 1), (Certificate, "无犯罪记录证明"))
        }),
        item("220882-JY-001", "220882-JY", &window(12), GuideDraft {
            materials: vec![
                form("recommendation_form", "优秀教师推荐审批表"),
                material("deeds", "先进事迹材料", Key, 1, 0),
                material("honours", "获奖证书等证明材料", Optional, 1, 1),
            ],
            steps: steps_with(5, 15, (PublicNotice, "公示", 5), 5),
            applicant_types: CITIZEN.to_vec(),
            ..guide("优秀教师表彰", Award,
                &[("《中华人民共和国教师法》", "第三十三条"), ("《教师和教育工作者奖励规定》", "")],
                &["在本市中小学、幼儿园、职业学校从事教育教学工作的在职教师",
                  "师德高尚，在教育教学、培养人才、教学改革等方面成绩优异",
                  "经所在学校推荐并在校内公示无异议"],
                (60, 30), (Certificate, "荣誉证书"))
        }),
        item("220882-MZ-001", "220882-MZ", "安广镇人民政府便民服务中心；大安市政务服务中心一楼5号窗口", GuideDraft {
            co_department_codes: vec![TOWN.to_owned()],
            materials: vec![
                form("application_form", "最低生活保障申请书"),
                form("authorization", "家庭经济状况核对授权书"),
                material("household_register", "户口簿", Key, 1, 1),
                id_card("共同生活家庭成员居民身份证", 1),
                material("income_statement", "家庭收入和财产状况申报表", Required, 1, 0),
                material("disability_cert", "残疾证或重病诊断证明（有残疾或重病成员时）", Optional, 1, 1),
            ],
            steps: vec![
                by(TOWN, step(StepKind::Accept, "乡镇受理", 1, 1)),
                by(TOWN, step(StepKind::Review, "入户调查", 10, 2)),
                step(StepKind::Review, "家庭经济状况核对", 10, 2),
                by(TOWN, step(PublicNotice, "村（社区）公示", 7, 3)),
                step(StepKind::Decide, "审核确认", 5, 4),
            ],
            applicant_types: CITIZEN.to_vec(),
            ..guide("最低生活保障审核确认", Benefit,
                &[("《社会救助暂行办法》", "第九条"), ("《社会救助暂行办法》", "第十一条"),
                  ("《最低生活保障审核确认办法》（民发〔2021〕57号）", "")],
                &["持有大安市户籍，共同生活的家庭成员人均收入低于当地最低生活保障标准",
                  "家庭财产状况符合当地最低生活保障家庭财产状况规定",
                  "申请人及共同生活的家庭成员同意核对其家庭经济状况"],
                (30, 25), (Other, "按月发放最低生活保障金"))
        }),
        item("220882-MZ-002", "220882-MZ", "大安市婚姻登记处（大安市政务服务中心二楼）", GuideDraft {
            materials: vec![
                id_card("男女双方居民身份证", 2),
                material("photos", "双方近期半身免冠合影照片（2寸，3张）", Key, 3, 0),
                form("declaration", "申请结婚登记声明书（现场签署）"),
            ],
            steps: steps(0, 0, 0),
            applicant_types: CITIZEN.to_vec(),
            online_depth: Some(OnlineDepth::FormDownload),
            ..guide("结婚登记", Confirmation,
                &[("《中华人民共和国民法典》", "第一千零四十九条"), ("《婚姻登记条例》", "第四条"),
                  ("《婚姻登记条例》", "第七条")],
                &["男女双方完全自愿，男方年满二十二周岁、女方年满二十周岁",
                  "双方均无配偶，且无直系血亲和三代以内旁系血亲关系",
                  "男女双方共同亲自到婚姻登记机关申请"],
                (0, 0), (Permit, "结婚证"))
        }),
        item("220882-NY-001", "220882-NY", &window(11), GuideDraft {
            materials: vec![
                form("application_form", "兽药经营许可证申请表"),
                licence(),
                material("staff_qualifications", "兽药技术人员学历或职称证明", Key, 1, 1),
                material("premises", "营业场所、仓库产权证明或租赁合同", Key, 1, 1),
                material("quality_rules", "质量管理制度文本", Required, 0, 1),
            ],
            steps: steps_with(1, 5, (SiteInspection, "现场检查验收", 5), 3),
            ..guide("兽药经营许可证核发", Licence,
                &[("《兽药管理条例》", "第二十二条"), ("《兽药经营质量管理规范》", "")],
                &["有与所经营的兽药相适应的兽药技术人员",
                  "有与所经营的兽药相适应的营业场所、设备、仓库设施",
                  "有与所经营的兽药相适应的质量管理机构或者人员",
                  "不经营兽用生物制品（兽用生物制品经营许可由省级部门核发）"],
                (30, 15), (Permit, "兽药经营许可证"))
        }),
        item("220882-RS-001", "220882-RS", &window(6), GuideDraft {
            materials: vec![
                form("application_form", "工伤认定申请表"),
                material("labour_relation", "劳动关系证明材料（劳动合同等）", Key, 1, 1),
                material("diagnosis", "医疗诊断证明或者职业病诊断证明书", Key, 1, 1),
                id_card("受伤害职工居民身份证", 1),
                material("accident_statement", "事故经过说明及证人证言", Required, 1, 0),
            ],
            steps: steps(5, 15, 5),
            ..guide("工伤认定", Confirmation,
                &[("《工伤保险条例》", "第十七条"), ("《工伤保险条例》", "第十八条"),
                  ("《工伤保险条例》", "第二十条")],
                &["职工发生事故伤害或者按照职业病防治法规定被诊断、鉴定为职业病",
                  "用人单位在30日内提出申请；用人单位未申请的，工伤职工或者其近亲属、工会组织在1年内提出",
                  "属于大安市社会保险行政部门管辖"],
                (60, 30), (ApprovalDocument, "认定工伤决定书"))
        }),
        item("220882-RS-002", "220882-RS", &window(7), GuideDraft {
            materials: vec![
                form("application_form", "失业保险金申领登记表"),
                id_card("本人居民身份证", 1),
                material("termination_proof", "终止或者解除劳动关系的证明", Key, 1, 1),
                material("bank_account", "社会保障卡或本人银行账户", Optional, 1, 0),
            ],
            steps: steps(1, 1, 1),
            applicant_types: CITIZEN.to_vec(),
            online_depth: Some(OnlineDepth::FullyOnline),
            ..guide("失业保险金申领", Benefit,
                &[("《中华人民共和国社会保险法》", "第四十五条"), ("《中华人民共和国社会保险法》", "第五十条"),
                  ("《失业保险条例》", "第十四条")],
                &["失业前用人单位和本人已经缴纳失业保险费满一年",
                  "非因本人意愿中断就业", "已经进行失业登记，并有求职要求"],
                (10, 3), (Other, "按月发放失业保险金"))
        }),
        item("220882-SCJG-001", "220882-SCJG", &window(3), GuideDraft {
            materials: vec![
                form("application_form", "食品经营许可申请书"),
                licence(),
                id_card("法定代表人（负责人）身份证明", 1),
                material("layout", "主要设备设施布局、操作流程等文件", Required, 0, 1),
                material("safety_rules", "保证食品安全的规章制度", Required, 0, 1),
            ],
            steps: steps_with(1, 4, (SiteInspection, "现场核查", 3), 2),
            ..guide("食品经营许可", Licence,
                &[(FOOD_LAW, "第三十五条"), ("《中华人民共和国行政许可法》", "第四十二条"),
                  ("《食品经营许可和备案管理办法》", "")],
                &["已取得营业执照等合法主体资格",
                  "具有与经营的食品品种、数量相适应的食品原料处理和食品加工、销售、贮存等场所",
                  "具有与经营的食品品种、数量相适应的经营设备或者设施",
                  "有专职或者兼职的食品安全管理人员和保证食品安全的规章制度",
                  "具有合理的设备布局和工艺流程"],
                (20, 10), (Permit, "食品经营许可证"))
        }),
        item("220882-SCJG-001-01", "220882-SCJG", &window(3), GuideDraft {
            parent_code: Some("220882-SCJG-001".to_owned()),
            materials: vec![
                form("application_form", "食品经营许可变更申请书"),
                material("licence", "食品经营许可证正本、副本", Key, 1, 0),
                material("change_documents", "与变更事项有关的其他材料", Required, 0, 1),
            ],
            steps: steps(1, 1, 1),
            ..guide("食品经营许可变更", Licence,
                &[("《中华人民共和国行政许可法》", "第四十九条"), (FOOD_LAW, "第三十五条")],
                &["已取得食品经营许可证且在有效期内",
                  "许可证载明的许可事项发生变化，在变化后10个工作日内申请变更"],
                (20, 3), (Permit, "食品经营许可证"))
        }),
        item("220882-SCJG-002", "220882-SCJG", &window(3), GuideDraft {
            materials: vec![form("filing_form", "仅销售预包装食品备案信息采集表"), licence()],
            steps: steps(0, 0, 0),
            online_depth: Some(OnlineDepth::FullyOnline),
            ..guide("仅销售预包装食品备案", OtherPower, &[(FOOD_LAW, "第三十五条")],
                &["仅销售预包装食品，不从事食品加工制作", "已取得营业执照等合法主体资格"],
                (0, 0), (Certificate, "仅销售预包装食品备案凭证"))
        }),
        item("220882-SCJG-003", "220882-SCJG", &window(3), GuideDraft {
            materials: vec![
                form("application_form", "举报奖励申请表"),
                id_card("举报人居民身份证", 1),
                material("bank_account", "举报人本人银行账户信息", Required, 0, 1),
            ],
            steps: steps(3, 7, 5),
            applicant_types: CITIZEN.to_vec(),
            ..guide("食品安全违法行为举报奖励", Award,
                &[(FOOD_LAW, "第一百一十五条"), ("《市场监管领域重大违法行为举报奖励暂行办法》", "")],
                &["举报人实名举报，举报的违法行为属于本部门管辖",
                  "举报内容经查证属实，并已依法作出行政处罚或者移送司法机关",
                  "举报人在告知的期限内确认领取奖励"],
                (30, 15), (ApprovalDocument, "举报奖励决定书"))
        }),
        item("220882-WSJK-001", "220882-WSJK", &window(4), GuideDraft {
            materials: vec![
                form("application_form", "公共场所卫生许可申请表"),
                licence(),
                material("floor_plan", "场所平面图及卫生设施布局图", Key, 0, 1),
                material("health_certificates", "从业人员健康合格证明", Required, 0, 1),
                material("test_report", "公共场所卫生检测或者评价报告", Required, 0, 1),
            ],
            steps: steps_with(1, 1, (SiteInspection, "现场踏勘", 2), 1),
            ..guide("公共场所卫生许可", Licence,
                &[("《公共场所卫生管理条例》", "第四条"), ("《公共场所卫生管理条例》", "第八条"),
                  ("《公共场所卫生管理条例实施细则》", "第二十二条")],
                &["已取得营业执照等合法主体资格",
                  "场所选址、设计和卫生设施符合国家卫生标准和卫生规范",
                  "直接为顾客服务的从业人员持有有效健康合格证明",
                  "建立卫生管理制度，配备专（兼）职卫生管理人员"],
                (20, 5), (Permit, "公共场所卫生许可证"))
        }),
        item("220882-ZJ-001", "220882-ZJ", &window(9), GuideDraft {
            co_department_codes: vec![LAND.to_owned()],
            materials: vec![
                form("application_form", "建筑工程施工许可证申请表"),
                material("planning_permit", "建设工程规划许可证", Key, 1, 1),
                material("contract", "施工合同及中标通知书", Key, 0, 1),
                material("drawings_review", "施工图设计文件审查合格书", Required, 0, 1),
                form("funding_commitment", "建设资金已经落实承诺书"),
                material("safety_measures", "保证工程质量和安全的具体措施", Required, 0, 1),
            ],
            steps: vec![
                step(StepKind::Accept, "受理", 1, 1),
                step(StepKind::Review, "施工许可条件审查", 1, 2),
                by(LAND, step(StepKind::Review, "建设工程规划许可核验", 1, 2)),
                step(StepKind::Decide, "决定", 1, 3),
            ],
            applicant_types: ENTERPRISE.to_vec(),
            online_depth: Some(OnlineDepth::FullyOnline),
            ..guide("建筑工程施工许可", Licence,
                &[("《中华人民共和国建筑法》", "第七条"), ("《中华人民共和国建筑法》", "第八条"),
                  ("《建筑工程施工许可管理办法》", "第四条")],
                &["依法应当办理用地批准手续的，已经办理该建筑工程用地批准手续",
                  "依法应当办理建设工程规划许可证的，已经取得建设工程规划许可证",
                  "施工场地已经基本具备施工条件，已经确定施工企业",
                  "有满足施工需要的资金安排、施工图纸及技术资料",
                  "有保证工程质量和安全的具体措施"],
                (7, 3), (Permit, "建筑工程施工许可证"))
        }),
        item("220882-ZRZY-001", LAND, &window(10), GuideDraft {
            materials: vec![
                form("application_form", "不动产登记申请书"),
                id_card("申请人身份证明", 1),
                material("land_title", "国有建设用地使用权不动产权证书", Key, 1, 0),
                material("completion", "建设工程符合规划及竣工验收材料", Key, 0, 1),
                material("cadastral_survey", "不动产权籍调查表、宗地图、房屋平面图", Required, 0, 1),
            ],
            steps: steps_with(1, 2, (SiteInspection, "实地查看", 1), 1),
            fees: Some(Fees { free: false, items: vec![Fee {
                name: "不动产登记费（住宅类）".to_owned(),
                amount_fen: 8000,
                basis: "《国家发展改革委 财政部关于不动产登记收费标准等有关问题的通知》\
                        （发改价格规〔2016〕2559号）".to_owned(),
            }] }),
            ..guide("不动产首次登记（国有建设用地使用权及房屋所有权）", Confirmation,
                &[("《中华人民共和国民法典》", "第二百零九条"), ("《不动产登记暂行条例》", "第十四条"),
                  ("《不动产登记暂行条例》", "第二十条"), ("《不动产登记暂行条例实施细则》", "")],
                &["国有建设用地使用权已依法登记", "房屋已经竣工并经规划核实、竣工验收",
                  "已完成不动产权籍调查，权属清楚、界址清楚、面积准确"],
                (30, 5), (Permit, "不动产权证书"))
        }),
        item("220882-ZRZY-002", LAND, &window(10), GuideDraft {
            materials: vec![
                form("application_form", "林木采伐申请表"),
                material("ownership", "林权证或林木权属证明", Key, 1, 1),
                material("cutting_design", "伐区调查设计材料（超过规定面积或蓄积量时）", Optional, 0, 1),
            ],
            steps: steps(1, 2, 1),
            online_depth: Some(OnlineDepth::FullyOnline),
            ..guide("林木采伐许可证核发", Licence,
                &[(FOREST_LAW, "第五十六条"), (FOREST_LAW, "第五十七条"), (FOREST_LAW, "第五十八条")],
                &["采伐的林木权属清楚、无争议", "符合年森林采伐限额和林木采伐技术规程",
                  "有采伐后的更新造林措施"],
                (20, 5), (Permit, "林木采伐许可证"))
        }),
        item("220882-ZRZY-003", LAND, &window(10), GuideDraft {
            materials: vec![
                form("application_form", "林木林地权属争议处理申请书"),
                id_card("申请人身份证明", 1),
                material("evidence", "林木林地权属证明及其他证据材料", Key, 1, 1),
                material("boundary_map", "争议地块四至范围示意图", Required, 0, 1),
            ],
            steps: steps_with(5, 30, (SiteInspection, "现场勘验", 10), 15),
            ..guide("林木林地权属争议处理", Adjudication,
                &[(FOREST_LAW, "第二十二条"), ("《中华人民共和国土地管理法》", "第十四条"),
                  ("《林木林地权属争议处理办法》", "")],
                &["申请人是争议的一方当事人，争议的林木、林地在大安市行政区域内",
                  "有明确的对方当事人、具体的处理请求和事实根据",
                  "争议未经人民法院判决或者人民政府处理决定"],
                (120, 60), (ApprovalDocument, "林木林地权属争议处理决定书"))
        }),
    ]
}

/// A demo item's guide as publication makes it (for tests of the rooms that read guides: the
/// demo items are the platform's worked examples of every category).
#[cfg(test)]
pub fn published_guide(code: &str) -> Option<super::model::Guide> {
    use super::model::{PublishContext, check_for_publication};
    let DemoItem {
        lead, mut draft, ..
    } = items().into_iter().find(|i| i.code == code)?;
    for (file, pdf) in form_slots(code, &mut draft) {
        file.sha256 = crate::blobs::sha256_hex(&pdf);
    }
    let ctx = PublishContext {
        item_code: code,
        known_department: &|_: &str| true,
        lead_department_code: lead,
        known_main_item: &|_: &str| true,
        known_blob: &|h: &str| h.len() == 64,
    };
    check_for_publication(&draft, &ctx).ok()
}

#[cfg(test)]
#[path = "demo_tests.rs"]
mod tests;
