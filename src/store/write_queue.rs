//! Group commit: small Statement writes that arrive together are stored together.
//!
//! A write transaction costs a fixed amount besides its Statements (two round trips,
//! the id locks, the seq reservation, the commit's WAL flush), which is most of what a
//! single-Statement POST costs. So a bounded number of writers each store, in one
//! transaction, every small request that queued while they were busy. A request that
//! finds a writer free is written at once, alone: combining adds no wait to an idle
//! LRS, only to a busy one, where it shortens the queue.
//!
//! Each request stays all-or-nothing and gets its own answer. When a combined
//! transaction fails (one request's Statement conflicts, say), every request in it is
//! written again alone; that is idempotent because ids are fixed before a request
//! queues. A request that goes away while queued (its deadline passed) is dropped
//! from the queue; one that goes away while its group is written cancels that write,
//! and the others are written again together, so a request that was not answered with
//! success has not been stored, as when it writes alone. When the database is
//! unavailable, every request of the group is answered so.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use deadpool_postgres::Pool;
use futures_util::future::select_all;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::statements::{insert_batch, NewAttachment, NewStatement};
use super::Error;

/// Requests of up to this many Statements are combined; larger ones gain little (their
/// fixed cost is already shared) and are written as they come.
const COMBINED_REQUEST_STATEMENTS: usize = 20;
/// The most Statements one combined transaction takes.
const GROUP_STATEMENTS: usize = 200;

/// The queue of small writes and the writers that drain it.
pub struct StatementWriter {
    pool: Pool,
    writers: usize,
    queue: Arc<Mutex<Queue>>,
}

struct Queue {
    waiting: VecDeque<Waiting>,
    /// How many requests are writing a group now (at most `writers`).
    writing: usize,
}

/// One store's Statements from one request.
struct Request {
    store_id: i64,
    statements: Vec<NewStatement>,
}

struct Waiting {
    request: Request,
    reply: oneshot::Sender<Reply>,
}

/// What `/metrics` shows of the writers.
pub struct WriterStatus {
    /// Writers writing now.
    pub busy: usize,
    /// Requests waiting to be written together.
    pub waiting: usize,
}

/// How a combined write ended.
enum GroupWrite {
    Done(Result<Instant, Error>),
    /// A request's caller went away while it was written.
    MemberGone,
}

/// Whether a request takes a free writer's place or waits for an answer.
enum Turn {
    Write(Request),
    Wait(oneshot::Receiver<Reply>),
}

/// What a queued request learns from the writer that took it, or from the one that
/// hands on its writer's place.
enum Reply {
    /// Stored; every query covers it from this instant.
    Stored(Instant),
    /// The combined write failed on some request's Statements: the request writes
    /// itself, alone, for its own answer.
    WriteAlone(Request),
    /// The database is unavailable: every request of the group is answered so.
    Unavailable(String),
    /// The writer went away before finishing: the request queues again.
    Requeue(Request),
    /// A writer finished and hands over its place: the request writes the next group.
    /// (Should the request have gone meanwhile, dropping the place hands it on again.)
    Lead(Request, WriterPlace),
}

impl StatementWriter {
    /// `writers`: how many groups may be written at once.
    pub fn new(pool: Pool, writers: usize) -> Self {
        StatementWriter {
            pool,
            writers: writers.max(1),
            queue: Arc::new(Mutex::new(Queue {
                waiting: VecDeque::new(),
                writing: 0,
            })),
        }
    }

    /// Stores one request's Statements (and attachments) all-or-nothing, combined with
    /// other requests' when the writers are busy. Returns once every query covers them
    /// (see `insert_batch`), waiting for that, when needed, without a writer's place.
    pub async fn write(
        &self,
        store_id: i64,
        statements: Vec<NewStatement>,
        attachments: Vec<NewAttachment>,
    ) -> Result<(), Error> {
        let covered = self.store(store_id, statements, attachments).await?;
        tokio::time::sleep_until(covered).await;
        Ok(())
    }

    async fn store(
        &self,
        store_id: i64,
        statements: Vec<NewStatement>,
        attachments: Vec<NewAttachment>,
    ) -> Result<Instant, Error> {
        if !attachments.is_empty() || statements.len() > COMBINED_REQUEST_STATEMENTS {
            return insert_batch(&self.pool, store_id, statements, attachments).await;
        }
        let mut request = Request {
            store_id,
            statements,
        };
        loop {
            let turn = {
                let mut queue = lock(&self.queue);
                if queue.writing < self.writers {
                    queue.writing += 1;
                    Turn::Write(request)
                } else {
                    let (reply, answer) = oneshot::channel();
                    queue.waiting.push_back(Waiting { request, reply });
                    Turn::Wait(answer)
                }
            };
            let answer = match turn {
                Turn::Write(mine) => return self.lead(mine, WriterPlace::new(&self.queue)).await,
                Turn::Wait(answer) => answer,
            };
            match answer.await {
                Ok(Reply::Stored(covered)) => return Ok(covered),
                Ok(Reply::WriteAlone(alone)) => return self.alone(alone).await,
                Ok(Reply::Unavailable(reason)) => return Err(Error::Unavailable(reason)),
                Ok(Reply::Lead(mine, place)) => return self.lead(mine, place).await,
                Ok(Reply::Requeue(again)) => request = again,
                // Every queued request is answered unless the writer itself is gone.
                Err(_) => return Err(Error::Unavailable("the statement writer stopped".into())),
            }
        }
    }

