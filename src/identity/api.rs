//! Login, sessions and the caller's own account (`/api/v1/auth/…`, `/api/v1/me`), and staff
//! administration (`/api/v1/admin/staff…`). Each endpoint states its rule in its first lines.

use chrono::{DateTime, Duration, Utc};
use deadpool_postgres::Pool;
use poem::Request;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use serde::Deserialize;
use uuid::Uuid;

use super::citizens::Citizens;
use super::enterprises::Enterprises;
use super::gate::{AccessToken, Gate};
use super::model::{Assurance, Role, Subject};
use super::otp::OtpPurpose;
use super::policy::Rule;
use super::sessions::{self, ClientInfo, IssuedTokens, SessionSettings};
use super::staff::{self, LockoutSettings, NewBackup, NewGrant, NewStaff};
use crate::http::HttpProblem;
use crate::http::optional_feature::OptionalFeatureResult;
use crate::http::problem::AppError;
use crate::http::{ApiTags, AppResult, JsonBody};
use crate::identity::errors::IdentityProblem;

/// Everything the identity endpoints share.
#[derive(Clone)]
pub struct IdentityApi {
    pub pool: Pool,
    pub gate: Gate,
    pub citizens: Citizens,
    pub enterprises: Option<Enterprises>,
    pub sessions: SessionSettings,
    pub lockout: LockoutSettings,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtpRequest {
    /// Mainland mobile number (+86 optional).
    pub phone: String,
    pub purpose: OtpPurpose,
}

#[derive(Debug, Clone, Object)]
pub struct OtpSentView {
    pub expires_at: DateTime<Utc>,
    /// Seconds before another code may be asked for this phone.
    pub resend_after_seconds: i64,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CitizenRegistration {
    pub phone: String,
    /// The six-digit SMS code (purpose `register`).
    pub code: String,
    /// Real name as on the ID card.
    pub name: String,
    /// 18-character citizen ID number (GB 11643).
    pub id_number: String,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CitizenLogin {
    pub phone: String,
    /// The six-digit SMS code (purpose `login`).
    pub code: String,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaffLogin {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateBinding {
    /// The staff member's certificate chain, leaf first, each as base64 DER or PEM.
    pub certificate_chain: Vec<String>,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnterpriseLogin {
    /// The challenge exactly as issued; its UTF-8 bytes are what was signed.
    pub challenge: String,
    /// The certificate chain, leaf first, each as base64 DER or PEM.
    pub certificate_chain: Vec<String>,
    /// The signature over the challenge by the leaf's key, base64 (RSA PKCS#1 v1.5 or PSS with
    /// SHA-256, ECDSA P-256/P-384 DER or r‖s, SM2 with SM3).
    pub signature: String,
}

#[derive(Debug, Clone, Object)]
pub struct ChallengeView {
    pub challenge: String,
    pub expires_at: DateTime<Utc>,
}

/// A login's or refresh's result.
#[derive(Debug, Clone, Object)]
pub struct TokensView {
    /// Ed25519-signed JWT for `Authorization: Bearer`.
    pub access_token: String,
    pub token_type: String,
    /// Seconds the access token lives.
    pub expires_in: i64,
    /// Single use: each refresh returns a new one; presenting a used one ends the session.
    pub refresh_token: String,
    pub refresh_expires_at: DateTime<Utc>,
    pub session_id: Uuid,
    /// `citizen:<id>`, `enterprise:<id>` or `staff:<id>`.
    pub subject: String,
    /// 1 phone proven, 2 real name verified, 3 certificate.
    pub assurance_level: i16,
    /// After registration: the real-name check's outcome (`verified`, `mismatch`, `not_found`,
    /// `unavailable`).
    #[oai(skip_serializing_if_is_none)]
    pub realname_status: Option<String>,
    /// After certificate login: the enterprise identified.
    #[oai(skip_serializing_if_is_none)]
    pub enterprise: Option<EnterpriseView>,
}

impl TokensView {
    fn from(issued: IssuedTokens) -> TokensView {
        TokensView {
            access_token: issued.access_token,
            token_type: "Bearer".to_owned(),
            expires_in: issued.expires_in,
            refresh_token: issued.refresh_token,
            refresh_expires_at: issued.refresh_expires_at,
            session_id: issued.session_id,
            subject: issued.subject.to_string(),
            assurance_level: issued.assurance.level(),
            realname_status: None,
            enterprise: None,
        }
    }
}

#[derive(Debug, Clone, Object)]
pub struct EnterpriseView {
    /// Unified social credit code (or legacy organisation code).
    pub code: String,
    /// `uscc` or `organisation`.
    pub code_kind: String,
    #[oai(skip_serializing_if_is_none)]
    pub name: Option<String>,
    /// Which certificate field carried the code (certificate login only).
    #[oai(skip_serializing_if_is_none)]
    pub matched_field: Option<String>,
}

#[derive(Debug, Clone, Object)]
pub struct CitizenView {
    pub name: String,
    pub phone: String,
    /// The full number: this view is shown to its owner only.
    pub id_number: String,
    pub realname_status: String,
    pub registered_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Object)]
pub struct GrantView {
    #[oai(nullable)]
    pub id: Option<Uuid>,
    pub role: Role,
    #[oai(skip_serializing_if_is_none)]
    pub department_id: Option<Uuid>,
    #[oai(skip_serializing_if_is_none)]
    pub item_code: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub step: Option<String>,
    /// Held as the AB backup of this staff member, until `until`.
    #[oai(skip_serializing_if_is_none)]
    pub covering_for: Option<Uuid>,
    #[oai(skip_serializing_if_is_none)]
    pub until: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Object)]
pub struct MeView {
    pub subject: String,
    pub assurance_level: i16,
    #[oai(skip_serializing_if_is_none)]
    pub citizen: Option<CitizenView>,
    #[oai(skip_serializing_if_is_none)]
    pub enterprise: Option<EnterpriseView>,
    /// Staff: the roles in force now.
    #[oai(skip_serializing_if_is_empty, default)]
    pub roles: Vec<GrantView>,
}

#[derive(Debug, Clone, Object)]
pub struct SessionsEnded {
    pub sessions_ended: u64,
}

#[derive(Debug, Clone, Object)]
pub struct RealNameResult {
    pub realname_status: String,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewStaffRequest {
    pub username: String,
    pub display_name: String,
    /// At least 10 characters from 3 of: lowercase, uppercase, digits, symbols.
    pub password: String,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantRequest {
    pub role: Role,
    /// Required for department roles; absent for platform_admin, supervisor, observer.
    #[serde(default)]
    #[oai(nullable)]
    pub department_code: Option<String>,
    /// Handling roles only: narrow the grant to one item…
    #[serde(default)]
    #[oai(nullable)]
    pub item_code: Option<String>,
    /// …and one step of it.
    #[serde(default)]
    #[oai(nullable)]
    pub step: Option<String>,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupRequest {
    /// The staff member who covers (B岗).
    pub backup_id: Uuid,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub reason: String,
}

#[derive(Debug, Clone, Object)]
pub struct CreatedId {
    pub id: Uuid,
}

#[derive(Debug, Clone, Object)]
pub struct StaffView {
    pub id: Uuid,
    pub username: String,
    pub display_name: String,
    pub active: bool,
    #[oai(skip_serializing_if_is_none)]
    pub locked_until: Option<DateTime<Utc>>,
    pub roles: Vec<GrantView>,
}

#[derive(ApiResponse)]
pub enum OtpAccepted {
    /// The code is on its way.
    #[oai(status = 202)]
    Accepted(Json<OtpSentView>),
}

#[derive(ApiResponse)]
pub enum Registered {
    #[oai(status = 201)]
    Created(Json<TokensView>),
}

#[derive(ApiResponse)]
pub enum ChallengeIssued {
    #[oai(status = 201)]
    Created(Json<ChallengeView>),
}

#[derive(ApiResponse)]
pub enum Done {
    #[oai(status = 204)]
    NoContent,
}

#[derive(ApiResponse)]
pub enum IdCreated {
    #[oai(status = 201)]
    Created(Json<CreatedId>),
}

fn uuid_param(name: &str, raw: &str) -> AppResult<Uuid> {
    crate::http::path_number(name, raw)
}

impl IdentityApi {
    fn enterprises(&self) -> AppResult<&Enterprises> {
        self.enterprises.as_ref().ok_or_else(|| {
            AppError::new(
                IdentityProblem::CertificateLoginDisabled,
                "certificate login is not configured on this server ([identity.certificates])",
            )
        })
    }

    async fn department_id(&self, code: &str) -> AppResult<Uuid> {
        let db = self.pool.get().await?;
        crate::department::store::find_by_code(&db, code)
            .await?
            .map(|(id, _)| id)
            .ok_or_else(|| {
                AppError::invalid_field(
                    "department_code",
                    HttpProblem::NotFound,
                    "no department with this code",
                )
            })
    }

    /// The rule for granting or revoking a role in `department` (none: platform-wide).
    fn grant_rule(department: Option<Uuid>) -> Rule<'static> {
        department.map_or(Rule::PlatformAdmin, Rule::DepartmentAdmin)
    }
}

#[OpenApi(prefix_path = "/api/v1")]
impl IdentityApi {
    /// 发送短信验证码 — public; limited per phone (1 a minute, 10 a day) and per address.
    #[oai(path = "/auth/otp", method = "post", tag = "ApiTags::App")]
    async fn send_otp(
        &self,
        request: &Request,
        body: JsonBody<OtpRequest>,
    ) -> AppResult<OtpAccepted> {
        let client = ClientInfo::from_request(request);
        let body = body.parse()?;
        let sent = self
            .citizens
            .send_code(&body.phone, body.purpose, &client)
            .await?;
        Ok(OtpAccepted::Accepted(Json(OtpSentView {
            expires_at: sent.expires_at,
            resend_after_seconds: sent.resend_after_seconds,
        })))
    }

    /// 自然人注册 — public; the SMS code proves the phone, the identity authority checks the
    /// name and ID number (L2 on a match, L1 otherwise). Logs the new account in.
    #[oai(path = "/auth/citizen/register", method = "post", tag = "ApiTags::App")]
    async fn register(
        &self,
        request: &Request,
        body: JsonBody<CitizenRegistration>,
    ) -> AppResult<Registered> {
        let client = ClientInfo::from_request(request);
        let b = body.parse()?;
        let (issued, status) = self
            .citizens
            .register(&b.phone, &b.code, &b.name, &b.id_number, &client)
            .await?;
        let mut view = TokensView::from(issued);
        view.realname_status = Some(status.to_owned());
        Ok(Registered::Created(Json(view)))
    }

    /// 短信验证码登录 — public.
    #[oai(path = "/auth/citizen/login", method = "post", tag = "ApiTags::App")]
    async fn citizen_login(
        &self,
        request: &Request,
        body: JsonBody<CitizenLogin>,
    ) -> AppResult<Json<TokensView>> {
        let client = ClientInfo::from_request(request);
        let body = body.parse()?;
        let issued = self
            .citizens
            .login(&body.phone, &body.code, &client)
            .await?;
        Ok(Json(TokensView::from(issued)))
    }

    /// 法人证书登录：获取挑战 — public; a one-time challenge to sign with the certificate key.
    #[oai(
        path = "/auth/enterprise/challenge",
        method = "post",
        tag = "ApiTags::App"
    )]
    async fn enterprise_challenge(&self) -> OptionalFeatureResult<ChallengeIssued> {
        let challenge = self.enterprises()?.challenge().await?;
        Ok(ChallengeIssued::Created(Json(ChallengeView {
            challenge: challenge.challenge,
            expires_at: challenge.expires_at,
        })))
    }

    /// 法人证书登录 — public; the signed challenge and the certificate chain.
    #[oai(path = "/auth/enterprise/login", method = "post", tag = "ApiTags::App")]
    async fn enterprise_login(
        &self,
        request: &Request,
        body: JsonBody<EnterpriseLogin>,
    ) -> OptionalFeatureResult<Json<TokensView>> {
        let client = ClientInfo::from_request(request);
        let b = body.parse()?;
        let (issued, verified) = self
            .enterprises()?
            .login(&b.challenge, &b.certificate_chain, &b.signature, &client)
            .await?;
        let mut view = TokensView::from(issued);
        view.enterprise = Some(enterprise_view(&verified));
        Ok(Json(view))
    }

    /// 法人证书登录（双向TLS） — public, on the certificate-login listener: the TLS handshake
    /// verified the client certificate; this turns it into a session. Elsewhere: 401.
    #[oai(
        path = "/auth/enterprise/mtls-login",
        method = "post",
        tag = "ApiTags::App"
    )]
    async fn enterprise_mtls_login(
        &self,
        request: &Request,
    ) -> OptionalFeatureResult<Json<TokensView>> {
        let enterprises = self.enterprises()?;
        let remote = request.remote_addr();
        if super::certificate::mtls::peer_certificate(remote).is_none() {
            return Err(AppError::new(
                IdentityProblem::ClientCertificateRequired,
                "connect to the certificate-login listener with a client certificate",
            )
            .into());
        }
        let verified = super::certificate::mtls::identify_peer(&enterprises.verifier, remote)
            .map_err(|e| super::enterprises::certificate_refused(&e))?;
        let client = ClientInfo {
            ip: super::certificate::mtls::peer_socket_addr(remote).map(|a| a.ip().to_string()),
            user_agent: ClientInfo::from_request(request).user_agent,
        };
        let issued = enterprises
            .sign_in(&verified, "certificate_mtls", &client)
            .await?;
        let mut view = TokensView::from(issued);
        view.enterprise = Some(enterprise_view(&verified));
        Ok(Json(view))
    }

    /// 工作人员证书登录 — public; a challenge signed with the staff member's bound certificate.
    #[oai(
        path = "/auth/staff/certificate-login",
        method = "post",
        tag = "ApiTags::Staff"
    )]
    async fn staff_certificate_login(
        &self,
        request: &Request,
        body: JsonBody<EnterpriseLogin>,
    ) -> OptionalFeatureResult<Json<TokensView>> {
        let client = ClientInfo::from_request(request);
        let b = body.parse()?;
        let enterprises = self.enterprises()?;
        let (chain, signature) =
            super::enterprises::decode_signed_challenge(&b.certificate_chain, &b.signature)?;
        enterprises.use_challenge(&b.challenge).await?;
        let certificate = enterprises
            .verifier
            .verify_personal_challenge(
                &chain,
                b.challenge.as_bytes(),
                &signature,
                crate::clock::system_time(),
            )
            .await
            .map_err(|e| super::enterprises::certificate_refused(&e))?;
        let issued = staff::certificate_login(
            &self.pool,
            self.gate.signer(),
            self.sessions,
            &certificate,
            &client,
        )
        .await?;
        Ok(Json(TokensView::from(issued)))
    }

