//! The authorization matrix: every operation in the OpenAPI document, called by nobody, by a
//! member of every staff role (in the item's department and in another), and by two citizens.
//! Every operation must be declared in `DECLARED` (a new endpoint without a declared rule fails
//! this test), and each caller must get 401/403 exactly where the rule says.

use std::collections::BTreeSet;

use fingertip::secret::Secret;
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::fixtures::{
    ID_1, ID_2, STAFF_PASSWORD, create_department, create_staff, register_citizen,
};
use crate::support::{TestApp, pki, spawn_app_with, staff_login};

/// Who may call an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    /// No credentials needed.
    Public,
    /// Authenticated by the caller's own scheme (provider signature / token, the metrics
    /// scraper's token as in production), not a login.
    Integration,
    /// Authenticated by a TLS client certificate on the certificate-login listener.
    ClientCertificate,
    /// Any logged-in account.
    Authenticated,
    /// Citizens and enterprises.
    Applicant,
    /// Any staff account (which role, department and step may act is decided per case).
    Staff,
    /// Any staff account but an observer's (the applicant's raw materials).
    StaffButNotObserver,
    /// Citizens only.
    Citizen,
    /// Staff holding the window clerk role (in any department).
    WindowClerk,
    /// The platform administrator.
    PlatformAdmin,
    /// The platform administrator or an administrator of the department of the item in the path.
    DepartmentAdminOfItem,
    /// The platform administrator or any department's administrator (the department named in the
    /// body is checked after; an empty body stops there).
    SomeAdministrator,
}

