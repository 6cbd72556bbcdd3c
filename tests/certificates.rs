//! Enterprise certificate login against the development PKI in `certs/dev/` (made by
//! `certs/make-dev-pki.sh`): chains, challenges, revocation from files and from a local CRL
//! distribution point, enterprise code extraction.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/fakes/crl_server.rs"]
mod crl_server;
#[path = "support/pki.rs"]
mod pki;

use chrono::{DateTime, Utc};
use fingertip::identity::certificate::{
    CertificateError, CertificateLoginConfig, CertificateVerifier, VerifiedCertificate,
};
use fingertip::identity::credit_code::EnterpriseCode;
use ring::rand::SystemRandom;
use ring::signature::{self as ring_sig, EcdsaKeyPair, RsaKeyPair};

use crl_server::CrlServer;
use pki::{DP_BASE, chain, der, dev, file_config, key, sign, sm2_sign, standard_files};

const CHALLENGE: &[u8] = b"fingertip login challenge 2026-01-01T00:00:00Z nonce=3f9a";

fn now() -> DateTime<Utc> {
    fingertip::clock::system_time()
}

/// Trusts the RSA and SM2 dev roots; CRLs from the distribution points, rewritten to `server`.
fn dp_config(server: &CrlServer) -> CertificateLoginConfig {
    let mut config = CertificateLoginConfig {
        trust_anchors: vec![dev("root-ca.pem"), dev("sm2-root-ca.pem")],
        ..CertificateLoginConfig::default()
    };
    config
        .crl_url_rewrite
        .insert(DP_BASE.to_owned(), server.base_url.clone());
    config
}

async fn login(
    verifier: &CertificateVerifier,
    leaf: &str,
) -> Result<VerifiedCertificate, CertificateError> {
    verifier
        .verify_signed_challenge(&chain(leaf), CHALLENGE, &sign(leaf, CHALLENGE), now())
        .await
}

fn expect_code(
    result: Result<VerifiedCertificate, CertificateError>,
    code: &str,
) -> CertificateError {
    match result {
        Ok(verified) => panic!("expected {code}, the login succeeded: {verified:?}"),
        Err(error) => {
            assert_eq!(error.code(), code, "{error}");
            error
        }
    }
}

#[tokio::test]
async fn every_enterprise_certificate_logs_in_and_is_identified() {
    let server = CrlServer::start().await;
    let verifier = CertificateVerifier::new(&dp_config(&server)).unwrap();
    let cases = [
        (
            "enterprise-rsa-cfca",
            "91440300MA5F3K7Q81",
            "subject CN (CFCA)",
            "RSA",
        ),
        (
            "enterprise-p256-gmt",
            "91110108MA01T6X294",
            "extension 1.2.156.10260.4.1.4",
            "ECDSA P-256",
        ),
        (
            "enterprise-p384-ou",
            "91310115MA1H8W3R5G",
            "subject OU",
            "ECDSA P-384",
        ),
        (
            "enterprise-rsa-legacy",
            "MA5D12340",
            "extension 1.2.86.11.7.1",
            "RSA",
        ),
        (
            "enterprise-sm2",
            "91330106MA27Y8JK99",
            "subject serialNumber",
            "SM2",
        ),
    ];
    for (leaf, code, field, algorithm) in cases {
        let verified = login(&verifier, leaf)
            .await
            .unwrap_or_else(|e| panic!("{leaf}: {} {e}", e.code()));
        assert_eq!(verified.enterprise_code.as_str(), code, "{leaf}");
        assert_eq!(verified.matched_field, field, "{leaf}");
        assert_eq!(verified.key_algorithm, algorithm, "{leaf}");
        assert!(verified.organisation_name.is_some(), "{leaf}");
        let leaf_der = der(leaf);
        assert_eq!(
            verified.fingerprint_sha256,
            hex::encode(ring::digest::digest(&ring::digest::SHA256, &leaf_der))
        );
        assert_eq!(verified.fingerprint_sha256.len(), 64);
        assert!(!verified.serial_hex.is_empty());
        assert!(verified.issuer.contains("DEV"), "{}", verified.issuer);
        assert!(verified.not_after > now());
    }
    let cfca = login(&verifier, "enterprise-rsa-cfca").await.unwrap();
    assert!(matches!(cfca.enterprise_code, EnterpriseCode::Uscc(_)));
    assert_eq!(
        cfca.organisation_name.as_deref(),
        Some("深圳市指尖测试科技有限公司")
    );
    let legacy = login(&verifier, "enterprise-rsa-legacy").await.unwrap();
    assert!(matches!(
        legacy.enterprise_code,
        EnterpriseCode::Organisation(_)
    ));
}