    /// 工作人员登录 — public; locks the account after repeated wrong passwords.
    #[oai(path = "/auth/staff/login", method = "post", tag = "ApiTags::Staff")]
    async fn staff_login(
        &self,
        request: &Request,
        body: JsonBody<StaffLogin>,
    ) -> AppResult<Json<TokensView>> {
        let client = ClientInfo::from_request(request);
        let body = body.parse()?;
        let issued = staff::login(
            &self.pool,
            self.gate.signer(),
            self.sessions,
            self.lockout,
            body.username.trim(),
            &body.password,
            &client,
        )
        .await?;
        Ok(Json(TokensView::from(issued)))
    }

    /// 刷新令牌 — public (the refresh token is the credential); rotates the refresh token.
    #[oai(path = "/auth/refresh", method = "post", tag = "ApiTags::App")]
    async fn refresh(&self, body: JsonBody<RefreshRequest>) -> AppResult<Json<TokensView>> {
        let issued = sessions::refresh(
            &self.pool,
            self.gate.signer(),
            self.gate.session_cache(),
            self.sessions,
            &body.parse()?.refresh_token,
        )
        .await?;
        Ok(Json(TokensView::from(issued)))
    }

    /// 退出登录 — any signed-in account; ends this session.
    #[oai(path = "/auth/logout", method = "post", tag = "ApiTags::App")]
    async fn logout(&self, auth: AccessToken) -> AppResult<Done> {
        let principal = self.gate.require(&auth, Rule::Authenticated).await?;
        sessions::end(&self.pool, &principal.subject, principal.session_id).await?;
        self.gate.session_ended(principal.session_id);
        Ok(Done::NoContent)
    }

