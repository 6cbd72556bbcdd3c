//! Case submissions per second: complete online applications (three ~10 KB PDF materials
//! uploaded to `POST /api/v1/me/files`, then `POST /api/v1/cases` linking them) under concurrent
//! load, beside `pgbench`'s TPC-B rate on the same cluster in the same run. The release server
//! runs as its own process (as in `identity_login`) with the demo catalog, on an embedded cluster
//! owned by the bench.
//!
//! Both loads run at the same number of clients, twice: 16, where each submission's four
//! commits wait for the WAL one after another and part of the machine stays idle, and 64, where
//! both loads use (nearly) the whole machine, so the ratio compares what each can sustain. Each
//! run prints its idle cores so the reader can see which is which.
//!
//! `cargo bench --bench case_submissions` (env: BENCH_SECONDS per load and round, BENCH_ROUNDS,
//! BENCH_CONCURRENCY (client counts, comma-separated; default 16,64), BENCH_CITIZENS;
//! BENCH_PG_STATEMENTS=1 restarts the cluster with `pg_stat_statements` loaded
//! and prints where the database time of the measured run went; BENCH_PERF=<file> records a
//! system-wide `perf` profile of each run's first measured round into <file>-<clients>; BENCH_COLD=1 skips the lone
//! first submission that fills the server's caches; BENCH_VERBOSE=1 prints pgbench's output;
//! BENCH_CALM_MICROS and BENCH_CALM_WAIT_SECONDS bound the wait for calm file creation, see
//! [`wait_for_calm_file_creation`]).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use fingertip::db::embedded::EmbeddedCluster;
use fingertip::identity::citizen_id::check_character;
use ring::rand::{SecureRandom, SystemRandom};
use serde_json::{Value, json};
use support::{StopOnPanic, connect, create_databases, env_or, pgbench, start_server};

#[path = "support/raw_http.rs"]
mod raw_http;
use raw_http::RawConnection;

const WARM_UP_SECONDS: u64 = 2;
/// The item the bench publishes: three required key materials, PDF only, citizens at L2.
const ITEM: &str = "BENCH-CASE-0001";
const MATERIALS: [&str; 3] = ["application_form", "id_card", "residence_proof"];
/// Size of every uploaded material file.
const FILE_BYTES: usize = 10 * 1024;
const DEMO_ADMIN: &str = "admin";
use support::DEMO_PASSWORD;

