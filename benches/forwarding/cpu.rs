//! The CPU each part of the bench took during an ingest run, read from `/proc`.
//!
//! On this machine ingest keeps both cores busy, so whatever a forwarder costs is CPU
//! ingest does without. Statements a second show that cost only through the machine's
//! own speed, which swings by a fifth between runs a minute apart; how the cores were
//! shared between the parts stays within a few hundredths of a core from run to run, so
//! it shows the cost directly: what the target's server and database took, beside the
//! source's.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::unistd::{sysconf, SysconfVar};
use serde::Serialize;
use tokio::sync::watch;

/// How often the processes are looked at: a backend that exits (an autovacuum worker)
/// loses at most what it did since the last look.
const EVERY: Duration = Duration::from_millis(200);

/// The parts the bench's processes are counted in.
pub const SOURCE_SERVER: &str = "source server";
pub const SOURCE_DATABASE: &str = "source database";
pub const TARGET_SERVER: &str = "target server";
pub const TARGET_DATABASE: &str = "target database";
const POSTGRESQL: &str = "PostgreSQL's own processes";
const BENCH: &str = "bench client";

/// The processes of one scenario: the two servers and the databases of the cluster.
#[derive(Clone)]
pub struct Parts {
    pub source_server: u32,
    pub target_server: u32,
    pub source_database: String,
    pub target_database: String,
}

/// Cores each part kept busy on average over a run (CPU seconds over wall seconds).
#[derive(Debug, Default, Clone, Serialize)]
pub struct Cores(pub BTreeMap<String, f64>);

impl Cores {
    pub fn of(&self, part: &str) -> f64 {
        self.0.get(part).copied().unwrap_or(0.0)
    }

    pub fn total(&self) -> f64 {
        self.0.values().sum()
    }

    /// The runs' average, part by part.
    pub fn mean(runs: &[Cores]) -> Cores {
        let mut sum: BTreeMap<String, f64> = BTreeMap::new();
        for run in runs {
            for (part, cores) in &run.0 {
                *sum.entry(part.clone()).or_default() += cores;
            }
        }
        let n = runs.len().max(1) as f64;
        Cores(sum.into_iter().map(|(p, c)| (p, c / n)).collect())
    }
}

/// Looks at the processes until [`Sampling::finish`].
pub struct Sampling {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<Cores>,
}

impl Sampling {
    /// Starts looking, through `db` (a connection to the cluster, whose own backend is
    /// left out).
    pub fn start(db: Arc<tokio_postgres::Client>, parts: Parts) -> Sampling {
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            let own: i32 = db
                .query_one("SELECT pg_backend_pid()", &[])
                .await
                .unwrap()
                .get(0);
            let ticks_per_second =
                sysconf(SysconfVar::CLK_TCK).ok().flatten().unwrap_or(100) as f64;
            let start = Instant::now();
            // Per process: its part, and its CPU seconds at the first and the last look.
            let mut seen: HashMap<u32, (&'static str, f64, f64)> = HashMap::new();
            let mut first = true;
            loop {
                for (pid, part) in processes(&db, own, &parts).await {
                    let Some(now) = cpu_seconds(pid, ticks_per_second) else {
                        continue;
                    };
                    // One that started during the run did all its work in it.
                    let at_start = if first { now } else { 0.0 };
                    seen.entry(pid).or_insert((part, at_start, now)).2 = now;
                }
                first = false;
                if *stopped.borrow() {
                    break;
                }
                tokio::select! {
                    _ = stopped.changed() => {}
                    _ = tokio::time::sleep(EVERY) => {}
                }
            }
            let wall = start.elapsed().as_secs_f64();
            let mut cores: BTreeMap<String, f64> = BTreeMap::new();
            for (part, at_start, last) in seen.into_values() {
                *cores.entry(part.to_string()).or_default() += (last - at_start) / wall;
            }
            Cores(cores)
        });
        Sampling { stop, task }
    }

    pub async fn finish(self) -> Cores {
        let _ = self.stop.send(true);
        self.task.await.unwrap()
    }
}

/// Every process of the bench with its part: the servers, the bench itself, and each
/// process of the cluster by the database it works in.
async fn processes(
    db: &tokio_postgres::Client,
    own: i32,
    parts: &Parts,
) -> Vec<(u32, &'static str)> {
    let mut all = vec![
        (std::process::id(), BENCH),
        (parts.source_server, SOURCE_SERVER),
    ];
    all.push((parts.target_server, TARGET_SERVER));
    let rows = db
        .query(
            "SELECT pid, coalesce(datname, '') FROM pg_stat_activity WHERE pid <> $1",
            &[&own],
        )
        .await
        .unwrap();
    for row in rows {
        let pid: i32 = row.get(0);
        let database: String = row.get(1);
        let part = if database == parts.source_database {
            SOURCE_DATABASE
        } else if database == parts.target_database {
            TARGET_DATABASE
        } else {
            POSTGRESQL
        };
        all.push((pid as u32, part));
    }
    all
}

/// The CPU seconds (user and system) process `pid` has taken; `None` once it is gone.
fn cpu_seconds(pid: u32, ticks_per_second: f64) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command's closing parenthesis: utime and stime are the 12th
    // and 13th of them.
    let fields: Vec<&str> = stat[stat.rfind(')')? + 2..].split(' ').collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / ticks_per_second)
}