    /// 退出所有设备 — any signed-in account; ends every session of the account.
    #[oai(path = "/auth/logout-all", method = "post", tag = "ApiTags::App")]
    async fn logout_all(&self, auth: AccessToken) -> AppResult<Json<SessionsEnded>> {
        let principal = self.gate.require(&auth, Rule::Authenticated).await?;
        let ended = sessions::end_all(
            &self.pool,
            &principal.subject,
            "logout_all",
            &principal.actor().0,
        )
        .await?;
        for session in &ended {
            self.gate.session_ended(*session);
        }
        Ok(Json(SessionsEnded {
            sessions_ended: ended.len() as u64,
        }))
    }

    /// 我的账户 — any signed-in account; its own profile (full ID number for its owner only).
    #[oai(path = "/me", method = "get", tag = "ApiTags::App")]
    async fn me(&self, auth: AccessToken) -> AppResult<Json<MeView>> {
        let principal = self.gate.require(&auth, Rule::Authenticated).await?;
        let mut view = MeView {
            subject: principal.subject.to_string(),
            assurance_level: principal.assurance.level(),
            citizen: None,
            enterprise: None,
            roles: principal.grants.iter().map(grant_view).collect(),
        };
        match principal.subject {
            Subject::Citizen(id) => {
                let p = self.citizens.profile(id).await?;
                view.assurance_level = p.assurance;
                view.citizen = Some(CitizenView {
                    name: p.name,
                    phone: p.phone,
                    id_number: p.id_number,
                    realname_status: p.realname_status,
                    registered_at: p.created_at,
                });
            }
            Subject::Enterprise(id) => {
                let (code, code_kind, name) = super::enterprises::profile(&self.pool, id).await?;
                view.enterprise = Some(EnterpriseView {
                    code,
                    code_kind,
                    name,
                    matched_field: None,
                });
            }
            Subject::Staff(_) => {}
        }
        Ok(Json(view))
    }

