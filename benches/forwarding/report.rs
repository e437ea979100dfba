//! The forwarding bench's figures, and FORWARDING.md written from them.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use super::cpu::{self, Cores};

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

impl Rate {
    /// The runs taken together: their Statements over their seconds.
    fn total(runs: &[Rate]) -> Rate {
        let statements = runs.iter().map(|r| r.statements).sum();
        let seconds: f64 = runs.iter().map(|r| r.seconds).sum();
        Rate::new(statements, Duration::from_secs_f64(seconds))
    }
}

/// Ingest runs alone and with a forwarder at work, taken in turn.
#[derive(Debug, Serialize)]
pub struct Alternation {
    pub alone: Rate,
    pub with: Rate,
    pub alone_runs: Vec<f64>,
    pub with_runs: Vec<f64>,
    /// Each run with the forwarder against the mean of the runs alone just before and
    /// after it: how much slower, in percent.
    pub pair_slowdowns: Vec<f64>,
    /// What the forwarder delivered during the runs with it, over their seconds.
    pub forwarded: Rate,
    /// Cores each part kept busy, on average over the runs alone and those with it.
    pub alone_cores: Cores,
    pub with_cores: Cores,
}

impl Alternation {
    pub fn new(
        alone: Vec<Rate>,
        with: Vec<Rate>,
        forwarded: u64,
        alone_cores: &[Cores],
        with_cores: &[Cores],
    ) -> Alternation {
        let with_total = Rate::total(&with);
        Alternation {
            forwarded: Rate::new(forwarded, Duration::from_secs_f64(with_total.seconds)),
            alone: Rate::total(&alone),
            with: with_total,
            alone_runs: alone.iter().map(|r| r.per_second.round()).collect(),
            with_runs: with.iter().map(|r| r.per_second.round()).collect(),
            pair_slowdowns: with
                .iter()
                .zip(alone.windows(2))
                .map(|(w, a)| {
                    (1.0 - 2.0 * w.per_second / (a[0].per_second + a[1].per_second)) * 100.0
                })
                .collect(),
            alone_cores: Cores::mean(alone_cores),
            with_cores: Cores::mean(with_cores),
        }
    }

    /// What the target's server and database took of all the CPU the parts used in
    /// the runs with the forwarder, beyond what they took in the runs alone: the share
    /// of the machine that forwarded Statements cost where they were stored again.
    pub fn target_share_percent(&self) -> f64 {
        let target = |cores: &Cores| cores.of(cpu::TARGET_SERVER) + cores.of(cpu::TARGET_DATABASE);
        (target(&self.with_cores) - target(&self.alone_cores)) / self.with_cores.total() * 100.0
    }

    /// How much slower ingest ran with the forwarder at work than alone: the median of
    /// the pairs. Each run with it is compared with the runs alone on either side, so
    /// the machine's speed, which moves by a fifth or more between runs a minute apart
    /// while the cores are shared out alike (see `cpu`), weighs on both sides of a pair
    /// alike; and one run far off moves the median less than the pooled figure.
    pub fn slowdown_percent(&self) -> f64 {
        let mut pairs = self.pair_slowdowns.clone();
        pairs.sort_by(f64::total_cmp);
        match pairs.len() {
            0 => 0.0,
            n if n % 2 == 1 => pairs[n / 2],
            n => (pairs[n / 2 - 1] + pairs[n / 2]) / 2.0,
        }
    }

    /// All the runs with it against all the runs alone, Statements over seconds.
    pub fn pooled_slowdown_percent(&self) -> f64 {
        (1.0 - self.with.per_second / self.alone.per_second) * 100.0
    }
}

#[derive(Debug, Serialize)]
pub struct Results {
    pub commit: String,
    pub date: String,
    pub machine: BTreeMap<String, String>,
    pub settings: BTreeMap<String, String>,
    /// The first run, on an empty store.
    pub ingest_alone: Rate,
    /// Runs alone and with a forwarder to a target that is down.
    pub down: Alternation,
    /// The down target's forwarder's lag when its last run ended.
    pub lag_target_down: u64,
    /// A `--from-start` forwarder through the backlog, with no other load.
    pub forwarding: Rate,
    /// One client ingesting while a forwarder at the head sends what arrives.
    pub ingest_live: Rate,
    pub forwarded_live: Rate,
    /// That forwarder's lag when the client stopped, and how long it took to reach 0.
    pub lag_live: i64,
    pub live_caught_up_seconds: f64,
    /// Runs alone and with a `--from-start` forwarder working through the backlog,
    /// giving way to them.
    pub busy: Alternation,
    /// Statements it had still to forward when that ingest stopped.
    pub lag_after_ingest: u64,
    /// From then until its lag was 0.
    pub catch_up: Rate,
    pub ingest_slowdown_target_down_percent: f64,
    pub ingest_slowdown_forwarding_percent: f64,
}

