//! Load benchmark: public item-detail requests per second under concurrent load, beside
//! `/healthz` requests per second measured in the same run against the same release server
//! (embedded PostgreSQL, demo catalog), and the server's peak memory.
//!
//! `cargo bench --bench catalog_load` (options via env: BENCH_SECONDS, BENCH_CONCURRENCY;
//! BENCH_SERVER_WRAPPER=heaptrack runs the server under a profiler, as every bench can).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/mod.rs"]
mod support;

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use support::{env_or, start_server};

struct Measured {
    requests: u64,
    seconds: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// `concurrency` workers request `paths` round-robin for `seconds`; non-200 answers abort.
async fn load(port: u16, paths: Arc<Vec<String>>, concurrency: usize, seconds: u64) -> Measured {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut workers = Vec::new();
    for w in 0..concurrency {
        let (http, paths, stop) = (http.clone(), paths.clone(), stop.clone());
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut i = w;
            while !stop.load(Ordering::Relaxed) {
                let url = format!("http://127.0.0.1:{port}{}", paths[i % paths.len()]);
                i += 1;
                let t = Instant::now();
                let response = http.get(&url).send().await.unwrap();
                assert_eq!(response.status(), 200, "{url}");
                response.bytes().await.unwrap();
                latencies.push(t.elapsed().as_secs_f64() * 1000.0);
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
        requests: all.len() as u64,
        seconds,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
    }
}

fn peak_memory_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

#[tokio::main]
async fn main() {
    fingertip::tls::install_crypto_provider();
    let seconds = env_or("BENCH_SECONDS", 10);
    let concurrency = env_or("BENCH_CONCURRENCY", 32) as usize;
    // The server runs its own embedded cluster in this directory.
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let server = start_server(dir.path(), None, None, true).await;
    let port = server.port;

    let page: serde_json::Value =
        reqwest::get(format!("http://127.0.0.1:{port}/api/v1/items?limit=100"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    let detail_paths: Vec<String> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| format!("/api/v1/items/{}", i["code"].as_str().unwrap()))
        .collect();
    assert!(!detail_paths.is_empty());
    let detail_paths = Arc::new(detail_paths);
    let health_paths = Arc::new(vec!["/healthz".to_owned()]);

    // Warm up both (connections, caches), then measure each in turn.
    load(port, health_paths.clone(), concurrency, 2).await;
    load(port, detail_paths.clone(), concurrency, 2).await;
    let health = load(port, health_paths, concurrency, seconds).await;
    let detail = load(port, detail_paths.clone(), concurrency, seconds).await;

    let rate = |m: &Measured| m.requests as f64 / m.seconds;
    println!(
        "catalog_load: {concurrency} concurrent clients, {seconds} s per endpoint, {} items",
        detail_paths.len()
    );
    println!(
        "  /healthz            {:>9.0} req/s   p50 {:.2} ms   p99 {:.2} ms",
        rate(&health),
        health.p50_ms,
        health.p99_ms
    );
    println!(
        "  /api/v1/items/{{code}} {:>9.0} req/s   p50 {:.2} ms   p99 {:.2} ms",
        rate(&detail),
        detail.p50_ms,
        detail.p99_ms
    );
    println!(
        "  item detail / healthz = {:.1}% (target >= 70%)",
        100.0 * rate(&detail) / rate(&health)
    );
    match peak_memory_kib(server.pid()) {
        Some(kib) => println!(
            "  server peak memory (VmHWM) {:.1} MiB",
            kib as f64 / 1024.0
        ),
        None => println!("  server peak memory unavailable"),
    }
}