    /// 重新实名核验 — citizens; asks the identity authority again (after it was unavailable).
    #[oai(path = "/me/realname-check", method = "post", tag = "ApiTags::App")]
    async fn recheck_realname(&self, auth: AccessToken) -> AppResult<Json<RealNameResult>> {
        let principal = self
            .gate
            .require(&auth, Rule::Applicant(Assurance::PhoneProven))
            .await?;
        let Subject::Citizen(id) = principal.subject else {
            return Err(AppError::new(
                IdentityProblem::CitizensOnly,
                "real-name checks are for citizen accounts",
            ));
        };
        let status = self.citizens.recheck_realname(id).await?;
        Ok(Json(RealNameResult {
            realname_status: status.to_owned(),
        }))
    }

    /// 工作人员列表 — platform admin.
    #[oai(path = "/admin/staff", method = "get", tag = "ApiTags::Admin")]
    async fn list_staff(&self, auth: AccessToken) -> AppResult<Json<Vec<StaffView>>> {
        self.gate.require(&auth, Rule::PlatformAdmin).await?;
        Ok(Json(
            staff::list(&self.pool)
                .await?
                .into_iter()
                .map(staff_view)
                .collect(),
        ))
    }

    /// 新建工作人员账号 — platform admin.
    #[oai(path = "/admin/staff", method = "post", tag = "ApiTags::Admin")]
    async fn create_staff(
        &self,
        auth: AccessToken,
        body: JsonBody<NewStaffRequest>,
    ) -> AppResult<IdCreated> {
        let principal = self.gate.require(&auth, Rule::PlatformAdmin).await?;
        let b = body.parse()?;
        let id = staff::create(
            &self.pool,
            &principal.actor(),
            NewStaff {
                username: b.username,
                display_name: b.display_name,
                password: b.password,
            },
        )
        .await?;
        Ok(IdCreated::Created(Json(CreatedId { id })))
    }

