//! Signing in with a certificate: an enterprise over the mutual-TLS listener (the handshake
//! verified the client certificate), and a staff member with a challenge signed by the
//! certificate bound to their account.

use poem::Request;
use poem_openapi::payload::Json;

use super::IdentityApi;
use super::requests::EnterpriseLogin;
use super::views::{TokensView, enterprise_view};
use crate::http::optional_feature::OptionalFeatureResult;
use crate::http::problem::AppError;
use crate::identity::errors::IdentityProblem;
use crate::identity::sessions::ClientInfo;
use crate::identity::staff;

impl IdentityApi {
    /// The enterprise the verified client certificate of this connection names, signed in.
    pub(super) async fn mtls_sign_in(
        &self,
        request: &Request,
    ) -> OptionalFeatureResult<Json<TokensView>> {
        let enterprises = self.enterprises()?;
        let remote = request.remote_addr();
        if crate::identity::certificate::mtls::peer_certificate(remote).is_none() {
            return Err(AppError::new(
                IdentityProblem::ClientCertificateRequired,
                "connect to the certificate-login listener with a client certificate",
            )
            .into());
        }
        let verified =
            crate::identity::certificate::mtls::identify_peer(&enterprises.verifier, remote)
                .map_err(|e| crate::identity::enterprises::certificate_refused(&e))?;
        let client = ClientInfo {
            ip: crate::identity::certificate::mtls::peer_socket_addr(remote)
                .map(|a| a.ip().to_string()),
            user_agent: ClientInfo::from_request(request).user_agent,
        };
        let issued = enterprises
            .sign_in(&verified, "certificate_mtls", &client)
            .await?;
        let mut view = TokensView::from(issued);
        view.enterprise = Some(enterprise_view(&verified));
        Ok(Json(view))
    }

    /// The staff member whose bound certificate signed the challenge, signed in.
    pub(super) async fn staff_certificate_sign_in(
        &self,
        client: ClientInfo,
        b: EnterpriseLogin,
    ) -> OptionalFeatureResult<Json<TokensView>> {
        let enterprises = self.enterprises()?;
        let (chain, signature) = crate::identity::enterprises::decode_signed_challenge(
            &b.certificate_chain,
            &b.signature,
        )?;
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
            .map_err(|e| crate::identity::enterprises::certificate_refused(&e))?;
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
}
