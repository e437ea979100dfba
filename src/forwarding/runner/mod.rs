//! One forwarder's delivery, in the instance holding its lease.
//!
//! The runner reads the store's Statements after what it has read, never past the
//! settled seq, keeps those the filter selects, and forms batches of `batch_size` (a
//! shorter one once the first Statement waiting in it has lingered `linger_ms` and
//! nothing more is stored). Each batch is recorded before it is sent, and up to
//! `max_in_flight` are sent at once, with one more formed and waiting, so the target is
//! never idle while a finished batch is written down; the position moves over the
//! finished prefix ([`Progress`]). On a claim it first sends again what the last owner
//! recorded and did not finish, with the same delivery ids.
//!
//! The runner gives way to the server's own API requests before each batch it forms,
//! and before each batch taken up from the last owner ([`GiveWay`]): under a load that
//! never lets up lag builds, and it catches up at full speed once the load eases. What
//! it delivers, and how, is the same either way.
//!
//! Every database write goes through the lease (`store::forwarding`): when one finds
//! the lease gone (paused, deleted, replayed, taken over) the runner stops. A database
//! error stops it too; the engine claims the forwarder again and starts from the rows.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::{interval, sleep_until, Instant, MissedTickBehavior};
use uuid::Uuid;

use super::filter::{Candidate, Filter};
use super::give_way::GiveWay;
use super::job::{attachment_hashes, deliver, Attachments, Job, JobKind, Sent};
use super::progress::Progress;
use super::target::Target;
use super::{Connections, LEASE_TTL};
use crate::store::forwarding::{self as sql, Batch, Claimed, Lease, Renewal};
use crate::store::forwarding_reads::{self as reads, StoredStatement};
use crate::store::statement_reads;
use crate::store::Error;

mod outcomes;

/// How often the lease is renewed, and a pause or replay request noticed.
const RENEW_EVERY: Duration = Duration::from_secs(1);
/// Batches formed and recorded beyond the `max_in_flight` being sent, ready to go the
/// moment one finishes.
const FORMED_AHEAD: usize = 1;
/// Rows one read takes at most, whatever the batch size.
const READ_MIN: usize = 500;
const READ_MAX: usize = 5_000;
/// Dead letters being sent again at most at once (each is a Statement in memory, with
/// its attachments): the rest are taken as these finish.
const REPLAYS_AT_ONCE: usize = 100;

/// Why a runner stopped.
enum End {
    /// The server is stopping.
    Stopped,
    /// The forwarder was paused or deleted, or the lease is no longer this runner's.
    LeaseEnded,
}

/// Delivers for one claimed forwarder until its lease ends or the server stops; then
/// gives the lease up, so it is claimed again at once.
pub(super) async fn run(
    claimed: Claimed,
    conns: Connections,
    http: reqwest::Client,
    settled: watch::Receiver<i64>,
    mut stop: watch::Receiver<bool>,
) {
    let lease = claimed.lease;
    let name = claimed.name.clone();
    let outcome = match Runner::new(claimed, conns.clone(), http, settled) {
        Ok(runner) => runner.run(&mut stop).await,
        Err(why) => {
            tracing::warn!(forwarder = %name, "the forwarder cannot deliver: {why}");
            hold_unusable(&conns, lease, &why, &mut stop).await
        }
    };
    if let Err(e) = &outcome {
        tracing::warn!(forwarder = %name, error = %e, "forwarding stopped; it resumes from the database");
        // Not at once: an error that persists would otherwise be retried four times a second.
        tokio::time::sleep(RENEW_EVERY).await;
    }
    if let Ok(client) = conns.get().await {
        let _ = sql::release(&client, lease).await;
    }
    if let Ok(End::LeaseEnded) = outcome {
        tracing::info!(forwarder = %name, "forwarding stopped: paused, deleted or taken over");
    }
}

/// A forwarder whose row cannot be delivered by (an unknown kind, a filter or auth
/// that does not parse): the error is recorded, and the lease held, so no instance
/// keeps claiming it, until it is paused or deleted.
async fn hold_unusable(
    conns: &Connections,
    lease: Lease,
    why: &str,
    stop: &mut watch::Receiver<bool>,
) -> Result<End, Error> {
    if !sql::count_failure(&*conns.get().await?, lease, why).await? {
        return Ok(End::LeaseEnded);
    }
    let mut renew = interval(RENEW_EVERY);
    loop {
        tokio::select! {
            _ = stop.changed() => return Ok(End::Stopped),
            _ = renew.tick() => {
                if sql::renew(&*conns.get().await?, lease, LEASE_TTL).await? == Renewal::Ended {
                    return Ok(End::LeaseEnded);
                }
            }
        }
    }
}

