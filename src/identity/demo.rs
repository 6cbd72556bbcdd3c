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
    let department = {
        let db = pool.get().await?;
        crate::department::store::find_by_code(&db, DEMO_DEPARTMENT)
            .await?
            .map(|(id, _)| id)
    };
    let actor = Actor("demo-loader".to_owned());
    for &(username, display_name, role) in DEMO_STAFF {
        let failed = |e: crate::http::problem::AppError| {
            anyhow::anyhow!("creating demo staff {username}: {}", e.to_problem().detail)
        };
        let id = staff::create(
            pool,
            &actor,
            NewStaff {
                username: username.to_owned(),
                display_name: display_name.to_owned(),
                password: password.to_owned(),
            },
        )
        .await
        .map_err(failed)?;
        let department_id = if role.is_platform_wide() {
            None
        } else {
            match department {
                Some(d) => Some(d),
                None => continue,
            }
        };
        staff::grant(
            pool,
            &actor,
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
    let (username, display_name, centre) = DEMO_CENTRE_CLERK;
    let centre = {
        let db = pool.get().await?;
        crate::department::store::find_by_code(&db, centre)
            .await?
            .map(|(id, _)| id)
    };
    if let Some(centre) = centre {
        let failed = |e: crate::http::problem::AppError| {
            anyhow::anyhow!("creating demo staff {username}: {}", e.to_problem().detail)
        };
        let id = staff::create(
            pool,
            &actor,
            NewStaff {
                username: username.to_owned(),
                display_name: display_name.to_owned(),
                password: password.to_owned(),
            },
        )
        .await
        .map_err(failed)?;
        staff::grant(
            pool,
            &actor,
            id,
            NewGrant {
                role: Role::WindowClerk,
                department_id: Some(centre),
                item_code: None,
                step: None,
            },
        )
        .await
        .map_err(failed)?;
    }
    Ok(true)
}