/// The server's configuration: SMS-code limits raised so that registering the bench's citizens
/// from one machine is not refused (the bench does not measure codes), and no dispatch worker
/// (the `case.submitted` notices stay in the outbox; sending them is `notify_throughput`'s
/// figure).
fn write_config(dir: &Path) -> PathBuf {
    let text = r#"
[notify]
dispatch = false
per_address_hourly_limit = 1000000000

[identity.otp]
resend_seconds = 0
per_phone_daily = 1000000000
per_ip_hourly = 1000000000
"#;
    let path = dir.join("fingertip.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// What every worker shares: one keep-alive client per worker, each from its own loopback
/// address (127.0.0.10+w), for setting up; the server's address for the measured requests'
/// connections; and the citizens' access tokens.
struct Ctx {
    base: String,
    /// The server, for the measured requests' [`RawConnection`]s.
    server: SocketAddr,
    clients: Vec<reqwest::Client>,
    /// Access tokens of the registered citizens, worker `w` using `tokens[w * per + k]`.
    tokens: Vec<String>,
    per_worker: usize,
    /// Where this run's file contents start, and how many files it has made.
    seed: u64,
    files: AtomicU64,
}

impl Ctx {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn post(
        &self,
        worker: usize,
        path: &str,
        token: Option<&str>,
        body: &Value,
    ) -> (u16, Value) {
        let mut request = self.clients[worker].post(self.url(path)).json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// A new ~10 KB PDF: the header, then bytes no other file of the run has (the store keeps
    /// identical bytes once). They come from splitmix64 over a per-file seed rather than the
    /// system's random source: the load generator shares the machine with what it measures
    /// (as pgbench's client does), and 30 KB of `getrandom` per submission was a measurable
    /// share of its CPU.
    fn pdf(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(FILE_BYTES);
        bytes.extend_from_slice(b"%PDF-1.7\n");
        let mut state = self.seed
            ^ self
                .files
                .fetch_add(1, Ordering::Relaxed)
                .wrapping_mul(0x9E37_79B9_7F4A_7C15);
        while bytes.len() < FILE_BYTES {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            let take = (FILE_BYTES - bytes.len()).min(8);
            bytes.extend_from_slice(&z.to_le_bytes()[..take]);
        }
        bytes
    }

    /// The measured requests' connection for worker `w`: its own loopback address
    /// (127.0.0.10+w), as the registering client had.
    async fn connection(&self, worker: usize) -> RawConnection {
        RawConnection::connect(self.server, worker_address(worker)).await
    }

    /// Uploads one material file; asserts 201 (a new file) and returns its id.
    async fn upload(&self, conn: &mut RawConnection, token: &str) -> String {
        let bearer = format!("Bearer {token}");
        let response = conn
            .post(
                "/api/v1/me/files",
                &[("Authorization", &bearer)],
                "application/pdf",
                &self.pdf(),
            )
            .await;
        let body: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
        assert_eq!(response.status, 201, "upload: {body}");
        body["id"].as_str().unwrap().to_owned()
    }

    /// One complete submission by worker `w`'s `i`-th citizen in turn: three uploads, then the
    /// case. Returns the four requests' latencies (ms).
    async fn submit(&self, conn: &mut RawConnection, worker: usize, i: usize) -> [f64; 4] {
        let token = &self.tokens[worker * self.per_worker + i % self.per_worker];
        let mut phases = [0.0; 4];
        let mut file_ids = Vec::new();
        for phase in phases.iter_mut().take(3) {
            let t = Instant::now();
            file_ids.push(self.upload(conn, token).await);
            *phase = ms(t.elapsed());
        }
        let materials: Vec<Value> = MATERIALS
            .iter()
            .zip(&file_ids)
            .map(|(key, id)| json!({"material_key": key, "file_ids": [id]}))
            .collect();
        let case = json!({
            "item_code": ITEM,
            "form": {"居住地址": "大安市长虹路1号", "申请事由": "性能测试"},
            "materials": materials,
        });
        let (bearer, key) = (format!("Bearer {token}"), uuid::Uuid::new_v4().to_string());
        let t = Instant::now();
        let response = conn
            .post(
                "/api/v1/cases",
                &[("Authorization", &bearer), ("Idempotency-Key", &key)],
                "application/json",
                &serde_json::to_vec(&case).unwrap(),
            )
            .await;
        let body: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
        assert_eq!(response.status, 201, "case: {body}");
        assert_eq!(body["stage"], "pre_review", "{body}");
        phases[3] = ms(t.elapsed());
        phases
    }
}

fn worker_address(worker: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, 10 + worker as u8))
}

/// Microseconds to create one empty file in a new directory under `dir` (500 files, kept): the
/// blob store creates a file per upload, and on ext4 without a journal (as on the machines this
/// was measured on) creating a file after many deletions nearby (a test suite's clusters, the
/// previous bench's) scans past every recently deleted inode — from ~25 µs to ~1 ms each.
fn file_creation_micros(dir: &Path, attempt: u32) -> f64 {
    let probe = dir.join(format!("file-creation-probe-{attempt}"));
    std::fs::create_dir(&probe).unwrap();
    let started = Instant::now();
    for i in 0..500 {
        std::fs::File::create(probe.join(i.to_string())).unwrap();
    }
    started.elapsed().as_secs_f64() * 1e6 / 500.0
}

/// How file creation went before the measurement: the first probe, the last, and how long the
/// bench waited between them.
struct FileCreation {
    first_micros: f64,
    last_micros: f64,
    waited: Duration,
}

/// Waits (at most BENCH_CALM_WAIT_SECONDS, default 420) until creating a file costs at most
/// BENCH_CALM_MICROS (default 80 µs). ext4 without a journal skips inodes deleted in the last
/// 60 s (360 s while their inode-table block is dirty) one by one on every create, so right
/// after a test suite or a previous bench deleted tens of thousands of files, every blob the
/// server writes pays for that harness's clean-up, not for anything a blob store in service
/// does (it deletes nothing). The wait and both probes are printed.
fn wait_for_calm_file_creation(dir: &Path) -> FileCreation {
    let calm = env_or("BENCH_CALM_MICROS", 80) as f64;
    let limit = Duration::from_secs(env_or("BENCH_CALM_WAIT_SECONDS", 420));
    let started = Instant::now();
    let first_micros = file_creation_micros(dir, 0);
    let mut last_micros = first_micros;
    let mut attempt = 0;
    while last_micros > calm && started.elapsed() < limit {
        settle();
        std::thread::sleep(Duration::from_secs(15));
        attempt += 1;
        last_micros = file_creation_micros(dir, attempt);
    }
    FileCreation {
        first_micros,
        last_micros,
        waited: started.elapsed(),
    }
}

/// A random start for the run's file contents.
fn run_seed() -> u64 {
    let mut seed = [0; 8];
    SystemRandom::new().fill(&mut seed).unwrap();
    u64::from_le_bytes(seed)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Latencies of one kind, sorted.
struct Latencies(Vec<f64>);

impl Latencies {
    fn new(mut all: Vec<f64>) -> Latencies {
        all.sort_by(f64::total_cmp);
        Latencies(all)
    }

    fn pct(&self, p: f64) -> f64 {
        let all = &self.0;
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0.0)
    }

    fn mean(&self) -> f64 {
        self.0.iter().sum::<f64>() / self.0.len().max(1) as f64
    }
}

struct Measured {
    submissions: u64,
    seconds: f64,
    whole: Latencies,
    uploads: Latencies,
    case_post: Latencies,
}

impl Measured {
    fn rate(&self) -> f64 {
        self.submissions as f64 / self.seconds
    }
}

/// `concurrency` workers submit back to back for `seconds`; every submission asserts its own
/// success.
async fn measure(ctx: &Arc<Ctx>, concurrency: usize, seconds: u64) -> Measured {
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut workers = Vec::new();
    for w in 0..concurrency {
        let (ctx, stop) = (ctx.clone(), stop.clone());
        workers.push(tokio::spawn(async move {
            let mut out = Vec::new();
            let mut i = 0;
            let mut conn = ctx.connection(w).await;
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                let phases = ctx.submit(&mut conn, w, i).await;
                out.push((ms(t.elapsed()), phases));
                i += 1;
            }
            out
        }));
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let (mut whole, mut uploads, mut case_post) = (Vec::new(), Vec::new(), Vec::new());
    for w in workers {
        for (total, phases) in w.await.unwrap() {
            whole.push(total);
            uploads.extend_from_slice(&phases[..3]);
            case_post.push(phases[3]);
        }
    }
    Measured {
        submissions: whole.len() as u64,
        seconds: started.elapsed().as_secs_f64(),
        whole: Latencies::new(whole),
        uploads: Latencies::new(uploads),
        case_post: Latencies::new(case_post),
    }
}

/// Samples what the server's database sessions are doing (`pg_stat_activity`, every 100 ms)
/// while the submissions are measured; a session waiting on a lock is shown with its statement.
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
                        "SELECT CASE WHEN state <> 'active' THEN 'idle in transaction'
                                     WHEN wait_event_type IS NULL THEN 'CPU'
                                     WHEN wait_event_type = 'Lock'
                                     THEN 'Lock:' || wait_event || coalesce(
                                            (SELECT ' (' || l.mode || ' on '
                                                    || coalesce(l.classid::regclass::text, '?')
                                                    || ' ' || coalesce(l.objid::text, '?') || ')'
                                               FROM pg_locks l
                                              WHERE l.pid = a.pid AND NOT l.granted LIMIT 1), '')
                                          || ' on «'
                                          || left(regexp_replace(query, '[[:space:]]+', ' ', 'g'), 40) || '»'
                                     ELSE wait_event_type || ':' || wait_event END
                           FROM pg_stat_activity a
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

    /// "`n` busy on average: CPU 40%, Lock:object on «COMMIT» 30%, ..." (top six).
    async fn finish(self) -> String {
        self.stop.store(true, Ordering::Relaxed);
        let (samples, seen) = self.task.await.unwrap();
        let total: u64 = seen.values().sum();
        let mut top: Vec<_> = seen.into_iter().collect();
        top.sort_by_key(|entry| std::cmp::Reverse(entry.1));
        let parts: Vec<String> = top
            .iter()
            .take(6)
            .map(|(what, n)| format!("{what} {:.0}%", 100.0 * *n as f64 / total.max(1) as f64))
            .collect();
        format!(
            "{:.1} of the server's DB sessions busy on average: {}",
            total as f64 / samples.max(1) as f64,
            parts.join(", ")
        )
    }
}