/// Per-pair slowdowns as changes, as "-3.4, +1.2, -0.8".
fn pairs(slowdowns: &[f64]) -> String {
    slowdowns
        .iter()
        .map(|s| format!("{:+.1}", -s))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Per-run rates, as "5100, 4900, 5000".
fn runs(rates: &[f64]) -> String {
    rates
        .iter()
        .map(|r| format!("{r:.0}"))
        .collect::<Vec<_>>()
        .join(", ")
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
         from creating a `--from-start` xAPI forwarder (batches of {fwd_batch}, {in_flight} in flight) over every \
         Statement the source then holds (at least {stored}: the ingest scenarios' and a \
         top-up) until `forwarders list` shows its lag at 0. Live, one client ingests \
         {live_rate} Statements/s (a batch of {batch} at a time) while a forwarder created at \
         the head sends what arrives. While it runs, a forwarder \
         gives way to the source's requests (up to 8 ms per Statement of a batch before it \
         forms it, unless none has run for 5 ms), so under the {clients} clients' saturating ingest it trickles, builds \
         lag, and catches up once ingest stops. Each slowdown compares {rounds} runs with a \
         forwarder at work (resumed for the run, paused after) with the {alone_runs} runs alone \
         taken in turn with them, starting and ending alone: the machine's speed drifts over \
         minutes and ingest slows as the store grows, and taking turns spreads both over the \
         two sides. The slowdown given is the median of the pairs, each run with a forwarder \
         against the mean of the runs alone on either side; all runs pooled are given too. \
         Every run starts with the learning feed caught up and the source at rest (VACUUM \
         ANALYZE, then a checkpoint), as does the backlog.\n\n\
         | scenario | Statements/s | beside ingest alone |\n|---|---:|---:|\n\
         | ingest, no forwarder (the first run, on an empty store) | {a:.0} | |\n\
         | ingest alone, in turn with the next line (runs: {b_alone}) | {b_a:.0} | |\n\
         | ingest, a forwarder to a target that is down (runs: {b_with}; lag {lag} after; pairs: {b_pairs} %; pooled: {b_pooled:+.1} %) | {b:.0} | {bs:+.1} % |\n\
         | forwarding a backlog, source → target ({f_n} Statements in {f_s:.1} s) | {f:.0} | |\n\
         | ingest, 1 paced client, while a forwarder sends what arrives | {li:.0} | |\n\
         | forwarded live meanwhile (lag {ll} when the client stopped, 0 after {lc:.1} s) | {lf:.0} | |\n\
         | ingest alone, in turn with the next line (runs: {d_alone}) | {d_a:.0} | |\n\
         | ingest while a forwarder works through its backlog (runs: {d_with}; pairs: {d_pairs} %; pooled: {d_pooled:+.1} %) | {d:.0} | {ds:+.1} % |\n\
         | forwarded meanwhile, giving way | {m:.0} | |\n\
         | catch-up once ingest stopped ({cu_lag} Statements left, caught up in {cu_s:.1} s) | {cu:.0} | |\n\n\
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
            .map_or("500 (the default)", String::as_str),
        in_flight = r
            .settings
            .get("FORWARD_BENCH_IN_FLIGHT")
            .map_or("4 (the default)", String::as_str),
        rounds = r.settings["rounds"],
        alone_runs = r.down.alone_runs.len(),
        a = r.ingest_alone.per_second,
        b_alone = runs(&r.down.alone_runs),
        b_a = r.down.alone.per_second,
        b_with = runs(&r.down.with_runs),
        b = r.down.with.per_second,
        bs = -r.ingest_slowdown_target_down_percent,
        b_pairs = pairs(&r.down.pair_slowdowns),
        b_pooled = -r.down.pooled_slowdown_percent(),
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
        d_alone = runs(&r.busy.alone_runs),
        d_a = r.busy.alone.per_second,
        d_with = runs(&r.busy.with_runs),
        d = r.busy.with.per_second,
        ds = -r.ingest_slowdown_forwarding_percent,
        d_pairs = pairs(&r.busy.pair_slowdowns),
        d_pooled = -r.busy.pooled_slowdown_percent(),
        m = r.busy.forwarded.per_second,
        goal_f = GOAL_FORWARDING,
        fv = verdict(r.forwarding.per_second >= GOAL_FORWARDING),
        goal_s = GOAL_SLOWDOWN_PERCENT,
        sv = verdict(r.ingest_slowdown_forwarding_percent <= GOAL_SLOWDOWN_PERCENT),
        bv = verdict(r.ingest_slowdown_target_down_percent <= GOAL_SLOWDOWN_PERCENT),
    ) + &cores_table(r)
}

/// Where the CPU went in the runs of both alternations, part by part.
fn cores_table(r: &Results) -> String {
    let columns = [
        &r.down.alone_cores,
        &r.down.with_cores,
        &r.busy.alone_cores,
        &r.busy.with_cores,
    ];
    let mut parts: Vec<&String> = columns.iter().flat_map(|c| c.0.keys()).collect();
    parts.sort();
    parts.dedup();
    let mut rows = String::new();
    for part in parts {
        let cells: Vec<String> = columns
            .iter()
            .map(|c| format!("{:.2}", c.of(part)))
            .collect();
        rows += &format!("| {part} | {} |\n", cells.join(" | "));
    }
    let totals: Vec<String> = columns
        .iter()
        .map(|c| format!("{:.2}", c.total()))
        .collect();
    format!(
        "\n## Where the CPU went\n\n\
         Cores each part of the bench kept busy, on average over the runs of scenarios 2 and \
         5 (CPU seconds over wall seconds, read from `/proc` every 200 ms; a database's \
         part is every PostgreSQL process working in it, its autovacuum included). Ingest \
         keeps the machine's cores busy, so what a forwarder costs is CPU that ingest does \
         without; the machine's own speed, which swings by a fifth between runs a minute \
         apart, does not show here.\n\n\
         | part | alone | with a forwarder to a down target | alone | with a forwarder \
         through its backlog |\n|---|---:|---:|---:|---:|\n\
         {rows}| all | {} |\n\n\
         The forwarder through its backlog cost the target's server and database {share:.1} % \
         of the CPU used in the runs with it, beyond what they used in the runs alone.\n",
        totals.join(" | "),
        share = r.busy.target_share_percent(),
    )
}
