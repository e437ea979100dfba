//! `commonplace modes reclassify`: re-labels stored Statements store by store, in
//! batches that each commit their progress, showing a progress bar.

use deadpool_postgres::Pool;

use crate::modes::Ruleset;
use crate::store::modes::{self, Progress};
use crate::telemetry::statements_bar;

/// Reclassifies `store` (or every store); returns a message on failure.
pub async fn run(
    pool: &Pool,
    rules: &Ruleset,
    store: Option<&str>,
    batch_size: i64,
    restart: bool,
) -> Result<(), String> {
    let stores = match store {
        Some(name) => vec![modes::store_by_name(pool, name)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("no store named '{name}'"))?],
        None => modes::all_stores(pool).await.map_err(|e| e.to_string())?,
    };
    let fingerprint = rules.fingerprint();
    for (store_id, name) in stores {
        let start = modes::begin_reclassification(pool, store_id, &fingerprint, restart)
            .await
            .map_err(|e| e.to_string())?;
        let summary = reclassify_store(pool, rules, store_id, &name, batch_size, &start).await?;
        println!("store '{name}': {summary}");
    }
    Ok(())
}

async fn reclassify_store(
    pool: &Pool,
    rules: &Ruleset,
    store_id: i64,
    name: &str,
    batch_size: i64,
    start: &Progress,
) -> Result<String, String> {
    if start.finished && start.remaining == 0 {
        return Ok(format!(
            "already reclassified with these rules ({} changed); --restart to run again",
            start.changed
        ));
    }
    let bar = statements_bar(start.remaining.max(0) as u64, name);
    let mut changed = 0u64;
    loop {
        let batch = modes::reclassify_batch(pool, store_id, name, rules, batch_size)
            .await
            .map_err(|e| e.to_string())?;
        if batch.seen == 0 {
            break;
        }
        changed += batch.changed;
        // Statements stored meanwhile make the run longer than first counted.
        if bar.position() + batch.seen as u64 > bar.length().unwrap_or(0) {
            bar.set_length(bar.position() + batch.seen as u64);
        }
        bar.inc(batch.seen as u64);
    }
    bar.finish_and_clear();
    Ok(format!(
        "{} statements looked at, {changed} relabelled{}",
        bar.position(),
        if start.last_seq > 0 && !start.finished {
            " (resumed)"
        } else {
            ""
        }
    ))
}