    /// 授予角色 — platform admin; a department admin for roles in their own department.
    #[oai(
        path = "/admin/staff/:id/roles",
        method = "post",
        tag = "ApiTags::Admin"
    )]
    async fn grant_role(
        &self,
        auth: AccessToken,
        id: Path<String>,
        body: JsonBody<GrantRequest>,
    ) -> AppResult<IdCreated> {
        let staff_id = uuid_param("id", &id.0)?;
        // Only administrators read the body; which department's is known once it is read.
        self.gate.require(&auth, Rule::SomeAdministrator).await?;
        let b = body.parse()?;
        let department_id = match &b.department_code {
            Some(code) => Some(self.department_id(code).await?),
            None => None,
        };
        let principal = self
            .gate
            .require(&auth, Self::grant_rule(department_id))
            .await?;
        let grant_id = staff::grant(
            &self.pool,
            &principal.actor(),
            staff_id,
            NewGrant {
                role: b.role,
                department_id,
                item_code: b.item_code,
                step: b.step,
            },
        )
        .await?;
        Ok(IdCreated::Created(Json(CreatedId { id: grant_id })))
    }

    /// 撤销角色 — platform admin; a department admin for roles in their own department.
    #[oai(
        path = "/admin/staff/:id/roles/:grant_id",
        method = "delete",
        tag = "ApiTags::Admin"
    )]
    async fn revoke_role(
        &self,
        auth: AccessToken,
        id: Path<String>,
        grant_id: Path<String>,
    ) -> AppResult<Done> {
        let staff_id = uuid_param("id", &id.0)?;
        let grant_id = uuid_param("grant_id", &grant_id.0)?;
        self.gate.require(&auth, Rule::SomeAdministrator).await?;
        let department = staff::grant_department(&self.pool, staff_id, grant_id).await?;
        let principal = self
            .gate
            .require(&auth, Self::grant_rule(department))
            .await?;
        staff::revoke_grant(&self.pool, &principal.actor(), staff_id, grant_id).await?;
        Ok(Done::NoContent)
    }

    /// 指定AB岗 — platform admin, or the admin of every department the principal handles in.
    #[oai(
        path = "/admin/staff/:id/backups",
        method = "post",
        tag = "ApiTags::Admin"
    )]
    async fn designate_backup(
        &self,
        auth: AccessToken,
        id: Path<String>,
        body: JsonBody<BackupRequest>,
    ) -> AppResult<IdCreated> {
        let staff_id = uuid_param("id", &id.0)?;
        let mut principal = self.gate.require(&auth, Rule::SomeAdministrator).await?;
        let b = body.parse()?;
        let departments = staff::handling_departments(&self.pool, staff_id).await?;
        if departments.is_empty() {
            principal = self.gate.require(&auth, Rule::PlatformAdmin).await?;
        }
        for department in departments {
            principal = self
                .gate
                .require(&auth, Rule::DepartmentAdmin(department))
                .await?;
        }
        let designation = staff::designate_backup(
            &self.pool,
            &principal.actor(),
            staff_id,
            NewBackup {
                backup_id: b.backup_id,
                starts_at: b.starts_at,
                ends_at: b.ends_at,
                reason: b.reason,
            },
        )
        .await?;
        Ok(IdCreated::Created(Json(CreatedId { id: designation })))
    }

    /// 绑定工作人员数字证书 — platform admin; the chain must verify (root, validity, CRL).
    #[oai(
        path = "/admin/staff/:id/certificate",
        method = "put",
        tag = "ApiTags::Admin"
    )]
    async fn bind_certificate(
        &self,
        auth: AccessToken,
        id: Path<String>,
        body: JsonBody<CertificateBinding>,
    ) -> OptionalFeatureResult<Done> {
        let staff_id = uuid_param("id", &id.0)?;
        let principal = self.gate.require(&auth, Rule::PlatformAdmin).await?;
        let b = body.parse()?;
        let chain = super::enterprises::decode_chain(&b.certificate_chain)?;
        let certificate = self
            .enterprises()?
            .verifier
            .verify_personal_chain(&chain, crate::clock::system_time())
            .await
            .map_err(|e| super::enterprises::certificate_refused(&e))?;
        staff::bind_certificate(&self.pool, &principal.actor(), staff_id, &certificate).await?;
        Ok(Done::NoContent)
    }

    /// 解除锁定 — platform admin.
    #[oai(
        path = "/admin/staff/:id/unlock",
        method = "post",
        tag = "ApiTags::Admin"
    )]
    async fn unlock_staff(&self, auth: AccessToken, id: Path<String>) -> AppResult<Done> {
        let staff_id = uuid_param("id", &id.0)?;
        let principal = self.gate.require(&auth, Rule::PlatformAdmin).await?;
        staff::unlock(&self.pool, &principal.actor(), staff_id).await?;
        Ok(Done::NoContent)
    }

    /// 停用账号 — platform admin; the account's sessions end at once.
    #[oai(
        path = "/admin/staff/:id/disable",
        method = "post",
        tag = "ApiTags::Admin"
    )]
    async fn disable_staff(&self, auth: AccessToken, id: Path<String>) -> AppResult<Done> {
        let staff_id = uuid_param("id", &id.0)?;
        let principal = self.gate.require(&auth, Rule::PlatformAdmin).await?;
        staff::disable(&self.pool, &principal.actor(), staff_id).await?;
        Ok(Done::NoContent)
    }
}

