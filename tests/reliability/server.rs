//! The real binary on a database of the test's choosing, with its output captured.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use commonplace::store::embedded::Cluster;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tokio_postgres::NoTls;

pub const KEY: &str = "reliability-key";
pub const SECRET: &str = "Zs8-secret-7Qx9-never-logged-42-Kp3w";
/// The line `serve` prints once it listens. The whole line, not a phrase of it: at trace
/// level the log also carries SQL text (migration comments) that names the xAPI endpoint.
pub const READY_LINE: &str = "Commonplace LRS listening: xAPI endpoint";

pub struct Server {
    pub child: Child,
    pub port: u16,
    pub output: Arc<Mutex<Vec<String>>>,
    /// The threads reading its stdout and stderr into `output`, until each ends.
    readers: Vec<std::thread::JoinHandle<()>>,
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn capture(
    stream: impl Read + Send + 'static,
    into: Arc<Mutex<Vec<String>>>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            into.lock().unwrap().push(line);
        }
    })
}

/// `commonplace serve --listen 127.0.0.1:PORT` with `args`, the bootstrap credential
/// and `envs`, its output piped.
fn serve(port: u16, args: &[&str], envs: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_commonplace"));
    command
        .arg("serve")
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(args)
        .env_remove("COMMONPLACE_DATABASE_URL")
        .env("RUST_LOG", "warn")
        .env("COMMONPLACE_BOOTSTRAP_KEY", KEY)
        .env("COMMONPLACE_BOOTSTRAP_SECRET", SECRET)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in envs {
        command.env(name, value);
    }
    command
}

/// Starts `commonplace serve` with `args` (after `--listen`) and waits until it serves.
pub fn start(args: &[&str], envs: &[(&str, &str)]) -> Server {
    let mut server = spawn(args, envs);
    server.until_line(|line| line.starts_with(READY_LINE), Duration::from_secs(90));
    server
}

/// Runs `commonplace serve` that is expected to refuse to start: its exit status and
/// output, once it has exited.
pub fn refused(args: &[&str], envs: &[(&str, &str)]) -> (std::process::ExitStatus, String) {
    let mut server = spawn(args, envs);
    let status = server.wait(Duration::from_secs(90));
    (status, server.log())
}

fn spawn(args: &[&str], envs: &[(&str, &str)]) -> Server {
    let port = free_port();
    let mut child = serve(port, args, envs).spawn().unwrap();
    let output = Arc::new(Mutex::new(Vec::new()));
    let readers = vec![
        capture(child.stdout.take().unwrap(), output.clone()),
        capture(child.stderr.take().unwrap(), output.clone()),
    ];
    Server {
        child,
        port,
        output,
        readers,
    }
}

impl Server {
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn pid(&self) -> Pid {
        Pid::from_raw(self.child.id() as i32)
    }

    pub fn signal(&self, signal: Signal) {
        kill(self.pid(), signal).unwrap();
    }

    /// Waits for the process to exit, and for its last lines to be read into the log,
    /// and returns its status.
    pub fn wait(&mut self, limit: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // The pipes end once it has exited (PostgreSQL writes to its own log).
                for reader in self.readers.drain(..) {
                    reader.join().unwrap();
                }
                return status;
            }
            assert!(Instant::now() < deadline, "server did not exit in time");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log(&self) -> String {
        self.output.lock().unwrap().join("\n")
    }

    /// Waits until the server has printed a line that `wanted` accepts, and returns the
    /// log so far: the lines printed with it may still be on their way.
    pub fn until_line(&mut self, wanted: impl Fn(&str) -> bool, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let log = self.log();
            if log.lines().any(&wanted) {
                return log;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("server exited: {status}\n{log}");
            }
            assert!(Instant::now() < deadline, "the line never came:\n{log}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An async client for the server's xAPI with the bootstrap credential.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

pub fn xapi(
    http: &reqwest::Client,
    server_port: u16,
    method: reqwest::Method,
    path: &str,
) -> reqwest::RequestBuilder {
    http.request(method, format!("http://127.0.0.1:{server_port}{path}"))
        .basic_auth(KEY, Some(SECRET))
        .header("X-Experience-API-Version", "2.0.0")
}

/// A PostgreSQL cluster of this test alone, in its own directory.
pub struct OwnCluster {
    pub dir: PathBuf,
    cluster: Option<Cluster>,
}

impl OwnCluster {
    pub fn start(dir: &Path) -> OwnCluster {
        let cluster = Cluster::start(dir).expect("start a private cluster");
        OwnCluster {
            dir: dir.to_path_buf(),
            cluster: Some(cluster),
        }
    }

    pub fn url(&self, database: &str) -> String {
        format!(
            "host={} user=commonplace dbname={database}",
            self.dir.join("pg").display()
        )
    }

    pub async fn create_database(&self, name: &str) {
        let cluster = self.cluster.as_ref().unwrap();
        let (client, connection) = cluster.config("postgres").connect(NoTls).await.unwrap();
        let driver = tokio::spawn(connection);
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        drop(client);
        let _ = driver.await;
    }

    pub fn postmaster(&self) -> Pid {
        Self::postmaster_of(&self.dir)
    }

    /// The postmaster running the cluster in `dir/pg`.
    pub fn postmaster_of(dir: &Path) -> Pid {
        let text = std::fs::read_to_string(dir.join("pg/postmaster.pid")).unwrap();
        Pid::from_raw(text.lines().next().unwrap().trim().parse().unwrap())
    }

    /// Kills the postmaster with `signal` and waits until it is gone.
    pub fn kill(&mut self, signal: Signal) {
        let pid = self.postmaster();
        kill(pid, signal).unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while kill(pid, None).is_ok() {
            assert!(Instant::now() < deadline, "postmaster still running");
            std::thread::sleep(Duration::from_millis(20));
        }
        // The supervisor reaps it; forget the handle without stopping anything.
        std::mem::forget(self.cluster.take());
    }

    pub fn restart(&mut self) {
        // Backends of a killed postmaster may linger for a moment.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match Cluster::start(&self.dir) {
                Ok(cluster) => {
                    self.cluster = Some(cluster);
                    return;
                }
                Err(e) if Instant::now() < deadline => {
                    eprintln!("restart: {e}; retrying");
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(e) => panic!("cannot restart PostgreSQL: {e}"),
            }
        }
    }

    pub async fn connect(&self, database: &str) -> tokio_postgres::Client {
        crate::helpers::connect(&self.url(database)).await
    }
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        if let Some(cluster) = self.cluster.take() {
            let _ = cluster.stop();
        }
    }
}