#[tokio::test]
async fn crl_from_the_distribution_point_is_fetched_once_then_cached() {
    let server = CrlServer::start().await;
    let verifier = CertificateVerifier::new(&dp_config(&server)).unwrap();
    login(&verifier, "enterprise-rsa-cfca").await.unwrap();
    assert_eq!(server.hits("intermediate.crl"), 1);
    assert_eq!(
        server.hits("root.crl"),
        1,
        "the intermediate's revocation is checked too"
    );
    login(&verifier, "enterprise-rsa-cfca").await.unwrap();
    login(&verifier, "enterprise-p256-gmt").await.unwrap();
    assert_eq!(
        server.hits("intermediate.crl"),
        1,
        "the second login uses the cache"
    );
    assert_eq!(server.hits("root.crl"), 1);

    // The periodic refresh re-fetches what was fetched before.
    verifier.refresh_crls().await;
    assert_eq!(server.hits("intermediate.crl"), 2);
    assert_eq!(server.hits("root.crl"), 2);
}

#[tokio::test]
async fn revoked_certificate_is_refused_from_the_distribution_point_and_from_a_file() {
    let server = CrlServer::start().await;
    let verifier = CertificateVerifier::new(&dp_config(&server)).unwrap();
    let error = expect_code(
        login(&verifier, "enterprise-revoked").await,
        "certificate_revoked",
    );
    assert!(
        error.to_string().contains("苏州已吊销测试有限公司"),
        "{error}"
    );
    assert_eq!(server.hits("intermediate.crl"), 1);

    for crl in ["intermediate.crl", "intermediate.crl.pem"] {
        let verifier = CertificateVerifier::new(&file_config(&["root.crl", crl])).unwrap();
        expect_code(
            login(&verifier, "enterprise-revoked").await,
            "certificate_revoked",
        );
        login(&verifier, "enterprise-rsa-cfca").await.unwrap();
    }
}

#[tokio::test]
async fn expired_certificate_is_refused() {
    let verifier = CertificateVerifier::new(&standard_files()).unwrap();
    expect_code(
        login(&verifier, "enterprise-expired").await,
        "certificate_expired",
    );
    // The same certificate during its validity passes the chain checks.
    let in_2020 = DateTime::parse_from_rfc3339("2020-06-01T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    expect_code(
        verifier
            .verify_chain(&chain("enterprise-rsa-cfca"), in_2020)
            .await,
        "certificate_not_yet_valid",
    );
}

#[tokio::test]
async fn certificate_from_another_root_is_untrusted() {
    let verifier = CertificateVerifier::new(&standard_files()).unwrap();
    expect_code(
        login(&verifier, "enterprise-wrong-root").await,
        "certificate_untrusted",
    );
    // Without its intermediate the leaf has no path either.
    expect_code(
        verifier
            .verify_chain(&[der("enterprise-rsa-cfca")], now())
            .await,
        "certificate_untrusted",
    );
}

#[tokio::test]
async fn the_root_may_be_sent_and_intermediates_may_come_from_the_config() {
    let verifier = CertificateVerifier::new(&standard_files()).unwrap();
    let mut with_root = chain("enterprise-rsa-cfca");
    with_root.push(der("root-ca"));
    verifier.verify_chain(&with_root, now()).await.unwrap();

    let config = CertificateLoginConfig {
        intermediates: vec![dev("intermediate-ca.pem")],
        ..standard_files()
    };
    let verifier = CertificateVerifier::new(&config).unwrap();
    verifier
        .verify_chain(&[der("enterprise-rsa-cfca")], now())
        .await
        .unwrap();
}

