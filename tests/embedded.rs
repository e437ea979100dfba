//! The real binary with its embedded PostgreSQL: start, stop, restart, crashes,
//! running as root and as an unprivileged user, and the CLI beside a running server.

#[path = "api/helpers.rs"]
mod helpers;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::{Pid, Uid, User};

const KEY: &str = "test-key";
const SECRET: &str = "test-secret-long-enough-for-a-chosen-one";

/// Who runs the binary, and the copy of it that user can execute.
#[derive(Clone)]
struct Runner {
    binary: PathBuf,
    uid: Option<u32>,
    gid: Option<u32>,
}

impl Runner {
    fn current() -> Runner {
        Runner {
            binary: PathBuf::from(env!("CARGO_BIN_EXE_commonplace")),
            uid: None,
            gid: None,
        }
    }

    /// The unprivileged `nobody`, with a copy of the binary it can reach (the build
    /// tree may sit under a home directory only root can enter).
    fn nobody(scratch: &Path) -> Runner {
        let user = User::from_name("nobody").unwrap().expect("user nobody");
        let binary = scratch.join("commonplace");
        std::fs::copy(env!("CARGO_BIN_EXE_commonplace"), &binary).unwrap();
        std::fs::set_permissions(scratch, std::fs::Permissions::from_mode(0o755)).unwrap();
        Runner {
            binary,
            uid: Some(user.uid.as_raw()),
            gid: Some(user.gid.as_raw()),
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.binary);
        command
            .args(args)
            .env_remove("COMMONPLACE_DATABASE_URL")
            .env("RUST_LOG", "warn");
        if let (Some(uid), Some(gid)) = (self.uid, self.gid) {
            command.uid(uid).gid(gid);
        }
        command
    }

    fn own(&self, dir: &Path) {
        if let (Some(uid), Some(gid)) = (self.uid, self.gid) {
            std::os::unix::fs::chown(dir, Some(uid), Some(gid)).unwrap();
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).stdin(Stdio::null()).output().unwrap()
    }
}

struct Server {
    child: Child,
    port: u16,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start(runner: &Runner, data_dir: &Path) -> Server {
    let port = free_port();
    let mut child = runner
        .command(&[
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
            data_dir.to_str().unwrap(),
        ])
        .env("COMMONPLACE_BOOTSTRAP_KEY", KEY)
        .env("COMMONPLACE_BOOTSTRAP_SECRET", SECRET)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(line) if line.contains("xAPI endpoint") => {
                assert!(
                    line.contains(&format!("http://127.0.0.1:{port}/xapi/")),
                    "{line}"
                );
                break;
            }
            Ok(_) => {}
            Err(_) if Instant::now() > deadline => panic!("server did not start"),
            Err(_) => {
                if let Some(status) = child.try_wait().unwrap() {
                    panic!("server exited during start: {status}");
                }
            }
        }
    }
    Server { child, port }
}

impl Server {
    fn get(&self, path: &str) -> reqwest::blocking::Response {
        reqwest::blocking::Client::new()
            .get(format!("http://127.0.0.1:{}{path}", self.port))
            .basic_auth(KEY, Some(SECRET))
            .header("X-Experience-API-Version", "2.0.0")
            .send()
            .unwrap()
    }

    fn terminate(mut self) {
        kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM).unwrap();
        let status = wait_with_timeout(&mut self.child, Duration::from_secs(60));
        assert!(status.success(), "clean exit after SIGTERM, got {status}");
    }
}

fn wait_with_timeout(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "process did not exit in time");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn postmaster_pid(data_dir: &Path) -> Option<i32> {
    std::fs::read_to_string(data_dir.join("pg/postmaster.pid"))
        .ok()?
        .lines()
        .next()?
        .trim()
        .parse()
        .ok()
}

fn process_alive(pid: i32) -> bool {
    kill(Pid::from_raw(pid), None).is_ok()
}

fn wait_for_exit(pid: i32) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while process_alive(pid) {
        assert!(Instant::now() < deadline, "process {pid} still running");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Start, use the CLI beside the running server, stop, restart: data is kept and
/// PostgreSQL stops with the server.
fn lifecycle_keeps_data(runner: &Runner, data_dir: &Path) {
    let data = data_dir.to_str().unwrap();
    let server = start(runner, data_dir);
    assert_eq!(server.get("/health").status(), 200);
    assert_ne!(
        server.get("/xapi/statements").status(),
        401,
        "bootstrap credential works"
    );
    let pg = postmaster_pid(data_dir).expect("embedded postmaster running");

    let created = runner.run(&["stores", "create", "team-a", "--data-dir", data]);
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    assert!(
        process_alive(pg),
        "the CLI must not stop the server's PostgreSQL"
    );

    server.terminate();
    wait_for_exit(pg);

    let server = start(runner, data_dir);
    let listed = runner.run(&["stores", "list", "--json", "--data-dir", data]);
    let stores: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    let names: Vec<&str> = stores
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["default", "team-a"]);
    assert_ne!(
        server.get("/xapi/statements").status(),
        401,
        "credential survived the restart"
    );
    server.terminate();
}

