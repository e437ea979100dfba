//! A job: what goes to the target as one request (a batch, or a dead letter sent
//! again), and its delivery: retried until the target takes or rejects it.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::value::RawValue;
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
        .flat_map(|s| hashes_of(&s.body))
        .map(|sha2| sha2.to_ascii_lowercase())
        .collect();
    hashes.sort();
    hashes.dedup();
    hashes
}

/// The `sha2` of one stored Statement's attachments, read from its text without
/// building the rest (most Statements have none, and are not read at all).
fn hashes_of(body: &RawValue) -> Vec<String> {
    #[derive(Deserialize)]
    struct Attachment {
        sha2: String,
    }
    #[derive(Deserialize)]
    struct Carrying {
        #[serde(default)]
        attachments: Vec<Attachment>,
    }
    if !body.get().contains(r#""attachments""#) {
        return Vec::new();
    }
    serde_json::from_str::<Carrying>(body.get())
        .map(|carrying| carrying.attachments.into_iter().map(|a| a.sha2).collect())
        .unwrap_or_default()
}

/// The attachments among `all` that these Statements carry.
pub fn only_of(all: &Attachments, statements: &[StoredStatement]) -> Attachments {
    let wanted = attachment_hashes(statements);
    all.iter()
        .filter(|(sha2, _, _)| wanted.binary_search(sha2).is_ok())
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Map};

    use super::*;

    fn stored(body: serde_json::Value) -> StoredStatement {
        StoredStatement {
            seq: 1,
            id: Uuid::new_v4(),
            mode: None,
            voids: None,
            body: RawValue::from_string(body.to_string()).unwrap(),
            tags: Map::new(),
        }
    }

    #[test]
    fn attachment_hashes_are_read_from_the_stored_text() {
        let statements = [
            stored(json!({"id": "a", "attachments": [
                {"usageType": "http://example.com/u", "sha2": "ABC1", "length": 3},
                {"usageType": "http://example.com/u", "sha2": "def2", "length": 3}
            ]})),
            stored(json!({"id": "b", "object": {"definition": {"name": {"en": "attachments"}}}})),
            stored(json!({"id": "c", "attachments": [{"sha2": "abc1"}]})),
        ];
        assert_eq!(attachment_hashes(&statements), ["abc1", "def2"]);
        assert!(attachment_hashes(&statements[1..2]).is_empty());
    }
}
