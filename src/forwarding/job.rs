//! A job: what goes to the target as one request (a batch, or a dead letter sent
//! again), and its delivery: retried until the target takes or rejects it.

use std::sync::Arc;

use serde_json::Value;
use tokio::sync::mpsc::UnboundedSender;
use uuid::Uuid;

use super::target::{backoff, Answer, Outgoing, Target};
use super::Connections;
use crate::store::forwarding::Batch;
use crate::store::forwarding_reads::{self as reads, StoredStatement};

/// Attachment content by hash: (sha2, content type, content).
pub type Attachments = Vec<(String, String, Vec<u8>)>;

/// What is sent as one request (with its retries).
pub struct Job {
    pub kind: JobKind,
    pub delivery: Uuid,
    pub statements: Vec<StoredStatement>,
    pub attachments: Attachments,
}

pub enum JobKind {
    Batch(Batch),
    /// A dead letter sent again, by seq.
    Replay(i64),
}

pub type Sent = (Job, Result<(), (u16, String)>);

/// Sends a job until the target takes it (`Ok`) or rejects it (`Err`), reporting every
/// failed attempt on `failures` and retrying after a backoff with jitter, and no sooner
/// than the target's `Retry-After`. Before each retry the Statements erased meanwhile (a
/// person's erasure) are left out: they must not leave the LRS after it.
pub async fn deliver(
    mut job: Job,
    target: Arc<Target>,
    http: reqwest::Client,
    failures: UnboundedSender<String>,
    conns: Connections,
    store_id: i64,
) -> Sent {
    for attempt in 0u32.. {
        if job.statements.is_empty() {
            break;
        }
        let outgoing = Outgoing {
            delivery: job.delivery,
            statements: &job.statements,
            attachments: &job.attachments,
        };
        match target.send(&http, &outgoing).await {
            Answer::Delivered => break,
            Answer::Rejected { status, answer } => return (job, Err((status, answer))),
            Answer::Retry { error, after } => {
                // The runner may be stopping; the count is moot then.
                let _ = failures.send(error);
                // The target's `Retry-After` is a least wait, and so is the backoff: a
                // target answering `Retry-After: 0` (or a date gone by) would otherwise
                // be asked again at once, without end.
                let wait = backoff(attempt);
                tokio::time::sleep(after.map_or(wait, |after| after.max(wait))).await;
            }
        }
        let seqs: Vec<i64> = job.statements.iter().map(|s| s.seq).collect();
        if let Ok(client) = conns.get().await {
            if let Ok(held) = reads::existing_seqs(&client, store_id, &seqs).await {
                job.statements.retain(|s| held.contains(&s.seq));
                job.attachments = only_of(&job.attachments, &job.statements);
            }
        }
    }
    (job, Ok(()))
}

/// The distinct `sha2` of the Statements' attachments, in order, in lowercase as the
/// store keeps them (a Statement may spell its hex in either case).
pub fn attachment_hashes(statements: &[StoredStatement]) -> Vec<String> {
    let mut hashes: Vec<String> = statements
        .iter()
        .filter_map(|s| s.body.get("attachments").and_then(Value::as_array))
        .flatten()
        .filter_map(|a| a.get("sha2").and_then(Value::as_str))
        .map(str::to_ascii_lowercase)
        .collect();
    hashes.sort();
    hashes.dedup();
    hashes
}

/// The attachments among `all` that these Statements carry.
pub fn only_of(all: &Attachments, statements: &[StoredStatement]) -> Attachments {
    let wanted = attachment_hashes(statements);
    all.iter()
        .filter(|(sha2, _, _)| wanted.binary_search(sha2).is_ok())
        .cloned()
        .collect()
}