fn enterprise_view(verified: &super::certificate::VerifiedCertificate) -> EnterpriseView {
    use super::credit_code::EnterpriseCode;
    let (code, kind) = match &verified.enterprise_code {
        EnterpriseCode::Uscc(code) => (code.as_str().to_owned(), "uscc"),
        EnterpriseCode::Organisation(code) => (code.as_str().to_owned(), "organisation"),
    };
    EnterpriseView {
        code,
        code_kind: kind.to_owned(),
        name: verified.organisation_name.clone(),
        matched_field: Some(verified.matched_field.to_owned()),
    }
}

fn grant_view(grant: &super::model::Grant) -> GrantView {
    GrantView {
        id: None,
        role: grant.role,
        department_id: grant.department_id,
        item_code: grant.item_code.clone(),
        step: grant.step.clone(),
        covering_for: grant.covering_for,
        until: grant.until,
    }
}

fn staff_view(record: staff::StaffRecord) -> StaffView {
    StaffView {
        id: record.id,
        username: record.username,
        display_name: record.display_name,
        active: record.active,
        locked_until: record.locked_until,
        roles: record
            .grants
            .into_iter()
            .map(|(id, grant)| GrantView {
                id: Some(id),
                ..grant_view(&grant)
            })
            .collect(),
    }
}

/// Session settings from config.
pub fn session_settings(refresh_days: i64) -> SessionSettings {
    SessionSettings {
        refresh_lifetime: Duration::days(refresh_days),
    }
}
