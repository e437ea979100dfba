//! RESULTS.md and results.json: every figure beside its target and the raw PostgreSQL
//! figure it is compared with.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::measure::{truncate, Scenario, SizeRun};

/// The raw PostgreSQL run each LRS figure is compared with, by name prefixes: ingest
/// with the insert of as many rows per statement, reads with the same read straight
/// from the table of JSON, every report with the GROUP BY over it.
const RAW_MATCHES: [(&str, &str); 9] = [
    ("POST /statements, batches", "raw INSERT, 100"),
    ("POST /statements, single", "raw INSERT, 1 "),
    ("PUT /statements", "raw INSERT, 1 "),
    ("GET /statements by id", "raw by id"),
    ("GET agent + verb", "raw agent + verb"),
    ("GET activity + related", "raw activity + related"),
    ("GET registration", "raw registration"),
    ("GET since", "raw since"),
    ("GET /reports", "raw learners × weeks"),
];

pub fn link_ratios(scenarios: &mut [Scenario]) {
    let raw = |prefix: &str| {
        scenarios
            .iter()
            .find(|s| s.kind == "raw" && s.name.starts_with(prefix))
            .map(|s| (s.name.clone(), s.items_per_second))
    };
    let pairs: Vec<(&str, Option<(String, f64)>)> = RAW_MATCHES
        .iter()
        .map(|(lrs, raw_prefix)| (*lrs, raw(raw_prefix)))
        .collect();
    let copy = raw("raw COPY");
    for s in scenarios.iter_mut().filter(|s| s.kind == "lrs") {
        let Some((_, matching)) = pairs.iter().find(|(lrs, _)| s.name.starts_with(lrs)) else {
            continue;
        };
        if let Some((name, rate)) = matching {
            s.raw_ratio = Some(s.items_per_second / rate.max(1e-9));
            s.raw_match = Some(name.clone());
        }
        // Ingest is also compared with COPY, the fastest way into PostgreSQL.
        if !s.name.starts_with("GET") {
            if let Some((_, copy)) = &copy {
                s.copy_ratio = Some(s.items_per_second / copy.max(1e-9));
            }
        }
    }
}

/// A rate per second: whole above 10, else with two decimals (a full scan of a large
/// table runs less than once a second).
fn rate_text(rate: f64) -> String {
    if rate >= 10.0 {
        format!("{rate:.0}")
    } else {
        format!("{rate:.2}")
    }
}

/// A ratio of rates: in % below 1, as a multiple above.
fn ratio_text(ratio: f64) -> String {
    if ratio < 1.0 {
        format!("{:.0} %", 100.0 * ratio)
    } else if ratio < 10.0 {
        format!("{ratio:.1}×")
    } else {
        format!("{ratio:.0}×")
    }
}

/// The store sizes of an earlier run's `results.json` that this run does not measure,
/// each marked with the run that measured it.
pub fn earlier_runs(path: &Path, measured_now: &[usize]) -> Vec<SizeRun> {
    #[derive(Deserialize)]
    struct EarlierReport {
        commit: String,
        date: String,
        runs: Vec<SizeRun>,
    }
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("BENCH_MERGE: read {}: {e}", path.display()));
    let earlier: EarlierReport = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("BENCH_MERGE: {} is not a results.json: {e}", path.display()));
    earlier
        .runs
        .into_iter()
        .filter(|run| !measured_now.contains(&run.store_size))
        .map(|mut run| {
            run.measured_by.get_or_insert_with(|| {
                format!("the run at commit {} on {}", earlier.commit, earlier.date)
            });
            run
        })
        .collect()
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Report {
    pub commit: String,
    pub date: String,
    pub machine: BTreeMap<String, String>,
    pub postgres: String,
    pub seconds_per_scenario: f64,
    pub clients: usize,
    pub query_clients: usize,
    /// The `BENCH_*` variables this run was given.
    pub environment: BTreeMap<String, String>,
    pub runs: Vec<SizeRun>,
    /// Criterion means (ns) of `cargo bench --bench micro`, when it ran before.
    pub micro: BTreeMap<String, f64>,
}