#[test]
fn embedded_cluster_lifecycle_as_the_current_user() {
    let dir = tempfile::tempdir().unwrap();
    lifecycle_keeps_data(&Runner::current(), &dir.path().join("data"));
    if Uid::effective().is_root() {
        let owner = std::fs::metadata(dir.path().join("data/pg")).unwrap();
        let postgres_uid = User::from_name("postgres").unwrap().map(|u| u.uid.as_raw());
        let expected = postgres_uid
            .unwrap_or_else(|| User::from_name("nobody").unwrap().unwrap().uid.as_raw());
        assert_eq!(
            std::os::unix::fs::MetadataExt::uid(&owner),
            expected,
            "as root, the cluster belongs to an unprivileged user"
        );
    }
}

#[test]
fn embedded_cluster_lifecycle_as_an_unprivileged_user() {
    if !Uid::effective().is_root() {
        // Already unprivileged: the other lifecycle test covers this case.
        eprintln!("running as a non-root user already; covered by the current-user test");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let runner = Runner::nobody(dir.path());
    let data_dir = dir.path().join("data");
    std::fs::create_dir(&data_dir).unwrap();
    runner.own(&data_dir);
    lifecycle_keeps_data(&runner, &data_dir);
}

#[test]
fn recovers_after_the_server_and_postgres_are_killed() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let runner = Runner::current();
    let server = start(&runner, &data_dir);
    let pg = postmaster_pid(&data_dir).unwrap();
    kill(Pid::from_raw(pg), Signal::SIGKILL).unwrap();
    let mut child = server.child;
    child.kill().unwrap();
    child.wait().unwrap();
    wait_for_exit(pg);
    assert!(
        data_dir.join("pg/postmaster.pid").exists(),
        "a stale lock file is left"
    );
    // Make the stale lock name a live process that is not PostgreSQL (pid reuse).
    let contents = std::fs::read_to_string(data_dir.join("pg/postmaster.pid")).unwrap();
    let rest = contents.split_once('\n').unwrap().1;
    std::fs::write(
        data_dir.join("pg/postmaster.pid"),
        format!("{}\n{rest}", std::process::id()),
    )
    .unwrap();

    let server = start(&runner, &data_dir);
    assert_eq!(server.get("/health").status(), 200);
    assert_ne!(server.get("/xapi/statements").status(), 401);
    server.terminate();
}

#[test]
fn missing_postgres_binaries_give_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let output = Runner::current()
        .command(&[
            "serve",
            "--data-dir",
            dir.path().join("d").to_str().unwrap(),
        ])
        .env("PATH", "/usr/bin:/bin")
        .env("COMMONPLACE_POSTGRES_ROOT", dir.path().join("none"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let line = stderr
        .lines()
        .find(|l| l.starts_with("commonplace:"))
        .unwrap_or_else(|| panic!("no error line in {stderr}"));
    assert!(line.contains("install PostgreSQL"), "{line}");
    assert!(line.contains("--database-url"), "{line}");
}

#[tokio::test]
async fn migrations_from_racing_processes_apply_once() {
    let url = helpers::fresh_database().await;
    let spawn = || {
        Runner::current()
            .command(&["migrate", "--database-url", &url])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let racers: Vec<Child> = (0..3).map(|_| spawn()).collect();
    for racer in racers {
        let output = racer.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let client = helpers::connect(&url).await;
    let rows = client
        .query(
            "SELECT version, count(*) FROM schema_migrations GROUP BY version",
            &[],
        )
        .await
        .unwrap();
    assert!(!rows.is_empty());
    for row in rows {
        assert_eq!(
            row.get::<_, i64>(1),
            1,
            "{} applied more than once",
            row.get::<_, String>(0)
        );
    }
    let stores: i64 = client
        .query_one("SELECT count(*) FROM stores WHERE name = 'default'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(stores, 1);
}

#[tokio::test]
async fn credentials_commands_create_list_and_revoke() {
    let url = helpers::fresh_database().await;
    let runner = Runner::current();
    let cli = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--database-url", &url]);
        runner.run(&all)
    };
    let created = cli(&[
        "credentials",
        "create",
        "--name",
        "browser-plugin",
        "--scope",
        "statements/write",
        "--scope",
        "state",
        "--tag",
        "source=browser",
        "--json",
    ]);
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let secret: serde_json::Value = serde_json::from_slice(&created.stdout).unwrap();
    let key = secret["key"].as_str().unwrap().to_string();
    assert!(secret["secret"].as_str().unwrap().len() >= 22);

    let listed = cli(&["credentials", "list", "--json"]);
    let list: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    let entry = list
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["key"] == key.as_str())
        .unwrap();
    assert_eq!(
        entry["scopes"],
        serde_json::json!(["statements/write", "state"])
    );
    assert_eq!(entry["tags"]["source"], "browser");
    assert!(!String::from_utf8_lossy(&listed.stdout).contains(secret["secret"].as_str().unwrap()));

    assert!(cli(&["credentials", "revoke", &key]).status.success());
    assert!(
        !cli(&["credentials", "revoke", &key]).status.success(),
        "already revoked"
    );
    let bad_scope = cli(&[
        "credentials",
        "create",
        "--name",
        "x",
        "--scope",
        "statements/delete",
    ]);
    assert!(!bad_scope.status.success());
    let no_store = cli(&["credentials", "create", "--name", "x", "--store", "missing"]);
    assert!(!no_store.status.success());
    assert!(String::from_utf8_lossy(&no_store.stderr).contains("missing"));
}
