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
    /// Ingest alone again once that forwarder was deleted.
    pub ingest_alone_after_down: Rate,
    /// The down target's forwarder's lag when its ingest ended.
    pub lag_target_down: i64,
    /// A `--from-start` forwarder through the backlog, with no other load.
    pub forwarding: Rate,
    /// One client ingesting while a forwarder at the head sends what arrives.
    pub ingest_live: Rate,
    pub forwarded_live: Rate,
    /// That forwarder's lag when the client stopped, and how long it took to reach 0.
    pub lag_live: i64,
    pub live_caught_up_seconds: f64,
    /// Ingest alone just before `ingest_while_forwarding`, and again once its forwarder
    /// had caught up and was deleted: their mean is the baseline of its slowdown.
    pub ingest_alone_before: Rate,
    pub ingest_alone_after: Rate,
    pub ingest_while_forwarding: Rate,
    /// What the forwarder delivered while that ingest ran, giving way to it.
    pub forwarded_meanwhile: Rate,
    /// Statements it had still to forward when that ingest stopped.
    pub lag_after_ingest: u64,
    /// From then until its lag was 0.
    pub catch_up: Rate,
    /// Each against the mean of the runs alone just before and just after it.
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
         {batch} to the source for {seconds} s per ingest scenario. The backlog is forwarded \
         from creating a `--from-start` xAPI forwarder (batches of {fwd_batch}) over every \
         Statement the source then holds (at least {stored}: the ingest scenarios' and a \
         top-up) until `forwarders list` shows its lag at 0. Live, one client ingests \
         {live_rate} Statements/s (a batch of {batch} at a time) while a forwarder created at \
         the head sends what arrives. While it runs, a forwarder \
         gives way to the source's requests (up to 4 ms per Statement of a batch before it \
         forms it), so under the {clients} clients' saturating ingest it trickles, builds \
         lag, and catches up once ingest stops. Each slowdown is against the mean of the \
         runs alone just before and just after the run with a forwarder: the store grows with \
         every run, and ingest slows as it grows.\n\n\
         | scenario | Statements/s | beside ingest alone |\n|---|---:|---:|\n\
         | ingest, no forwarder | {a:.0} | |\n\
         | ingest, a forwarder to a target that is down (lag {lag} after) | {b:.0} | {bs:+.1} % |\n\
         | ingest alone again, that forwarder deleted | {a3:.0} | |\n\
         | forwarding a backlog, source → target ({f_n} Statements in {f_s:.1} s) | {f:.0} | |\n\
         | ingest, 1 paced client, while a forwarder sends what arrives | {li:.0} | |\n\
         | forwarded live meanwhile (lag {ll} when the client stopped, 0 after {lc:.1} s) | {lf:.0} | |\n\
         | ingest alone, just before the next line | {a2:.0} | |\n\
         | ingest while a forwarder works through its backlog | {d:.0} | {ds:+.1} % |\n\
         | forwarded meanwhile, giving way | {m:.0} | |\n\
         | catch-up once ingest stopped ({cu_lag} Statements left, caught up in {cu_s:.1} s) | {cu:.0} | |\n\
         | ingest alone again, that forwarder deleted | {a4:.0} | |\n\n\
         Goals (issue 20): forwarding at least {goal_f:.0} Statements/s: {fv}; ingest slowed by \
         at most {goal_s:.0} % while a forwarder runs: {sv} (target down: {bv}).\n",
        commit = r.commit,
        date = r.date,
        clients = r.settings["clients"],
        batch = r.settings["ingest_batch"],
        seconds = r.settings["seconds"],
        stored = r.settings["statements"],
        live_rate = r.settings["live_rate"],
        fwd_batch = r
            .settings
            .get("FORWARD_BENCH_BATCH")
            .map_or("500, the default", String::as_str),
        a = r.ingest_alone.per_second,
        b = r.ingest_target_down.per_second,
        bs = -r.ingest_slowdown_target_down_percent,
        lag = r.lag_target_down,
        f_n = r.forwarding.statements,
        f_s = r.forwarding.seconds,
        f = r.forwarding.per_second,
        li = r.ingest_live.per_second,
        ll = r.lag_live,
        lc = r.live_caught_up_seconds,
        lf = r.forwarded_live.per_second,
        cu_lag = r.lag_after_ingest,
        cu_s = r.catch_up.seconds,
        cu = r.catch_up.per_second,
        a2 = r.ingest_alone_before.per_second,
        a3 = r.ingest_alone_after_down.per_second,
        a4 = r.ingest_alone_after.per_second,
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