    /// How many writers are writing now, and how many requests wait for one.
    pub fn status(&self) -> WriterStatus {
        let queue = lock(&self.queue);
        WriterStatus {
            busy: queue.writing,
            waiting: queue
                .waiting
                .iter()
                .filter(|w| !w.reply.is_closed())
                .count(),
        }
    }

    async fn alone(&self, request: Request) -> Result<Instant, Error> {
        insert_batch(&self.pool, request.store_id, request.statements, Vec::new()).await
    }

    /// Writes `mine` with the requests of its store waiting now, holding one writer's
    /// place, which it hands on when done (or dropped).
    async fn lead(&self, mine: Request, _place: WriterPlace) -> Result<Instant, Error> {
        let mut group = Group(self.take_waiting(&mine));
        loop {
            if group.0.is_empty() {
                return self.alone(mine).await;
            }
            // Cloned: should the combined write fail, each request still holds its own
            // Statements as they were, to be written alone.
            let combined: Vec<NewStatement> = mine
                .statements
                .iter()
                .chain(group.0.iter().flat_map(|w| w.request.statements.iter()))
                .cloned()
                .collect();
            let outcome = tokio::select! {
                written = insert_batch(&self.pool, mine.store_id, combined, Vec::new()) => {
                    GroupWrite::Done(written)
                }
                () = group.one_gone() => GroupWrite::MemberGone,
            };
            match outcome {
                // The write was dropped (closing its connection rolls it back); the
                // requests still waiting for it are written again together.
                GroupWrite::MemberGone => group.drop_gone(),
                GroupWrite::Done(Ok(covered)) => {
                    group.answer(|_| Reply::Stored(covered));
                    return Ok(covered);
                }
                GroupWrite::Done(Err(Error::Unavailable(reason))) => {
                    group.answer(|_| Reply::Unavailable(reason.clone()));
                    return Err(Error::Unavailable(reason));
                }
                GroupWrite::Done(Err(_)) => {
                    group.answer(Reply::WriteAlone);
                    return self.alone(mine).await;
                }
            }
        }
    }

    /// The waiting requests of `mine`'s store that fit in one group with it, oldest
    /// first; those whose caller has gone are dropped unwritten.
    fn take_waiting(&self, mine: &Request) -> Vec<Waiting> {
        let mut room = GROUP_STATEMENTS.saturating_sub(mine.statements.len());
        let mut queue = lock(&self.queue);
        let mut taken = Vec::new();
        let mut kept = VecDeque::with_capacity(queue.waiting.len());
        for waiting in queue.waiting.drain(..) {
            if waiting.reply.is_closed() {
                continue;
            }
            let size = waiting.request.statements.len();
            if waiting.request.store_id == mine.store_id && size <= room {
                room -= size;
                taken.push(waiting);
            } else {
                kept.push_back(waiting);
            }
        }
        queue.waiting = kept;
        taken
    }
}

fn lock(queue: &Mutex<Queue>) -> MutexGuard<'_, Queue> {
    queue.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A writer's place: when its writer is done, it goes to the oldest waiting request
/// still wanting an answer, or is freed.
struct WriterPlace(Option<Arc<Mutex<Queue>>>);

impl WriterPlace {
    fn new(queue: &Arc<Mutex<Queue>>) -> Self {
        WriterPlace(Some(Arc::clone(queue)))
    }
}

impl Drop for WriterPlace {
    fn drop(&mut self) {
        let Some(shared) = self.0.take() else {
            return;
        };
        let mut queue = lock(&shared);
        while let Some(waiting) = queue.waiting.pop_front() {
            let handed = waiting
                .reply
                .send(Reply::Lead(waiting.request, WriterPlace::new(&shared)));
            match handed {
                Ok(()) => return,
                Err(undelivered) => undelivered.keep_place(),
            }
        }
        queue.writing -= 1;
    }
}

impl Reply {
    /// A `Lead` whose caller had gone: its place is emptied, so dropping it does not
    /// try to hand it on (under the lock its sender holds).
    fn keep_place(self) {
        if let Reply::Lead(_, mut place) = self {
            place.0 = None;
        }
    }
}

/// The requests a writer took from the queue; any it has not answered when dropped
/// (its own caller went away mid-write) queue again.
struct Group(Vec<Waiting>);

impl Group {
    fn answer(&mut self, reply: impl Fn(Request) -> Reply) {
        for waiting in self.0.drain(..) {
            // A caller gone by now needs no answer.
            let _ = waiting.reply.send(reply(waiting.request));
        }
    }

    fn drop_gone(&mut self) {
        self.0.retain(|w| !w.reply.is_closed());
    }

    /// Resolves when the caller of any request in the group has gone away.
    async fn one_gone(&mut self) {
        select_all(self.0.iter_mut().map(|w| Box::pin(w.reply.closed()))).await;
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.answer(Reply::Requeue);
    }
}