/// Every operation and its rule; `false` marks operations that change the caller's own session
/// or the fixture, which allowed callers therefore do not call here (they have own tests).
#[rustfmt::skip]
const DECLARED: &[(&str, Who, bool)] = &[
    ("GET /healthz", Who::Public, true),
    ("GET /readyz", Who::Public, true),
    ("GET /metrics", Who::Integration, true),
    ("GET /api/v1/calendar/{year}", Who::Public, true),
    ("GET /api/v1/calendar/deadline", Who::Public, true),
    ("POST /api/v1/admin/calendar", Who::PlatformAdmin, true),
    ("PUT /api/v1/admin/calendar/{year}", Who::PlatformAdmin, true),
    ("GET /api/v1/admin/calendar/{year}/versions", Who::PlatformAdmin, true),
    ("GET /api/v1/departments", Who::Public, true),
    ("POST /api/v1/admin/departments", Who::PlatformAdmin, true),
    ("PUT /api/v1/admin/departments/{code}/comprehensive-window", Who::PlatformAdmin, true),
    ("GET /api/v1/items", Who::Public, true),
    ("GET /api/v1/items/{code}", Who::Public, true),
    ("GET /api/v1/items/{code}/versions/{version}", Who::Public, true),
    ("GET /api/v1/items/{code}/materials/{key}/blank-form", Who::Public, true),
    ("GET /api/v1/items/{code}/materials/{key}/sample-form", Who::Public, true),
    ("POST /api/v1/admin/items", Who::SomeAdministrator, true),
    ("GET /api/v1/admin/items/{code}", Who::DepartmentAdminOfItem, true),
    ("PUT /api/v1/admin/items/{code}/draft", Who::DepartmentAdminOfItem, true),
    ("POST /api/v1/admin/items/{code}/publish", Who::DepartmentAdminOfItem, true),
    ("POST /api/v1/admin/items/{code}/cancel", Who::DepartmentAdminOfItem, true),
    ("GET /api/v1/admin/items/{code}/audit", Who::DepartmentAdminOfItem, true),
    ("POST /api/v1/admin/files", Who::SomeAdministrator, true),
    ("POST /api/v1/admin/notification-templates", Who::PlatformAdmin, true),
    ("GET /api/v1/admin/notification-templates/{key}", Who::PlatformAdmin, true),
    ("POST /api/v1/admin/notification-templates/{key}/preview", Who::PlatformAdmin, true),
    ("POST /api/v1/admin/notifications", Who::PlatformAdmin, true),
    ("GET /api/v1/admin/notifications/{id}", Who::PlatformAdmin, true),
    ("POST /api/v1/admin/notifications/{id}/resend", Who::PlatformAdmin, true),
    ("POST /api/v1/integration/sms/aliyun/receipts", Who::Integration, true),
    ("POST /api/v1/integration/sms/tencent/receipts", Who::Integration, true),
    ("POST /api/v1/auth/otp", Who::Public, true),
    ("POST /api/v1/auth/citizen/register", Who::Public, true),
    ("POST /api/v1/auth/citizen/login", Who::Public, true),
    ("POST /api/v1/auth/enterprise/challenge", Who::Public, true),
    ("POST /api/v1/auth/enterprise/login", Who::Public, true),
    ("POST /api/v1/auth/enterprise/mtls-login", Who::ClientCertificate, true),
    ("POST /api/v1/auth/staff/login", Who::Public, true),
    ("POST /api/v1/auth/staff/certificate-login", Who::Public, true),
    ("POST /api/v1/auth/refresh", Who::Public, true),
    ("POST /api/v1/auth/logout", Who::Authenticated, false),
    ("POST /api/v1/auth/logout-all", Who::Authenticated, false),
    ("GET /api/v1/me", Who::Authenticated, true),
    ("POST /api/v1/me/realname-check", Who::Citizen, true),
    ("POST /api/v1/me/devices", Who::Authenticated, true),
    ("GET /api/v1/me/devices", Who::Authenticated, true),
    ("PUT /api/v1/me/devices/{id}", Who::Authenticated, true),
    ("DELETE /api/v1/me/devices/{id}", Who::Authenticated, true),
    ("GET /api/v1/me/notifications", Who::Authenticated, true),
    ("POST /api/v1/me/notifications/{id}/read", Who::Authenticated, true),
    ("POST /api/v1/me/notifications/read-all", Who::Authenticated, true),
    ("GET /api/v1/me/notification-preferences", Who::Authenticated, true),
    ("PUT /api/v1/me/notification-preferences", Who::Authenticated, true),
    ("GET /api/v1/me/notification-preferences/email", Who::Authenticated, true),
    ("PUT /api/v1/me/notification-preferences/email", Who::Authenticated, true),
    ("DELETE /api/v1/me/notification-preferences/email", Who::Authenticated, true),
    ("POST /api/v1/me/notification-preferences/email/confirm", Who::Authenticated, true),
    ("POST /api/v1/me/files", Who::Applicant, true),
    ("GET /api/v1/me/files", Who::Applicant, true),
    ("GET /api/v1/me/files/{id}", Who::Applicant, true),
    ("POST /api/v1/window/files", Who::WindowClerk, true),
    ("GET /api/v1/admin/staff", Who::PlatformAdmin, true),
    ("POST /api/v1/admin/staff", Who::PlatformAdmin, true),
    ("POST /api/v1/admin/staff/{id}/roles", Who::SomeAdministrator, true),
    ("DELETE /api/v1/admin/staff/{id}/roles/{grant_id}", Who::SomeAdministrator, true),
    ("POST /api/v1/admin/staff/{id}/backups", Who::SomeAdministrator, true),
    ("POST /api/v1/admin/staff/{id}/unlock", Who::PlatformAdmin, true),
    ("PUT /api/v1/admin/staff/{id}/certificate", Who::PlatformAdmin, true),
    ("POST /api/v1/admin/staff/{id}/disable", Who::PlatformAdmin, false),
    ("POST /api/v1/cases", Who::Applicant, true),
    ("GET /api/v1/me/cases", Who::Applicant, true),
    ("GET /api/v1/me/cases/{id}", Who::Applicant, true),
    ("POST /api/v1/me/cases/{id}/correction-answer", Who::Applicant, true),
    ("POST /api/v1/me/cases/{id}/deferred-materials", Who::Applicant, true),
    ("POST /api/v1/me/cases/{id}/withdraw", Who::Applicant, true),
    ("POST /api/v1/me/agent-authorisations", Who::Applicant, true),
    ("GET /api/v1/me/agent-authorisations", Who::Applicant, true),
    ("DELETE /api/v1/me/agent-authorisations/{id}", Who::Applicant, true),
    ("GET /api/v1/staff/inbox", Who::Staff, true),
    ("GET /api/v1/staff/cases", Who::Staff, true),
    ("GET /api/v1/staff/cases/{id}", Who::Staff, true),
    ("GET /api/v1/staff/cases/{id}/materials/{material_id}", Who::StaffButNotObserver, true),
    ("POST /api/v1/staff/cases/{id}/correction-notice", Who::Staff, true),
    ("POST /api/v1/staff/cases/{id}/accept", Who::Staff, true),
    ("POST /api/v1/staff/cases/{id}/reject", Who::Staff, true),
    ("POST /api/v1/staff/cases/{id}/complete-step", Who::Staff, true),
    ("POST /api/v1/staff/cases/{id}/suspend", Who::Staff, true),
    ("POST /api/v1/staff/cases/{id}/suspension/extend", Who::Staff, true),
    ("POST /api/v1/staff/cases/{id}/resume", Who::Staff, true),
    ("POST /api/v1/staff/cases/{id}/extend", Who::Staff, true),
    ("POST /api/v1/staff/cases/{id}/terminate", Who::Staff, true),
    ("POST /api/v1/staff/cases/{id}/continue-despite-cancellation", Who::Staff, true),
    ("POST /api/v1/staff/cases/{id}/approve", Who::Staff, true),
    ("POST /api/v1/staff/cases/{id}/deny", Who::Staff, true),
    ("POST /api/v1/window/cases", Who::Staff, true),
    ("POST /api/v1/public/progress", Who::Public, true),
    ("POST /api/v1/admin/departments/{code}/seals", Who::DepartmentAdminOfItem, true),
    ("GET /api/v1/admin/departments/{code}/seals", Who::DepartmentAdminOfItem, true),
    ("POST /api/v1/admin/departments/{code}/seals/import", Who::DepartmentAdminOfItem, true),
    ("POST /api/v1/admin/seals/{id}/status", Who::PlatformAdmin, true),
    ("GET /api/v1/public/seal-root", Who::Public, true),
    ("GET /api/v1/me/cases/{id}/documents/{document_id}/pdf", Who::Applicant, true),
    ("GET /api/v1/staff/cases/{id}/documents/{document_id}/pdf", Who::Staff, true),
    ("GET /api/v1/me/licences", Who::Applicant, true),
    ("GET /api/v1/me/licences/{id}", Who::Applicant, true),
    ("GET /api/v1/me/licences/{id}/pdf", Who::Applicant, true),
    ("POST /api/v1/me/licences/{id}/shares", Who::Applicant, true),
    ("GET /api/v1/public/shared-licences/{token}", Who::Public, true),
    ("GET /api/v1/public/shared-licences/{token}/pdf", Who::Public, true),
    ("GET /api/v1/public/documents/{token}", Who::Public, true),
    ("POST /api/v1/public/documents/verify", Who::Public, true),
    ("POST /api/v1/staff/licences/{id}/revoke", Who::Staff, true),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    PlatformAdmin,
    AdminOfItemDepartment,
    AdminOfOtherDepartment,
    WindowClerk,
    Reviewer,
    Approver,
    Supervisor,
    Observer,
    Citizen,
    OtherCitizen,
    Enterprise,
}

