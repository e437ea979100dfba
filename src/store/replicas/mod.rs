//! Read replicas (`--replica-url`): a pool per streaming standby, a checker that keeps
//! each one in or out of rotation by its health and replay lag, and the choice of where
//! each read goes. Writes, the learning feed and background work never come here: they
//! use the primary's pool directly.
//!
//! The freshness rule: a read goes to a replica only once that replica has replayed
//! the primary WAL position holding everything its answer must include (read on the
//! primary with the Statement watermark, or at the start of the read); it waits a short
//! bounded time for replay, then reads from the primary instead. A report may be
//! answered by a replica in rotation that is still behind after its longer wait: it
//! then says how fresh it is ([`Served::replayed_through`]). A read that fails on a
//! replica (stopped, or a query cancelled by a recovery conflict) runs again on the
//! primary, so losing a replica costs time, not errors.
//!
//! Lag is measured with WAL positions, not commit times: `now() -
//! pg_last_xact_replay_timestamp()` grows while the primary is idle although the
//! replica has everything. The checker samples the primary's position with its clock
//! every second; a replica has everything the primary had at the latest sample whose
//! position it has replayed (or at its last replayed commit, when that is later), and
//! its lag is the primary's time since then.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use tokio_postgres::config::Host;
use tokio_postgres::types::PgLsn;
use tokio_postgres::NoTls;

use super::{build_pool, Error, PoolOptions};
use lag::{History, Sample};

mod lag;

/// The primary's WAL position: what it has written, or, when the database the server
/// writes to is itself in recovery (a failover under way), what it has replayed.
pub(super) const WAL_POSITION: &str =
    "CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END";
/// How often the checker looks at the primary's position and at every replica.
const CHECK_INTERVAL: Duration = Duration::from_secs(1);
/// How long one check (connecting included) may take before the replica counts as down.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a read waits for a replica to replay what it needs before it goes to the
/// primary: long enough for streaming replication under load (milliseconds), short
/// enough that a paused or stuck replica costs little.
const READ_WAIT: Duration = Duration::from_millis(50);
/// How long a report waits for a replica to replay everything stored before it was
/// asked; then it is answered from what the replica has, and says so.
const REPORT_WAIT: Duration = Duration::from_secs(1);
/// The longest a read waits for a replica connection before the primary serves it.
const REPLICA_ACQUIRE: Duration = Duration::from_secs(2);

/// The replicas to read from and how far behind one may be.
#[derive(Debug, Clone)]
pub struct ReplicaOptions {
    /// Connection strings (URL or `key=value`) of streaming standbys of the primary.
    pub urls: Vec<String>,
    /// A replica further behind the primary than this is out of rotation.
    pub max_lag: Duration,
}

impl Default for ReplicaOptions {
    fn default() -> Self {
        ReplicaOptions {
            urls: Vec::new(),
            max_lag: Duration::from_secs(10),
        }
    }
}

/// What a read must include, which decides where it may go.
#[derive(Debug, Clone, Copy)]
pub enum Need {
    /// Everything the primary had written at this WAL position.
    Replayed(PgLsn),
    /// Everything committed before the read began: the primary's position is read first.
    Latest,
    /// A report: like `Latest` when a replica replays that within the report's wait,
    /// else what a replica in rotation has replayed.
    Report,
}

/// Where a read was served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Primary,
    Replica,
}

impl Target {
    pub fn as_str(self) -> &'static str {
        match self {
            Target::Primary => "primary",
            Target::Replica => "replica",
        }
    }
}

/// A read's result, where it was served, and how fresh it is.
#[derive(Debug)]
pub struct Served<T> {
    pub value: T,
    pub target: Target,
    /// The answer holds every change the primary had made by this time: the start of
    /// the read when the primary served it, else what the replica had replayed (`None`
    /// only for a Statement read on a replica whose replay the checker has not yet
    /// timed; never for a report).
    pub replayed_through: Option<DateTime<Utc>>,
}

/// Whether a replica takes reads, as `/health` and the log name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicaState {
    InRotation,
    /// Further behind than the bound, or not yet timed.
    Lagging,
    /// Unreachable, or failing its check.
    Down,
    /// It answers but is not in recovery: promoted, or not a standby at all.
    NotStandby,
}

impl ReplicaState {
    pub fn as_str(self) -> &'static str {
        match self {
            ReplicaState::InRotation => "in rotation",
            ReplicaState::Lagging => "lagging",
            ReplicaState::Down => "down",
            ReplicaState::NotStandby => "not a standby",
        }
    }
}

