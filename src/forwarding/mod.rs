//! Forwarding (issue 20): sending a store's Statements on to other LRSs and webhooks,
//! filtered, durably, exactly once per target.
//!
//! Every server instance runs the [`Engine`]. It claims active forwarders (rows of
//! `forwarders`, written by `commonplace forwarders …`) with row leases and runs one
//! runner per claimed forwarder ([`runner`]); instances share the forwarders without
//! double delivery ([`claim_room`]), and a forwarder left by a stopped or killed
//! instance is claimed by another (or the restarted one) from where its row says it
//! was. It reads the settled seq, up to which runners read, once for all of them. The
//! engine only reads and writes rows: management needs to call nothing here.
//!
//! Forwarding never holds ingestion up: it uses at most [`CONNECTIONS`] of the pool's
//! connections, never across a request to a target, and a target that is down only
//! builds lag.

pub mod filter;
mod give_way;
mod job;
mod progress;
mod runner;
mod target;
mod webhook;
mod xapi;

use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::Pool;
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::{interval, Instant, MissedTickBehavior};
use uuid::Uuid;

use crate::request_load::RequestLoad;
use crate::store::{self, forwarding as sql, forwarding_reads as reads};

/// How many of the pool's connections forwarding uses at most.
pub const CONNECTIONS: usize = 2;
/// How long a lease lasts unless renewed (runners renew it every second): how soon a
/// forwarder left by a killed instance is taken up by another.
pub const LEASE_TTL: Duration = Duration::from_secs(10);
/// How often the engine looks for forwarders to claim (new, resumed, or left).
const CLAIM_EVERY: Duration = Duration::from_millis(250);
/// How often the engine reads the settled seq for its runners (`reads::settled_seq`,
/// which reads `pg_locks`): once for all of them, and how soon a caught-up runner sees
/// a new Statement.
const SETTLED_EVERY: Duration = Duration::from_millis(200);
/// Forwarders claimed at one look at most, so instances starting together share them.
const CLAIM_AT_ONCE: i64 = 2;
/// How long stopping waits for runners to give their leases up.
const STOP_GRACE: Duration = Duration::from_secs(3);
/// How often a failing claim, or read of the settled seq, is logged.
const WARN_EVERY: Duration = Duration::from_secs(30);

/// The delivery engine of one server instance.
pub struct Engine {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Engine {
    /// Starts the engine; fails only when its HTTP client cannot be built (its TLS
    /// set-up), which no retry would mend: the server does not start.
    pub fn start(pool: Pool, load: RequestLoad) -> Result<Engine, reqwest::Error> {
        let (stop, stopped) = watch::channel(false);
        let conns = Connections {
            pool,
            permits: Arc::new(Semaphore::new(CONNECTIONS)),
            load,
        };
        let http = reqwest::Client::builder()
            .connect_timeout(target::CONNECT_TIMEOUT)
            .timeout(target::REQUEST_TIMEOUT)
            // A target that moved is a configuration to fix, not a place to post to.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("commonplace/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Engine {
            stop,
            task: tokio::spawn(run(conns, http, Uuid::new_v4(), stopped)),
        })
    }

    /// Stops every runner; each gives its lease up, so another instance (or this one,
    /// restarted) continues at once. Batches in flight are sent again by the next owner.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// The engine of the instance `instance` (a random id per server process, kept in the
/// rows it leases so that instances can count each other's share).
async fn run(
    conns: Connections,
    http: reqwest::Client,
    instance: Uuid,
    mut stop: watch::Receiver<bool>,
) {
    let mut runners = JoinSet::new();
    let mut running: HashMap<tokio::task::Id, i64> = HashMap::new();
    let mut claim = interval(CLAIM_EVERY);
    claim.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut warned: Option<Instant> = None;
    let (settled_in, settled) = watch::channel(0);
    let mut settle = interval(SETTLED_EVERY);
    settle.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut settle_warned: Option<Instant> = None;
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            _ = settle.tick(), if !runners.is_empty() => match settled_seq(&conns).await {
                Ok(seq) => {
                    settle_warned = None;
                    // Never back: what a runner read up to stays read.
                    settled_in.send_if_modified(|last| {
                        let newer = seq > *last;
                        *last = (*last).max(seq);
                        newer
                    });
                }
                Err(e) => {
                    if settle_warned.is_none_or(|at| at.elapsed() >= WARN_EVERY) {
                        tracing::warn!(error = %e, "forwarding cannot read the settled seq; retrying");
                        settle_warned = Some(Instant::now());
                    }
                }
            },
            Some(ended) = runners.join_next_with_id(), if !runners.is_empty() => {
                let id = match ended {
                    Ok((id, ())) => id,
                    Err(e) => {
                        tracing::error!(error = %e, "a forwarding runner failed");
                        e.id()
                    }
                };
                running.remove(&id);
            }
            _ = claim.tick() => {
                let except: Vec<i64> = running.values().copied().collect();
                match claim_some(&conns, instance, &except).await {
                    Ok(claimed) => {
                        warned = None;
                        for forwarder in claimed {
                            let id = forwarder.lease.forwarder_id;
                            tracing::info!(forwarder = %forwarder.name, "forwarding: claimed");
                            let task = runners.spawn(runner::run(
                                forwarder,
                                conns.clone(),
                                http.clone(),
                                settled.clone(),
                                stop.clone(),
                            ));
                            running.insert(task.id(), id);
                        }
                    }
                    Err(e) => {
                        if warned.is_none_or(|at| at.elapsed() >= WARN_EVERY) {
                            tracing::warn!(error = %e, "forwarding cannot claim forwarders; retrying");
                            warned = Some(Instant::now());
                        }
                    }
                }
            }
        }
    }
    // Runners see the stop too and give their leases up.
    let _ = tokio::time::timeout(STOP_GRACE, async {
        while runners.join_next().await.is_some() {}
    })
    .await;
}