#[tokio::test]
async fn bad_challenge_signatures_are_refused() {
    let verifier = CertificateVerifier::new(&standard_files()).unwrap();
    for leaf in [
        "enterprise-rsa-cfca",
        "enterprise-p256-gmt",
        "enterprise-p384-ou",
        "enterprise-sm2",
    ] {
        // Signed over another message.
        let signature = sign(leaf, b"another challenge");
        expect_code(
            verifier
                .verify_signed_challenge(&chain(leaf), CHALLENGE, &signature, now())
                .await,
            "certificate_bad_signature",
        );
        // Signed by another enterprise's key.
        let other = if leaf == "enterprise-p256-gmt" {
            "enterprise-expired"
        } else {
            "enterprise-p256-gmt"
        };
        expect_code(
            verifier
                .verify_signed_challenge(&chain(leaf), CHALLENGE, &sign(other, CHALLENGE), now())
                .await,
            "certificate_bad_signature",
        );
    }
    expect_code(
        verifier
            .verify_signed_challenge(&chain("enterprise-rsa-cfca"), CHALLENGE, b"", now())
            .await,
        "certificate_bad_signature",
    );
}

#[tokio::test]
async fn pss_fixed_length_ecdsa_and_fixed_sm2_challenges_are_accepted() {
    let verifier = CertificateVerifier::new(&standard_files()).unwrap();
    let rng = SystemRandom::new();

    let rsa = RsaKeyPair::from_pkcs8(&key("enterprise-rsa-cfca")).unwrap();
    let mut pss = vec![0; rsa.public().modulus_len()];
    rsa.sign(&ring_sig::RSA_PSS_SHA256, &rng, CHALLENGE, &mut pss)
        .unwrap();
    verifier
        .verify_signed_challenge(&chain("enterprise-rsa-cfca"), CHALLENGE, &pss, now())
        .await
        .unwrap();

    let ec = EcdsaKeyPair::from_pkcs8(
        &ring_sig::ECDSA_P256_SHA256_FIXED_SIGNING,
        &key("enterprise-p256-gmt"),
        &rng,
    )
    .unwrap();
    let fixed = ec.sign(&rng, CHALLENGE).unwrap();
    assert_eq!(fixed.as_ref().len(), 64);
    verifier
        .verify_signed_challenge(
            &chain("enterprise-p256-gmt"),
            CHALLENGE,
            fixed.as_ref(),
            now(),
        )
        .await
        .unwrap();

    let sm2_fixed = sm2_sign(&key("enterprise-sm2"), CHALLENGE).to_vec();
    assert_eq!(sm2_fixed.len(), 64);
    verifier
        .verify_signed_challenge(&chain("enterprise-sm2"), CHALLENGE, &sm2_fixed, now())
        .await
        .unwrap();
}

#[tokio::test]
async fn stale_crl_is_refused_when_configured_and_accepted_otherwise() {
    let config = file_config(&["root.crl", "intermediate-stale.crl"]);
    assert!(
        config.fail_if_crl_stale,
        "failing on a stale CRL is the default"
    );
    let verifier = CertificateVerifier::new(&config).unwrap();
    let error = expect_code(
        login(&verifier, "enterprise-rsa-cfca").await,
        "certificate_crl_stale",
    );
    assert!(
        error.to_string().contains("intermediate-stale.crl"),
        "{error}"
    );

    let lenient = CertificateLoginConfig {
        fail_if_crl_stale: false,
        ..config
    };
    let verifier = CertificateVerifier::new(&lenient).unwrap();
    login(&verifier, "enterprise-rsa-cfca").await.unwrap();
    // A stale CRL still lists what it lists.
    expect_code(
        login(&verifier, "enterprise-revoked").await,
        "certificate_revoked",
    );
}

#[tokio::test]
async fn a_fresh_distribution_point_crl_wins_over_a_stale_file() {
    let server = CrlServer::start().await;
    let config = CertificateLoginConfig {
        crl_files: vec![dev("intermediate-stale.crl")],
        ..dp_config(&server)
    };
    let verifier = CertificateVerifier::new(&config).unwrap();
    login(&verifier, "enterprise-rsa-cfca").await.unwrap();
    assert_eq!(server.hits("intermediate.crl"), 1);
}