pub fn read_criterion(dir: &Path) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() && path.file_name().is_some_and(|n| n != "report") {
                let estimates = path.join("new/estimates.json");
                if estimates.exists() {
                    let name = path
                        .strip_prefix(dir)
                        .unwrap()
                        .to_string_lossy()
                        .to_string();
                    if let Ok(text) = std::fs::read_to_string(&estimates) {
                        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
                            if let Some(mean) = v["mean"]["point_estimate"].as_f64() {
                                out.insert(name, mean);
                            }
                        }
                    }
                } else {
                    stack.push(path);
                }
            }
        }
    }
    out
}

struct Target {
    figure: &'static str,
    target: &'static str,
    measured: String,
    raw: String,
    met: Option<bool>,
    by: String,
}

impl Target {
    /// A figure whose target is a ceiling: met at or below `limit`.
    fn at_most(
        figure: &'static str,
        target: &'static str,
        measured: String,
        raw: String,
        value: f64,
        limit: f64,
    ) -> Target {
        let met = value <= limit;
        Target {
            figure,
            target,
            measured,
            raw,
            met: Some(met),
            by: if met {
                String::new()
            } else {
                shortfall(value, limit, false)
            },
        }
    }
}

/// How far a figure falls short of a floor (`higher`), or goes over a ceiling.
fn shortfall(measured: f64, target: f64, higher: bool) -> String {
    if higher {
        format!("{:.0} % short", 100.0 * (1.0 - measured / target))
    } else {
        format!("{:.0} % over", 100.0 * (measured / target - 1.0))
    }
}

impl Report {
    fn find(&self, size: usize, prefix: &str) -> Option<&Scenario> {
        self.runs
            .iter()
            .find(|r| r.store_size == size)?
            .scenarios
            .iter()
            .find(|s| s.name.starts_with(prefix))
    }

    /// How a read compares with the same read straight from the table of JSON.
    fn raw_read(&self, size: usize, s: &Scenario) -> String {
        let (Some(name), Some(ratio)) = (&s.raw_match, s.raw_ratio) else {
            return String::new();
        };
        self.find(size, name)
            .map(|raw| {
                format!(
                    "raw p99 {:.1} ms; rate ratio {}",
                    raw.p99_ms,
                    ratio_text(ratio)
                )
            })
            .unwrap_or_default()
    }