/// One replica as the last check found it.
#[derive(Debug, Clone)]
pub struct ReplicaStatus {
    /// `host:port/dbname`: never the password.
    pub replica: String,
    pub state: ReplicaState,
    /// `None` while the replica is down or its replay cannot be timed yet.
    pub lag: Option<Duration>,
}

/// The primary pool and the replicas; without replicas every read goes to the primary.
pub struct Replicas {
    shared: Arc<Shared>,
    checker: Option<tokio::task::JoinHandle<()>>,
}

struct Shared {
    primary: Pool,
    replicas: Vec<Replica>,
    history: Mutex<History>,
    max_lag: Duration,
    /// Where the next read starts looking, so reads spread over the replicas.
    next: AtomicUsize,
}

struct Replica {
    label: String,
    /// For the checker's own connection, apart from the pool reads wait for.
    config: tokio_postgres::Config,
    pool: Pool,
    health: Mutex<ReplicaStatus>,
}

/// A replica chosen for a read.
struct Choice<'a> {
    replica: &'a Replica,
    replayed_through: Option<DateTime<Utc>>,
}

impl Replicas {
    /// Opens a pool per replica (with the primary's session settings and pool size),
    /// checks each once, and starts the checker.
    pub async fn start(
        primary: Pool,
        options: &ReplicaOptions,
        pool: &PoolOptions,
    ) -> Result<Replicas, Error> {
        let mut replicas = Vec::new();
        for (n, url) in options.urls.iter().enumerate() {
            let config: tokio_postgres::Config = url.parse().map_err(|e| {
                Error::Unavailable(format!("invalid replica URL (number {}): {e}", n + 1))
            })?;
            let replica_pool = PoolOptions {
                size: pool.size,
                acquire_timeout: pool.acquire_timeout.min(REPLICA_ACQUIRE),
                startup_wait: pool.startup_wait,
            };
            let label = label(&config);
            replicas.push(Replica {
                pool: build_pool(config.clone(), &replica_pool)?,
                health: Mutex::new(ReplicaStatus {
                    replica: label.clone(),
                    state: ReplicaState::Down,
                    lag: None,
                }),
                label,
                config,
            });
        }
        let shared = Arc::new(Shared {
            primary,
            replicas,
            // Samples old enough to time a replica just past the bound.
            history: Mutex::new(History::new(options.max_lag + 3 * CHECK_INTERVAL)),
            max_lag: options.max_lag,
            next: AtomicUsize::new(0),
        });
        let checker = if shared.replicas.is_empty() {
            None
        } else {
            let mut connections = shared.replicas.iter().map(|_| None).collect::<Vec<_>>();
            shared.check(&mut connections).await;
            Some(tokio::spawn(check_forever(shared.clone(), connections)))
        };
        Ok(Replicas { shared, checker })
    }

    /// Runs `read` where `need` allows: on a replica that has replayed enough, else on
    /// the primary; again on the primary when it fails on a replica.
    pub async fn run<T>(
        &self,
        need: Need,
        read: impl AsyncFn(&Pool) -> Result<T, Error>,
    ) -> Result<Served<T>, Error> {
        let started = Utc::now();
        if let Some(choice) = self.shared.choose(need).await {
            match read(&choice.replica.pool).await {
                Ok(value) => {
                    return Ok(Served {
                        value,
                        target: Target::Replica,
                        replayed_through: choice.replayed_through,
                    })
                }
                // The answer itself, which the primary would give too.
                Err(e @ (Error::NotFound(_) | Error::Conflict(_))) => return Err(e),
                Err(e) => tracing::warn!(
                    replica = %choice.replica.label,
                    error = %e,
                    "a read failed on a replica; reading from the primary"
                ),
            }
        }
        let value = read(&self.shared.primary).await?;
        Ok(Served {
            value,
            target: Target::Primary,
            replayed_through: Some(started),
        })
    }

    /// Whether any replica was given: without one every read goes to the primary.
    pub fn configured(&self) -> bool {
        !self.shared.replicas.is_empty()
    }

    /// Every replica as the last check found it, in the order given.
    pub fn statuses(&self) -> Vec<ReplicaStatus> {
        self.shared
            .replicas
            .iter()
            .map(|r| r.health.lock().unwrap_or_else(|e| e.into_inner()).clone())
            .collect()
    }
}