#[tokio::test]
async fn missing_crl_is_refused_when_required() {
    // Distribution points rewritten to a port nobody listens on.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let mut config = CertificateLoginConfig {
        trust_anchors: vec![dev("root-ca.pem")],
        crl_fetch_timeout_seconds: 2,
        ..CertificateLoginConfig::default()
    };
    config
        .crl_url_rewrite
        .insert(DP_BASE.to_owned(), format!("http://{closed}/crl/"));
    let verifier = CertificateVerifier::new(&config).unwrap();
    expect_code(
        login(&verifier, "enterprise-rsa-cfca").await,
        "certificate_crl_unavailable",
    );

    let no_files = file_config(&[]);
    let verifier = CertificateVerifier::new(&no_files).unwrap();
    expect_code(
        login(&verifier, "enterprise-rsa-cfca").await,
        "certificate_crl_unavailable",
    );

    let optional = CertificateLoginConfig {
        require_crl: false,
        ..config
    };
    let verifier = CertificateVerifier::new(&optional).unwrap();
    login(&verifier, "enterprise-rsa-cfca").await.unwrap();
}

#[tokio::test]
async fn a_crl_signed_by_another_ca_does_not_count() {
    // The SM2 intermediate's CRL has another issuer; the RSA intermediate's CRL file is absent.
    let verifier =
        CertificateVerifier::new(&file_config(&["root.crl", "sm2-intermediate.crl"])).unwrap();
    expect_code(
        login(&verifier, "enterprise-rsa-cfca").await,
        "certificate_crl_unavailable",
    );
}

#[tokio::test]
async fn ca_constraints_and_key_usage_are_enforced() {
    let verifier = CertificateVerifier::new(&standard_files()).unwrap();
    expect_code(
        login(&verifier, "enterprise-under-not-a-ca").await,
        "certificate_not_ca",
    );
    expect_code(
        login(&verifier, "enterprise-path-too-long").await,
        "certificate_path_length",
    );
    expect_code(
        login(&verifier, "enterprise-no-digital-signature").await,
        "certificate_key_usage",
    );
}

#[tokio::test]
async fn tampered_certificate_fails_its_chain_signature() {
    let verifier = CertificateVerifier::new(&standard_files()).unwrap();
    let mut tampered = chain("enterprise-rsa-cfca");
    // The last byte belongs to the issuer's signature.
    let last = tampered[0].len() - 1;
    tampered[0][last] ^= 0x01;
    expect_code(
        verifier.verify_chain(&tampered, now()).await,
        "certificate_chain_signature_invalid",
    );
    expect_code(
        verifier
            .verify_chain(&[b"not a certificate".to_vec()], now())
            .await,
        "certificate_malformed",
    );
    expect_code(
        verifier.verify_chain(&[], now()).await,
        "certificate_malformed",
    );
}

#[tokio::test]
async fn extended_key_usage_and_policy_requirements() {
    let config = CertificateLoginConfig {
        extended_key_usage: vec!["1.3.6.1.5.5.7.3.2".to_owned()],
        ..standard_files()
    };
    let verifier = CertificateVerifier::new(&config).unwrap();
    login(&verifier, "enterprise-rsa-cfca").await.unwrap();
    expect_code(
        login(&verifier, "enterprise-rsa-legacy").await,
        "certificate_eku",
    );

    let config = CertificateLoginConfig {
        certificate_policies: vec!["1.2.156.112554.1.1".to_owned()],
        ..standard_files()
    };
    let verifier = CertificateVerifier::new(&config).unwrap();
    login(&verifier, "enterprise-rsa-cfca").await.unwrap();
    expect_code(
        login(&verifier, "enterprise-p256-gmt").await,
        "certificate_policy",
    );
}