fn allowed(who: Who, caller: Caller) -> bool {
    use Caller::*;
    match who {
        Who::Public | Who::Integration | Who::ClientCertificate | Who::Authenticated => true,
        Who::Applicant => matches!(caller, Citizen | OtherCitizen | Enterprise),
        Who::Citizen => matches!(caller, Citizen | OtherCitizen),
        Who::Staff => !matches!(caller, Citizen | OtherCitizen | Enterprise),
        Who::StaffButNotObserver => {
            !matches!(caller, Citizen | OtherCitizen | Enterprise | Observer)
        }
        Who::WindowClerk => caller == WindowClerk,
        Who::PlatformAdmin => caller == PlatformAdmin,
        Who::DepartmentAdminOfItem => matches!(caller, PlatformAdmin | AdminOfItemDepartment),
        Who::SomeAdministrator => {
            matches!(
                caller,
                PlatformAdmin | AdminOfItemDepartment | AdminOfOtherDepartment
            )
        }
    }
}

struct Fixture {
    callers: Vec<(Caller, String)>,
    clerk_id: String,
}

async fn fixture(app: &TestApp) -> Fixture {
    create_department(app, "AUTHZ-A").await;
    create_department(app, "AUTHZ-B").await;
    let (status, body) = app
        .admin_json(
            Method::POST,
            "/api/v1/admin/items",
            &json!({"code": "AUTHZ-01", "lead_department_code": "AUTHZ-A"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let staff = [
        (
            "authz.a.admin",
            "department_admin",
            Some("AUTHZ-A"),
            Caller::AdminOfItemDepartment,
        ),
        (
            "authz.b.admin",
            "department_admin",
            Some("AUTHZ-B"),
            Caller::AdminOfOtherDepartment,
        ),
        (
            "authz.clerk",
            "window_clerk",
            Some("AUTHZ-A"),
            Caller::WindowClerk,
        ),
        (
            "authz.reviewer",
            "reviewer",
            Some("AUTHZ-A"),
            Caller::Reviewer,
        ),
        (
            "authz.approver",
            "approver",
            Some("AUTHZ-A"),
            Caller::Approver,
        ),
        ("authz.supervisor", "supervisor", None, Caller::Supervisor),
        ("authz.observer", "observer", None, Caller::Observer),
    ];
    let mut callers = vec![(Caller::PlatformAdmin, app.admin_token.clone())];
    let mut clerk_id = String::new();
    for (username, role, department, caller) in staff {
        let id = create_staff(app, username, role, department).await;
        if caller == Caller::WindowClerk {
            clerk_id = id;
        }
        callers.push((
            caller,
            staff_login(&app.http, &app.address, username, STAFF_PASSWORD).await,
        ));
    }
    let citizen = register_citizen(app, "13811110001", "孙一", ID_1).await;
    let other = register_citizen(app, "13811110002", "孙二", ID_2).await;
    callers.push((
        Caller::Citizen,
        citizen["access_token"].as_str().unwrap().to_owned(),
    ));
    callers.push((
        Caller::OtherCitizen,
        other["access_token"].as_str().unwrap().to_owned(),
    ));
    callers.push((Caller::Enterprise, enterprise_login(app).await));
    Fixture { callers, clerk_id }
}

/// Logs the P-256 dev enterprise in by certificate; returns its access token.
async fn enterprise_login(app: &TestApp) -> String {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    let challenge: Value = app
        .http
        .post(app.url("/api/v1/auth/enterprise/challenge"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let challenge = challenge["challenge"].as_str().unwrap();
    let leaf = "enterprise-p256-gmt";
    let body = json!({
        "challenge": challenge,
        "certificate_chain": pki::chain(leaf).iter().map(|d| STANDARD.encode(d)).collect::<Vec<_>>(),
        "signature": STANDARD.encode(pki::sign(leaf, challenge.as_bytes())),
    });
    let login: Value = app
        .http
        .post(app.url("/api/v1/auth/enterprise/login"))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    login["access_token"]
        .as_str()
        .expect("enterprise token")
        .to_owned()
}

fn concrete_path(template: &str, fixture: &Fixture) -> String {
    let mut path = template.to_owned();
    let values = [
        ("{year}", "2026".to_owned()),
        (
            "{code}",
            if template.contains("/departments/") {
                "AUTHZ-A".to_owned()
            } else {
                "AUTHZ-01".to_owned()
            },
        ),
        (
            "{key}",
            if template.contains("/materials/") {
                "no-form".to_owned()
            } else {
                "identity.otp".to_owned()
            },
        ),
        ("{version}", "1".to_owned()),
        ("{grant_id}", uuid::Uuid::new_v4().to_string()),
        ("{material_id}", uuid::Uuid::new_v4().to_string()),
        (
            "{id}",
            if template.contains("/admin/staff/") {
                fixture.clerk_id.clone()
            } else {
                uuid::Uuid::new_v4().to_string()
            },
        ),
    ];
    for (name, value) in values {
        path = path.replace(name, &value);
    }
    path
}

async fn call(
    app: &TestApp,
    method: &Method,
    path: &str,
    operation: &Value,
    token: Option<&str>,
) -> u16 {
    let mut request = app.http.request(method.clone(), app.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(content) = operation["requestBody"]["content"].as_object() {
        request = if content.contains_key("application/json; charset=utf-8")
            || content.keys().any(|k| k.contains("json"))
        {
            request.json(&json!({}))
        } else {
            let content_type = content.keys().next().cloned().unwrap_or_default();
            request
                .header("content-type", content_type)
                .body(Vec::<u8>::new())
        };
    }
    request.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn every_operation_answers_401_or_403_to_exactly_the_callers_its_rule_excludes() {
    let app = spawn_app_with(|c| {
        c.identity.certificates = Some(pki::standard_files());
        c.metrics_token = Some(Secret::new("scrape-0123456789abcdef0123456789"));
    })
    .await;
    let fixture = fixture(&app).await;
    let spec: Value = app.get("/openapi.json").await.json().await.unwrap();

    let mut in_spec = BTreeSet::new();
    let mut failures = Vec::new();
    for (path, operations) in spec["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            let key = format!("{} {path}", method.to_uppercase());
            in_spec.insert(key.clone());
            let Some(&(_, who, exercise)) = DECLARED.iter().find(|(k, _, _)| *k == key) else {
                failures.push(format!("{key}: no rule declared in DECLARED"));
                continue;
            };
            let method: Method = method.to_uppercase().parse().unwrap();
            let concrete = concrete_path(path, &fixture);
            let anonymous = call(&app, &method, &concrete, operation, None).await;
            match who {
                Who::Public => {
                    if anonymous == 401 || anonymous == 403 {
                        failures.push(format!("{key}: public but {anonymous} without credentials"));
                    }
                }
                _ => {
                    if anonymous != 401 && anonymous != 403 {
                        failures.push(format!("{key}: {anonymous} without credentials"));
                    }
                }
            }
            if matches!(who, Who::Integration | Who::ClientCertificate) {
                continue;
            }
            for (caller, token) in &fixture.callers {
                let may = allowed(who, *caller);
                if may && !exercise {
                    continue;
                }
                let status = call(&app, &method, &concrete, operation, Some(token)).await;
                let refused = status == 401 || status == 403;
                if may && refused {
                    failures.push(format!("{key}: {caller:?} may call it but got {status}"));
                }
                if !may && status != 403 {
                    failures.push(format!("{key}: {caller:?} must get 403, got {status}"));
                }
            }
        }
    }
    for (key, _, _) in DECLARED {
        if !in_spec.contains(*key) {
            failures.push(format!("{key}: declared but not in the OpenAPI document"));
        }
    }
    assert!(
        failures.is_empty(),
        "authorization matrix:\n{}",
        failures.join("\n")
    );
    app.stop().await;
}
