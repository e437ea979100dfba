//! The forwarding bench's figures, and FORWARDING.md written from them.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

/// Issue 20's goals.
const GOAL_FORWARDING: f64 = 5_000.0;
const GOAL_SLOWDOWN_PERCENT: f64 = 10.0;

/// A rate measured over a stretch of time.
#[derive(Debug, Serialize)]
pub struct Rate {
    pub statements: u64,
    pub seconds: f64,
    pub per_second: f64,
}

impl Rate {
    pub fn new(statements: u64, elapsed: Duration) -> Rate {
        let seconds = elapsed.as_secs_f64();
        Rate {
            statements,
            seconds,
            per_second: statements as f64 / seconds.max(1e-6),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Results {
    pub commit: String,
    pub date: String,
    pub machine: BTreeMap<String, String>,
    pub settings: BTreeMap<String, String>,
    pub ingest_alone: Rate,
    pub ingest_target_down: Rate,
    /// The down target's forwarder's lag when its ingest ended.
    pub lag_target_down: i64,
    pub forwarding: Rate,
    pub ingest_while_forwarding: Rate,
    /// What the forwarder delivered while that ingest ran.
    pub forwarded_meanwhile: Rate,
    pub ingest_slowdown_target_down_percent: f64,
    pub ingest_slowdown_forwarding_percent: f64,
}
pub fn markdown(r: &Results) -> String {
    let verdict = |ok: bool| if ok { "met" } else { "**not met**" };
    let machine = format!(
        "{} ({} cores, {})",
        r.machine["cpu"], r.machine["cores"], r.machine["memory_total"]
    );
    format!(
        "# Forwarding benchmark\n\n\
         Commit {commit}, {date}, on {machine}. Written by `cargo bench --bench forwarding` \
         (benches/forwarding.rs); the figures are in `forwarding-results.json`.\n\n\
         The source and the target are the release server, each on a database of its own in \
         one embedded PostgreSQL on this machine; {clients} clients POST Workload batches of \
         {batch} to the source for {seconds} s per ingest scenario. Forwarding is measured from \
         creating a `--from-start` xAPI forwarder over every Statement the source then holds \
         (at least {stored}: the ingest scenarios' and a top-up) until `forwarders list` \
         shows its lag at 0.\n\n\
         | scenario | Statements/s | beside ingest alone |\n|---|---:|---:|\n\
         | ingest, no forwarder | {a:.0} | |\n\
         | ingest, a forwarder to a target that is down (lag {lag} after) | {b:.0} | {bs:+.1} % |\n\
         | forwarding source → target ({f_n} Statements in {f_s:.1} s) | {f:.0} | |\n\
         | ingest while a forwarder works through its backlog | {d:.0} | {ds:+.1} % |\n\
         | forwarded meanwhile | {m:.0} | |\n\n\
         Goals (issue 20): forwarding at least {goal_f:.0} Statements/s: {fv}; ingest slowed by \
         at most {goal_s:.0} % while a forwarder runs: {sv} (target down: {bv}).\n",
        commit = r.commit,
        date = r.date,
        clients = r.settings["clients"],
        batch = r.settings["ingest_batch"],
        seconds = r.settings["seconds"],
        stored = r.settings["statements"],
        a = r.ingest_alone.per_second,
        b = r.ingest_target_down.per_second,
        bs = -r.ingest_slowdown_target_down_percent,
        lag = r.lag_target_down,
        f_n = r.forwarding.statements,
        f_s = r.forwarding.seconds,
        f = r.forwarding.per_second,
        d = r.ingest_while_forwarding.per_second,
        ds = -r.ingest_slowdown_forwarding_percent,
        m = r.forwarded_meanwhile.per_second,
        goal_f = GOAL_FORWARDING,
        fv = verdict(r.forwarding.per_second >= GOAL_FORWARDING),
        goal_s = GOAL_SLOWDOWN_PERCENT,
        sv = verdict(r.ingest_slowdown_forwarding_percent <= GOAL_SLOWDOWN_PERCENT),
        bv = verdict(r.ingest_slowdown_target_down_percent <= GOAL_SLOWDOWN_PERCENT),
    )
}
