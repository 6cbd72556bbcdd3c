//! Enterprise certificates on the TLS handshake (mutual TLS).
//!
//! rustls verifies client certificates synchronously, so [`client_cert_verifier`] runs the
//! verifier's chain checks with CRLs from files and from the cache only
//! ([`CertificateVerifier::verify_chain_cached`]); a periodic [`CertificateVerifier::refresh_crls`]
//! keeps distribution-point CRLs current. SM2 certificates cannot be used here: rustls has no
//! SM2 TLS signature schemes.
//!
//! poem gives a handler no per-connection data except the remote address, so [`MtlsAcceptor`]
//! reports the remote address as
//! `Addr::Custom("mtls", "<peer socket address> <base64 DER>,<base64 DER>…")` (the client's chain,
//! leaf first); [`peer_certificate_chain`], [`peer_certificate`] and [`peer_socket_addr`] read it
//! back, and [`identify_peer`] turns it into the [`VerifiedCertificate`].

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use base64::Engine as _;
use chrono::{TimeZone, Utc};
use poem::listener::Acceptor;
use poem::web::{LocalAddr, RemoteAddr};
use poem::{Addr, http::uri::Scheme};
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;

use super::{CertificateError, CertificateVerifier, VerifiedCertificate};

/// The `Addr::Custom` kind of connections accepted by [`MtlsAcceptor`].
pub const PEER_ADDR_KIND: &str = "mtls";
/// A client that has not finished its handshake by then is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

struct EnterpriseClientCertVerifier {
    verifier: Arc<CertificateVerifier>,
    hints: Vec<DistinguishedName>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl fmt::Debug for EnterpriseClientCertVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnterpriseClientCertVerifier")
            .field("hints", &self.hints.len())
            .finish()
    }
}

fn to_rustls_error(error: CertificateError) -> rustls::Error {
    use rustls::CertificateError as R;
    let mapped = match error {
        CertificateError::Expired { .. } => R::Expired,
        CertificateError::NotYetValid { .. } => R::NotValidYet,
        CertificateError::Revoked { .. } => R::Revoked,
        CertificateError::Untrusted(_) => R::UnknownIssuer,
        CertificateError::ChainSignatureInvalid { .. } => R::BadSignature,
        CertificateError::CrlUnavailable { .. } => R::UnknownRevocationStatus,
        CertificateError::CrlStale { .. } => R::ExpiredRevocationList,
        other => R::Other(rustls::OtherError(Arc::new(other))),
    };
    rustls::Error::InvalidCertificate(mapped)
}

impl ClientCertVerifier for EnterpriseClientCertVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.hints
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let now = i64::try_from(now.as_secs())
            .ok()
            .and_then(|secs| Utc.timestamp_opt(secs, 0).single())
            .ok_or(rustls::Error::FailedToGetCurrentTime)?;
        let chain: Vec<Vec<u8>> = std::iter::once(end_entity)
            .chain(intermediates)
            .map(|c| c.as_ref().to_vec())
            .collect();
        self.verifier
            .verify_chain_cached(&chain, now)
            .map(|_| ClientCertVerified::assertion())
            .map_err(to_rustls_error)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// A rustls client certificate verifier doing the [`CertificateVerifier`]'s chain checks
/// (cached/file CRLs only). Client authentication is mandatory.
pub fn client_cert_verifier(verifier: Arc<CertificateVerifier>) -> Arc<dyn ClientCertVerifier> {
    let hints = verifier
        .anchor_subjects()
        .into_iter()
        .map(DistinguishedName::from)
        .collect();
    Arc::new(EnterpriseClientCertVerifier {
        verifier,
        hints,
        algorithms: rustls::crypto::ring::default_provider().signature_verification_algorithms,
    })
}

/// A TLS server configuration (ring provider) that requires an enterprise client certificate.
pub fn server_config(
    verifier: Arc<CertificateVerifier>,
    server_chain: Vec<CertificateDer<'static>>,
    server_key: PrivateKeyDer<'static>,
) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_client_cert_verifier(client_cert_verifier(verifier))
        .with_single_cert(server_chain, server_key)
        .context("the server certificate and key")?;
    Ok(Arc::new(config))
}

type Accepted = (TlsStream<TcpStream>, LocalAddr, RemoteAddr);

