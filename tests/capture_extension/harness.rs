//! The pieces the extension test runs: the real server (stopped and started again on
//! its port), a test site of several hosts on loopback, and the browser behind the node
//! driver (tests/js/capture-driver.js).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::dev::ServerHandle;
use commonplace::configuration::Settings;
use commonplace::startup::Application;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use crate::helpers::{self, install_js_packages, js_dir};

pub fn extension_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src/capture/extension")
}

/// The real server on a fixed port of a fresh database, which the test can stop and
/// start again on the same port (the extension knows it by its address).
pub struct Lrs {
    settings: Settings,
    port: u16,
    database_url: String,
    handle: Option<ServerHandle>,
    served: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    pub http: reqwest::Client,
    key: String,
    secret: String,
}

impl Lrs {
    pub async fn start() -> Lrs {
        let database_url = helpers::fresh_database().await;
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let settings =
            helpers::test_settings(format!("127.0.0.1:{port}").parse().unwrap(), &database_url);
        let mut lrs = Lrs {
            settings,
            port,
            database_url,
            handle: None,
            served: None,
            http: reqwest::Client::new(),
            key: String::new(),
            secret: String::new(),
        };
        let pool = lrs.serve().await;
        let all = helpers::credential_for_everything(&pool).await;
        (lrs.key, lrs.secret) = (all.key, all.secret);
        lrs
    }

    pub async fn serve(&mut self) -> deadpool_postgres::Pool {
        let app = Application::build(self.settings.clone()).await.unwrap();
        let pool = app.pool().clone();
        self.handle = Some(app.handle());
        self.served = Some(tokio::spawn(app.run_until_stopped()));
        pool
    }