impl Drop for Replicas {
    fn drop(&mut self) {
        if let Some(checker) = self.checker.take() {
            checker.abort();
        }
        for replica in &self.shared.replicas {
            replica.pool.close();
        }
    }
}

impl Shared {
    /// The replica a read needing `need` may use, if any: tried in turn from a rotating
    /// start, each until the one wait (shared by all) runs out.
    async fn choose(&self, need: Need) -> Option<Choice<'_>> {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let count = self.replicas.len();
        let candidates: Vec<&Replica> = (0..count)
            .map(|i| &self.replicas[(start + i) % count])
            .filter(|r| r.status().state == ReplicaState::InRotation)
            .collect();
        if candidates.is_empty() {
            return None;
        }
        // The position the answer must include and, when read now, the primary's time
        // then: a replica that has replayed it is at least that fresh.
        let (target, asked, wait) = match need {
            Need::Replayed(position) => (position, None, READ_WAIT),
            Need::Latest | Need::Report => {
                let now = self.primary_position().await?;
                let wait = match need {
                    Need::Report => REPORT_WAIT,
                    _ => READ_WAIT,
                };
                (now.position, Some(now.clock), wait)
            }
        };
        let deadline = Instant::now() + wait;
        // A report falls back to the replica that had replayed the most.
        let mut behind: Option<(PgLsn, Choice)> = None;
        for replica in candidates {
            let Some((replayed, mut choice)) = self.await_replay(replica, target, deadline).await
            else {
                continue;
            };
            if replayed >= target {
                choice.replayed_through = choice.replayed_through.max(asked);
                return Some(choice);
            }
            if behind.as_ref().is_none_or(|(most, _)| replayed > *most) {
                behind = Some((replayed, choice));
            }
        }
        match need {
            Need::Report => behind
                .map(|(_, choice)| choice)
                .filter(|choice| choice.replayed_through.is_some()),
            Need::Replayed(_) | Need::Latest => None,
        }
    }

    /// Polls `replica` until it has replayed `target` or `deadline` passes: what it
    /// has replayed then, and how fresh that is. `None` when it cannot be asked.
    async fn await_replay<'a>(
        &self,
        replica: &'a Replica,
        target: PgLsn,
        deadline: Instant,
    ) -> Option<(PgLsn, Choice<'a>)> {
        // A replica whose connections are all busy (long reports) costs a read no more
        // than the wait for replay would; opening a new connection keeps the pool's own
        // bound, as a far replica may need longer than that to connect.
        let mut timeouts = replica.pool.timeouts();
        timeouts.wait = Some(deadline.saturating_duration_since(Instant::now()));
        let client = replica.pool.timeout_get(&timeouts).await.ok()?;
        // No position once it is out of recovery: promoted since its last check, it
        // may hold writes the primary never made.
        let statement = client
            .prepare_cached(
                "SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() END,
                        pg_last_xact_replay_timestamp()",
            )
            .await
            .ok()?;
        let mut pause = Duration::from_millis(1);
        loop {
            let row = client.query_one(&statement, &[]).await.ok()?;
            let replayed: PgLsn = row.get::<_, Option<PgLsn>>(0)?;
            let last_commit: Option<DateTime<Utc>> = row.get(1);
            if replayed >= target || Instant::now() + pause > deadline {
                let replayed_through = self.history().replayed_through(replayed, last_commit);
                return Some((
                    replayed,
                    Choice {
                        replica,
                        replayed_through,
                    },
                ));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(16));
        }
    }

    /// The primary's WAL position now, with its clock just before.
    async fn primary_position(&self) -> Option<Sample> {
        let client = self.primary.get().await.ok()?;
        let statement = client
            .prepare_cached(&format!("SELECT clock_timestamp(), {WAL_POSITION}"))
            .await
            .ok()?;
        let row = client.query_one(&statement, &[]).await.ok()?;
        Some(Sample {
            taken: Instant::now(),
            clock: row.get(0),
            position: row.get::<_, Option<PgLsn>>(1)?,
        })
    }

    fn history(&self) -> std::sync::MutexGuard<'_, History> {
        self.history.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// One round of the checker: a sample of the primary, then every replica at once.
    async fn check(&self, connections: &mut [Option<tokio_postgres::Client>]) {
        let sample = tokio::time::timeout(CHECK_TIMEOUT, self.primary_position()).await;
        if let Ok(Some(sample)) = sample {
            self.history().record(sample);
        }
        let observations =
            futures_util::future::join_all(self.replicas.iter().zip(connections.iter_mut()).map(
                |(replica, connection)| async move {
                    let observed =
                        tokio::time::timeout(CHECK_TIMEOUT, observe(&replica.config, connection))
                            .await
                            .ok()
                            .flatten();
                    if observed.is_none() {
                        *connection = None;
                    }
                    observed
                },
            ))
            .await;
        for (replica, observed) in self.replicas.iter().zip(observations) {
            self.judge(replica, observed);
        }
    }

    /// Puts a replica in or out of rotation by what its check found.
    fn judge(&self, replica: &Replica, observed: Option<Observation>) {
        let (state, lag) = match observed {
            None => (ReplicaState::Down, None),
            Some(o) if !o.in_recovery => (ReplicaState::NotStandby, None),
            Some(o) => {
                let lag = o.replayed.and_then(|replayed| {
                    self.history().lag(replayed, o.last_commit, Instant::now())
                });
                match lag {
                    Some(lag) if lag <= self.max_lag => (ReplicaState::InRotation, Some(lag)),
                    lag => (ReplicaState::Lagging, lag),
                }
            }
        };
        let mut health = replica.health.lock().unwrap_or_else(|e| e.into_inner());
        if health.state != state {
            let lag_seconds = lag.map(|l| l.as_secs_f64());
            if state == ReplicaState::InRotation {
                tracing::info!(replica = %replica.label, ?lag_seconds, "replica in rotation");
            } else {
                tracing::warn!(
                    replica = %replica.label,
                    state = state.as_str(),
                    ?lag_seconds,
                    "replica out of rotation; its reads go to the primary"
                );
            }
        }
        health.state = state;
        health.lag = lag;
    }
}