async fn settled_seq(conns: &Connections) -> Result<i64, store::Error> {
    reads::settled_seq(&*conns.get().await?).await
}

/// Claims the forwarders this instance may take now (see [`claim_room`]).
async fn claim_some(
    conns: &Connections,
    instance: Uuid,
    except: &[i64],
) -> Result<Vec<sql::Claimed>, store::Error> {
    let client = conns.get().await?;
    let leases = reads::leases_by_instance(&client).await?;
    let mine = leases
        .iter()
        .find(|(holder, _)| *holder == instance)
        .map_or(0, |(_, held)| *held);
    let others: Vec<i64> = leases
        .iter()
        .filter(|(holder, _)| *holder != instance)
        .map(|(_, held)| *held)
        .collect();
    match claim_room(mine, &others) {
        0 => Ok(Vec::new()),
        room => sql::claim(&client, instance, except, room, LEASE_TTL).await,
    }
}

/// How many forwarders (free, or whose lease expired) an instance holding `mine`
/// leases claims at one look, when each other live instance (one holding an unexpired
/// lease) holds one of `others`. Instances share the work by this rule alone: one
/// claims only while it holds no more than the fewest any other holds, and then up to
/// one more than that fewest, so instances running together stay within one forwarder
/// of each other as forwarders are created or freed; alone, it claims them all,
/// [`CLAIM_AT_ONCE`] a look. It takes nothing from another instance, and one holding
/// none is not seen by the others: an instance started after the others took every
/// forwarder gets those freed later (created, resumed, replayed, or left by an instance
/// that stopped or died).
fn claim_room(mine: i64, others: &[i64]) -> i64 {
    match others.iter().min() {
        None => CLAIM_AT_ONCE,
        Some(&fewest) if mine <= fewest => (fewest - mine + 1).min(CLAIM_AT_ONCE),
        Some(_) => 0,
    }
}

/// The engine's share of the pool: at most [`CONNECTIONS`] at once.
#[derive(Clone)]
struct Connections {
    pool: Pool,
    permits: Arc<Semaphore>,
    /// The server's requests in flight, which runners give way to.
    load: RequestLoad,
}

impl Connections {
    async fn get(&self) -> Result<Connection, store::Error> {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| store::Error::Unavailable(e.to_string()))?;
        Ok(Connection {
            client: self.pool.get().await?,
            _permit: permit,
        })
    }
}

struct Connection {
    client: deadpool_postgres::Client,
    _permit: OwnedSemaphorePermit,
}

impl Deref for Connection {
    type Target = deadpool_postgres::Client;

    fn deref(&self) -> &Self::Target {
        &self.client
    }
}

impl DerefMut for Connection {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.client
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_instance_alone_claims_every_forwarder() {
        assert_eq!(claim_room(0, &[]), CLAIM_AT_ONCE);
        assert_eq!(claim_room(40, &[]), CLAIM_AT_ONCE);
    }

    #[test]
    fn an_instance_claims_only_while_it_holds_no_more_than_the_others() {
        assert_eq!(claim_room(3, &[2, 5]), 0);
        assert_eq!(claim_room(2, &[2, 5]), 1);
        assert_eq!(claim_room(1, &[2]), 2);
        assert_eq!(claim_room(0, &[9]), CLAIM_AT_ONCE);
    }

    /// Instances that each hold a forwarder stay within one of each other as more are
    /// freed or created, even when one looks three times as often as the others.
    #[test]
    fn instances_claiming_in_turn_spread_the_forwarders() {
        for instances in 2..=4 {
            for forwarders in 1..=24 {
                let mut held = vec![1i64; instances];
                let mut free = forwarders;
                while free > 0 {
                    for i in [0, 0, 0].into_iter().chain(1..instances) {
                        let others: Vec<i64> = (0..instances)
                            .filter(|j| *j != i)
                            .map(|j| held[j])
                            .collect();
                        let took = claim_room(held[i], &others).min(free);
                        held[i] += took;
                        free -= took;
                    }
                }
                let (least, most) = (held.iter().min().unwrap(), held.iter().max().unwrap());
                assert!(most - least <= 1, "{forwarders} forwarders: {held:?}");
            }
        }
    }
}
