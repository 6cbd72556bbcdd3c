//! The optional second listener for certificate login by TLS client authentication: a browser
//! with a USB key connects, the handshake verifies the enterprise certificate (chain, key usage,
//! cached CRLs), and `POST /api/v1/auth/enterprise/mtls-login` turns the verified certificate
//! into a session. The listener serves the same routes as the main one.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use poem::listener::Acceptor;
use rustls::pki_types::PrivateKeyDer;
use rustls::pki_types::pem::PemObject;

use super::certificate::CertificateVerifier;
use super::certificate::mtls;
use super::config::MtlsListenerConfig;

/// Binds the mTLS listener; returns its acceptor and bound address.
pub async fn bind(
    config: &MtlsListenerConfig,
    verifier: Arc<CertificateVerifier>,
) -> anyhow::Result<(mtls::MtlsAcceptor, SocketAddr)> {
    let chain = crate::tls::read_pem_certificates(&config.certificate_file).with_context(|| {
        format!(
            "mTLS server certificate {}",
            config.certificate_file.display()
        )
    })?;
    let key = PrivateKeyDer::from_pem_file(&config.key_file)
        .with_context(|| format!("mTLS server key {}", config.key_file.display()))?;
    let server = mtls::server_config(verifier, chain, key)?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding the mTLS listener on {}", config.listen))?;
    let acceptor = mtls::mtls_acceptor(listener, server).context("mTLS acceptor")?;
    let address = acceptor
        .local_addr()
        .first()
        .and_then(|a| a.as_socket_addr().copied())
        .context("mTLS listener address")?;
    Ok((acceptor, address))
}

/// Refreshes the CRLs the verifier caches, so the synchronous checks of TLS handshakes (which
/// cannot fetch) and the challenge logins see fresh revocation lists. Every instance keeps its
/// own cache, so every instance runs this (no advisory lock).
pub fn spawn_crl_refresh(
    verifier: Arc<CertificateVerifier>,
    every: Duration,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(every);
        loop {
            tokio::select! {
                _ = interval.tick() => verifier.refresh_crls().await,
                changed = shutdown.changed() => {
                    if changed.is_err() || *shutdown.borrow() {
                        return;
                    }
                }
            }
        }
    })
}
