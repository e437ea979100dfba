//! Reads while the learning feed folds a backlog: the preload's last Statements wait
//! for the feed as one backlog (`ingest::preload` holds it back); the queries run while
//! it folds them, then again once it has caught up, so each read's figure during the
//! fold stands beside its own caught-up figure on the same store. Each set begins on a
//! store at rest, so the two differ by the feed's work alone.

use std::time::Instant;

use crate::cluster::settle;
use crate::harness::{drain_learning_feed, feed_backlog, FeedHold, Http};
use crate::measure::Scenario;
use crate::reads::{get_op, query_shapes, Samples};
use crate::Run;

/// Name prefixes of the two measurements of each query.
pub const WHILE_FOLDING: &str = "while the feed folds: ";
pub const CAUGHT_UP: &str = "caught up: ";

/// Lets the held-back feed fold its backlog and measures the queries meanwhile, then
/// once it has caught up; says how much of the backlog was folded during the reads and
/// whether it ran out before they ended.
pub async fn reads(run: &Run<'_>, http: &Http, hold: FeedHold) -> (Vec<Scenario>, String) {
    let samples = Samples::take(run).await;
    // What the store has no sample for is said by the caught-up run's own queries.
    let shapes = query_shapes(&samples, &mut Vec::new());
    let qc = run.config.query_clients;
    let client = run.connect().await;
    let (backlog, _) = feed_backlog(&client).await;
    // Both measurements on a store at rest, so they differ by the feed's work alone: the
    // preload's rows vacuumed and every page written before the first, the feed's
    // rollups the same before the second.
    settle(&client).await;
    println!("  -- LRS queries while the learning feed folds {backlog} statements");
    hold.release().await;
    let started = Instant::now();
    let mut scenarios = Vec::new();
    let mut ran_out = None;
    for (name, query) in &shapes {
        let before = last_seq(&client).await;
        let began = Instant::now();
        let scenario = run
            .measure(&format!("{WHILE_FOLDING}{name}"), "lrs", qc, |c| {
                get_op(http, c, query.clone())
            })
            .await;
        let folded = last_seq(&client).await - before;
        let (left, _) = feed_backlog(&client).await;
        let Some(mut scenario) = scenario else {
            continue;
        };
        scenario.note = Some(format!(
            "the feed folded {folded} statements while it ran ({:.0} statements/s); {left} \
             were left at its end",
            folded as f64 / began.elapsed().as_secs_f64().max(1e-3)
        ));
        if left == 0 && ran_out.is_none() {
            ran_out = Some(scenario.name.clone());
        }
        scenarios.push(scenario);
    }
    let reading = started.elapsed().as_secs_f64();
    let (left, _) = feed_backlog(&client).await;
    let folded = backlog - left;
    let end = match &ran_out {
        Some(name) => format!(
            "the backlog ran out during `{name}`: that scenario and those after it were \
             measured (in part) with the feed caught up"
        ),
        None => format!("{left} were still left when they ended"),
    };
    let drain = drain_learning_feed(run.cluster, &run.database).await;
    let note = format!(
        "Reads while the learning feed folds: when they began, it had {backlog} statements \
         to fold (those the preload held back); during the {} read scenarios ({reading:.0} s) \
         it folded {folded} of them ({:.0} statements/s), so {:.0} % of the backlog; {end}. \
         After them, {drain} The same reads were then measured again (`{CAUGHT_UP}`). \
         Each set of reads began on a store at rest (VACUUM ANALYZE, then a checkpoint).",
        scenarios.len(),
        folded as f64 / reading.max(1e-3),
        100.0 * folded as f64 / (backlog.max(1)) as f64,
    );
    println!("  {note}");
    settle(&client).await;
    for (name, query) in &shapes {
        scenarios.extend(
            run.measure(&format!("{CAUGHT_UP}{name}"), "lrs", qc, |c| {
                get_op(http, c, query.clone())
            })
            .await,
        );
    }
    (scenarios, note)
}

async fn last_seq(client: &tokio_postgres::Client) -> i64 {
    client
        .query_one("SELECT last_seq FROM learning_feed", &[])
        .await
        .unwrap()
        .get(0)
}
