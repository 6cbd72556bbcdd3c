//! Login throughput: enterprise certificate logins (challenge, then the signed challenge with the
//! full chain and CRL checks, caches warm) and citizen SMS-code logins (code, then login) per
//! second under concurrent load, beside `/healthz` requests per second measured in the same run
//! against the same release server (its own process, as in `catalog_load`, on an embedded
//! cluster owned by the bench).
//!
//! `cargo bench --bench identity_login` (env: BENCH_SECONDS, BENCH_CONCURRENCY, BENCH_CITIZENS).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/mod.rs"]
mod support;

#[path = "../tests/support/fakes/crl_server.rs"]
mod crl_server;

use std::collections::BTreeMap;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use fingertip::db::embedded::EmbeddedCluster;
use fingertip::identity::citizen_id::check_character;
use fingertip::identity::credit_code::{CreditCode, LegacyOrganisationCode};
use ring::rand::SystemRandom;
use ring::signature::{self as ring_sig, EcdsaKeyPair, RsaKeyPair};
use serde_json::{Value, json};
use support::{connect, create_databases, env_or, start_server};

use crl_server::CrlServer;

/// Where the dev certificates say their CRLs are; rewritten to the bench's CRL server.
const DP_BASE: &str = "http://127.0.0.1:18080/crl/";
const WARM_UP_SECONDS: u64 = 2;

fn dev(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("certs/dev")
        .join(name)
}

fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

/// The server's configuration: certificate login against the dev PKI with CRLs from the
/// distribution points (rewritten to `crl_base`), SMS-code limits raised so that one client
/// machine can log in thousands of times a minute, and no dispatch worker.
fn write_config(dir: &Path, crl_base: &str) -> PathBuf {
    let text = format!(
        r#"
[notify]
dispatch = false
per_address_hourly_limit = 1000000000

[identity.otp]
resend_seconds = 0
per_phone_daily = 1000000000
per_ip_hourly = 1000000000

[identity.certificates]
trust_anchors = [{root}]
crl_from_distribution_points = true
require_crl = true
fail_if_crl_stale = true
check_intermediate_revocation = true

[identity.certificates.crl_url_rewrite]
{from} = {to}
"#,
        root = toml_string(&dev("root-ca.pem").display().to_string()),
        from = toml_string(DP_BASE),
        to = toml_string(crl_base),
    );
    let path = dir.join("fingertip.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// What every worker shares: one keep-alive client per worker, each from its own loopback
/// address (127.0.0.10+w), as distinct users come: the per-address code count the server makes
/// on every send (`otp_code` rows of this address in the last hour) stays per client instead
/// of one count growing with the whole run.
struct Ctx {
    base: String,
    clients: Vec<reqwest::Client>,
    /// The bench's own connections, for reading the codes from the outbox.
    db: deadpool_postgres::Pool,
}

impl Ctx {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn post(&self, worker: usize, path: &str, body: &Value) -> (u16, bytes::Bytes) {
        let response = self.clients[worker]
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.bytes().await.unwrap())
    }

    /// The newest code sent to `phone`. The query of `tests/api/identity.rs` (`notification
    /// WHERE phone = $1`) scans the whole table, which holds every code of the run; the
    /// delivery's (channel, address, created_at) index finds the same row directly.
    async fn code_sent_to(&self, phone: &str) -> String {
        let db = self.db.get().await.unwrap();
        let row = db
            .query_one(
                "SELECT n.variables->>'code' FROM notification_delivery d
                   JOIN notification n ON n.id = d.notification_id
                  WHERE d.channel = 'sms' AND d.address = $1
                  ORDER BY d.created_at DESC LIMIT 1",
                &[&phone],
            )
            .await
            .unwrap();
        row.get(0)
    }
}

struct Measured {
    ops: u64,
    seconds: f64,
    p50_ms: f64,
    p99_ms: f64,
}

impl Measured {
    fn rate(&self) -> f64 {
        self.ops as f64 / self.seconds
    }
}

/// `concurrency` workers run `op(worker, iteration)` back to back for `seconds`; each op
/// asserts its own success.
async fn measure<F, Fut>(concurrency: usize, seconds: u64, op: F) -> Measured
where
    F: Fn(usize, usize) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut workers = Vec::new();
    for w in 0..concurrency {
        let (op, stop) = (op.clone(), stop.clone());
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                op(w, i).await;
                latencies.push(t.elapsed().as_secs_f64() * 1000.0);
                i += 1;
            }
            latencies
        }));
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.await.unwrap());
    }
    let seconds = started.elapsed().as_secs_f64();
    all.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0.0)
    };
    Measured {
        ops: all.len() as u64,
        seconds,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
    }
}