struct Runner {
    conns: Connections,
    http: reqwest::Client,
    lease: Lease,
    store_id: i64,
    filter: Filter,
    target: Arc<Target>,
    batch_size: usize,
    linger: Duration,
    max_in_flight: usize,
    progress: Progress,
    /// Selected Statements read beyond the last batch, in seq order, with when read.
    buffer: VecDeque<(StoredStatement, Instant)>,
    /// Every seq of the store up to this one has been read.
    scanned: i64,
    /// The settled seq, as the engine last read it (`sql::settled_seq`): reads go up to
    /// it, and a new one wakes a runner that caught up.
    settled: watch::Receiver<i64>,
    /// When to read again (now, while a backlog lasts or once the settled seq moved).
    next_read: Instant,
    /// Formed, waiting for one of the `max_in_flight` places.
    waiting: VecDeque<Job>,
    /// Recorded by the last owner and not finished, to be sent again before any batch
    /// is formed, each once the runner has given way for it. Sent at once, they cost
    /// ingest 1,000 to 2,000 Statements stored again at the target each time the
    /// forwarding bench resumed a forwarder in the midst of requests.
    taken_up: VecDeque<Job>,
    give_way: GiveWay,
    sending: JoinSet<Sent>,
    /// Dead letters being sent again, by seq.
    replaying: HashSet<i64>,
    failures_in: UnboundedSender<String>,
    failures: UnboundedReceiver<String>,
}

impl Runner {
    fn new(
        claimed: Claimed,
        conns: Connections,
        http: reqwest::Client,
        settled: watch::Receiver<i64>,
    ) -> Result<Runner, String> {
        let filter = Filter::parse(&claimed.filter)?;
        let target = Target::new(
            &claimed.kind,
            &claimed.url,
            &claimed.auth,
            &claimed.xapi_version,
        )?;
        let (failures_in, failures) = unbounded_channel();
        let give_way = GiveWay::new(conns.load.clone());
        Ok(Runner {
            conns,
            http,
            lease: claimed.lease,
            store_id: claimed.store_id,
            filter,
            target: Arc::new(target),
            batch_size: claimed.batch_size.max(1) as usize,
            linger: Duration::from_millis(claimed.linger_ms.max(0) as u64),
            max_in_flight: claimed.max_in_flight.max(1) as usize,
            progress: Progress::new(claimed.position),
            buffer: VecDeque::new(),
            scanned: claimed.position,
            settled,
            next_read: Instant::now(),
            waiting: VecDeque::new(),
            taken_up: VecDeque::new(),
            give_way,
            sending: JoinSet::new(),
            replaying: HashSet::new(),
            failures_in,
            failures,
        })
    }