/// A poem acceptor for mutual TLS. Handshakes run in their own tasks (a slow client does not
/// hold up the others); only connections whose client certificate verified are handed to poem,
/// with the leaf certificate in the remote address.
pub struct MtlsAcceptor {
    local: Vec<LocalAddr>,
    incoming: mpsc::Receiver<Accepted>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for MtlsAcceptor {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves TLS with `config` (see [`server_config`]) on `listener`.
pub fn mtls_acceptor(
    listener: TcpListener,
    config: Arc<rustls::ServerConfig>,
) -> std::io::Result<MtlsAcceptor> {
    let local_addr = listener.local_addr()?;
    let (sender, incoming) = mpsc::channel::<Accepted>(64);
    let tls = tokio_rustls::TlsAcceptor::from(config);
    let task = tokio::spawn(async move {
        loop {
            let (stream, peer) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "mTLS accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let tls = tls.clone();
            let sender = sender.clone();
            tokio::spawn(async move {
                let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.accept(stream)).await;
                let stream = match handshake {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(error)) => {
                        tracing::info!(%peer, %error, "mTLS handshake refused");
                        return;
                    }
                    Err(_) => {
                        tracing::info!(%peer, "mTLS handshake timed out");
                        return;
                    }
                };
                let chain: Vec<String> = stream
                    .get_ref()
                    .1
                    .peer_certificates()
                    .unwrap_or_default()
                    .iter()
                    .map(|cert| base64::engine::general_purpose::STANDARD.encode(cert))
                    .collect();
                if chain.is_empty() {
                    return;
                }
                let remote = RemoteAddr(Addr::Custom(
                    PEER_ADDR_KIND,
                    format!("{peer} {}", chain.join(",")).into(),
                ));
                let _ = sender
                    .send((stream, LocalAddr(Addr::SocketAddr(local_addr)), remote))
                    .await;
            });
        }
    });
    Ok(MtlsAcceptor {
        local: vec![LocalAddr(Addr::SocketAddr(local_addr))],
        incoming,
        task,
    })
}

impl Acceptor for MtlsAcceptor {
    type Io = TlsStream<TcpStream>;

    fn local_addr(&self) -> Vec<LocalAddr> {
        self.local.clone()
    }

    async fn accept(&mut self) -> std::io::Result<(Self::Io, LocalAddr, RemoteAddr, Scheme)> {
        match self.incoming.recv().await {
            Some((stream, local, remote)) => Ok((stream, local, remote, Scheme::HTTPS)),
            None => Err(std::io::Error::other("the mTLS listener stopped")),
        }
    }
}

fn custom_parts(remote: &RemoteAddr) -> Option<(&str, &str)> {
    match &remote.0 {
        Addr::Custom(kind, value) if *kind == PEER_ADDR_KIND => value.split_once(' '),
        _ => None,
    }
}

/// The client's certificate chain (DER, leaf first, as it sent it) of a request accepted by
/// [`MtlsAcceptor`].
pub fn peer_certificate_chain(remote: &RemoteAddr) -> Option<Vec<Vec<u8>>> {
    let (_, encoded) = custom_parts(remote)?;
    encoded
        .split(',')
        .map(|c| base64::engine::general_purpose::STANDARD.decode(c).ok())
        .collect()
}

/// The DER of the verified client leaf certificate of a request accepted by [`MtlsAcceptor`].
pub fn peer_certificate(remote: &RemoteAddr) -> Option<Vec<u8>> {
    peer_certificate_chain(remote)?.into_iter().next()
}

/// The enterprise behind a request accepted by [`MtlsAcceptor`]: re-runs the (cached-CRL) chain
/// checks on the chain from the handshake and reads the enterprise code.
pub fn identify_peer(
    verifier: &CertificateVerifier,
    remote: &RemoteAddr,
) -> Result<VerifiedCertificate, CertificateError> {
    let chain = peer_certificate_chain(remote).ok_or_else(|| {
        CertificateError::Malformed("the connection carries no client certificate".to_owned())
    })?;
    verifier.verify_chain_cached(&chain, crate::clock::system_time())
}

/// The client's socket address of a request accepted by [`MtlsAcceptor`].
pub fn peer_socket_addr(remote: &RemoteAddr) -> Option<SocketAddr> {
    custom_parts(remote)?.0.parse().ok()
}
