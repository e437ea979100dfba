//! What a bench's results say they came from (the commit and the machine), and writing
//! them out. Shared by the bench binaries (`#[path]`).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde::Serialize;

/// Writes the report `markdown` and the `results` as JSON into `out` (created if need
/// be), and prints the report.
pub fn write(
    out: &Path,
    (markdown_file, markdown): (&str, &str),
    (json_file, results): (&str, &impl Serialize),
) {
    std::fs::create_dir_all(out).unwrap();
    std::fs::write(out.join(markdown_file), markdown).unwrap();
    std::fs::write(
        out.join(json_file),
        serde_json::to_string_pretty(results).unwrap() + "\n",
    )
    .unwrap();
    println!("\n{markdown}");
}

/// The commit the bench ran at, marked when the checkout had uncommitted changes other
/// than to `outputs` (the results files the bench writes: a checkout holding an earlier
/// run's is still the commit it names).
pub fn commit(outputs: &[&str]) -> String {
    let run = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default()
    };
    let head = run(&["rev-parse", "--short", "HEAD"]);
    let mut status = vec!["status", "--porcelain", "--untracked-files=no", "--", "."];
    let excluded: Vec<String> = outputs.iter().map(|o| format!(":!{o}")).collect();
    status.extend(excluded.iter().map(String::as_str));
    let dirty = !run(&status).is_empty();
    if dirty {
        format!("{head} (with uncommitted changes)")
    } else {
        head
    }
}

/// The machine the bench ran on: CPU, cores, memory, load at the end, kernel.
pub fn machine() -> BTreeMap<String, String> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_default();
    let cores = cpuinfo
        .lines()
        .filter(|l| l.starts_with("processor"))
        .count();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem = |field: &str| {
        meminfo
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map(|kb| format!("{:.1} GiB", kb / 1024.0 / 1024.0))
            .unwrap_or_default()
    };
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    BTreeMap::from([
        ("cpu".to_string(), model),
        ("cores".to_string(), cores.to_string()),
        ("memory_total".to_string(), mem("MemTotal:")),
        ("memory_available".to_string(), mem("MemAvailable:")),
        ("load_average_at_end".to_string(), load.trim().to_string()),
        ("kernel".to_string(), kernel.trim().to_string()),
    ])
}
