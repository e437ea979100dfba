//! Real PostgreSQL 15 clusters on loopback for the replica, failover and pooler tests:
//! a primary with streaming replication, a standby made with `pg_basebackup -R`, and
//! `pgbouncer` in front of the primary. Every [`Replicated`] lives in its own temporary
//! directory on free ports and is stopped (then removed) when dropped.
//!
//! PostgreSQL and PgBouncer refuse to run as root; when the tests are root they run
//! as `postgres` (as `src/store/embedded.rs` does). Each process is spawned by a
//! thread that lives as long as it, with a parent-death signal, so a test binary that
//! dies never leaves a server behind.
#![allow(dead_code)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{mpsc, Mutex};
use std::time::{Duration, Instant};

use commonplace::store::embedded::INITDB_OPTIONS;
use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::{Pid, Uid, User};
use tokio_postgres::NoTls;

/// The superuser every cluster is created with (`initdb --auth=trust`): the embedded
/// cluster's.
pub use commonplace::store::embedded::SUPERUSER;
/// The database [`Replicated::start`] creates for the server under test.
pub const DATABASE: &str = "lrs";

const BIN: &str = "/usr/lib/postgresql/15/bin";
const PGBOUNCER: &str = "/usr/sbin/pgbouncer";
const READY_TIMEOUT: Duration = Duration::from_secs(60);

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The uid/gid the servers run as: `postgres` when we are root, else ourselves.
fn run_as() -> Option<(u32, u32)> {
    if !Uid::effective().is_root() {
        return None;
    }
    let user = User::from_name("postgres")
        .unwrap()
        .expect("running as root: the `postgres` user must exist to run PostgreSQL");
    Some((user.uid.as_raw(), user.gid.as_raw()))
}

fn command(program: &str) -> Command {
    let mut command = Command::new(program);
    if let Some((uid, gid)) = run_as() {
        command.uid(uid).gid(gid);
    }
    command.stdin(Stdio::null());
    command
}