impl Replica {
    fn status(&self) -> ReplicaStatus {
        self.health
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

async fn check_forever(shared: Arc<Shared>, mut connections: Vec<Option<tokio_postgres::Client>>) {
    let mut tick = tokio::time::interval(CHECK_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        shared.check(&mut connections).await;
    }
}

/// What a replica's check found.
struct Observation {
    in_recovery: bool,
    /// `None` on a server that never was in recovery.
    replayed: Option<PgLsn>,
    last_commit: Option<DateTime<Utc>>,
}

/// Checks a replica over the checker's own connection (opened when there is none),
/// so a pool busy with long reports never makes it look down.
async fn observe(
    config: &tokio_postgres::Config,
    connection: &mut Option<tokio_postgres::Client>,
) -> Option<Observation> {
    if connection.as_ref().is_none_or(|c| c.is_closed()) {
        let mut config = config.clone();
        config.connect_timeout(CHECK_TIMEOUT);
        let (client, driver) = config.connect(NoTls).await.ok()?;
        tokio::spawn(driver);
        *connection = Some(client);
    }
    let row = connection
        .as_ref()?
        .query_one(
            "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn(), pg_last_xact_replay_timestamp()",
            &[],
        )
        .await
        .ok()?;
    Some(Observation {
        in_recovery: row.get(0),
        replayed: row.get(1),
        last_commit: row.get(2),
    })
}

/// `host:port/dbname` of a connection string (every host of a multi-host one): what
/// names a replica in `/health`, `/metrics` and the log, without its credentials.
fn label(config: &tokio_postgres::Config) -> String {
    let ports = config.get_ports();
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, host)| {
            // One port applies to every host; none means the default.
            let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
            match host {
                Host::Tcp(name) => format!("{name}:{port}"),
                Host::Unix(dir) => format!("{}:{port}", dir.display()),
            }
        })
        .collect();
    // PostgreSQL's default database is the user's name.
    let database = config
        .get_dbname()
        .or(config.get_user())
        .unwrap_or_default();
    format!("{}/{database}", hosts.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_label_names_host_port_and_database_but_no_password() {
        let config: tokio_postgres::Config = "postgresql://reader:s3cret@db.example:6543/lrs"
            .parse()
            .unwrap();
        assert_eq!(label(&config), "db.example:6543/lrs");
        let config: tokio_postgres::Config = "host=/run/postgresql user=lrs password=s3cret"
            .parse()
            .unwrap();
        assert_eq!(label(&config), "/run/postgresql:5432/lrs");
        let config: tokio_postgres::Config = "postgresql://u@a:1,b:2/x".parse().unwrap();
        assert_eq!(label(&config), "a:1,b:2/x");
    }
}