    pub async fn stop(&mut self) {
        self.handle.take().unwrap().stop(true).await;
        self.served.take().unwrap().await.unwrap().unwrap();
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Runs `commonplace ARGS` on this server's database; its standard output.
    pub async fn cli(&self, args: &[&str]) -> String {
        let output = Command::new(env!("CARGO_BIN_EXE_commonplace"))
            .args(args)
            .args(["--database-url", &self.database_url])
            .env_remove("COMMONPLACE_DATABASE_URL")
            .output()
            .await
            .unwrap();
        assert!(
            output.status.success(),
            "commonplace {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    /// Every Statement of the store that is not voided (voiding ones included), oldest
    /// first.
    pub async fn statements(&self) -> Vec<Value> {
        let response = self
            .http
            .get(self.url("/xapi/statements?limit=1000&ascending=true"))
            .basic_auth(&self.key, Some(&self.secret))
            .header("X-Experience-API-Version", "1.0.3")
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, 200, "{body}");
        body["statements"].as_array().unwrap().clone()
    }

    /// The stored Statements with this verb about this object.
    pub async fn about(&self, verb: &str, object: &str) -> Vec<Value> {
        self.statements()
            .await
            .into_iter()
            .filter(|s| s["verb"]["id"] == verb && s["object"]["id"] == object)
            .collect()
    }

    /// Waits until the server stores `count` Statements with this verb about `object`.
    pub async fn until_stored(&self, verb: &str, object: &str, count: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(45);
        loop {
            let found = self.about(verb, object).await;
            if found.len() >= count {
                return found;
            }
            assert!(
                Instant::now() < deadline,
                "no {verb} of {object} reached the server; it holds {:#}\n\
                 the POSTs of Statements it answered, by status:\n{}",
                Value::from(self.statements().await),
                self.statement_posts().await.join("\n")
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Statement-writing requests (POST) this server has answered since it started.
    pub async fn statement_requests(&self) -> f64 {
        self.statement_posts()
            .await
            .iter()
            .map(|line| line.rsplit_once(' ').unwrap().1.parse::<f64>().unwrap())
            .sum()
    }

    /// The same, one `/metrics` line per status: what a test that waited in vain shows,
    /// so that one can tell a Statement never sent from one the server refused.
    async fn statement_posts(&self) -> Vec<String> {
        let text = self
            .http
            .get(self.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .filter(|line| {
                line.starts_with(
                    r#"commonplace_http_requests_total{method="POST",route="/xapi/statements","#,
                )
            })
            .map(str::to_string)
            .collect()
    }

    /// The dashboard as a reports reader sees it with `learner` picked (an IFI as the
    /// reports write it, e.g. `mailto:ada@example.org`).
    pub async fn dashboard(&self, learner: &str) -> String {
        let response = self
            .http
            .get(self.url("/dashboard"))
            .query(&[("learner", learner)])
            .basic_auth(&self.key, Some(&self.secret))
            .send()
            .await
            .unwrap();
        let status = response.status();
        let page = response.text().await.unwrap();
        assert_eq!(status, 200, "{page}");
        page
    }

    pub async fn explain(&self, statement_id: &str) -> Value {
        let response = self
            .http
            .get(self.url(&format!("/reports/explain?statementId={statement_id}")))
            .basic_auth(&self.key, Some(&self.secret))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }
}

/// A small web site on loopback. Chromium resolves every `*.test` name to it, so one
/// server is several hosts: news.test, player.test, mail.test, blog.test, evil.test.
pub struct Site {
    port: u16,
    /// Every request it answered, as `METHOD host path`.
    requests: Arc<Mutex<Vec<String>>>,
}

impl Site {
    pub fn url(&self, host: &str, path: &str) -> String {
        format!("http://{host}.test:{}{path}", self.port)
    }

    /// How many `method` requests for `path` (without its query) reached `host`.
    pub fn requests(&self, method: &str, host: &str, path: &str) -> usize {
        let wanted = format!("{method} {host}.test:{}{path}", self.port);
        let requests = self.requests.lock().unwrap();
        requests.iter().filter(|r| **r == wanted).count()
    }
}

fn page(title: &str, head: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>{head}\
         </head><body><h1>{title}</h1>{body}<p>Some text worth reading.</p></body></html>"
    )
}

/// A canvas drawn and filmed in the page: a playing HTML5 video made from nothing.
const PLAYER: &str = r#"<canvas id="c" width="160" height="90"></canvas>
<video id="v" muted autoplay playsinline title="Colour contrast in two minutes"></video>
<script>
const canvas = document.getElementById("c"), context = canvas.getContext("2d");
let frame = 0;
setInterval(() => { context.fillStyle = `hsl(${frame++ * 7 % 360} 60% 50%)`; context.fillRect(0, 0, 160, 90); }, 50);
const video = document.getElementById("v");
video.srcObject = canvas.captureStream(20);
video.play();
</script>"#;

pub fn serve_site() -> Site {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let requests = Arc::new(Mutex::new(Vec::new()));
    let log = requests.clone();
    std::thread::spawn(move || {
        // A thread per connection: Chromium opens connections it may never use.
        for mut stream in listener.incoming().flatten() {
            let log = log.clone();
            std::thread::spawn(move || respond(&mut stream, port, &log));
        }
    });
    Site { port, requests }
}

/// The enrolment meta elements an invitation page carries, from the query parameters
/// `enrol-endpoint` and `enrol-code`: what any page may claim.
fn enrolment_claims(query: &str) -> String {
    let value = |name: &str| {
        query
            .split('&')
            .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
    };
    match (value("enrol-endpoint"), value("enrol-code")) {
        (Some(endpoint), Some(code)) => format!(
            r#"<meta name="commonplace-enrol-endpoint" content="{endpoint}"><meta name="commonplace-enrol-code" content="{code}">"#
        ),
        _ => String::new(),
    }
}

fn respond(stream: &mut std::net::TcpStream, port: u16, log: &Mutex<Vec<String>>) {
    let mut request = Vec::new();
    let mut buffer = [0u8; 4096];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => request.extend_from_slice(&buffer[..n]),
        }
    }
    let head = String::from_utf8_lossy(&request);
    let mut words = head.split_whitespace();
    let method = words.next().unwrap_or_default();
    let target = words.next().unwrap_or("/");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let host = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("host").then(|| value.trim())
        })
        .unwrap_or_default();
    log.lock().unwrap().push(format!("{method} {host}{path}"));
    let claims = enrolment_claims(query);
    let (status, body) = match path {
        // Reached with campaign parameters; says what it is canonically.
        "/stories/42" => (
            "200 OK",
            page(
                "Accessible forms",
                r#"<link rel="canonical" href="/articles/accessible-forms">"#,
                "",
            ),
        ),
        "/video" => (
            "200 OK",
            page(
                "A video about contrast",
                "",
                &format!(
                    r#"<iframe src="http://player.test:{port}/player" width="320" height="200"></iframe>"#
                ),
            ),
        ),
        "/player" => ("200 OK", page("Player", "", PLAYER)),
        // Looks like a store's invitation page, at the path the store serves it.
        "/capture/enrol" if method == "GET" => ("200 OK", page("Enrol", &claims, "")),
        p if p.starts_with("/articles/") => {
            let name = p.trim_start_matches("/articles/").replace('-', " ");
            ("200 OK", page(&name, &claims, ""))
        }
        _ => ("404 Not Found", page("Not found", "", "")),
    };
    let header = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream
        .write_all(header.as_bytes())
        .and_then(|()| stream.write_all(body.as_bytes()));
}

/// Headless Chromium or Firefox with the unpacked extension, through the node driver.
pub struct Browser {
    child: Child,
    stdin: ChildStdin,
    answers: Lines<BufReader<ChildStdout>>,
    log: Arc<Mutex<String>>,
    next: u64,
    /// The last command sent, for failure messages.
    sent: String,
}

/// The browser executable: `$variable` if set, else the first of `names` on the PATH.
fn executable(variable: &str, names: &[&str], missing: &str) -> String {
    std::env::var(variable).unwrap_or_else(|_| {
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
            .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
            .find(|candidate| candidate.exists())
            .expect(missing)
            .display()
            .to_string()
    })
}

impl Browser {
    /// Headless Chromium, where every `*.test` host is the loopback address.
    pub async fn launch() -> Browser {
        let chromium = executable(
            "CHROMIUM",
            &["chromium"],
            "Chromium is needed (Debian: apt-get install -y chromium)",
        );
        Browser::spawn(&[
            ("CHROMIUM", chromium),
            ("HOST_RULES", "MAP *.test 127.0.0.1".into()),
        ])
        .await
    }