    fn targets(&self) -> Vec<Target> {
        let mut out = Vec::new();
        for run in &self.runs {
            let size = run.store_size;
            if let Some(s) = self.find(size, "POST /statements, batches") {
                let ratio = s.raw_ratio.unwrap_or(0.0);
                let met = s.items_per_second >= 25_000.0 && ratio >= 0.30;
                out.push(Target {
                    figure: "ingest, POST batches of 100",
                    target: "≥ 25,000 st/s and ≥ 30 % of raw multi-row INSERT",
                    measured: format!(
                        "{:.0} st/s at {} stored ({} clients)",
                        s.items_per_second, size, s.clients
                    ),
                    raw: format!("{:.0} % of raw", 100.0 * ratio),
                    met: Some(met),
                    by: if met {
                        String::new()
                    } else {
                        format!(
                            "{}; {:.0} % of raw vs 30 %",
                            shortfall(s.items_per_second, 25_000.0, true),
                            100.0 * ratio
                        )
                    },
                });
            }
            if let Some(s) = self.find(size, "POST /statements, single") {
                let met = s.items_per_second >= 5_000.0 && s.p99_ms <= 20.0;
                out.push(Target {
                    figure: "ingest, POST single",
                    target: "≥ 5,000 st/s, p99 ≤ 20 ms",
                    measured: format!(
                        "{:.0} st/s, p99 {:.1} ms at {} stored",
                        s.items_per_second, s.p99_ms, size
                    ),
                    raw: format!("{:.0} % of raw", 100.0 * s.raw_ratio.unwrap_or(0.0)),
                    met: Some(met),
                    by: if met {
                        String::new()
                    } else {
                        let mut by = Vec::new();
                        if s.items_per_second < 5_000.0 {
                            by.push(format!(
                                "rate {}",
                                shortfall(s.items_per_second, 5_000.0, true)
                            ));
                        }
                        if s.p99_ms > 20.0 {
                            by.push(format!("p99 {}", shortfall(s.p99_ms, 20.0, false)));
                        }
                        by.join(", ")
                    },
                });
            }
        }
        let query_size = if self.runs.iter().any(|r| r.store_size == 1_000_000) {
            1_000_000
        } else {
            self.runs.iter().map(|r| r.store_size).max().unwrap_or(0)
        };
        for (prefix, limit) in [
            ("GET /statements by id", 5.0),
            ("GET agent + verb", 25.0),
            ("GET activity + related", 25.0),
            ("GET registration", 25.0),
            ("GET since", 25.0),
        ] {
            if let Some(s) = self.find(query_size, prefix) {
                out.push(Target::at_most(
                    "query p99 (limit=100)",
                    if limit == 5.0 {
                        "by id ≤ 5 ms (at 1 M)"
                    } else {
                        "≤ 25 ms (at 1 M)"
                    },
                    format!("{}: {:.1} ms at {} stored", s.name, s.p99_ms, query_size),
                    self.raw_read(query_size, s),
                    s.p99_ms,
                    limit,
                ));
            }
        }
        for run in &self.runs {
            for s in run
                .scenarios
                .iter()
                .filter(|s| s.name.starts_with("GET /reports"))
            {
                let limit = if run.store_size >= 10_000_000 {
                    1000.0
                } else {
                    200.0
                };
                out.push(Target::at_most(
                    "report p99",
                    "≤ 200 ms at 1 M, ≤ 1 s at 10 M",
                    format!(
                        "{}: {:.0} ms at {} stored",
                        s.name, s.p99_ms, run.store_size
                    ),
                    self.raw_read(run.store_size, s),
                    s.p99_ms,
                    limit,
                ));
            }
        }
        if !self.runs.iter().any(|r| {
            r.scenarios
                .iter()
                .any(|s| s.name.starts_with("GET /reports"))
        }) {
            out.push(Target {
                figure: "reports",
                target: "≤ 200 ms at 1 M, ≤ 1 s at 10 M",
                measured: "not measured: the /reports routes answer 404 on this commit".into(),
                raw: String::new(),
                met: None,
                by: String::new(),
            });
        }
        let rss = self
            .runs
            .iter()
            .map(|r| r.server_vm_hwm_mb)
            .fold(0.0, f64::max);
        out.push(Target::at_most(
            "server memory under load",
            "RSS ≤ 150 MB",
            format!("peak RSS (VmHWM) {rss:.0} MB"),
            String::new(),
            rss,
            150.0,
        ));
        let ready = self
            .runs
            .iter()
            .flat_map(|r| r.ready_ms.iter().copied())
            .fold(0.0, f64::max);
        out.push(Target::at_most(
            "time to ready, existing database",
            "≤ 1 s",
            format!("worst of {} restarts: {ready:.0} ms", self.runs.len() * 3),
            String::new(),
            ready,
            1000.0,
        ));
        out
    }