/// Samples what the server's database sessions are doing (`pg_stat_activity`, every 100 ms)
/// while a figure is measured: where the time of a login goes inside PostgreSQL.
struct WaitSampler {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<(u64, BTreeMap<String, u64>)>,
}

impl WaitSampler {
    async fn start(cs: &str) -> WaitSampler {
        let db = connect(cs).await;
        let stop = Arc::new(AtomicBool::new(false));
        let stop_task = stop.clone();
        let task = tokio::spawn(async move {
            let (mut samples, mut seen) = (0, BTreeMap::new());
            while !stop_task.load(Ordering::Relaxed) {
                let rows = db
                    .query(
                        "SELECT CASE WHEN state = 'active'
                                     THEN coalesce(wait_event_type || ':' || wait_event, 'CPU')
                                     ELSE 'idle in transaction' END
                           FROM pg_stat_activity
                          WHERE application_name = 'fingertip'
                            AND state IN ('active', 'idle in transaction')",
                        &[],
                    )
                    .await
                    .unwrap();
                samples += 1;
                for row in rows {
                    *seen.entry(row.get::<_, String>(0)).or_insert(0) += 1;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            (samples, seen)
        });
        WaitSampler { stop, task }
    }

    /// "`n` busy on average: Lock:transactionid 60%, IO:WALSync 20%, ..." (top four): sessions
    /// running a statement (`CPU` or what it waits for) or in a transaction waiting for the
    /// server's next statement (`idle in transaction`).
    async fn finish(self) -> String {
        self.stop.store(true, Ordering::Relaxed);
        let (samples, seen) = self.task.await.unwrap();
        let total: u64 = seen.values().sum();
        let mut top: Vec<_> = seen.into_iter().collect();
        top.sort_by_key(|entry| std::cmp::Reverse(entry.1));
        let parts: Vec<String> = top
            .iter()
            .take(4)
            .map(|(what, n)| format!("{what} {:.0}%", 100.0 * *n as f64 / total.max(1) as f64))
            .collect();
        format!(
            "{:.1} of the server's DB sessions busy on average: {}",
            total as f64 / samples.max(1) as f64,
            parts.join(", ")
        )
    }
}

/// Warm-up, then the measured run with the server's database sessions sampled.
async fn warm_and_measure<F, Fut>(
    cs: &str,
    concurrency: usize,
    seconds: u64,
    op: F,
) -> (Measured, String)
where
    F: Fn(usize, usize) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    measure(concurrency, WARM_UP_SECONDS, op.clone()).await;
    let sampler = WaitSampler::start(cs).await;
    let measured = measure(concurrency, seconds, op).await;
    (measured, sampler.finish().await)
}

/// A leaf's key, the chains the clients send (base64 DER, leaf first: one per enterprise, all
/// with the same key), and the enterprise codes the server must find in them.
struct Enterprise {
    label: &'static str,
    key: EnterpriseKey,
    chains: Vec<Vec<String>>,
    codes: Vec<String>,
    /// Client-side signing time, summed over all workers (nanoseconds) and counted.
    sign_nanos: AtomicU64,
    signs: AtomicU64,
}

enum EnterpriseKey {
    Ecdsa(EcdsaKeyPair),
    Rsa(RsaKeyPair),
}

impl Enterprise {
    /// `leaf` itself, carrying `code`, and `extra` more enterprises minted from it (see
    /// [`mint`]).
    fn load(label: &'static str, leaf: &str, code: &str, extra: usize) -> Enterprise {
        let pkcs8 = std::fs::read(dev(&format!("{leaf}.key.der"))).unwrap();
        let key = match RsaKeyPair::from_pkcs8(&pkcs8) {
            Ok(rsa) => EnterpriseKey::Rsa(rsa),
            Err(_) => EnterpriseKey::Ecdsa(
                EcdsaKeyPair::from_pkcs8(
                    &ring_sig::ECDSA_P256_SHA256_ASN1_SIGNING,
                    &pkcs8,
                    &SystemRandom::new(),
                )
                .unwrap(),
            ),
        };
        let leaf_der = std::fs::read(dev(&format!("{leaf}.der"))).unwrap();
        let intermediate = STANDARD.encode(std::fs::read(dev("intermediate-ca.der")).unwrap());
        let ca_key =
            RsaKeyPair::from_pkcs8(&std::fs::read(dev("intermediate-ca.key.der")).unwrap())
                .unwrap();
        let mut chains = vec![vec![STANDARD.encode(&leaf_der), intermediate.clone()]];
        let mut codes = vec![code.to_owned()];
        for i in 0..extra {
            let new_code = credit_code_like(code, i);
            let minted = mint(&leaf_der, code, &new_code, i, &ca_key);
            chains.push(vec![STANDARD.encode(minted), intermediate.clone()]);
            codes.push(new_code);
        }
        Enterprise {
            label,
            key,
            chains,
            codes,
            sign_nanos: AtomicU64::new(0),
            signs: AtomicU64::new(0),
        }
    }