#[tokio::test]
async fn enterprise_code_problems_are_reported() {
    let verifier = CertificateVerifier::new(&standard_files()).unwrap();
    let error = expect_code(
        login(&verifier, "enterprise-bad-code").await,
        "certificate_invalid_enterprise_code",
    );
    assert!(error.to_string().contains("expected '3'"), "{error}");
    expect_code(
        login(&verifier, "enterprise-no-code").await,
        "certificate_no_enterprise_code",
    );

    let config = CertificateLoginConfig {
        credit_code_exceptions: vec!["91350100M000100Y4Z".to_owned()],
        ..standard_files()
    };
    let verifier = CertificateVerifier::new(&config).unwrap();
    let verified = login(&verifier, "enterprise-bad-code").await.unwrap();
    assert_eq!(verified.enterprise_code.as_str(), "91350100M000100Y4Z");
}

#[tokio::test]
async fn config_defaults_and_unknown_keys() {
    let config: CertificateLoginConfig = toml::from_str(
        r#"
        trust_anchors = ["/etc/fingertip/ca.pem"]
        [crl_url_rewrite]
        "http://crl.example.cn/" = "http://127.0.0.1:9000/"
        "#,
    )
    .unwrap();
    assert!(config.crl_from_distribution_points);
    assert!(config.fail_if_crl_stale);
    assert!(config.require_crl);
    assert_eq!(config.crl_url_rewrite.len(), 1);
    assert!(toml::from_str::<CertificateLoginConfig>("trust_anchor = []").is_err());
    assert!(CertificateVerifier::new(&CertificateLoginConfig::default()).is_err());
}

mod mutual_tls {
    use std::sync::Arc;

    use fingertip::identity::certificate::CertificateVerifier;
    use fingertip::identity::certificate::mtls;
    use poem::web::{Data, RemoteAddr};
    use poem::{EndpointExt, Route, Server, get, handler};
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    use super::pki::mtls_client;
    use super::{dev, standard_files};

    #[handler]
    fn whoami(remote: &RemoteAddr, verifier: Data<&Arc<CertificateVerifier>>) -> String {
        match mtls::identify_peer(&verifier, remote) {
            Ok(verified) => format!("{} {}", verified.enterprise_code, verified.matched_field),
            Err(error) => format!("error {}", error.code()),
        }
    }

    #[tokio::test]
    async fn an_mtls_request_carries_the_verified_enterprise() {
        fingertip::tls::install_crypto_provider();
        let verifier = Arc::new(CertificateVerifier::new(&standard_files()).unwrap());
        let server_chain: Vec<CertificateDer<'static>> =
            CertificateDer::pem_file_iter(dev("server-localhost.chain.pem"))
                .unwrap()
                .map(|c| c.unwrap())
                .collect();
        let server_key = PrivateKeyDer::from_pem_file(dev("server-localhost.key.pem")).unwrap();
        let config = mtls::server_config(verifier.clone(), server_chain, server_key).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let acceptor = mtls::mtls_acceptor(listener, config).unwrap();
        let app = Route::new().at("/whoami", get(whoami)).data(verifier);
        let server = tokio::spawn(async move {
            let _ = Server::new_with_acceptor(acceptor).run(app).await;
        });
        let url = format!("https://127.0.0.1:{port}/whoami");

        for (name, expected) in [
            (
                "enterprise-rsa-cfca",
                "91440300MA5F3K7Q81 subject CN (CFCA)",
            ),
            (
                "enterprise-p256-gmt",
                "91110108MA01T6X294 extension 1.2.156.10260.4.1.4",
            ),
            ("enterprise-p384-ou", "91310115MA1H8W3R5G subject OU"),
        ] {
            let body = mtls_client(Some(name))
                .get(&url)
                .send()
                .await
                .unwrap_or_else(|e| panic!("{name}: {e:?}"))
                .text()
                .await
                .unwrap();
            assert_eq!(body, expected, "{name}");
        }

        // No client certificate, or one the verifier refuses: no HTTP exchange at all.
        assert!(mtls_client(None).get(&url).send().await.is_err());
        for refused in ["enterprise-revoked", "enterprise-wrong-root"] {
            assert!(
                mtls_client(Some(refused)).get(&url).send().await.is_err(),
                "{refused} was let in"
            );
        }
        // The server still serves good clients afterwards.
        let body = mtls_client(Some("enterprise-rsa-cfca"))
            .get(&url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(body.starts_with("91440300MA5F3K7Q81"), "{body}");
        server.abort();
    }
}
