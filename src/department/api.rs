//! Department endpoints: the public list, and creation by platform admins.

use deadpool_postgres::Pool;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};

use super::model::{Department, NewDepartment};
use super::{service, store};
use crate::http::{ApiTags, AppResult, JsonBody};
use crate::identity::gate::{AccessToken, Gate};
use crate::identity::policy::Rule;

pub struct DepartmentApi {
    pub pool: Pool,
    pub gate: Gate,
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

    /// 新建部门 (platform admin).
    #[oai(path = "/admin/departments", method = "post", tag = "ApiTags::Admin")]
    async fn create(&self, auth: AccessToken, body: JsonBody<NewDepartment>) -> AppResult<Created> {
        let actor = self.gate.require(&auth, Rule::PlatformAdmin).await?.actor();
        Ok(Created::Created(Json(
            service::create(&self.pool, &actor, body.parse()?).await?,
        )))
    }
}
