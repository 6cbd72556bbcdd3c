//! The seal registry: department administrators create their department's seals (a key pair
//! certified by the platform's seal CA), suspend, reactivate and revoke them; the CA's root is
//! public for offline validation; every change is audited.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::fixtures::{create_departments, staff_member};
use crate::support::spawn_app;

fn der_of(pem: &str) -> Vec<u8> {
    use base64::Engine;
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap()
}

#[tokio::test]
async fn a_department_admin_creates_suspends_and_revokes_seals_certified_by_the_platform_ca() {
    let app = spawn_app().await;
    create_departments(&app).await;
    let admin = staff_member(&app, "seal.admin", "department_admin", Some("DA-SCJG")).await;
    let other = staff_member(&app, "other.admin", "department_admin", Some("DA-WJ")).await;
    let call = |token: &str, method: Method, path: &str, body: Value| {
        let request = app.with_token(method, path, token).json(&body);
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let path = "/api/v1/admin/departments/DA-SCJG/seals";
    let (status, _) = call(&other, Method::POST, path, json!({"purpose": "decision"})).await;
    assert_eq!(status, 403, "another department's admin");
    let (status, seal) = call(&admin, Method::POST, path, json!({"purpose": "decision"})).await;
    assert_eq!(status, 201, "{seal}");
    assert_eq!(seal["label"], "行政审批专用章");
    assert_eq!(seal["status"], "active");
    let (status, again) = call(&admin, Method::POST, path, json!({"purpose": "decision"})).await;
    assert_eq!(status, 409, "{again}");
    assert_eq!(again["code"], "seal_exists");

    // The certificate chains to the public root and allows non-repudiation.
    let root_pem = app
        .get("/api/v1/public/seal-root")
        .await
        .text()
        .await
        .unwrap();
    let root_der = der_of(&root_pem);
    let seal_der = der_of(seal["certificate_pem"].as_str().unwrap());
    let (_, root) = x509_parser::parse_x509_certificate(&root_der).unwrap();
    let (_, cert) = x509_parser::parse_x509_certificate(&seal_der).unwrap();
    cert.verify_signature(Some(root.public_key())).unwrap();
    assert!(cert.key_usage().unwrap().unwrap().value.non_repudiation());

    // Status changes need a reason; a revoked seal stays revoked and frees the purpose.
    let id = seal["id"].as_str().unwrap();
    let status_path = format!("/api/v1/admin/seals/{id}/status");
    let (status, blank) = call(
        &admin,
        Method::POST,
        &status_path,
        json!({"status": "suspended", "reason": " "}),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(blank["code"], "seal_reason_blank");
    let (status, _) = call(
        &other,
        Method::POST,
        &status_path,
        json!({"status": "suspended", "reason": "x"}),
    )
    .await;
    assert_eq!(status, 403);
    let (status, suspended) = call(
        &admin,
        Method::POST,
        &status_path,
        json!({"status": "suspended", "reason": "印章保管人变更"}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(suspended["status"], "suspended");
    let (_, revoked) = call(
        &admin,
        Method::POST,
        &status_path,
        json!({"status": "revoked", "reason": "机构改革"}),
    )
    .await;
    assert_eq!(revoked["status"], "revoked");
    let (status, body) = call(
        &admin,
        Method::POST,
        &status_path,
        json!({"status": "active", "reason": "误操作"}),
    )
    .await;
    assert_eq!(status, 409);
    assert_eq!(body["code"], "seal_revoked");
    let (status, _) = call(&admin, Method::POST, path, json!({"purpose": "decision"})).await;
    assert_eq!(status, 201);
    let (_, list) = call(&admin, Method::GET, path, json!(null)).await;
    assert_eq!(list["seals"].as_array().unwrap().len(), 2);

    // Every change is in the seal's audit chain; no key material is.
    let db = app.db().await;
    let actions: Vec<String> = db
        .query("SELECT action FROM audit_record WHERE aggregate_type = 'seal' AND aggregate_id = $1 ORDER BY seq", &[&id])
        .await.unwrap().iter().map(|r| r.get(0)).collect();
    assert_eq!(actions, ["seal.create", "seal.status", "seal.status"]);
    let sealed: Vec<u8> = db
        .query_one(
            "SELECT key_sealed FROM seal WHERE id = $1::text::uuid",
            &[&id],
        )
        .await
        .unwrap()
        .get(0);
    assert!(
        !sealed.windows(4).any(|w| w == [0x30, 0x81, 0x87, 0x02]),
        "the PKCS#8 key is not stored in the clear"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_seal_made_by_a_real_ca_is_imported_checked_and_its_root_published() {
    use fingertip::seals::authority::{SealSubject, issue_seal, new_root};
    use fingertip::seals::registry::pem;
    let app = spawn_app().await;
    create_departments(&app).await;
    // "The real CA": not the platform's.
    let root = new_root("某电子认证服务有限公司 SM2 根CA", app.now()).unwrap();
    let seal = issue_seal(
        &root.certificate_der,
        &root.key_pkcs8,
        &SealSubject {
            department_name: "大安市市场监督管理局",
            department_code: "DA-SCJG",
            label: "行政审批专用章",
        },
        app.now(),
    )
    .unwrap();
    let key_pem = pem("PRIVATE KEY", &seal.key_pkcs8);
    let chain = vec![
        pem("CERTIFICATE", &seal.certificate_der),
        pem("CERTIFICATE", &root.certificate_der),
    ];
    let path = "/api/v1/admin/departments/DA-SCJG/seals/import";
    // A chain without its root is refused, naming the certificate.
    let (status, body) = app
        .admin_json(
            Method::POST,
            path,
            &json!({"purpose": "decision", "key_pem": key_pem, "certificate_chain": [chain[0]]}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["errors"][0]["field"], "certificate_chain[0]");
    assert_eq!(body["errors"][0]["code"], "chain_incomplete");
    let (status, imported) = app
        .admin_json(
            Method::POST,
            path,
            &json!({"purpose": "decision", "key_pem": key_pem, "certificate_chain": chain}),
        )
        .await;
    assert_eq!(status, 201, "{imported}");
    assert_eq!(imported["status"], "active");
    assert_eq!(imported["certificate_pem"], chain[0].as_str());
    assert!(!imported.to_string().contains("PRIVATE KEY"));
    let (status, again) = app
        .admin_json(
            Method::POST,
            path,
            &json!({"purpose": "decision", "key_pem": key_pem, "certificate_chain": chain}),
        )
        .await;
    assert_eq!(status, 409, "{again}");
    // Validators now get the real CA's root too.
    let roots = app
        .get("/api/v1/public/seal-root")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(roots.matches("BEGIN CERTIFICATE").count(), 2, "{roots}");
    assert!(roots.contains(&chain[1]), "{roots}");
}