    pub fn markdown(&self) -> String {
        let mut md = String::new();
        md.push_str("# Performance results\n\n");
        md.push_str(&format!(
            "Generated by `bash benches/run.sh` (micro-benchmarks, then `cargo bench --bench load`) \
             on {} at commit {}. Load driver, server (release build) and PostgreSQL {} all on \
             the same machine; {} s per scenario; ingest scenarios and raw PostgreSQL runs with {} \
             clients/connections, reads with {} clients, keep-alive HTTP/1.1.\n\n",
            self.date, self.commit, self.postgres, self.seconds_per_scenario, self.clients, self.query_clients
        ));
        if !self.environment.is_empty() {
            md.push_str(&format!(
                "Settings: {}.\n\n",
                self.environment
                    .iter()
                    .map(|(k, v)| format!("`{k}={v}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        for run in &self.runs {
            if let Some(earlier) = &run.measured_by {
                md.push_str(&format!(
                    "Store size {} is carried over from an earlier run: measured by {earlier}, \
                     not by this one.\n\n",
                    run.store_size
                ));
            }
        }
        md.push_str("## Machine\n\n| | |\n|---|---|\n");
        for (k, v) in &self.machine {
            md.push_str(&format!("| {k} | {v} |\n"));
        }
        md.push_str("\n## Targets (issue 6)\n\n| figure | target | measured | vs raw PostgreSQL | verdict |\n|---|---|---|---|---|\n");
        for t in self.targets() {
            let verdict = match t.met {
                Some(true) => "met".to_string(),
                Some(false) => format!("**missed** ({})", t.by),
                None => "not measured".to_string(),
            };
            md.push_str(&format!(
                "| {} | {} | {} | {} | {} |\n",
                t.figure, t.target, t.measured, t.raw, verdict
            ));
        }
        for run in &self.runs {
            md.push_str(&format!("\n## Store size {}\n\n", run.store_size));
            if let Some(earlier) = &run.measured_by {
                md.push_str(&format!(
                    "Measured by {earlier}, not by this one (carried over with `BENCH_MERGE`).\n\n"
                ));
            }
            md.push_str(&format!(
                "{} Time to ready with this existing database (3 restarts): {} ms. Server peak RSS \
                 (VmHWM) over the scenarios: {:.0} MB. {}\n\n",
                run.preload_note,
                run.ready_ms
                    .iter()
                    .map(|v| format!("{v:.0}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                run.server_vm_hwm_mb,
                run.feed_note
            ));
            md.push_str(
                "| scenario | clients | statements or items/s | requests/s | p50 ms | p95 ms | p99 ms | \
                 vs raw (matching) | vs raw COPY | driver CPU | server CPU | machine busy | server RSS max | errors |\n\
                 |---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
            );
            for s in &run.scenarios {
                let pct =
                    |v: Option<f64>| v.map(|r| format!("{:.0} %", 100.0 * r)).unwrap_or_default();
                md.push_str(&format!(
                    "| {}{} | {} | {} | {} | {:.2} | {:.2} | {:.2} | {} | {} | {:.0} % | {} | {:.0} % | {} | {} |\n",
                    s.name,
                    if s.kind == "raw" { " (PostgreSQL)" } else { "" },
                    s.clients,
                    rate_text(s.items_per_second),
                    rate_text(s.requests_per_second),
                    s.p50_ms,
                    s.p95_ms,
                    s.p99_ms,
                    s.raw_ratio.map(ratio_text).unwrap_or_default(),
                    pct(s.copy_ratio),
                    s.driver_cpu_percent,
                    if s.kind == "lrs" { format!("{:.0} %", s.server_cpu_percent) } else { String::new() },
                    s.machine_busy_percent,
                    if s.kind == "lrs" { format!("{:.0} MB", s.server_rss_max_mb) } else { String::new() },
                    if s.errors > 0 {
                        format!("{} ({})", s.errors, truncate(s.first_error.as_deref().unwrap_or(""), 80).replace('|', "/"))
                    } else {
                        "0".into()
                    },
                ));
            }
            let notes: Vec<String> = run
                .scenarios
                .iter()
                .filter_map(|s| s.note.as_ref().map(|n| format!("- {}: {n}", s.name)))
                .chain(run.skipped.iter().map(|s| format!("- {s}")))
                .collect();
            if !notes.is_empty() {
                md.push('\n');
                md.push_str(&notes.join("\n"));
                md.push('\n');
            }
        }
        md.push_str(
            "\nCPU figures are in % of one core (this machine has 2): the driver's own use shows \
             whether it could be the bottleneck. Raw PostgreSQL runs insert the same Workload \
             JSON (with fresh ids) into `raw_statements(id uuid primary key, statement jsonb)`, \
             pre-filled with the store's statements so its index has the same size. The raw reads \
             run after the LRS's, on a fresh copy of every stored Statement's JSON in that table \
             (only `id` is indexed, so the other filters scan it whole; the report counterpart \
             groups Statements by learner and week from the JSON). `vs raw (matching)` is the \
             LRS's rate over the raw rate (in %, or as a multiple above 1): POST batches of 100 \
             against the 100-row INSERT, single POST/PUT against the single-row INSERT, each \
             read against the same read from the table, every report against the GROUP BY.\n",
        );
        if !self.micro.is_empty() {
            md.push_str(
                "\n## Micro-benchmarks (criterion, mean)\n\n| benchmark | mean |\n|---|---|\n",
            );
            for (name, ns) in &self.micro {
                let shown = if *ns >= 1e6 {
                    format!("{:.2} ms", ns / 1e6)
                } else {
                    format!("{:.2} µs", ns / 1e3)
                };
                md.push_str(&format!("| {name} | {shown} |\n"));
            }
        }
        md.push_str(
            "\n## Where targets are missed\n\nThe verdict column above says by how much. Why, \
             from profiles of these scenarios (`perf`), and the next steps are in \
             [ANALYSIS.md](ANALYSIS.md).\n",
        );
        md
    }
}
