//! The private PostgreSQL cluster that makes `commonplace serve` work with no setup.
//!
//! The cluster lives in `DATA_DIR/pg`, listens only on a Unix socket inside that
//! directory, and runs as an unprivileged user when we are root (PostgreSQL refuses
//! to run as root). The postmaster is our child, supervised by a dedicated thread,
//! and is told to shut down (fast) if this process dies, so a crash of the LRS never
//! leaves an orphan server holding the data directory.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{mpsc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::{Gid, Pid, Uid, User};

/// The role and database the embedded cluster is created with.
pub const SUPERUSER: &str = "commonplace";
pub const DATABASE: &str = "commonplace";
/// What `initdb` is given beside the data directory: the superuser, local trust, UTF-8
/// and the C locale (the replica tests' clusters are made the same way).
pub const INITDB_OPTIONS: [&str; 6] = [
    "--username",
    SUPERUSER,
    "--auth=trust",
    "--encoding=UTF8",
    "--locale=C",
    "--no-instructions",
];

const START_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(
        "PostgreSQL server binaries (initdb, postgres) were not found on PATH or under \
         /usr/lib/postgresql/*/bin: install PostgreSQL (e.g. `apt-get install postgresql`) \
         or pass --database-url"
    )]
    BinariesNotFound,
    #[error("running as root, but neither the 'postgres' nor the 'nobody' user exists to run PostgreSQL")]
    NoUnprivilegedUser,
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Failed(String),
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> ClusterError {
    let context = context.into();
    move |source| ClusterError::Io { context, source }
}

/// The `initdb`/`postgres` pair of one PostgreSQL installation.
#[derive(Debug, Clone)]
pub struct Binaries {
    pub initdb: PathBuf,
    pub postgres: PathBuf,
}

impl Binaries {
    /// Finds the server binaries on `PATH`, else the newest `/usr/lib/postgresql/*/bin`
    /// (`COMMONPLACE_POSTGRES_ROOT` names another root of versioned installations).
    pub fn locate() -> Result<Self, ClusterError> {
        let from_path = std::env::var_os("PATH")
            .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
            .unwrap_or_default();
        let root = std::env::var_os("COMMONPLACE_POSTGRES_ROOT")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/usr/lib/postgresql"));
        let mut versioned: Vec<(u32, PathBuf)> = fs::read_dir(root)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .filter_map(|e| {
                        let major = e.file_name().to_str()?.parse::<u32>().ok()?;
                        Some((major, e.path().join("bin")))
                    })
                    .collect()
            })
            .unwrap_or_default();
        versioned.sort_by_key(|(major, _)| std::cmp::Reverse(*major));
        from_path
            .into_iter()
            .chain(versioned.into_iter().map(|(_, dir)| dir))
            .find_map(|dir| {
                let initdb = dir.join("initdb");
                let postgres = dir.join("postgres");
                (is_executable(&initdb) && is_executable(&postgres))
                    .then_some(Binaries { initdb, postgres })
            })
            .ok_or(ClusterError::BinariesNotFound)
    }
}

