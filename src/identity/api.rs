//! Login, sessions and the caller's own account (`/api/v1/auth/…`, `/api/v1/me`), and staff
//! administration (`/api/v1/admin/staff…`). Each endpoint states its rule in its first lines.
//!
//! The routes are here, one `#[OpenApi]` impl; what they accept is in `api/requests.rs`, what
//! they show in `api/views.rs`, and the longer steps behind some of them in `api/account.rs`,
//! `api/certificate_login.rs` and `api/staff_admin.rs`.

mod account;
mod certificate_login;
mod requests;
mod staff_admin;
mod views;

pub use requests::{
    BackupRequest, CertificateBinding, CitizenLogin, CitizenRegistration, EnterpriseLogin,
    GrantRequest, NewStaffRequest, OtpRequest, RefreshRequest, StaffLogin,
};
pub use views::{
    ChallengeIssued, ChallengeView, CitizenView, CreatedId, Done, EnterpriseView, GrantView,
    IdCreated, MeView, OtpAccepted, OtpSentView, RealNameResult, Registered, SessionsEnded,
    StaffView, TokensView,
};

use chrono::Duration;
use deadpool_postgres::Pool;
use poem::Request;
use poem_openapi::OpenApi;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use uuid::Uuid;

use super::citizens::Citizens;
use super::enterprises::Enterprises;
use super::gate::{AccessToken, Gate};
use super::model::Assurance;
use super::policy::Rule;
use super::sessions::{self, ClientInfo, SessionSettings};
use super::staff::{self, LockoutSettings};
use crate::http::optional_feature::OptionalFeatureResult;
use crate::http::problem::AppError;
use crate::http::{ApiTags, AppResult, JsonBody};
use crate::identity::errors::IdentityProblem;
use views::{enterprise_view, staff_view};

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
        self.mtls_sign_in(request).await
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
        self.staff_certificate_sign_in(client, b).await
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
        self.end_all_sessions(principal).await
    }

    /// 我的账户 — any signed-in account; its own profile (full ID number for its owner only).
    #[oai(path = "/me", method = "get", tag = "ApiTags::App")]
    async fn me(&self, auth: AccessToken) -> AppResult<Json<MeView>> {
        let principal = self.gate.require(&auth, Rule::Authenticated).await?;
        self.account_view(principal).await
    }

    /// 重新实名核验 — citizens; asks the identity authority again (after it was unavailable).
    #[oai(path = "/me/realname-check", method = "post", tag = "ApiTags::App")]
    async fn recheck_realname(&self, auth: AccessToken) -> AppResult<Json<RealNameResult>> {
        let principal = self
            .gate
            .require(&auth, Rule::Applicant(Assurance::PhoneProven))
            .await?;
        self.recheck_own_realname(principal).await
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
        self.create_staff_account(principal, b).await
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
        self.grant_once_admitted(&auth, staff_id, b).await
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
        let principal = self.gate.require(&auth, Rule::SomeAdministrator).await?;
        let b = body.parse()?;
        self.designate_once_admitted(&auth, principal, staff_id, b)
            .await
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
        self.bind_verified_certificate(principal, staff_id, b).await
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

/// Session settings from config.
pub fn session_settings(refresh_days: i64) -> SessionSettings {
    SessionSettings {
        refresh_lifetime: Duration::days(refresh_days),
    }
}
