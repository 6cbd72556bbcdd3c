//! Department endpoints: the public list, and creation and the comprehensive-window flag by
//! platform admins.

use deadpool_postgres::Pool;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use serde::Deserialize;

use super::model::{Department, NewDepartment};
use super::{service, store};
use crate::http::{ApiTags, AppResult, JsonBody};
use crate::identity::gate::{AccessToken, Gate};
use crate::identity::policy::Rule;

pub struct DepartmentApi {
    pub pool: Pool,
    pub gate: Gate,
}

/// Whether a department is the comprehensive window (一窗受理).
#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComprehensiveWindow {
    pub enabled: bool,
}

#[derive(ApiResponse)]
pub enum Created {
    /// Created.
    #[oai(status = 201)]
    Created(Json<Department>),
}

#[OpenApi(prefix_path = "/api/v1")]
impl DepartmentApi {
    /// 部门列表 — every department with its level, region code and parent.
    #[oai(path = "/departments", method = "get", tag = "ApiTags::Public")]
    async fn list(&self) -> AppResult<Json<Vec<Department>>> {
        let client = self.pool.get().await?;
        Ok(Json(store::list(&client).await?))
    }

    /// 设置综合受理窗口 — flag (or unflag) a department as the platform centre's comprehensive
    /// window (一窗受理); platform admin, audited.
    #[oai(
        path = "/admin/departments/:code/comprehensive-window",
        method = "put",
        tag = "ApiTags::Admin"
    )]
    async fn set_comprehensive_window(
        &self,
        auth: AccessToken,
        code: Path<String>,
        body: JsonBody<ComprehensiveWindow>,
    ) -> AppResult<Json<Department>> {
        let actor = self.gate.require(&auth, Rule::PlatformAdmin).await?.actor();
        let body = body.parse()?;
        Ok(Json(
            service::set_comprehensive_window(&self.pool, &actor, &code.0, body.enabled).await?,
        ))
    }

    /// 新建部门 (platform admin).
    #[oai(path = "/admin/departments", method = "post", tag = "ApiTags::Admin")]
    async fn create(&self, auth: AccessToken, body: JsonBody<NewDepartment>) -> AppResult<Created> {
        let actor = self.gate.require(&auth, Rule::PlatformAdmin).await?.actor();
        Ok(Created::Created(Json(
            service::create(&self.pool, &actor, body.parse()?).await?,
        )))
    }
}
