//! One scenario: N clients looping over an operation for a while, with latency
//! percentiles and the CPU the driver, the server and the machine used meanwhile.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};

use crate::storage::Storage;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Scenario {
    pub store_size: usize,
    pub name: String,
    /// `lrs` (over HTTP) or `raw` (straight into PostgreSQL).
    pub kind: String,
    pub clients: usize,
    pub seconds: f64,
    pub requests: u64,
    /// Statements (ingest, pages) or documents/reports moved.
    pub items: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    pub items_per_second: f64,
    pub requests_per_second: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// CPU used by this driver process, in % of one core.
    pub driver_cpu_percent: f64,
    /// CPU used by the server process, in % of one core.
    pub server_cpu_percent: f64,
    /// The whole machine's busy share (all cores = 100 %).
    pub machine_busy_percent: f64,
    pub server_rss_max_mb: f64,
    /// Ratio of `items_per_second` to the matching raw PostgreSQL figure.
    pub raw_ratio: Option<f64>,
    pub raw_match: Option<String>,
    pub copy_ratio: Option<f64>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SizeRun {
    pub store_size: usize,
    /// For a size carried over from an earlier run (`BENCH_MERGE`): that run's commit
    /// and date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measured_by: Option<String>,
    pub database: String,
    pub preload_note: String,
    /// How long the learning feed took to fold in what the scenarios before the
    /// reports had stored.
    pub feed_note: String,
    pub ready_ms: Vec<f64>,
    /// The first `GET /dashboard` after each of those restarts (none in runs before this
    /// was measured, or when the page did not answer 200).
    #[serde(default)]
    pub first_dashboard_ms: Vec<f64>,
    pub server_vm_hwm_mb: f64,
    pub scenarios: Vec<Scenario>,
    pub skipped: Vec<String>,
    /// Bytes per Statement of every table, read after the preload (none for an empty
    /// store, or in runs before this was measured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<Storage>,
    /// How much of the preload's backlog the learning feed folded while the reads ran.
    #[serde(default)]
    pub fold_note: String,
    /// The commit settings the commit-cost scenarios ran with.
    #[serde(default)]
    pub commit_note: String,
}

fn cpu_ticks(pid: u32) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    // Fields after the command name (which may hold spaces), 1-based 14 and 15.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    field(11) + field(12)
}

/// (busy, total) jiffies of the whole machine.
fn machine_ticks() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let line = stat.lines().next().unwrap_or("");
    let values: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let total: u64 = values.iter().take(8).sum();
    let idle = values.get(3).copied().unwrap_or(0) + values.get(4).copied().unwrap_or(0);
    (total - idle, total)
}

pub fn status_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

const TICKS_PER_SECOND: f64 = 100.0; // Linux USER_HZ

/// Builds the path of the next request.
pub type Op = Box<dyn FnMut() -> BoxFuture<'static, Result<u64, String>> + Send>;

/// Builds the op of client `c` of a scenario.
pub type MakeOp<'a> = Box<dyn Fn(usize) -> Op + 'a>;

/// Runs `clients` loops of the op `make(client)` builds for `seconds`, and measures.
pub async fn measure(
    name: &str,
    kind: &'static str,
    store_size: usize,
    clients: usize,
    seconds: f64,
    server_pid: u32,
    make: impl Fn(usize) -> Op,
) -> Option<Scenario> {
    if !selected(name) {
        println!("  {name:<38} not selected (BENCH_ONLY)");
        return None;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let rss_max = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (stop, rss_max) = (stop.clone(), rss_max.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                rss_max.fetch_max(status_kb(server_pid, "VmRSS:"), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let driver_before = cpu_ticks(std::process::id());
    let server_before = cpu_ticks(server_pid);
    let machine_before = machine_ticks();
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(seconds);
    let first_error = Arc::new(Mutex::new(None::<String>));
    let tasks: Vec<_> = (0..clients)
        .map(|client| {
            let mut op = make(client);
            let first_error = first_error.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let (mut items, mut errors) = (0u64, 0u64);
                while Instant::now() < deadline && errors < 50 {
                    let began = Instant::now();
                    match op().await {
                        Ok(n) => {
                            latencies.push(began.elapsed().as_micros() as u32);
                            items += n;
                        }
                        Err(e) => {
                            errors += 1;
                            first_error.lock().unwrap().get_or_insert(e);
                        }
                    }
                }
                (latencies, items, errors)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let (mut items, mut errors) = (0, 0);
    for task in tasks {
        let (l, i, e) = task.await.expect("client task");
        latencies.extend(l);
        items += i;
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let _ = sampler.await;
    let driver = (cpu_ticks(std::process::id()) - driver_before) as f64 / TICKS_PER_SECOND;
    let server = cpu_ticks(server_pid).saturating_sub(server_before) as f64 / TICKS_PER_SECOND;
    let machine_after = machine_ticks();
    let busy = (machine_after.0 - machine_before.0) as f64
        / (machine_after.1 - machine_before.1).max(1) as f64;
    latencies.sort_unstable();
    let at = |q: f64| {
        if latencies.is_empty() {
            return 0.0;
        }
        let i = ((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len()) - 1;
        latencies[i] as f64 / 1000.0
    };
    let requests = latencies.len() as u64;
    let scenario = Scenario {
        store_size,
        name: name.into(),
        kind: kind.into(),
        clients,
        seconds: elapsed,
        requests,
        items,
        errors,
        first_error: first_error.lock().unwrap().clone(),
        items_per_second: items as f64 / elapsed,
        requests_per_second: requests as f64 / elapsed,
        p50_ms: at(0.50),
        p95_ms: at(0.95),
        p99_ms: at(0.99),
        max_ms: at(1.0),
        driver_cpu_percent: 100.0 * driver / elapsed,
        server_cpu_percent: if kind == "lrs" {
            100.0 * server / elapsed
        } else {
            0.0
        },
        machine_busy_percent: 100.0 * busy,
        server_rss_max_mb: rss_max.load(Ordering::Relaxed) as f64 / 1024.0,
        raw_ratio: None,
        raw_match: None,
        copy_ratio: None,
        note: None,
    };
    println!(
        "  {name:<38} {:>9.0} items/s {:>8.0} req/s  p50 {:>7.2} p95 {:>7.2} p99 {:>7.2} ms  \
         driver {:>4.0}%  server {:>4.0}%  machine {:>3.0}%  errors {}{}",
        scenario.items_per_second,
        scenario.requests_per_second,
        scenario.p50_ms,
        scenario.p95_ms,
        scenario.p99_ms,
        scenario.driver_cpu_percent,
        scenario.server_cpu_percent,
        scenario.machine_busy_percent,
        errors,
        scenario
            .first_error
            .as_deref()
            .map(|e| format!(" (first: {})", truncate(e, 200)))
            .unwrap_or_default()
    );
    Some(scenario)
}

/// Whether `BENCH_ONLY` (comma-separated parts of scenario names) selects a scenario;
/// unset, every scenario runs.
pub fn selected(name: &str) -> bool {
    match std::env::var("BENCH_ONLY") {
        Ok(only) if !only.trim().is_empty() => {
            only.split(',').any(|part| name.contains(part.trim()))
        }
        _ => true,
    }
}

pub fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}