    /// The challenge signed as a client would (RSA PKCS#1 v1.5 SHA-256 / ECDSA DER).
    fn sign(&self, message: &[u8]) -> String {
        let started = Instant::now();
        let rng = SystemRandom::new();
        let signature = match &self.key {
            EnterpriseKey::Ecdsa(ec) => ec.sign(&rng, message).unwrap().as_ref().to_vec(),
            EnterpriseKey::Rsa(rsa) => {
                let mut signature = vec![0; rsa.public().modulus_len()];
                rsa.sign(&ring_sig::RSA_PKCS1_SHA256, &rng, message, &mut signature)
                    .unwrap();
                signature
            }
        };
        self.sign_nanos
            .fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
        self.signs.fetch_add(1, Ordering::Relaxed);
        STANDARD.encode(signature)
    }

    fn mean_sign_micros(&self) -> f64 {
        self.sign_nanos.load(Ordering::Relaxed) as f64
            / self.signs.load(Ordering::Relaxed).max(1) as f64
            / 1000.0
    }
}

/// One certificate login: a challenge, then the chain and the signed challenge. Returns the
/// login response body.
async fn certificate_login(
    ctx: &Ctx,
    worker: usize,
    enterprise: &Enterprise,
    which: usize,
) -> bytes::Bytes {
    let response = ctx.clients[worker]
        .post(ctx.url("/api/v1/auth/enterprise/challenge"))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = response.bytes().await.unwrap();
    assert_eq!(status, 201, "challenge: {}", String::from_utf8_lossy(&body));
    let issued: Value = serde_json::from_slice(&body).unwrap();
    let challenge = issued["challenge"].as_str().unwrap();
    let signature = enterprise.sign(challenge.as_bytes());
    let (status, body) = ctx
        .post(
            worker,
            "/api/v1/auth/enterprise/login",
            &json!({
                "challenge": challenge,
                "certificate_chain": enterprise.chains[which],
                "signature": signature,
            }),
        )
        .await;
    assert_eq!(
        status,
        200,
        "{} login: {}",
        enterprise.label,
        String::from_utf8_lossy(&body)
    );
    body
}

/// A valid unified social credit code in the region of `template` (its first 8 characters),
/// with a valid embedded organisation code `MB<6 digits><check>` numbered by `i`.
fn credit_code_like(template: &str, i: usize) -> String {
    let body = format!("MB{:06}", i);
    let organisation = "0123456789X"
        .chars()
        .map(|c| format!("{body}{c}"))
        .find(|candidate| LegacyOrganisationCode::parse(candidate).is_ok())
        .unwrap();
    let prefix = format!("{}{organisation}", &template[..8]);
    let code = format!(
        "{prefix}{}",
        CreditCode::check_character_for(&prefix).unwrap()
    );
    CreditCode::parse(&code).unwrap();
    code
}

/// DER tag-length header at `pos`: (header length, content length).
fn der_header(der: &[u8], pos: usize) -> (usize, usize) {
    let first = der[pos + 1] as usize;
    if first < 0x80 {
        return (2, first);
    }
    let n = first & 0x7f;
    let length = der[pos + 2..pos + 2 + n]
        .iter()
        .fold(0, |acc, &b| (acc << 8) | b as usize);
    (2 + n, length)
}

/// Another enterprise's certificate, issued by the dev intermediate CA: `leaf` with every
/// occurrence of `code` replaced by `new_code` (same length, so the DER keeps its shape) and
/// the serial number changed, re-signed with the intermediate's key (sha256WithRSAEncryption,
/// as the dev PKI signs). The leaf key stays the same.
fn mint(leaf: &[u8], code: &str, new_code: &str, i: usize, ca_key: &RsaKeyPair) -> Vec<u8> {
    let (outer_header, _) = der_header(leaf, 0);
    let (tbs_header, tbs_length) = der_header(leaf, outer_header);
    let tbs_range = outer_header..outer_header + tbs_header + tbs_length;
    let mut cert = leaf.to_vec();
    let tbs = &mut cert[tbs_range.clone()];
    let (from, to) = (code.as_bytes(), new_code.as_bytes());
    let mut replaced = 0;
    let mut at = 0;
    while at + from.len() <= tbs.len() {
        if &tbs[at..at + from.len()] == from {
            tbs[at..at + from.len()].copy_from_slice(to);
            replaced += 1;
            at += from.len();
        } else {
            at += 1;
        }
    }
    assert!(replaced > 0, "the leaf carries {code}");
    // TBSCertificate ::= SEQUENCE { [0] version, serialNumber INTEGER, ... }
    let version_at = tbs_header;
    assert_eq!(tbs[version_at], 0xa0);
    let (h, l) = der_header(tbs, version_at);
    let serial_at = version_at + h + l;
    assert_eq!(tbs[serial_at], 0x02);
    let (h, l) = der_header(tbs, serial_at);
    // The dev CA numbers its certificates consecutively (and revokes one of them): change a
    // middle byte, not the last.
    tbs[serial_at + h + l / 2] ^= (i % 255 + 1) as u8;
    let mut signature = vec![0; ca_key.public().modulus_len()];
    ca_key
        .sign(
            &ring_sig::RSA_PKCS1_SHA256,
            &SystemRandom::new(),
            &cert[tbs_range],
            &mut signature,
        )
        .unwrap();
    // The signature BIT STRING is the certificate's last element; same key, same length.
    let end = cert.len();
    cert[end - signature.len()..].copy_from_slice(&signature);
    cert
}

/// A valid GB 11643 number: Beijing Chaoyang (110105), born in 1990, sequence from `i`.
fn citizen_id(i: usize) -> String {
    let first17 = format!(
        "1101051990{:02}{:02}{:03}",
        1 + (i / 1000) / 28 % 12,
        1 + (i / 1000) % 28,
        i % 1000
    );
    let check = check_character(first17.as_bytes()).unwrap();
    format!("{first17}{check}")
}

fn phone(i: usize) -> String {
    format!("1390{:07}", i)
}

/// Sends a code for `phone` and returns it, as read from the outbox.
async fn request_code(ctx: &Ctx, worker: usize, phone: &str, purpose: &str) -> String {
    let (status, body) = ctx
        .post(
            worker,
            "/api/v1/auth/otp",
            &json!({"phone": phone, "purpose": purpose}),
        )
        .await;
    assert_eq!(status, 202, "otp: {}", String::from_utf8_lossy(&body));
    ctx.code_sent_to(phone).await
}

async fn register(ctx: &Ctx, worker: usize, i: usize) {
    let phone = phone(i);
    let code = request_code(ctx, worker, &phone, "register").await;
    let (status, body) = ctx
        .post(
            worker,
            "/api/v1/auth/citizen/register",
            &json!({"phone": phone, "code": code, "name": "张三", "id_number": citizen_id(i)}),
        )
        .await;
    assert_eq!(status, 201, "register: {}", String::from_utf8_lossy(&body));
}

async fn otp_login(ctx: &Ctx, worker: usize, phone: &str) {
    let code = request_code(ctx, worker, phone, "login").await;
    let (status, body) = ctx
        .post(
            worker,
            "/api/v1/auth/citizen/login",
            &json!({"phone": phone, "code": code}),
        )
        .await;
    assert_eq!(status, 200, "login: {}", String::from_utf8_lossy(&body));
}

fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value);
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `what/s: N (0.061× healthz 13,280 req/s)   p50 … p99 …`
fn line(what: &str, m: &Measured, health: &Measured) {
    println!(
        "  {:<52} {:>6} ({:.3}× healthz {} req/s)   p50 {:.2} ms   p99 {:.2} ms",
        format!("{what}:"),
        thousands(m.rate()),
        m.rate() / health.rate(),
        thousands(health.rate()),
        m.p50_ms,
        m.p99_ms
    );
}