/// Runs `program args` to completion, panicking with its output when it fails.
fn run(program: &str, args: &[&str]) {
    let output = command(program).args(args).output().unwrap();
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A long-running child (a postmaster, a pgbouncer) in its own process group, spawned
/// and reaped by a dedicated thread: the parent-death signal fires when the spawning
/// thread exits, so that thread must live exactly as long as the child.
struct Process {
    pid: Pid,
    exited: Mutex<mpsc::Receiver<()>>,
}

impl Process {
    fn spawn(mut command: Command, log: &Path, on_parent_death: Signal) -> Process {
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        command
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0);
        // SAFETY: prctl is async-signal-safe; it runs in the child after the uid switch.
        unsafe {
            command.pre_exec(move || {
                nix::sys::prctl::set_pdeathsig(on_parent_death).map_err(std::io::Error::from)
            });
        }
        let (spawned_tx, spawned_rx) = mpsc::channel();
        let (exited_tx, exited_rx) = mpsc::channel();
        std::thread::spawn(move || match command.spawn() {
            Ok(mut child) => {
                let _ = spawned_tx.send(Ok(child.id()));
                let _ = child.wait();
                let _ = exited_tx.send(());
            }
            Err(e) => {
                let _ = spawned_tx.send(Err(e));
            }
        });
        let pid = spawned_rx.recv().unwrap().expect("spawn a server process");
        Process {
            pid: Pid::from_raw(pid as i32),
            exited: Mutex::new(exited_rx),
        }
    }

    fn has_exited(&self) -> bool {
        !matches!(
            self.exited.lock().unwrap().try_recv(),
            Err(mpsc::TryRecvError::Empty)
        )
    }

    /// Sends `signal` and waits up to `limit` for the process to exit.
    fn stop(&self, signal: Signal, limit: Duration) -> bool {
        let _ = kill(self.pid, signal);
        !matches!(
            self.exited.lock().unwrap().recv_timeout(limit),
            Err(mpsc::RecvTimeoutError::Timeout)
        )
    }

    /// SIGKILL to the whole process group: the postmaster and every backend at once,
    /// as when the machine dies.
    fn kill_group(&self) {
        let _ = killpg(self.pid, Signal::SIGKILL);
        let _ = self.exited.lock().unwrap().recv_timeout(READY_TIMEOUT);
        // Backends are in the group too; wait until none is left holding the data dir.
        let deadline = Instant::now() + READY_TIMEOUT;
        while group_has_live_members(self.pid) {
            assert!(Instant::now() < deadline, "a killed server's group lingers");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Whether a process of group `pgid` is still running. Zombies do not count: the
/// orphaned backends of a killed postmaster are reaped by init, which in a container
/// may never happen.
fn group_has_live_members(pgid: Pid) -> bool {
    fs::read_dir("/proc").unwrap().flatten().any(|entry| {
        let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else {
            return false;
        };
        // `pid (comm) state ppid pgrp ...`; comm may contain spaces and parentheses.
        let Some((_, rest)) = stat.rsplit_once(')') else {
            return false;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        fields.len() > 2 && fields[0] != "Z" && fields[2] == pgid.as_raw().to_string()
    })
}

/// One PostgreSQL cluster listening on 127.0.0.1:`port`.
pub struct Node {
    pub name: String,
    pub pgdata: PathBuf,
    pub port: u16,
    log: PathBuf,
    postmaster: Option<Process>,
}

impl Node {
    fn new(root: &Path, name: &str) -> Node {
        Node {
            name: name.to_string(),
            pgdata: root.join(name),
            port: free_port(),
            log: root.join(format!("{name}.log")),
            postmaster: None,
        }
    }

    /// `127.0.0.1:PORT`, as a multi-host URL lists it.
    pub fn host_port(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// A connection URL for `database` on this node.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgresql://{SUPERUSER}@127.0.0.1:{}/{database}",
            self.port
        )
    }

    pub fn is_running(&self) -> bool {
        self.postmaster.as_ref().is_some_and(|p| !p.has_exited())
    }

    /// Starts the postmaster and waits until it accepts queries (a standby: once it is
    /// consistent and open for hot-standby reads).
    pub async fn start(&mut self) {
        assert!(!self.is_running(), "{} is already running", self.name);
        let mut postgres = command(&format!("{BIN}/postgres"));
        postgres
            .arg("-D")
            .arg(&self.pgdata)
            .arg("-k")
            .arg(&self.pgdata)
            .args(["-p", &self.port.to_string()])
            .args(["-c", "listen_addresses=127.0.0.1"])
            .args(["-c", &format!("cluster_name={}", self.name)])
            .args(["-c", "max_connections=100", "-c", "shared_buffers=64MB"])
            // A killed process loses nothing the OS holds: only a machine crash needs fsync.
            .args(["-c", "fsync=off", "-c", "full_page_writes=off"])
            .args(["-c", "wal_keep_size=512MB", "-c", "hot_standby=on"])
            .args(["-c", "wal_receiver_status_interval=1s"]);
        self.postmaster = Some(Process::spawn(postgres, &self.log, Signal::SIGQUIT));
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if self.try_connect("postgres").await.is_ok() {
                return;
            }
            assert!(
                !self.postmaster.as_ref().unwrap().has_exited() && Instant::now() < deadline,
                "{} did not start: {}",
                self.name,
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A fast shutdown: sessions are ended, everything committed is kept.
    pub fn stop(&mut self) {
        if let Some(postmaster) = self.postmaster.take() {
            if !postmaster.stop(Signal::SIGINT, Duration::from_secs(30)) {
                postmaster.kill_group();
            }
        }
    }

    /// kill -9 of the postmaster and all its backends: a crashed machine.
    pub fn kill_9(&mut self) {
        if let Some(postmaster) = self.postmaster.take() {
            postmaster.kill_group();
        }
    }

    pub async fn try_connect(&self, database: &str) -> Result<tokio_postgres::Client, String> {
        let mut config: tokio_postgres::Config = self.url(database).parse().unwrap();
        config.connect_timeout(Duration::from_secs(5));
        let (client, connection) = config.connect(NoTls).await.map_err(|e| e.to_string())?;
        tokio::spawn(connection);
        client
            .simple_query("SELECT 1")
            .await
            .map_err(|e| e.to_string())?;
        Ok(client)
    }

    /// A connection to `database`, outside any pool.
    pub async fn connect(&self, database: &str) -> tokio_postgres::Client {
        self.try_connect(database)
            .await
            .unwrap_or_else(|e| panic!("connect to {}: {e}", self.name))
    }

    /// Runs `sql` (simple protocol) on this node's `postgres` database.
    pub async fn execute(&self, sql: &str) {
        self.connect("postgres")
            .await
            .batch_execute(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql} on {}: {e:?}", self.name));
    }

    async fn text(&self, sql: &str) -> String {
        let client = self.connect("postgres").await;
        let row = client
            .query_one(&format!("SELECT ({sql})::text"), &[])
            .await;
        let row = row.unwrap_or_else(|e| panic!("{sql} on {}: {e:?}", self.name));
        row.get::<_, Option<String>>(0).unwrap_or_default()
    }

    /// Whether this node is a standby (in recovery).
    pub async fn in_recovery(&self) -> bool {
        self.text("pg_is_in_recovery()").await == "true"
    }

    /// The primary's current WAL position (`pg_current_wal_lsn()`).
    pub async fn current_lsn(&self) -> String {
        self.text("pg_current_wal_lsn()").await
    }

    /// The position a standby has replayed up to (`pg_last_wal_replay_lsn()`).
    pub async fn replay_lsn(&self) -> String {
        self.text("pg_last_wal_replay_lsn()").await
    }

    /// Pauses WAL replay on this standby and waits until it is paused: it keeps
    /// receiving WAL but shows nothing new.
    pub async fn pause_replay(&self) {
        self.execute("SELECT pg_wal_replay_pause()").await;
        let deadline = Instant::now() + READY_TIMEOUT;
        while self.text("pg_get_wal_replay_pause_state()").await != "paused" {
            assert!(Instant::now() < deadline, "replay did not pause");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn resume_replay(&self) {
        self.execute("SELECT pg_wal_replay_resume()").await;
    }

    /// Promotes this standby to a primary and waits until it accepts writes.
    pub async fn promote(&self) {
        self.execute("SELECT pg_promote(true, 60)").await;
        assert!(
            !self.in_recovery().await,
            "{} is still a standby",
            self.name
        );
    }

    fn log_tail(&self) -> String {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(postmaster) = self.postmaster.take() {
            // Immediate shutdown: the test is over, nothing needs to be flushed.
            if !postmaster.stop(Signal::SIGQUIT, Duration::from_secs(10)) {
                postmaster.kill_group();
            }
        }
    }
}

/// A primary and one streaming standby in a temporary directory, with [`DATABASE`]
/// created (and replicated).
pub struct Replicated {
    pub primary: Node,
    pub standby: Node,
    /// Dropped last: the nodes stop before their directory goes.
    root: tempfile::TempDir,
}

impl Replicated {
    pub async fn start() -> Replicated {
        let root = tempfile::Builder::new()
            .prefix("commonplace-replicas-")
            .tempdir()
            .unwrap();
        if let Some((uid, gid)) = run_as() {
            std::os::unix::fs::chown(root.path(), Some(uid), Some(gid)).unwrap();
            fs::set_permissions(root.path(), fs::Permissions::from_mode(0o700)).unwrap();
        }
        let mut primary = Node::new(root.path(), "primary");
        let pgdata = primary.pgdata.to_str().unwrap().to_string();
        let mut initdb = vec!["--pgdata", &pgdata, "--no-sync"];
        initdb.extend(INITDB_OPTIONS);
        run(&format!("{BIN}/initdb"), &initdb);
        primary.start().await;
        primary
            .execute(&format!("CREATE DATABASE {DATABASE}"))
            .await;
        let mut standby = Node::new(root.path(), "standby");
        let standby_pgdata = standby.pgdata.to_str().unwrap().to_string();
        // -R writes standby.signal and primary_conninfo; the slot keeps the WAL a
        // stopped or paused standby still needs.
        run(
            &format!("{BIN}/pg_basebackup"),
            &[
                "--pgdata",
                &standby_pgdata,
                "--host",
                "127.0.0.1",
                "--port",
                &primary.port.to_string(),
                "--username",
                SUPERUSER,
                "--write-recovery-conf",
                "--create-slot",
                "--slot=standby",
                "--checkpoint=fast",
                "--wal-method=stream",
                "--no-sync",
            ],
        );
        standby.start().await;
        let replicated = Replicated {
            primary,
            standby,
            root,
        };
        replicated.wait_replayed().await;
        replicated
    }

    /// The directory holding both clusters' data and logs.
    pub fn dir(&self) -> &Path {
        self.root.path()
    }

    /// Makes every commit on the primary wait until the standby has flushed it
    /// (`synchronous_commit = on`, the default, with the standby named in
    /// `synchronous_standby_names`): an acknowledged commit survives losing the primary.
    /// Set on the primary alone, so a promoted standby does not wait for a standby
    /// it does not have.
    pub async fn make_synchronous(&self) {
        self.primary
            .execute(&format!(
                "ALTER SYSTEM SET synchronous_standby_names = '{}'",
                self.standby.name
            ))
            .await;
        self.primary.execute("SELECT pg_reload_conf()").await;
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let state = self
                .primary
                .text(&format!(
                    "(SELECT sync_state FROM pg_stat_replication WHERE application_name = '{}')",
                    self.standby.name
                ))
                .await;
            if state == "sync" {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the standby never became synchronous"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the standby has replayed everything the primary had written when
    /// this was called.
    pub async fn wait_replayed(&self) {
        let target = self.primary.current_lsn().await;
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let caught_up = self
                .standby
                .text(&format!("pg_last_wal_replay_lsn() >= '{target}'::pg_lsn"))
                .await;
            if caught_up == "true" {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the standby did not replay up to {target}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// How far (bytes of WAL) the standby's replay is behind the primary right now.
    pub async fn replay_lag_bytes(&self) -> i64 {
        let primary = self.primary.current_lsn().await;
        let lag = self
            .standby
            .text(&format!(
                "pg_wal_lsn_diff('{primary}'::pg_lsn, pg_last_wal_replay_lsn())"
            ))
            .await;
        lag.parse::<f64>().unwrap() as i64
    }

    /// `postgresql://u@PRIMARY,STANDBY/db?target_session_attrs=read-write`: libpq's
    /// multi-host form, which connects to whichever host accepts writes.
    pub fn failover_url(&self, database: &str) -> String {
        format!(
            "postgresql://{SUPERUSER}@{},{}/{database}?target_session_attrs=read-write",
            self.primary.host_port(),
            self.standby.host_port()
        )
    }

    /// PgBouncer in front of the primary, pooling in `mode`.
    pub fn bouncer(&self, mode: PoolMode) -> Bouncer {
        Bouncer::start(self.root.path(), &self.primary, mode)
    }
}

/// PgBouncer's `pool_mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolMode {
    Session,
    Transaction,
    Statement,
}

impl PoolMode {
    fn as_str(self) -> &'static str {
        match self {
            PoolMode::Session => "session",
            PoolMode::Transaction => "transaction",
            PoolMode::Statement => "statement",
        }
    }
}

/// A `pgbouncer` on 127.0.0.1:`port` pooling every database of one node.
pub struct Bouncer {
    pub port: u16,
    pub mode: PoolMode,
    log: PathBuf,
    process: Process,
}

impl Bouncer {
    fn start(root: &Path, node: &Node, mode: PoolMode) -> Bouncer {
        assert!(
            Path::new(PGBOUNCER).exists(),
            "pgbouncer is not installed (Debian: apt-get install -y pgbouncer)"
        );
        let port = free_port();
        let dir = root.join(format!("pgbouncer-{port}"));
        fs::create_dir(&dir).unwrap();
        let users = dir.join("users.txt");
        fs::write(&users, format!("\"{SUPERUSER}\" \"\"\n")).unwrap();
        let ini = dir.join("pgbouncer.ini");
        fs::write(
            &ini,
            format!(
                "[databases]\n\
                 * = host=127.0.0.1 port={node_port}\n\
                 [pgbouncer]\n\
                 listen_addr = 127.0.0.1\n\
                 listen_port = {port}\n\
                 unix_socket_dir =\n\
                 auth_type = trust\n\
                 auth_file = {users}\n\
                 pool_mode = {mode}\n\
                 max_client_conn = 500\n\
                 default_pool_size = 20\n\
                 admin_users = {SUPERUSER}\n",
                node_port = node.port,
                users = users.display(),
                mode = mode.as_str(),
            ),
        )
        .unwrap();
        if let Some((uid, gid)) = run_as() {
            for path in [&dir, &users, &ini] {
                std::os::unix::fs::chown(path, Some(uid), Some(gid)).unwrap();
            }
        }
        let log = dir.join("pgbouncer.log");
        let mut pgbouncer = command(PGBOUNCER);
        pgbouncer.arg(&ini);
        let process = Process::spawn(pgbouncer, &log, Signal::SIGKILL);
        let deadline = Instant::now() + READY_TIMEOUT;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                !process.has_exited() && Instant::now() < deadline,
                "pgbouncer did not start: {}",
                fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Bouncer {
            port,
            mode,
            log,
            process,
        }
    }

    /// A connection URL for `database` through this pooler.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgresql://{SUPERUSER}@127.0.0.1:{}/{database}",
            self.port
        )
    }

    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Bouncer {
    fn drop(&mut self) {
        if !self.process.stop(Signal::SIGINT, Duration::from_secs(10)) {
            self.process.kill_group();
        }
    }
}
