//! Demo staff for `serve --demo-data` (development only): one account per role, all with the
//! configured demo password, handling roles in the market regulation bureau (220882-SCJG), and
//! the clerk of the service centre's comprehensive window (220882-ZWFW, 一窗受理).

use deadpool_postgres::Pool;

use super::model::{Actor, Role};
use super::staff::{self, NewGrant, NewStaff};

/// (username, display name, role; department roles are held in `DEMO_DEPARTMENT`).
pub const DEMO_STAFF: &[(&str, &str, Role)] = &[
    ("admin", "平台管理员", Role::PlatformAdmin),
    ("scjg.admin", "市场监管局管理员", Role::DepartmentAdmin),
    ("scjg.clerk", "市场监管局窗口", Role::WindowClerk),
    ("scjg.reviewer", "市场监管局审查员", Role::Reviewer),
    ("scjg.approver", "市场监管局审批人", Role::Approver),
    ("supervisor", "效能监察员", Role::Supervisor),
    ("observer", "社会监督员", Role::Observer),
];

pub const DEMO_DEPARTMENT: &str = "220882-SCJG";

/// The clerk of the government service centre's comprehensive window (一窗受理): takes in cases
/// for every bureau's items.
pub const DEMO_CENTRE_CLERK: (&str, &str, &str) =
    ("zwfw.clerk", "政务服务中心综合窗口", "220882-ZWFW");

/// Creates the demo staff when there are no staff accounts yet; returns whether it did.
pub async fn load_demo_staff(pool: &Pool, password: &str) -> anyhow::Result<bool> {
    {
        let db = pool.get().await?;
        let existing: i64 = db
            .query_one("SELECT count(*) FROM staff", &[])
            .await?
            .get(0);
        if existing > 0 {
            return Ok(false);
        }
    }
    let department = department_id(pool, DEMO_DEPARTMENT).await?;
    let actor = Actor("demo-loader".to_owned());
    for &(username, display_name, role) in DEMO_STAFF {
        let department_id = if role.is_platform_wide() {
            None
        } else {
            match department {
                Some(d) => Some(d),
                // The account is made; its department role waits for the department.
                None => {
                    create_one(pool, &actor, username, display_name, password, None).await?;
                    continue;
                }
            }
        };
        create_one(
            pool,
            &actor,
            username,
            display_name,
            password,
            Some((role, department_id)),
        )
        .await?;
    }
    let (username, display_name, centre) = DEMO_CENTRE_CLERK;
    if let Some(centre) = department_id(pool, centre).await? {
        create_one(
            pool,
            &actor,
            username,
            display_name,
            password,
            Some((Role::WindowClerk, Some(centre))),
        )
        .await?;
    }
    Ok(true)
}

async fn department_id(pool: &Pool, code: &str) -> anyhow::Result<Option<uuid::Uuid>> {
    let db = pool.get().await?;
    Ok(crate::department::store::find_by_code(&db, code)
        .await?
        .map(|(id, _)| id))
}

/// One demo account, with its role (in a department, or platform-wide) when given.
async fn create_one(
    pool: &Pool,
    actor: &Actor,
    username: &str,
    display_name: &str,
    password: &str,
    grant: Option<(Role, Option<uuid::Uuid>)>,
) -> anyhow::Result<()> {
    let failed = |e: crate::http::problem::AppError| {
        anyhow::anyhow!("creating demo staff {username}: {}", e.to_problem().detail)
    };
    let id = staff::create(
        pool,
        actor,
        NewStaff {
            username: username.to_owned(),
            display_name: display_name.to_owned(),
            password: password.to_owned(),
        },
    )
    .await
    .map_err(failed)?;
    if let Some((role, department_id)) = grant {
        staff::grant(
            pool,
            actor,
            id,
            NewGrant {
                role,
                department_id,
                item_code: None,
                step: None,
            },
        )
        .await
        .map_err(failed)?;
    }
    Ok(())
}