#[tokio::main]
async fn main() {
    fingertip::tls::install_crypto_provider();
    let seconds = env_or("BENCH_SECONDS", 10);
    let concurrency = env_or("BENCH_CONCURRENCY", 32) as usize;
    assert!(
        (1..=200).contains(&concurrency),
        "one loopback address per client"
    );
    let phones_per_worker = (env_or("BENCH_CITIZENS", 512) as usize / concurrency).max(1);
    let citizens = phones_per_worker * concurrency;

    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let cluster = EmbeddedCluster::start(&dir.path().join("pg"))
        .await
        .unwrap();
    create_databases(&cluster, &["bench"]).await;
    let crls = CrlServer::start().await;
    let config = write_config(dir.path(), &crls.base_url);
    let server = start_server(
        dir.path(),
        Some(&config),
        Some(&cluster.url("bench")),
        false,
    )
    .await;

    let clients = (0..concurrency)
        .map(|w| {
            reqwest::Client::builder()
                .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 10 + w as u8)))
                .pool_max_idle_per_host(1)
                .build()
                .unwrap()
        })
        .collect();
    let cs = cluster.connection_string("bench");
    let mut bench_db: tokio_postgres::Config = cs.parse().unwrap();
    bench_db.application_name("identity_login bench");
    let ctx = Arc::new(Ctx {
        base: format!("http://127.0.0.1:{}", server.port),
        clients,
        db: fingertip::db::pool_for(bench_db, 8).unwrap(),
    });

    // 1. /healthz, the baseline.
    let (health, _) = {
        let ctx = ctx.clone();
        warm_and_measure(&cs, concurrency, seconds, move |w, _| {
            let ctx = ctx.clone();
            async move {
                let response = ctx.clients[w]
                    .get(ctx.url("/healthz"))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 200);
                response.bytes().await.unwrap();
            }
        })
        .await
    };

    // 2. Certificate logins, ECDSA P-256 and RSA-2048 leaves under the RSA dev intermediate.
    // The dev PKI has one certificate per enterprise code, and logins to one account wait for
    // each other (its row and its audit chain head are locked until commit): so besides the
    // single enterprise, `concurrency` enterprises are minted from each leaf (see `mint`), one
    // per worker. Every certificate logs in once first: that creates the accounts, checks the
    // code the server reads, and fetches both CRLs (the root's, for the intermediate; the
    // intermediate's, for the leaves) into the verifier's cache, which the measured logins
    // must not miss.
    let p256 = Arc::new(Enterprise::load(
        "ECDSA P-256",
        "enterprise-p256-gmt",
        "91110108MA01T6X294",
        concurrency - 1,
    ));
    let rsa = Arc::new(Enterprise::load(
        "RSA-2048",
        "enterprise-rsa-cfca",
        "91440300MA5F3K7Q81",
        concurrency - 1,
    ));
    for enterprise in [&p256, &rsa] {
        for (which, code) in enterprise.codes.iter().enumerate() {
            let first: Value =
                serde_json::from_slice(&certificate_login(&ctx, 0, enterprise, which).await)
                    .unwrap();
            assert_eq!(first["enterprise"]["code"], code.as_str(), "{first}");
        }
    }
    let crl_fetches = || crls.hits("root.crl") + crls.hits("intermediate.crl");
    assert_eq!(crls.hits("root.crl"), 1, "the root's CRL fetched once");
    assert_eq!(
        crls.hits("intermediate.crl"),
        1,
        "the intermediate's CRL once"
    );
    let mut certificate = Vec::new();
    for (enterprise, many) in [(&p256, false), (&p256, true), (&rsa, true)] {
        let (ctx, enterprise_for_op) = (ctx.clone(), enterprise.clone());
        let before = crl_fetches();
        let (m, waits) = warm_and_measure(&cs, concurrency, seconds, move |w, _| {
            let (ctx, enterprise) = (ctx.clone(), enterprise_for_op.clone());
            async move {
                certificate_login(&ctx, w, &enterprise, if many { w } else { 0 }).await;
            }
        })
        .await;
        assert_eq!(crl_fetches(), before, "no CRL fetched while measuring");
        let accounts = if many {
            format!("{concurrency} enterprises")
        } else {
            "1 enterprise".to_owned()
        };
        certificate.push((enterprise.clone(), accounts, m, waits));
    }

    // 3. SMS-code logins. Citizens registered through the API first (code, then name + ID
    // number, checked by the demo real-name provider); each worker then logs its own phones in
    // round-robin, so no two requests in flight share a phone.
    let registration_started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..concurrency {
        let ctx = ctx.clone();
        tasks.push(tokio::spawn(async move {
            for k in 0..phones_per_worker {
                register(&ctx, w, w * phones_per_worker + k).await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let registration_rate = citizens as f64 / registration_started.elapsed().as_secs_f64();
    let (otp, otp_waits) = {
        let ctx = ctx.clone();
        warm_and_measure(&cs, concurrency, seconds, move |w, i| {
            let ctx = ctx.clone();
            async move {
                let phone = phone(w * phones_per_worker + i % phones_per_worker);
                otp_login(&ctx, w, &phone).await;
            }
        })
        .await
    };

    println!(
        "identity_login: {concurrency} concurrent keep-alive clients (one loopback address each), \
         {WARM_UP_SECONDS} s warm-up + {seconds} s measured per figure"
    );
    println!(
        "  {:<52} {:>6}   p50 {:.2} ms   p99 {:.2} ms",
        "/healthz req/s:",
        thousands(health.rate()),
        health.p50_ms,
        health.p99_ms
    );
    for (enterprise, accounts, m, waits) in &certificate {
        line(
            &format!("certificate logins/s ({}, {accounts})", enterprise.label),
            m,
            &health,
        );
        println!("      {waits}");
    }
    line("SMS-code (OTP) logins/s", &otp, &health);
    println!("      {otp_waits}");
    println!(
        "  a certificate login = POST challenge + POST login (2-certificate chain to the dev root, \
         both CRLs checked from the verifier's cache: 0 fetches while measuring); \
         with 1 enterprise all clients log the same account in, with {concurrency} each its own \
         (certificates minted by the bench from the dev leaf, signed by the dev intermediate)"
    );
    for enterprise in [&p256, &rsa] {
        println!(
            "    client-side signing ({}): {:.0} µs per login, in the load generator",
            enterprise.label,
            enterprise.mean_sign_micros()
        );
    }
    println!(
        "  an SMS-code login = POST /auth/otp (purpose login) + code read from the outbox by the \
         bench + POST /auth/citizen/login; {citizens} citizens registered through the API \
         beforehand ({} registrations/s)",
        thousands(registration_rate)
    );
    println!(
        "  server config for this bench: SMS-code limits raised (identity.otp resend_seconds = 0, \
         per_phone_daily and per_ip_hourly = 1e9; notify.per_address_hourly_limit = 1e9); \
         notify.dispatch = false (no dispatcher: the log SMS provider does not compete)"
    );
    drop(server);
    cluster.stop().await.unwrap();
}