    async fn run(mut self, stop: &mut watch::Receiver<bool>) -> Result<End, Error> {
        if !self.restore().await? {
            return Ok(End::LeaseEnded);
        }
        let mut renew = interval(RENEW_EVERY);
        renew.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            if !self.form().await? {
                return Ok(End::LeaseEnded);
            }
            self.launch();
            let wake = self.wake_at();
            let held = tokio::select! {
                _ = stop.changed() => return Ok(End::Stopped),
                Some(sent) = self.sending.join_next(), if !self.sending.is_empty() => match sent {
                    Ok((job, result)) => {
                        // The batch formed ahead goes before this one is written down.
                        self.launch();
                        self.sent(job, result).await?
                    }
                    Err(e) => std::panic::resume_unwind(e.into_panic()),
                },
                Some(error) = self.failures.recv() => {
                    sql::count_failure(&*self.conns.get().await?, self.lease, &error).await?
                }
                _ = renew.tick() => match sql::renew(&*self.conns.get().await?, self.lease, LEASE_TTL).await? {
                    Renewal::Held { replay_pending } => !replay_pending || self.load_replays().await?,
                    Renewal::Ended => false,
                },
                Ok(()) = self.settled.changed() => {
                    self.next_read = Instant::now();
                    true
                }
                _ = sleep_until(wake) => true,
            };
            if !held {
                return Ok(End::LeaseEnded);
            }
        }
    }

    /// Takes up where the last owner left off: passes the batches it finished, and
    /// sends again those it did not, as recorded.
    async fn restore(&mut self) -> Result<bool, Error> {
        let client = self.conns.get().await?;
        let mut resend = Vec::new();
        for recorded in reads::recorded_batches(&client, self.lease.forwarder_id).await? {
            let batch = recorded.batch;
            if batch.upto_seq <= self.progress.position() {
                continue;
            }
            if batch.after_seq < self.progress.end() {
                tracing::warn!(
                    after_seq = batch.after_seq,
                    "a recorded batch overlaps another; left out"
                );
                continue;
            }
            self.progress
                .push_batch(batch.after_seq, batch.upto_seq, recorded.done);
            if !recorded.done {
                resend.push(batch);
            }
        }
        self.scanned = self.progress.end();
        let seqs: Vec<i64> = resend.iter().flat_map(|b| b.seqs.iter().copied()).collect();
        let mut stored = reads::statements_by_seq(&client, self.store_id, &seqs).await?;
        for batch in resend {
            // Those erased since are gone; the rest go as they went before.
            let statements: Vec<StoredStatement> = batch
                .seqs
                .iter()
                .filter_map(|seq| stored.remove(seq))
                .collect();
            let attachments = self.attachments_of(&client, &statements).await?;
            self.taken_up.push_back(Job {
                delivery: batch.delivery,
                kind: JobKind::Batch(batch),
                statements,
                attachments,
            });
        }
        if let Some(position) = self.progress.advance() {
            if !sql::advance(&client, self.lease, position).await? {
                return Ok(false);
            }
        }
        drop(client);
        self.load_replays().await
    }

    /// Whether as many batches as may be are being sent or waiting to be.
    fn full(&self) -> bool {
        self.sending.len() + self.waiting.len() >= self.max_in_flight + FORMED_AHEAD
    }

    /// Reads and forms batches while there is room in flight, and the server's
    /// requests leave room for them.
    async fn form(&mut self) -> Result<bool, Error> {
        while !self.full() {
            if let Some(job) = self.taken_up.front() {
                if !self.give_way.may_go(job.statements.len()) {
                    return Ok(true);
                }
                self.waiting.extend(self.taken_up.pop_front());
                self.give_way.went();
                continue;
            }
            if self.buffer.len() < self.batch_size && Instant::now() >= self.next_read {
                self.read().await?;
            }
            if self.buffer.len() >= self.batch_size {
                if !self.give_way.may_go(self.batch_size) {
                    return Ok(true);
                }
                if !self.emit(self.batch_size).await? {
                    return Ok(false);
                }
                continue;
            }
            let caught_up = Instant::now() < self.next_read;
            match self.buffer.front() {
                None => {
                    // Nothing selected up to `scanned`: the position may pass it.
                    self.progress.skip_to(self.scanned);
                    if let Some(position) = self.progress.advance() {
                        let client = self.conns.get().await?;
                        if !sql::advance(&client, self.lease, position).await? {
                            return Ok(false);
                        }
                    }
                    return Ok(true);
                }
                Some((_, read_at)) if caught_up && read_at.elapsed() >= self.linger => {
                    if !self.give_way.may_go(self.buffer.len()) {
                        return Ok(true);
                    }
                    if !self.emit(self.buffer.len()).await? {
                        return Ok(false);
                    }
                }
                Some(_) => return Ok(true),
            }
        }
        Ok(true)
    }

    /// When the loop has something to do unprompted: read again, send a batch that
    /// lingered long enough, or look whether the requests it gives way to are done.
    fn wake_at(&self) -> Instant {
        if self.full() {
            return Instant::now() + RENEW_EVERY;
        }
        let wake = match self.buffer.front() {
            Some((_, read_at)) if self.buffer.len() < self.batch_size => {
                self.next_read.min(*read_at + self.linger)
            }
            _ => self.next_read,
        };
        self.give_way.wake_at(wake)
    }

    /// Reads the next Statements after `scanned` up to the settled seq, keeping those
    /// the filter selects.
    async fn read(&mut self) -> Result<(), Error> {
        let now = Instant::now();
        let settled = *self.settled.borrow_and_update();
        if settled <= self.scanned {
            // Caught up: a new settled seq wakes the runner (`run`), the renewal at the latest.
            self.next_read = now + RENEW_EVERY;
            return Ok(());
        }
        let limit = (self.batch_size * 2).clamp(READ_MIN, READ_MAX);
        let client = self.conns.get().await?;
        let statements =
            reads::read_after(&client, self.store_id, self.scanned, settled, limit as i64).await?;
        let voided: Vec<Uuid> = if self.filter.voiding {
            statements.iter().filter_map(|s| s.voids).collect()
        } else {
            Vec::new()
        };
        let targets: HashMap<Uuid, (StoredStatement, Value)> = if voided.is_empty() {
            HashMap::new()
        } else {
            reads::statements_by_id(&client, self.store_id, &voided)
                .await?
                .into_iter()
                .map(|s| {
                    let body = content(&s);
                    (s.id, (s, body))
                })
                .collect()
        };
        drop(client);
        let full = statements.len() == limit;
        let last = statements.last().map(|s| s.seq);
        let reads_content = self.filter.reads_content();
        for statement in statements {
            // Parsed only when the filter must look inside: a voiding Statement always
            // (what it voids decides), another only for a filter on content.
            let body = if reads_content || statement.voids.is_some() {
                content(&statement)
            } else {
                Value::Null
            };
            let target = statement
                .voids
                .and_then(|id| targets.get(&id))
                .map(|(target, body)| candidate(target, body));
            if self
                .filter
                .selects(&candidate(&statement, &body), target.as_ref())
            {
                self.buffer.push_back((statement, now));
            }
        }
        match last {
            Some(last) if full => {
                self.scanned = last;
                self.next_read = now;
            }
            _ => {
                self.scanned = settled;
                self.next_read = now + RENEW_EVERY;
            }
        }
        Ok(())
    }

    /// Records a batch of the first `count` buffered Statements and queues it.
    async fn emit(&mut self, count: usize) -> Result<bool, Error> {
        let statements: Vec<StoredStatement> = self.buffer.drain(..count).map(|(s, _)| s).collect();
        // The batch covers the unselected seqs after it too, up to the next selected one.
        let upto_seq = match self.buffer.front() {
            Some(_) => statements.last().map_or(self.scanned, |s| s.seq),
            None => self.scanned,
        };
        let batch = Batch {
            after_seq: self.progress.end(),
            upto_seq,
            delivery: Uuid::new_v4(),
            seqs: statements.iter().map(|s| s.seq).collect(),
        };
        let client = self.conns.get().await?;
        if !sql::record_batch(&client, self.lease, &batch).await? {
            return Ok(false);
        }
        let attachments = self.attachments_of(&client, &statements).await?;
        drop(client);
        self.progress
            .push_batch(batch.after_seq, batch.upto_seq, false);
        self.waiting.push_back(Job {
            delivery: batch.delivery,
            kind: JobKind::Batch(batch),
            statements,
            attachments,
        });
        self.give_way.went();
        Ok(true)
    }

    /// Starts sending waiting jobs while there is room.
    fn launch(&mut self) {
        while self.sending.len() < self.max_in_flight {
            let Some(job) = self.waiting.pop_front() else {
                return;
            };
            self.sending.spawn(deliver(
                job,
                self.target.clone(),
                self.http.clone(),
                self.failures_in.clone(),
                self.conns.clone(),
                self.store_id,
            ));
        }
    }

    /// The content of the Statements' attachments the store holds, when the target
    /// takes attachments.
    async fn attachments_of(
        &self,
        client: &deadpool_postgres::Client,
        statements: &[StoredStatement],
    ) -> Result<Attachments, Error> {
        if !self.target.takes_attachments() {
            return Ok(Vec::new());
        }
        let hashes = attachment_hashes(statements);
        if hashes.is_empty() {
            return Ok(Vec::new());
        }
        statement_reads::attachment_contents(client, self.store_id, &hashes).await
    }
}

/// A Statement as the filter sees it, its content parsed into `body` (or `null`, for a
/// filter that does not read content).
fn candidate<'a>(statement: &'a StoredStatement, body: &'a Value) -> Candidate<'a> {
    Candidate {
        body,
        mode: statement.mode.as_deref(),
        tags: &statement.tags,
    }
}

/// A stored Statement's content, parsed (`null` for a text that is not JSON, which a
/// jsonb never gives).
fn content(statement: &StoredStatement) -> Value {
    serde_json::from_str(statement.body.get()).unwrap_or(Value::Null)
}