/// Fields of `/proc/<pid>/stat` after the command name: [0] state, [1] ppid, ... [11] utime,
/// [12] stime, [13] cutime, [14] cstime (clock ticks).
fn proc_stat(pid: u32) -> Option<Vec<u64>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    Some(
        stat[stat.rfind(')')? + 1..]
            .split_whitespace()
            .map(|f| f.parse().unwrap_or(0))
            .collect(),
    )
}

/// Whose CPU time a [`CpuWatch`] reports by name.
#[derive(Clone, Copy)]
enum Source {
    /// A running process (all its threads).
    Process(u32),
    /// This process's children that have exited and been waited for (pgbench).
    ReapedChildren,
}

impl Source {
    fn ticks(self) -> u64 {
        let of = |pid: u32, fields: std::ops::Range<usize>| {
            proc_stat(pid).map_or(0, |f| f.get(fields).map_or(0, |v| v.iter().sum()))
        };
        match self {
            Source::Process(pid) => of(pid, 11..13),
            Source::ReapedChildren => of(std::process::id(), 13..15),
        }
    }
}

/// CPU time of the cluster so far: the postmaster, its running children (backends, WAL writer,
/// checkpointer, ...) and the children it has reaped (backends of closed connections).
fn cluster_ticks(data_dir: &Path) -> u64 {
    let Some(postmaster) = std::fs::read_to_string(data_dir.join("postmaster.pid"))
        .ok()
        .and_then(|text| {
            text.lines()
                .next()
                .and_then(|l| l.trim().parse::<u32>().ok())
        })
    else {
        return 0;
    };
    let mut ticks = proc_stat(postmaster).map_or(0, |f| f.iter().skip(11).take(4).sum());
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if let Some(f) = proc_stat(pid)
            && f.get(1) == Some(&u64::from(postmaster))
        {
            ticks += f.iter().skip(11).take(2).sum::<u64>();
        }
    }
    ticks
}

/// (busy, total) clock ticks of the whole machine so far, from `/proc/stat`.
fn machine_ticks() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap();
    let values: Vec<u64> = stat
        .lines()
        .next()
        .unwrap()
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(|v| v.parse().unwrap())
        .collect();
    let total: u64 = values.iter().sum();
    (total - values[3] - values[4], total)
}

/// Where the machine's CPU went while a figure was measured: named processes (the server, the
/// load generator, pgbench), the cluster, and everything else on the machine.
struct CpuWatch {
    named: Vec<(&'static str, Source)>,
    data_dir: PathBuf,
    start: Snapshot,
    started: Instant,
}

struct Snapshot {
    named: Vec<u64>,
    cluster: u64,
    busy: u64,
    total: u64,
}

impl CpuWatch {
    fn snapshot(&self) -> Snapshot {
        let (busy, total) = machine_ticks();
        Snapshot {
            named: self
                .named
                .iter()
                .map(|(_, source)| source.ticks())
                .collect(),
            cluster: cluster_ticks(&self.data_dir),
            busy,
            total,
        }
    }

