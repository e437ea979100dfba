//! RESULTS.md and results.json: every figure beside its target and the raw PostgreSQL
//! figure it is compared with.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::folding::{CAUGHT_UP, WHILE_FOLDING};
use crate::measure::{truncate, Scenario, SizeRun};
use crate::{commit, targets};

/// The raw PostgreSQL run each LRS figure is compared with, by name prefixes: ingest
/// with the insert of as many rows per statement, reads with the same read straight
/// from the table of JSON, every report and dashboard page with the GROUP BY over it.
const RAW_MATCHES: [(&str, &str); 14] = [
    ("POST /statements, batches", "raw INSERT, 100"),
    ("POST /statements, single", "raw INSERT, 1 "),
    ("PUT /statements", "raw INSERT, 1 "),
    ("POST single with commit_delay", commit::RAW_WITH_DELAY),
    ("POST single, one writer", "raw INSERT, 1 "),
    ("GET /statements by id", "raw by id"),
    ("GET agent + verb", "raw agent + verb"),
    ("GET activity + related", "raw activity + related"),
    ("GET registration", "raw registration"),
    ("GET since=T", "raw since=T"),
    ("GET until=T", "raw until=T"),
    ("GET since, ascending", "raw since, paging"),
    ("GET /reports", "raw learners × weeks"),
    ("GET /dashboard", "raw learners × weeks"),
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
pub fn ratio_text(ratio: f64) -> String {
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

impl Report {
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
        md.push_str("\n## Targets (issue 19: the dashboard pages and their reports)\n\n");
        md.push_str(&targets::table(&self.issue_19_targets()));
        md.push_str("\n## Targets (issue 18)\n\n");
        md.push_str(&targets::table(&self.issue_18_targets()));
        md.push_str(
            "\n## Targets (issue 6; its query and report targets are issue 18's, above)\n\n",
        );
        md.push_str(&targets::table(&self.issue_6_targets()));
        for run in &self.runs {
            md.push_str(&format!("\n## Store size {}\n\n", run.store_size));
            if let Some(earlier) = &run.measured_by {
                md.push_str(&format!(
                    "Measured by {earlier}, not by this one (carried over with `BENCH_MERGE`).\n\n"
                ));
            }
            let first_dashboard = if run.first_dashboard_ms.is_empty() {
                String::new()
            } else {
                format!(
                    " The first `GET /dashboard` after each restart: {} ms.",
                    milliseconds(&run.first_dashboard_ms)
                )
            };
            md.push_str(&format!(
                "{} Time to ready with this existing database (3 restarts): {} ms.{first_dashboard} \
                 Server peak RSS (VmHWM) over the scenarios: {:.0} MB. {}\n\n",
                run.preload_note,
                milliseconds(&run.ready_ms),
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
            if let Some(storage) = &run.storage {
                md.push_str(&format!("\n### Storage\n\n{}", storage.markdown()));
            }
            md.push_str(&fold_section(run));
            md.push_str(&commit_section(run));
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
             against the 100-row INSERT, single POST/PUT against the single-row INSERT (those \
             with `commit_delay` against the single-row INSERT with it), each read against the \
             same read from the table, every report and dashboard page against the GROUP BY. `since=T` and \
             `until=T` take T uniformly at random between the first and last `stored` time of \
             the store (default order, newest first); their raw counterparts compare the JSON's \
             `stored` and sort by it. The reads named `while the feed folds:` ran while the \
             learning feed folded the preload's held-back Statements, those named `caught up:` \
             on the same store once it had folded them all. Bytes per Statement are read from \
             the catalogue (`pg_table_size`, `pg_indexes_size`, `pg_total_relation_size` of \
             every table in the schema, whatever the migrations made) after the preload and \
             VACUUM ANALYZE.\n",
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

/// Times in ms, comma-separated.
fn milliseconds(values: &[f64]) -> String {
    values
        .iter()
        .map(|v| format!("{v:.0}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The reads while the feed folded its backlog beside the same reads once caught up.
fn fold_section(run: &SizeRun) -> String {
    let mut rows = String::new();
    for during in &run.scenarios {
        let Some(query) = during.name.strip_prefix(WHILE_FOLDING) else {
            continue;
        };
        let caught_up = format!("{CAUGHT_UP}{query}");
        let Some(after) = run.scenarios.iter().find(|s| s.name == caught_up) else {
            continue;
        };
        rows.push_str(&format!(
            "| {query} | {:.2} | {:.2} | {:.2} | {:.2} | {:.1}× |\n",
            during.p50_ms,
            during.p99_ms,
            after.p50_ms,
            after.p99_ms,
            during.p99_ms / after.p99_ms.max(1e-3)
        ));
    }
    if run.fold_note.is_empty() {
        return String::new();
    }
    let mut md = format!(
        "\n### Reads while the learning feed folds\n\n{}\n",
        run.fold_note
    );
    if !rows.is_empty() {
        md.push_str(
            "\n| query | p50 ms while folding | p99 ms while folding | p50 ms caught up | \
             p99 ms caught up | p99 ratio |\n|---|---|---|---|---|---|\n",
        );
        md.push_str(&rows);
    }
    md
}

/// Single-Statement commits side by side: PostgreSQL's single-row INSERT and the LRS's
/// single POST, each as built and with `commit_delay`.
fn commit_section(run: &SizeRun) -> String {
    let rate = |prefix: &str| {
        run.scenarios
            .iter()
            .find(|s| s.name.starts_with(prefix))
            .map(|s| s.items_per_second)
    };
    let (plain, delayed) = (rate("raw INSERT, 1 "), rate(commit::RAW_WITH_DELAY));
    let ratio = |of: f64, to: Option<f64>| {
        to.map(|to| ratio_text(of / to.max(1e-9)))
            .unwrap_or_default()
    };
    let mut rows = String::new();
    for s in run.scenarios.iter().filter(|s| {
        [
            "raw INSERT, 1 ",
            commit::RAW_WITH_DELAY,
            "POST /statements, single",
            "POST single",
        ]
        .iter()
        .any(|prefix| s.name.starts_with(prefix))
    }) {
        rows.push_str(&format!(
            "| {}{} | {} | {:.2} | {:.2} | {} | {} |\n",
            s.name,
            if s.kind == "raw" { " (PostgreSQL)" } else { "" },
            rate_text(s.items_per_second),
            s.p50_ms,
            s.p99_ms,
            ratio(s.items_per_second, plain),
            ratio(s.items_per_second, delayed),
        ));
    }
    if run.commit_note.is_empty() && rows.is_empty() {
        return String::new();
    }
    format!(
        "\n### Single-Statement commits\n\n{}\n\n| scenario | statements/s | p50 ms | p99 ms | \
         vs raw single-row INSERT | vs raw INSERT with commit_delay |\n|---|---|---|---|---|---|\n{rows}",
        run.commit_note
    )
}
