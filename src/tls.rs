//! rustls (with ring) client configuration shared by every outbound TLS connection: the external
//! database, and the HTTP clients of SMS, push and identity providers.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// Every certificate of a PEM file; an empty file is an error (a CA file must trust something).
pub fn read_pem_certificates(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .with_context(|| format!("reading the CA file {}", path.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("parsing the CA file {}", path.display()))?;
    anyhow::ensure!(
        !certs.is_empty(),
        "the CA file {} holds no certificate",
        path.display()
    );
    Ok(certs)
}

/// Trusts the system's roots plus, optionally, the CA certificates in a PEM file.
pub fn client_config(ca_file: Option<&Path>) -> anyhow::Result<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for cert in native.certs {
        // A system certificate rustls cannot parse is skipped, not fatal.
        let _ = roots.add(cert);
    }
    if let Some(path) = ca_file {
        for cert in read_pem_certificates(path)? {
            roots.add(cert).context("adding a CA certificate")?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// Makes ring the process-wide rustls crypto provider (reqwest is built without one, so that
/// aws-lc never enters the build). Idempotent.
pub fn install_crypto_provider() {
    // An error only means a provider is already installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// An HTTP client over rustls with a timeout on every request; HTTP/2 is negotiated by ALPN.
pub fn http_client(timeout: Duration) -> anyhow::Result<reqwest::Client> {
    install_crypto_provider();
    reqwest::Client::builder()
        .use_preconfigured_tls(client_config(None)?)
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .build()
        .context("building the HTTP client")
}