    fn start(named: Vec<(&'static str, Source)>, data_dir: &Path) -> CpuWatch {
        let mut watch = CpuWatch {
            named,
            data_dir: data_dir.to_owned(),
            start: Snapshot {
                named: Vec::new(),
                cluster: 0,
                busy: 0,
                total: 0,
            },
            started: Instant::now(),
        };
        watch.start = watch.snapshot();
        watch
    }

    /// "CPU (cores of 2): server 0.61, load generator 0.20, PostgreSQL 0.52, other processes
    /// 0.60, idle 0.07", then "CPU per submission: server 2.31 ms, ..." for `units` of `unit`.
    /// The time per unit is steadier than a rate when other processes share the machine.
    fn finish(self, unit: &str, units: f64) -> CpuUse {
        let end = self.snapshot();
        let start = &self.start;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        let elapsed = (end.total - start.total).max(1);
        let share = |ticks: u64| ticks as f64 / elapsed as f64 * cores;
        // Clock ticks per second, from the machine's own count over the measured wall time.
        let ticks_per_second = elapsed as f64 / cores / self.started.elapsed().as_secs_f64();
        let ms_per_unit = |ticks: u64| ticks as f64 / ticks_per_second * 1000.0 / units.max(1.0);
        let mut parts = Vec::new();
        let mut per_unit = Vec::new();
        let mut accounted = end.cluster - start.cluster;
        for (i, (name, _)) in self.named.iter().enumerate() {
            let used = end.named[i].saturating_sub(start.named[i]);
            accounted += used;
            parts.push(format!("{name} {:.2}", share(used)));
            per_unit.push(format!("{name} {:.2} ms", ms_per_unit(used)));
        }
        parts.push(format!(
            "PostgreSQL {:.2}",
            share(end.cluster - start.cluster)
        ));
        per_unit.push(format!(
            "PostgreSQL {:.2} ms",
            ms_per_unit(end.cluster - start.cluster)
        ));
        let busy = end.busy - start.busy;
        parts.push(format!(
            "other processes {:.2}",
            share(busy.saturating_sub(accounted))
        ));
        let idle = share(elapsed - busy);
        parts.push(format!("idle {idle:.2}"));
        CpuUse {
            text: format!(
                "CPU (cores of {cores:.0}): {}\n    CPU per {unit}: {}",
                parts.join(", "),
                per_unit.join(", ")
            ),
            idle,
        }
    }
}

/// What [`CpuWatch::finish`] found: the lines to print, and the cores left idle (how far the
/// load was from using the whole machine).
struct CpuUse {
    text: String,
    idle: f64,
}

/// One concurrency's figure, for the summary after all of them.
struct Outcome {
    concurrency: usize,
    median_ratio: f64,
    /// The medians of the rounds' submission rates and of their TPC-B rates, each on its own.
    median_rate: f64,
    median_tps: f64,
    /// Idle cores during the first measured round of submissions, and of pgbench.
    idle: (f64, f64),
}

/// Commits, WAL flushes, WAL bytes and full-page images of the cluster so far
/// (`pg_stat_database` of `database`, `pg_stat_wal`).
async fn db_counters(db: &tokio_postgres::Client, database: &str) -> [f64; 4] {
    let row = db
        .query_one(
            "SELECT (SELECT xact_commit FROM pg_stat_database WHERE datname = $1)::float8,
                    wal_sync::float8, wal_bytes::float8, wal_fpi::float8
               FROM pg_stat_wal",
            &[&database],
        )
        .await
        .unwrap();
    [row.get(0), row.get(1), row.get(2), row.get(3)]
}

/// Buffers the checkpointer has written so far (`pg_stat_bgwriter`): a checkpoint in progress
/// fills the page cache with dirty data files, which every blob `syncfs` round then writes out
/// too, so the rounds say how much of it fell into each load.
async fn checkpoint_buffers(db: &tokio_postgres::Client) -> i64 {
    db.query_one("SELECT buffers_checkpoint FROM pg_stat_bgwriter", &[])
        .await
        .unwrap()
        .get(0)
}

/// "per X: 6.0 transactions, 4.1 WAL flushes, 14.2 kB of WAL (0.3 full-page images)" between
/// two [`db_counters`]: a page's first change after a checkpoint is logged whole, so inserts
/// spread over many index pages cost more WAL than the rows themselves.
fn per_unit(what: &str, before: [f64; 4], after: [f64; 4], units: f64) -> String {
    let per = |i: usize| (after[i] - before[i]) / units.max(1.0);
    format!(
        "per {what}: {:.1} transactions, {:.2} WAL flushes, {:.1} kB of WAL ({:.2} full-page images)",
        per(0),
        per(1),
        per(2) / 1000.0,
        per(3)
    )
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

/// Registers citizen `i` through the API (code read from the outbox, as `tests/api/identity.rs`
/// does); returns the access token.
async fn register(ctx: &Ctx, db: &deadpool_postgres::Pool, worker: usize, i: usize) -> String {
    let phone = phone(i);
    let (status, body) = ctx
        .post(
            worker,
            "/api/v1/auth/otp",
            None,
            &json!({"phone": phone, "purpose": "register"}),
        )
        .await;
    assert_eq!(status, 202, "otp: {body}");
    let code: String = db
        .get()
        .await
        .unwrap()
        .query_one(
            "SELECT n.variables->>'code' FROM notification_delivery d
               JOIN notification n ON n.id = d.notification_id
              WHERE d.channel = 'sms' AND d.address = $1
              ORDER BY d.created_at DESC LIMIT 1",
            &[&phone],
        )
        .await
        .unwrap()
        .get(0);
    let (status, body) = ctx
        .post(
            worker,
            "/api/v1/auth/citizen/register",
            None,
            &json!({"phone": phone, "code": code, "name": "张三", "id_number": citizen_id(i)}),
        )
        .await;
    assert_eq!(status, 201, "register: {body}");
    body["access_token"].as_str().unwrap().to_owned()
}

/// Publishes the bench's item as the demo platform administrator: fully online, citizens at
/// assurance level 2, three required key materials (PDF), accepted and decided by the demo
/// market-regulation bureau.
async fn publish_item(base: &str) {
    let http = reqwest::Client::new();
    let response = http
        .post(format!("{base}/api/v1/auth/staff/login"))
        .json(&json!({"username": DEMO_ADMIN, "password": DEMO_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "demo admin login");
    let admin: Value = response.json().await.unwrap();
    let token = admin["access_token"].as_str().unwrap();
    let material = |key: &str, name: &str| {
        json!({"key": key, "name": name, "required": true, "key_material": true,
               "originals": 1, "copies": 0, "file_types": ["pdf"]})
    };
    let draft = json!({
        "name": "居住证明出具（性能测试）",
        "category": "public_service",
        "legal_basis": [{"document": "《居住证暂行条例》", "article": "第九条"}],
        "conditions": ["在本市居住半年以上"],
        "materials": [
            material(MATERIALS[0], "申请表"),
            material(MATERIALS[1], "居民身份证"),
            material(MATERIALS[2], "居住证明材料"),
        ],
        "statutory_limit_days": 20,
        "promised_limit_days": 5,
        "instant": false,
        "fees": {"free": true},
        "steps": [
            {"kind": "accept", "name": "受理", "limit_days": 1, "stage": 1},
            {"kind": "review", "name": "审查", "limit_days": 3, "stage": 2},
            {"kind": "decide", "name": "决定", "limit_days": 1, "stage": 3}
        ],
        "result": {"kind": "certificate", "name": "居住证明"},
        "online_depth": "fully_online",
        "applicant_types": ["citizen"],
        "required_assurance_level": 2,
        "consultation_phone": "0436-5223315",
        "complaint_phone": "12345",
        "handling_location": "大安市政务服务中心一楼"
    });
    let response = http
        .post(format!("{base}/api/v1/admin/items"))
        .bearer_auth(token)
        .json(&json!({"code": ITEM, "lead_department_code": "220882-SCJG", "draft": draft}))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let created: Value = response.json().await.unwrap();
    assert_eq!(status, 201, "create item: {created}");
    let response = http
        .post(format!("{base}/api/v1/admin/items/{ITEM}/publish"))
        .bearer_auth(token)
        .json(&json!({"revision": created["draft_revision"]}))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let published: Value = response.json().await.unwrap();
    assert_eq!(status, 201, "publish item: {published}");
}

/// Writes out every dirty page before a measured load: otherwise the kernel flushes what the
/// previous load wrote (blobs, WAL, data files) during the next one, billing it as "other
/// processes" and slowing whichever load comes second.
fn settle() {
    nix::unistd::sync();
}

/// TPC-B's scale for `clients`: at least the number of clients (pgbench's manual), at least 10.
fn pgbench_scale(clients: usize) -> usize {
    clients.max(10)
}

/// The built-in TPC-B-like script with `clients` connections for `seconds`: (tps "without
/// initial connection time", transactions, pgbench's output).
fn tpcb(cluster: &EmbeddedCluster, clients: usize, seconds: u64) -> (f64, f64, String) {
    let (clients, seconds) = (clients.to_string(), seconds.to_string());
    let output = pgbench(cluster, &["-c", &clients, "-j", "2", "-T", &seconds]);
    let tps = support::pgbench_tps(&output);
    let transactions = output
        .lines()
        .find_map(|l| l.strip_prefix("number of transactions actually processed: "))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no transaction count in pgbench output: {output}"));
    (tps, transactions, output)
}

/// With BENCH_PG_STATEMENTS=1: loads `pg_stat_statements` (a restart of the cluster) so the
/// bench can say which statements the measured run's database time went to.
async fn with_statements(cluster: EmbeddedCluster, data_dir: &Path) -> EmbeddedCluster {
    let postgres = connect(&cluster.connection_string("postgres")).await;
    postgres
        .batch_execute("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")
        .await
        .unwrap();
    cluster.stop().await.unwrap();
    drop(cluster);
    let cluster = EmbeddedCluster::start(data_dir).await.unwrap();
    // Planning is timed too: every statement the server sends unprepared is planned again.
    let postgres = connect(&cluster.connection_string("postgres")).await;
    postgres
        .batch_execute("ALTER SYSTEM SET pg_stat_statements.track_planning = on")
        .await
        .unwrap();
    postgres
        .batch_execute("SELECT pg_reload_conf()")
        .await
        .unwrap();
    cluster
}

/// Statements per submission, then the top statements of database `bench` by total execution
/// time since the last reset.
async fn top_statements(cs: &str, submissions: u64) -> Vec<String> {
    let db = connect(cs).await;
    let totals = db
        .query_one(
            "SELECT sum(calls)::float8, sum(plans)::float8 FROM pg_stat_statements
              WHERE dbid = (SELECT oid FROM pg_database WHERE datname = 'bench')
                AND query NOT LIKE '%pg_stat_%'",
            &[],
        )
        .await
        .unwrap();
    let per = |total: f64| total / submissions.max(1) as f64;
    let mut lines = vec![format!(
        "{:.1} statements and {:.1} plans per submission",
        per(totals.get(0)),
        per(totals.get(1))
    )];
    let top = db
        .query(
            "SELECT calls, total_exec_time, mean_exec_time, plans, total_plan_time,
                    left(regexp_replace(query, '[[:space:]]+', ' ', 'g'), 90)
               FROM pg_stat_statements
              WHERE dbid = (SELECT oid FROM pg_database WHERE datname = 'bench')
                AND query NOT LIKE '%pg_stat_%'
              ORDER BY query IN ('COMMIT', 'BEGIN') DESC, total_exec_time DESC LIMIT 17",
            &[],
        )
        .await
        .unwrap();
    lines.extend(top.iter().map(|r| {
        format!(
            "{:>6} calls {:>6.0} ms exec ({:.2} ms mean), {:>6} plans {:>5.0} ms  {}",
            r.get::<_, i64>(0),
            r.get::<_, f64>(1),
            r.get::<_, f64>(2),
            r.get::<_, i64>(3),
            r.get::<_, f64>(4),
            r.get::<_, String>(5)
        )
    }));
    lines
}

#[tokio::main]
async fn main() {
    fingertip::tls::install_crypto_provider();
    let concurrencies: Vec<usize> = std::env::var("BENCH_CONCURRENCY")
        .unwrap_or_else(|_| "16,64".to_owned())
        .split(',')
        .map(|c| {
            c.trim()
                .parse()
                .expect("BENCH_CONCURRENCY: client counts, comma-separated")
        })
        .collect();
    assert!(
        concurrencies.iter().all(|c| (1..=200).contains(c)),
        "one loopback address per client"
    );
    // Each concurrency is a run of its own (fresh cluster, server and citizens), printed as it
    // ends; the summary puts their figures side by side.
    let mut outcomes = Vec::new();
    for concurrency in concurrencies {
        outcomes.push(run(concurrency).await);
    }
    println!("case_submissions summary (median of each run's rounds; target ≥ 0.25):");
    for o in &outcomes {
        println!(
            "  {:>3} clients: submissions/s ÷ TPC-B tps {:.3}   (idle cores in round 1: {:.2} \
             during the submissions, {:.2} during pgbench)",
            o.concurrency, o.median_ratio, o.idle.0, o.idle.1
        );
    }
    // Capacity: each load at the concurrency that served it best. Where one load is bound by
    // latency at a concurrency that saturates the other, the ratio at that concurrency measures
    // the clients' patience, not the machine; this line puts the two capacities side by side.
    if outcomes.len() > 1 {
        let best = |figure: fn(&Outcome) -> f64| {
            outcomes
                .iter()
                .max_by(|a, b| figure(a).total_cmp(&figure(b)))
                .map(|o| (figure(o), o.concurrency))
                .unwrap()
        };
        let (rate, rate_clients) = best(|o| o.median_rate);
        let (tps, tps_clients) = best(|o| o.median_tps);
        println!(
            "  each load at its best concurrency: {rate:.1} submissions/s ({rate_clients} clients) \
             ÷ {tps:.1} TPC-B tps ({tps_clients} clients) = {:.3}",
            rate / tps
        );
    }
}

/// One full run at `concurrency` clients: its own cluster, server and citizens, then the rounds.
async fn run(concurrency: usize) -> Outcome {
    let seconds = env_or("BENCH_SECONDS", 10);
    let per_worker = (env_or("BENCH_CITIZENS", 1024) as usize / concurrency).max(1);
    let citizens = per_worker * concurrency;
    let statements = env_or("BENCH_PG_STATEMENTS", 0) == 1;

    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let pg_dir = dir.path().join("pg");
    let file_creation = wait_for_calm_file_creation(dir.path());
    let mut cluster = EmbeddedCluster::start(&pg_dir).await.unwrap();
    let _stop_on_panic = StopOnPanic(cluster.data_dir().to_owned());
    if statements {
        cluster = with_statements(cluster, &pg_dir).await;
    }
    create_databases(&cluster, &["bench", "pgbench_baseline"]).await;
    let config = write_config(dir.path());
    let server = start_server(dir.path(), Some(&config), Some(&cluster.url("bench")), true).await;
    let base = format!("http://127.0.0.1:{}", server.port);
    let server_address = SocketAddr::from(([127, 0, 0, 1], server.port));
    publish_item(&base).await;

    let clients: Vec<reqwest::Client> = (0..concurrency)
        .map(|w| {
            reqwest::Client::builder()
                .local_address(worker_address(w))
                .pool_max_idle_per_host(1)
                .build()
                .unwrap()
        })
        .collect();
    let cs = cluster.connection_string("bench");
    let mut bench_db: tokio_postgres::Config = cs.parse().unwrap();
    bench_db.application_name("case_submissions bench");
    let db = fingertip::db::pool_for(bench_db, 8).unwrap();

    // Citizens registered through the API (code, then name + ID number, checked by the demo
    // real-name provider: assurance level 2), each worker registering its own.
    let registering = Arc::new(Ctx {
        base: base.clone(),
        server: server_address,
        clients: clients.clone(),
        tokens: Vec::new(),
        per_worker,
        seed: run_seed(),
        files: AtomicU64::new(0),
    });
    let mut tasks = Vec::new();
    for w in 0..concurrency {
        let (ctx, db) = (registering.clone(), db.clone());
        tasks.push(tokio::spawn(async move {
            let mut tokens = Vec::new();
            for k in 0..per_worker {
                tokens.push(register(&ctx, &db, w, w * per_worker + k).await);
            }
            tokens
        }));
    }
    let mut tokens = Vec::new();
    for t in tasks {
        tokens.extend(t.await.unwrap());
    }
    let ctx = Arc::new(Ctx {
        base,
        server: server_address,
        clients,
        tokens,
        per_worker,
        seed: run_seed(),
        files: AtomicU64::new(0),
    });

    // One submission alone first: it checks the set-up and fills the server's caches of the
    // working-day calendar and of the item version, so the first measured second is not the
    // cold one. (A cold miss once needed a second pool connection while `CaseService::create`
    // still held its first, and a burst of cold submissions waited for one another until the
    // pool's timeout; `create` now lets its connection go first, and the calendar cache's
    // 60 s expiry falls inside the measured rounds.)
    if env_or("BENCH_COLD", 0) != 1 {
        ctx.submit(&mut ctx.connection(0).await, 0, 0).await;
    }
    let warm = measure(&ctx, concurrency, WARM_UP_SECONDS).await;
    let admin = connect(&cs).await;
    if statements {
        admin
            .batch_execute("CREATE EXTENSION pg_stat_statements; SELECT pg_stat_statements_reset()")
            .await
            .unwrap();
    }
    // The baseline's tables, made before anything is measured: the rounds below alternate
    // between the two loads, the server idle while pgbench runs. pgbench's manual asks for a
    // scale of at least the number of clients, or TPC-B measures the clients queueing for the
    // few `pgbench_branches` rows (16 clients: 2,770–2,950 tps at scale 10 against 3,350 at
    // scale 48, one morning); 10 is the floor of earlier runs.
    let scale = pgbench_scale(concurrency);
    pgbench(&cluster, &["-i", "-s", &scale.to_string(), "-q"]);
    let stats = connect(&cluster.connection_string("postgres")).await;
    settle();
    let counters = db_counters(&stats, "bench").await;
    let cpu = CpuWatch::start(
        vec![
            ("server", Source::Process(server.pid())),
            ("load generator", Source::Process(std::process::id())),
        ],
        cluster.data_dir(),
    );
    let sampler = WaitSampler::start(&cs).await;
    let profiler = std::env::var("BENCH_PERF").ok().map(|out| {
        std::process::Command::new("perf")
            .args([
                "record",
                "-q",
                "-a",
                "-g",
                "-F",
                "499",
                "-o",
                &format!("{out}-{concurrency}"),
                "--",
                "sleep",
            ])
            .arg(seconds.to_string())
            .spawn()
            .expect("perf record (BENCH_PERF names its output file)")
    });
    let written = checkpoint_buffers(&stats).await;
    let m = measure(&ctx, concurrency, seconds).await;
    let checkpoint_during_submissions = checkpoint_buffers(&stats).await - written;
    if let Some(mut profiler) = profiler {
        profiler.wait().unwrap();
    }
    let waits = sampler.finish().await;
    let cpu = cpu.finish("submission", m.submissions as f64);
    // Busy backends publish their statistics at most once a second: both readings lag by up to
    // about a second of work, which mostly cancels out over the measured run.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let submission_counters = per_unit(
        "submission",
        counters,
        db_counters(&stats, "bench").await,
        m.submissions as f64,
    );
    let top = if statements {
        top_statements(&cs, m.submissions).await
    } else {
        Vec::new()
    };

    // The baseline, on the same cluster, the server idle.
    settle();
    let counters = db_counters(&stats, "pgbench_baseline").await;
    let tpcb_cpu = CpuWatch::start(
        vec![("pgbench", Source::ReapedChildren)],
        cluster.data_dir(),
    );
    let written = checkpoint_buffers(&stats).await;
    let (tps, transactions, pgbench_output) = tpcb(&cluster, concurrency, seconds);
    let first_checkpoints = (
        checkpoint_during_submissions,
        checkpoint_buffers(&stats).await - written,
    );
    let tpcb_cpu = tpcb_cpu.finish("TPC-B transaction", transactions);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let tpcb_counters = per_unit(
        "TPC-B transaction",
        counters,
        db_counters(&stats, "pgbench_baseline").await,
        transactions,
    );

    // Further rounds, the two loads in turn: other tenants of a shared machine come and go over
    // minutes, so one pair of measurements can land in different weather. The median ratio of
    // the rounds is the figure.
    let mut rounds = vec![(m.rate(), m.whole.pct(0.99), tps, first_checkpoints)];
    let mut submitted = m.submissions;
    for _ in 1..env_or("BENCH_ROUNDS", 3) {
        settle();
        let written = checkpoint_buffers(&stats).await;
        let again = measure(&ctx, concurrency, seconds).await;
        let during_submissions = checkpoint_buffers(&stats).await - written;
        submitted += again.submissions;
        settle();
        let written = checkpoint_buffers(&stats).await;
        let (tps, _, _) = tpcb(&cluster, concurrency, seconds);
        let during_tpcb = checkpoint_buffers(&stats).await - written;
        rounds.push((
            again.rate(),
            again.whole.pct(0.99),
            tps,
            (during_submissions, during_tpcb),
        ));
    }
    let median = |mut values: Vec<f64>| {
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    let median_ratio = median(rounds.iter().map(|(rate, _, tps, _)| rate / tps).collect());
    let median_rate = median(rounds.iter().map(|(rate, ..)| *rate).collect());
    let median_tps = median(rounds.iter().map(|(_, _, tps, _)| *tps).collect());

    let cases: i64 = admin
        .query_one("SELECT count(*) FROM cases", &[])
        .await
        .unwrap()
        .get(0);
    let primed = u64::from(env_or("BENCH_COLD", 0) != 1);
    assert_eq!(
        cases as u64,
        primed + warm.submissions + submitted,
        "every submission made one case"
    );
    drop(server);

    println!(
        "case_submissions: {concurrency} concurrent keep-alive clients (one loopback address \
         each), {citizens} citizens, {WARM_UP_SECONDS} s warm-up, then {} rounds of {seconds} s \
         of submissions and {seconds} s of pgbench in turn (round 1 in detail)",
        rounds.len()
    );
    println!(
        "  submissions/s:                      {:>8.1}   p50 {:.1} ms   p99 {:.1} ms   ({} submissions)",
        m.rate(),
        m.whole.pct(0.50),
        m.whole.pct(0.99),
        m.submissions
    );
    println!(
        "  requests/s (4 per submission):      {:>8.1}",
        4.0 * m.rate()
    );
    println!(
        "    POST /api/v1/me/files (10 KB PDF): mean {:.1} ms   p50 {:.1} ms   p99 {:.1} ms",
        m.uploads.mean(),
        m.uploads.pct(0.50),
        m.uploads.pct(0.99)
    );
    println!(
        "    POST /api/v1/cases:               mean {:.1} ms   p50 {:.1} ms   p99 {:.1} ms",
        m.case_post.mean(),
        m.case_post.pct(0.50),
        m.case_post.pct(0.99)
    );
    println!("    {waits}");
    println!("    {submission_counters}");
    println!("    {}", cpu.text);
    println!(
        "    creating a file in the bench's directory ({}): {:.0} µs (a blob per upload); \
         {:.0} µs at the start, {:.0} s spent waiting for recently deleted inodes to age",
        dir.path().display(),
        file_creation.last_micros,
        file_creation.first_micros,
        file_creation.waited.as_secs_f64()
    );
    println!(
        "  pgbench TPC-B (tpcb-like, scale {scale}, -c {concurrency} -j 2 -T {seconds}): {tps:>8.1} tps"
    );
    println!("    {tpcb_counters}");
    println!("    {}", tpcb_cpu.text);
    println!(
        "  submissions/s ÷ TPC-B tps, round 1: {:>8.3}",
        m.rate() / tps
    );
    for (i, (rate, p99, tps, (during_submissions, during_tpcb))) in rounds.iter().enumerate() {
        println!(
            "  round {}: {rate:>7.1} submissions/s (p99 {p99:.1} ms), TPC-B {tps:>7.1} tps, ratio {:.3}; \
             checkpoint writes {during_submissions} / {during_tpcb} buffers",
            i + 1,
            rate / tps
        );
    }
    println!(
        "  submissions/s ÷ TPC-B tps, median of {} rounds: {median_ratio:.3}   (target ≥ 0.25)",
        rounds.len()
    );
    println!(
        "  a submission = 3 × POST /api/v1/me/files (distinct random {FILE_BYTES}-byte PDFs, \
         201 each) + POST /api/v1/cases (fresh Idempotency-Key, the 3 files linked, 201); \
         item {ITEM}: fully online, 3 required key materials, citizens at L2"
    );
    println!(
        "  server config for this bench: --demo-data; SMS-code limits raised for registering \
         (identity.otp resend_seconds = 0, per_phone_daily and per_ip_hourly = 1e9; \
         notify.per_address_hourly_limit = 1e9); notify.dispatch = false"
    );
    if statements {
        println!(
            "  pg_stat_statements, measured run, database bench (BEGIN, COMMIT, then the top 15 by total time):"
        );
        for line in &top {
            println!("    {line}");
        }
    }
    if env_or("BENCH_VERBOSE", 0) == 1 {
        println!("{pgbench_output}");
    }
    cluster.stop().await.unwrap();
    Outcome {
        concurrency,
        median_ratio,
        median_rate,
        median_tps,
        idle: (cpu.idle, tpcb_cpu.idle),
    }
}
