//! What becomes of a sent job: delivered, split after a rejection until the Statement
//! the target rejects stands alone, or dead-lettered; and dead letters asked to be sent
//! again.

use uuid::Uuid;

use super::{Runner, REPLAYS_AT_ONCE};
use crate::forwarding::job::{only_of, Job, JobKind};
use crate::store::forwarding::{self as sql, Batch, DeadLetter, Finished};
use crate::store::forwarding_reads as reads;
use crate::store::Error;

impl Runner {
    /// Records how a job ended: delivered, split after a rejection, or dead-lettered.
    pub(super) async fn sent(
        &mut self,
        job: Job,
        result: Result<(), (u16, String)>,
    ) -> Result<bool, Error> {
        let mut client = self.conns.get().await?;
        let lease = self.lease;
        let finished = match result {
            Ok(()) => Finished::Delivered(job.statements.len() as i64),
            Err(rejection) if job.statements.len() > 1 => {
                drop(client);
                return self.split(job, rejection).await;
            }
            Err((status, answer)) => Finished::DeadLettered(DeadLetter {
                seq: job.statements[0].seq,
                statement_id: job.statements[0].id,
                status: i32::from(status),
                answer,
            }),
        };
        match job.kind {
            JobKind::Batch(batch) => {
                self.progress.finish(batch.after_seq);
                let advance_to = self.progress.advance();
                sql::finish_batch(&mut client, lease, batch.after_seq, &finished, advance_to).await
            }
            JobKind::Replay(seq) => {
                self.replaying.remove(&seq);
                sql::finish_replay(&mut client, lease, seq, &finished).await
            }
        }
    }

    /// A target rejected a batch of several Statements: each half is recorded as a
    /// batch of its own and sent first, until the one it rejects stands alone.
    async fn split(&mut self, job: Job, (status, answer): (u16, String)) -> Result<bool, Error> {
        let JobKind::Batch(batch) = job.kind else {
            unreachable!("a replay is one Statement");
        };
        tracing::debug!(
            status,
            answer,
            size = job.statements.len(),
            "batch rejected: splitting it"
        );
        let mut left = job.statements;
        let right = left.split_off(left.len() / 2);
        let middle = left.last().map_or(batch.after_seq, |s| s.seq);
        let (left_seqs, right_seqs) = batch.seqs.iter().partition(|seq| **seq <= middle);
        let halves = [
            Batch {
                after_seq: batch.after_seq,
                upto_seq: middle,
                delivery: Uuid::new_v4(),
                seqs: left_seqs,
            },
            Batch {
                after_seq: middle,
                upto_seq: batch.upto_seq,
                delivery: Uuid::new_v4(),
                seqs: right_seqs,
            },
        ];
        let mut client = self.conns.get().await?;
        if !sql::split_batch(
            &mut client,
            self.lease,
            batch.after_seq,
            [&halves[0], &halves[1]],
        )
        .await?
        {
            return Ok(false);
        }
        drop(client);
        self.progress.split(batch.after_seq, middle);
        let [first, second] = halves;
        for (half, statements) in [(second, right), (first, left)] {
            let attachments = only_of(&job.attachments, &statements);
            self.waiting.push_front(Job {
                delivery: half.delivery,
                kind: JobKind::Batch(half),
                statements,
                attachments,
            });
        }
        Ok(true)
    }

    /// Queues the dead letters asked to be sent again (those not already going), up to
    /// [`REPLAYS_AT_ONCE`] going at once.
    pub(super) async fn load_replays(&mut self) -> Result<bool, Error> {
        let room = REPLAYS_AT_ONCE.saturating_sub(self.replaying.len());
        if room == 0 {
            return Ok(true);
        }
        let mut client = self.conns.get().await?;
        let going: Vec<i64> = self.replaying.iter().copied().collect();
        let replays = reads::replays(&client, self.lease.forwarder_id, &going, room as i64).await?;
        if replays.is_empty() {
            return Ok(true);
        }
        let seqs: Vec<i64> = replays.iter().map(|r| r.seq).collect();
        let mut stored = reads::statements_by_seq(&client, self.store_id, &seqs).await?;
        for replay in replays {
            let Some(statement) = stored.remove(&replay.seq) else {
                // Erased since: nothing is left to send.
                if !sql::finish_replay(&mut client, self.lease, replay.seq, &Finished::Delivered(0))
                    .await?
                {
                    return Ok(false);
                }
                continue;
            };
            let statements = vec![statement];
            let attachments = self.attachments_of(&client, &statements).await?;
            self.replaying.insert(replay.seq);
            self.waiting.push_back(Job {
                kind: JobKind::Replay(replay.seq),
                delivery: replay.delivery,
                statements,
                attachments,
            });
        }
        Ok(true)
    }
}
