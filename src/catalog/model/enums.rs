//! The guide's closed vocabularies: the "6+1" item categories, the kinds of process step, how far
//! an item can be handled online, who may apply, the file types of a material and the kinds of
//! result. Each is an OpenAPI enum and serialises in snake_case.

use poem_openapi::Enum;
use serde::{Deserialize, Serialize};

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