    /// Headless Firefox (Debian's ESR), with the extension installed temporarily.
    pub async fn launch_firefox() -> Browser {
        let firefox = executable(
            "FIREFOX",
            &["firefox-esr", "firefox"],
            "Firefox is needed (Debian: apt-get install -y firefox-esr)",
        );
        Browser::spawn(&[("FIREFOX", firefox)]).await
    }

    async fn spawn(engine: &[(&str, String)]) -> Browser {
        install_js_packages();
        let mut child = Command::new("node")
            .arg(js_dir().join("capture-driver.js"))
            .env("EXTENSION_DIR", extension_dir())
            .envs(engine.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("node is needed for the extension tests");
        let log = Arc::new(Mutex::new(String::new()));
        let mut stderr = child.stderr.take().unwrap();
        let sink = log.clone();
        tokio::spawn(async move {
            let mut buffer = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buffer).await {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buffer[..n]));
            }
        });
        let mut browser = Browser {
            stdin: child.stdin.take().unwrap(),
            answers: BufReader::new(child.stdout.take().unwrap()).lines(),
            child,
            log,
            next: 0,
            sent: String::new(),
        };
        browser.answer(0).await;
        browser
    }

    async fn answer(&mut self, id: u64) -> Value {
        let line = tokio::time::timeout(Duration::from_secs(90), self.answers.next_line())
            .await
            .unwrap_or_else(|_| panic!("the driver did not answer {}: {}", self.sent, self.log()))
            .unwrap()
            .unwrap_or_else(|| panic!("the driver exited: {}", self.log()));
        let answer: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(answer["id"], id, "{line}");
        let cmd = &self.sent;
        assert_eq!(
            answer["ok"],
            true,
            "{cmd}: {}\n{}",
            answer["error"].as_str().unwrap_or_default(),
            self.log()
        );
        answer["value"].clone()
    }

    /// Sends one command to the driver and waits for what it saw.
    pub async fn run(&mut self, cmd: &str, args: Value) -> Value {
        self.next += 1;
        let mut command = args;
        command["id"] = json!(self.next);
        command["cmd"] = json!(cmd);
        let line = format!("{command}\n");
        self.sent = command.to_string();
        self.stdin.write_all(line.as_bytes()).await.unwrap();
        self.stdin.flush().await.unwrap();
        self.answer(self.next).await
    }

    /// Reads `url` in `tab` for `seconds` and leaves it; the seconds it was in front.
    pub async fn read(&mut self, tab: &str, url: &str, seconds: f64) -> f64 {
        let answer = self
            .run("read", json!({"tab": tab, "url": url, "seconds": seconds}))
            .await;
        answer["activeSeconds"].as_f64().unwrap()
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    pub async fn close(mut self) {
        self.run("close", json!({})).await;
        let _ = self.child.wait().await;
    }
}

impl Lrs {
    /// Waits until some stored Statement satisfies `wanted`; all that do.
    pub async fn until_stored_where(&self, wanted: impl Fn(&Value) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(45);
        loop {
            let found: Vec<Value> = self
                .statements()
                .await
                .into_iter()
                .filter(|s| wanted(s))
                .collect();
            if !found.is_empty() {
                return found;
            }
            assert!(
                Instant::now() < deadline,
                "not stored; the server holds {:#}",
                Value::from(self.statements().await)
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}