fn is_executable(path: &Path) -> bool {
    fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Who the postmaster runs as: ourselves, or an unprivileged user when we are root.
#[derive(Debug, Clone, Copy)]
struct RunAs {
    uid: Uid,
    gid: Gid,
    switch: bool,
}

impl RunAs {
    fn detect() -> Result<Self, ClusterError> {
        if !Uid::effective().is_root() {
            return Ok(RunAs {
                uid: Uid::effective(),
                gid: Gid::effective(),
                switch: false,
            });
        }
        ["postgres", "nobody"]
            .iter()
            .find_map(|name| User::from_name(name).ok().flatten())
            .map(|user| RunAs {
                uid: user.uid,
                gid: user.gid,
                switch: true,
            })
            .ok_or(ClusterError::NoUnprivilegedUser)
    }

    fn command(&self, program: &Path) -> Command {
        let mut command = Command::new(program);
        if self.switch {
            command.uid(self.uid.as_raw()).gid(self.gid.as_raw());
            // std drops root's supplementary groups itself when switching from root.
        }
        command
    }

    fn own(&self, path: &Path) -> Result<(), ClusterError> {
        if self.switch {
            std::os::unix::fs::chown(path, Some(self.uid.as_raw()), Some(self.gid.as_raw()))
                .map_err(io(format!("chown {}", path.display())))?;
        }
        Ok(())
    }
}

/// The postmaster this process started, and the channel its supervisor reports its exit on.
struct Postmaster {
    pid: Pid,
    exited: Mutex<mpsc::Receiver<String>>,
}

impl Postmaster {
    fn exit_report(&self) -> std::sync::MutexGuard<'_, mpsc::Receiver<String>> {
        self.exited.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running private cluster. Dropping it does not stop it: call [`Cluster::stop`].
pub struct Cluster {
    pgdata: PathBuf,
    owned: Option<Postmaster>,
}

impl Cluster {
    /// Starts the cluster in `data_dir/pg` (creating it on first use), or attaches to
    /// the one another process is already running there.
    pub fn start(data_dir: &Path) -> Result<Cluster, ClusterError> {
        let binaries = Binaries::locate()?;
        let run_as = RunAs::detect()?;
        fs::create_dir_all(data_dir).map_err(io(format!("create {}", data_dir.display())))?;
        let data_dir = data_dir
            .canonicalize()
            .map_err(io(format!("resolve {}", data_dir.display())))?;
        if run_as.switch {
            make_traversable(&data_dir)?;
        }
        let pgdata = data_dir.join("pg");
        if !pgdata.join("PG_VERSION").exists() {
            init_cluster(&binaries, run_as, &data_dir, &pgdata)?;
        }
        let mut cluster = Cluster {
            pgdata,
            owned: None,
        };
        if cluster.accepting_connections() {
            return Ok(cluster);
        }
        if let Some(pid) = cluster.live_postmaster() {
            // Another process's postmaster is starting up; wait for it instead of racing
            // it. If it is shutting down instead (its server stopped or died), start ours.
            tracing::info!(%pid, "waiting for the PostgreSQL server another process started");
            match cluster.wait_until_ready(None) {
                Ok(()) => return Ok(cluster),
                Err(_) if cluster.live_postmaster().is_none() => {
                    tracing::info!(%pid, "that PostgreSQL server stopped; starting one");
                }
                Err(e) => return Err(e),
            }
        }
        cluster.remove_stale_pid_file()?;
        let postmaster = spawn_postmaster(&binaries, run_as, &data_dir, &cluster.pgdata)?;
        let outcome = cluster.wait_until_ready(Some(&postmaster));
        cluster.owned = Some(postmaster);
        match outcome {
            Ok(()) => Ok(cluster),
            Err(ClusterError::Failed(why)) if cluster.live_postmaster().is_some() => {
                // Lost a start race to another process: its postmaster holds the lock file.
                cluster.owned = None;
                tracing::info!(%why, "attaching to the PostgreSQL server another process started");
                cluster.wait_until_ready(None)?;
                Ok(cluster)
            }
            Err(e) => Err(e),
        }
    }

    /// The directory holding the server's Unix socket.
    pub fn socket_dir(&self) -> &Path {
        &self.pgdata
    }

    /// Whether this process started the postmaster (and so must stop it).
    pub fn is_owned(&self) -> bool {
        self.owned.is_some()
    }

    /// Whether the postmaster behind this cluster has gone: the one this process started
    /// has exited (killed, crashed), or the one another process started no longer runs
    /// (that process stopped it, or died).
    pub fn postmaster_exited(&self) -> bool {
        match &self.owned {
            Some(postmaster) => !matches!(
                postmaster.exit_report().try_recv(),
                Err(mpsc::TryRecvError::Empty)
            ),
            None => self.live_postmaster().is_none(),
        }
    }

    /// Connection settings for `database` on this cluster.
    pub fn config(&self, database: &str) -> tokio_postgres::Config {
        let mut config = tokio_postgres::Config::new();
        config
            .host_path(&self.pgdata)
            .user(SUPERUSER)
            .dbname(database)
            .application_name("commonplace");
        config
    }

    /// Stops the postmaster if this process started it (fast shutdown: sessions are
    /// ended, committed data is flushed).
    pub fn stop(mut self) -> Result<(), ClusterError> {
        let Some(postmaster) = self.owned.take() else {
            return Ok(());
        };
        let _ = kill(postmaster.pid, Signal::SIGINT);
        let report = postmaster.exit_report().recv_timeout(STOP_TIMEOUT);
        match report {
            Ok(_) | Err(mpsc::RecvTimeoutError::Disconnected) => Ok(()),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let _ = kill(postmaster.pid, Signal::SIGQUIT);
                Err(ClusterError::Failed(format!(
                    "PostgreSQL did not stop within {}s; sent an immediate shutdown",
                    STOP_TIMEOUT.as_secs()
                )))
            }
        }
    }

    fn accepting_connections(&self) -> bool {
        let socket = self.pgdata.join(".s.PGSQL.5432");
        socket.exists() && std::os::unix::net::UnixStream::connect(&socket).is_ok() && {
            // A connectable socket may still answer "the database system is starting up".
            probe_ready(&self.pgdata)
        }
    }

    /// The pid in `postmaster.pid` when that process is alive and is a postgres server.
    fn live_postmaster(&self) -> Option<Pid> {
        let contents = fs::read_to_string(self.pgdata.join("postmaster.pid")).ok()?;
        let pid = Pid::from_raw(contents.lines().next()?.trim().parse().ok()?);
        let cmdline = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let is_postgres = String::from_utf8_lossy(&cmdline).contains("postgres");
        // EPERM: alive, run by a user we may not signal (e.g. `postgres` when we are not).
        let alive = kill(pid, None) != Err(nix::errno::Errno::ESRCH);
        (alive && is_postgres).then_some(pid)
    }

    /// After a crash the lock file may name a pid that now belongs to another program,
    /// which would make PostgreSQL refuse to start; a dead or foreign pid is stale.
    fn remove_stale_pid_file(&self) -> Result<(), ClusterError> {
        let pid_file = self.pgdata.join("postmaster.pid");
        if pid_file.exists() {
            tracing::warn!(path = %pid_file.display(), "removing the stale lock file of a PostgreSQL server that is no longer running");
            fs::remove_file(&pid_file).map_err(io(format!("remove {}", pid_file.display())))?;
        }
        Ok(())
    }

    fn wait_until_ready(&self, postmaster: Option<&Postmaster>) -> Result<(), ClusterError> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if self.accepting_connections() {
                return Ok(());
            }
            if let Some(postmaster) = postmaster {
                if let Ok(reason) = postmaster.exit_report().try_recv() {
                    return Err(ClusterError::Failed(format!(
                        "PostgreSQL exited during start-up ({reason}); see {}",
                        self.pgdata.with_file_name("postgres.log").display()
                    )));
                }
            } else if self.live_postmaster().is_none() && !self.accepting_connections() {
                return Err(ClusterError::Failed(
                    "the PostgreSQL server another process was starting went away".into(),
                ));
            }
            if Instant::now() > deadline {
                return Err(ClusterError::Failed(format!(
                    "PostgreSQL did not accept connections within {}s",
                    START_TIMEOUT.as_secs()
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A real protocol round trip: the socket accepts connections before recovery ends.
fn probe_ready(socket_dir: &Path) -> bool {
    let config = {
        let mut c = postgres_config(socket_dir, "postgres");
        c.connect_timeout(Duration::from_secs(2));
        c
    };
    let probe = async move {
        match config.connect(tokio_postgres::NoTls).await {
            Ok((client, connection)) => {
                drop(client);
                let _ = connection.await;
                true
            }
            Err(_) => false,
        }
    };
    // Start-up code runs before (or outside) any async runtime; a private one keeps it simple.
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map(|rt| rt.block_on(probe))
                    .unwrap_or(false)
            })
            .join()
            .unwrap_or(false)
    })
}

fn postgres_config(socket_dir: &Path, database: &str) -> tokio_postgres::Config {
    let mut config = tokio_postgres::Config::new();
    config
        .host_path(socket_dir)
        .user(SUPERUSER)
        .dbname(database);
    config
}

/// PostgreSQL, running as another user, must be able to reach its data directory.
/// Grant search (not read) permission on the ancestors that lack it.
fn make_traversable(dir: &Path) -> Result<(), ClusterError> {
    for ancestor in dir.ancestors() {
        let meta = fs::metadata(ancestor).map_err(io(format!("stat {}", ancestor.display())))?;
        let mode = meta.permissions().mode();
        if mode & 0o001 == 0 {
            tracing::warn!(path = %ancestor.display(), "granting others search permission so the unprivileged PostgreSQL user can reach its data directory");
            fs::set_permissions(ancestor, fs::Permissions::from_mode(mode | 0o001))
                .map_err(io(format!("chmod {}", ancestor.display())))?;
        }
    }
    Ok(())
}

/// Runs `initdb` into a scratch directory and renames it into place, so a crash during
/// initialisation never leaves a half-made cluster that looks usable.
fn init_cluster(
    binaries: &Binaries,
    run_as: RunAs,
    data_dir: &Path,
    pgdata: &Path,
) -> Result<(), ClusterError> {
    let scratch = data_dir.join("pg.initdb");
    if scratch.exists() {
        fs::remove_dir_all(&scratch).map_err(io(format!("remove {}", scratch.display())))?;
    }
    fs::create_dir(&scratch).map_err(io(format!("create {}", scratch.display())))?;
    fs::set_permissions(&scratch, fs::Permissions::from_mode(0o700))
        .map_err(io(format!("chmod {}", scratch.display())))?;
    run_as.own(&scratch)?;
    tracing::info!(path = %pgdata.display(), "creating the embedded PostgreSQL cluster");
    let output = run_as
        .command(&binaries.initdb)
        .arg("--pgdata")
        .arg(&scratch)
        .args(INITDB_OPTIONS)
        .current_dir(data_dir)
        .stdin(Stdio::null())
        .output()
        .map_err(io(format!("run {}", binaries.initdb.display())))?;
    if !output.status.success() {
        return Err(ClusterError::Failed(format!(
            "initdb failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    fs::rename(&scratch, pgdata).map_err(io(format!("rename into {}", pgdata.display())))
}

fn spawn_postmaster(
    binaries: &Binaries,
    run_as: RunAs,
    data_dir: &Path,
    pgdata: &Path,
) -> Result<Postmaster, ClusterError> {
    let log_path = data_dir.join("postgres.log");
    let log = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(io(format!("open {}", log_path.display())))?;
    let log_err = log.try_clone().map_err(io("duplicate log handle"))?;
    let mut command = run_as.command(&binaries.postgres);
    command
        .arg("-D")
        .arg(pgdata)
        .arg("-k")
        .arg(pgdata)
        .args(["-c", "listen_addresses=", "-c", "max_connections=200"])
        .current_dir(data_dir)
        // Its own process group: a terminal's Ctrl-C must reach only us, so that the
        // server drains its requests before it stops PostgreSQL.
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err);
    // SAFETY: prctl is async-signal-safe; it runs in the child after the uid switch,
    // which would otherwise clear the parent-death signal.
    unsafe {
        command.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(Signal::SIGINT).map_err(std::io::Error::from)
        });
    }
    let (spawned_tx, spawned_rx) = mpsc::channel();
    let (exited_tx, exited_rx) = mpsc::channel();
    // The parent-death signal fires when the spawning *thread* exits, so the child is
    // spawned and awaited by a thread that lives exactly as long as the postmaster.
    std::thread::Builder::new()
        .name("postgres-supervisor".into())
        .spawn(move || match command.spawn() {
            Ok(mut child) => {
                let _ = spawned_tx.send(Ok(child.id()));
                let status = child
                    .wait()
                    .map(|s| s.to_string())
                    .unwrap_or_else(|e| e.to_string());
                let _ = exited_tx.send(status);
            }
            Err(e) => {
                let _ = spawned_tx.send(Err(e));
            }
        })
        .map_err(io("start the PostgreSQL supervisor thread"))?;
    let pid = spawned_rx
        .recv()
        .map_err(|_| ClusterError::Failed("the PostgreSQL supervisor thread died".into()))?
        .map_err(io(format!("start {}", binaries.postgres.display())))?;
    Ok(Postmaster {
        pid: Pid::from_raw(pid as i32),
        exited: Mutex::new(exited_rx),
    })
}
