//! The source LRS as a separate process (so it can be killed with SIGKILL), its
//! `forwarders` commands, the target LRS, and waiting for forwarding to settle.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{self, connect, fresh_database, TestApp};
use crate::server::{self, Server, KEY, SECRET};

/// How long forwarding may take to settle before a test gives up: generous, as the
/// machine running the tests is shared; a test only waits as long as it needs.
pub const SETTLE: Duration = Duration::from_secs(120);

/// How long a forwarder waits for a target's answer (forwarding::target's
/// `REQUEST_TIMEOUT`).
pub const TIMEOUT: Duration = Duration::from_secs(10);

pub const EXPERIENCED: &str = "http://adlnet.gov/expapi/verbs/experienced";
pub const COMPLETED: &str = "http://adlnet.gov/expapi/verbs/completed";
pub const ATTEMPTED: &str = "http://adlnet.gov/expapi/verbs/attempted";
pub const VOIDED: &str = "http://adlnet.gov/expapi/verbs/voided";

/// A Statement with a fresh id: `who` did `verb` to the Activity `activity`.
pub fn statement(who: &str, verb: &str, activity: &str) -> Value {
    json!({
        "id": uuid::Uuid::new_v4(),
        "actor": {"objectType": "Agent", "name": who, "mbox": format!("mailto:{who}@example.com")},
        "verb": {"id": verb, "display": {"en-US": verb.rsplit('/').next().unwrap()}},
        "object": {"objectType": "Activity", "id": activity,
                   "definition": {"name": {"en-US": activity.rsplit('/').next().unwrap()}}},
        "result": {"completion": true, "score": {"scaled": 0.75}},
        "context": {"platform": "forwarding tests",
                    "extensions": {"http://example.com/extensions/n": 42}},
        "timestamp": "2026-11-30T09:15:00.123Z",
    })
}

pub fn id_of(statement: &Value) -> String {
    statement["id"].as_str().unwrap().to_string()
}

pub fn ids(statements: &[Value]) -> BTreeSet<String> {
    statements.iter().map(id_of).collect()
}

/// Polls `check` until it gives a value or `SETTLE` has passed; `what` says what was
/// awaited, and the last `Err` what was seen instead.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + SETTLE;
    loop {
        match check().await {
            Ok(value) => return value,
            Err(seen) if Instant::now() > deadline => {
                panic!(
                    "{what}: not within {} s; last seen: {seen}",
                    SETTLE.as_secs()
                )
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// `commonplace ARGS --database-url URL`: stdout when it succeeds, stderr when not.
pub async fn command(database_url: &str, args: &[&str]) -> Result<String, String> {
    let database_url = database_url.to_string();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || helpers::command(&database_url, &args))
        .await
        .unwrap()
}

/// The LRS Statements are forwarded from: `commonplace serve` on a database of its own,
/// which may be killed and started again, or joined by a second process.
pub struct Source {
    pub database_url: String,
    pub server: Option<Server>,
    pub http: reqwest::Client,
}

impl Source {
    pub async fn start() -> Source {
        let database_url = fresh_database().await;
        let server = Self::serve(&database_url).await;
        Source {
            database_url,
            server: Some(server),
            http: server::client(),
        }
    }

    /// Another server process on the same database.
    pub async fn another(&self) -> Source {
        Source {
            database_url: self.database_url.clone(),
            server: Some(Self::serve(&self.database_url).await),
            http: server::client(),
        }
    }

    async fn serve(database_url: &str) -> Server {
        let args = [
            "--database-url".to_string(),
            database_url.to_string(),
            "--workers".to_string(),
            "1".to_string(),
            "--pool-size".to_string(),
            "6".to_string(),
        ];
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            server::start(&args, &[("RUST_LOG", "warn,commonplace::forwarding=debug")])
        })
        .await
        .unwrap()
    }

    pub fn port(&self) -> u16 {
        self.server.as_ref().expect("the source is running").port
    }

    /// Kills the server process with SIGKILL: no shutdown of any kind.
    pub fn kill(&mut self) {
        let mut server = self.server.take().expect("the source is running");
        server.signal(Signal::SIGKILL);
        server.wait(Duration::from_secs(30));
    }

    pub async fn restart(&mut self) {
        assert!(self.server.is_none(), "kill it first");
        self.server = Some(Self::serve(&self.database_url).await);
    }

    /// The last `lines` of the server's log (to explain a failure).
    pub fn log_tail(&self, lines: usize) -> String {
        let log = self.server.as_ref().map(Server::log).unwrap_or_default();
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    pub fn xapi(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        server::xapi(&self.http, self.port(), method, path)
    }

    /// POSTs `statements` as one batch with the bootstrap credential; asserts 200.
    pub async fn post(&self, statements: &[Value]) {
        self.post_as(KEY, SECRET, statements).await;
    }

    pub async fn post_as(&self, key: &str, secret: &str, statements: &[Value]) {
        let response = self
            .http
            .post(format!("http://127.0.0.1:{}/xapi/statements", self.port()))
            .basic_auth(key, Some(secret))
            .header("X-Experience-API-Version", "2.0.0")
            .json(statements)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body = response.text().await.unwrap();
        assert_eq!(status, 200, "POST to the source: {body}");
    }

    /// A `statements/write` credential with these tags: (key, secret).
    pub async fn tagged_writer(&self, name: &str, tags: &[(&str, &str)]) -> (String, String) {
        let mut args = vec![
            "credentials".to_string(),
            "create".to_string(),
            "--name".to_string(),
            name.to_string(),
            "--scope".to_string(),
            "statements/write".to_string(),
            "--json".to_string(),
        ];
        for (k, v) in tags {
            args.extend(["--tag".to_string(), format!("{k}={v}")]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = command(&self.database_url, &args).await.unwrap();
        let created: Value = serde_json::from_str(&out).unwrap();
        (
            created["key"].as_str().unwrap().to_string(),
            created["secret"].as_str().unwrap().to_string(),
        )
    }

    /// `commonplace forwarders ARGS`.
    pub async fn forwarders(&self, args: &[&str]) -> Result<String, String> {
        let mut all = vec!["forwarders"];
        all.extend_from_slice(args);
        command(&self.database_url, &all).await
    }

    /// `forwarders create ARGS --json`: the forwarder as created.
    pub async fn create(&self, args: &[&str]) -> Value {
        let mut all = vec!["create"];
        all.extend_from_slice(args);
        all.push("--json");
        let out = self
            .forwarders(&all)
            .await
            .unwrap_or_else(|e| panic!("forwarders create {args:?}: {e}"));
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
    }

    /// A webhook forwarder `name` to `url`, signed with `secret`, and `more` flags.
    pub async fn webhook(&self, name: &str, url: &str, secret: &str, more: &[&str]) -> Value {
        let mut args = vec!["--name", name, "--kind", "webhook", "--url", url];
        args.extend(["--secret", secret]);
        args.extend_from_slice(more);
        self.create(&args).await
    }

    /// An xAPI forwarder `name` to the target LRS, with Basic auth, xAPI 2.0.0 unless
    /// `more` says otherwise, and `more` flags.
    pub async fn to_lrs(&self, name: &str, target: &Target, more: &[&str]) -> Value {
        let endpoint = target.endpoint();
        // `=`: a key may start with '-'.
        let username = format!("--username={}", target.app.key);
        let password = format!("--password={}", target.app.secret);
        let mut args = vec!["--name", name, "--kind", "xapi", "--endpoint", &endpoint];
        args.extend([username.as_str(), password.as_str()]);
        // Both LRSs speak 2.0.0 unless a test chooses.
        if !more.contains(&"--xapi-version") {
            args.extend(["--xapi-version", "2.0.0"]);
        }
        args.extend_from_slice(more);
        self.create(&args).await
    }

    /// `forwarders list --json`, by name.
    pub async fn list(&self) -> BTreeMap<String, Value> {
        let out = self.forwarders(&["list", "--json"]).await.unwrap();
        let all: Vec<Value> = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
        all.into_iter()
            .map(|f| (f["name"].as_str().unwrap().to_string(), f))
            .collect()
    }

    /// `forwarders show NAME --json`.
    pub async fn show(&self, name: &str) -> Value {
        let out = self.forwarders(&["show", name, "--json"]).await.unwrap();
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
    }

    /// The forwarder's `lag` as `forwarders list --json` gives it.
    pub async fn lag(&self, name: &str) -> i64 {
        let all = self.list().await;
        let forwarder = all
            .get(name)
            .unwrap_or_else(|| panic!("no forwarder {name}"));
        forwarder["lag"].as_i64().unwrap()
    }

    /// Waits until forwarder `name` has a lag of 0 (everything stored has been delivered,
    /// dead-lettered or passed over as not matching); its list entry then.
    pub async fn until_caught_up(&self, name: &str) -> Value {
        eventually(&format!("forwarder {name} caught up"), || async {
            let all = self.list().await;
            let forwarder = all[name].clone();
            if forwarder["lag"] == 0 {
                Ok(forwarder)
            } else {
                Err(format!(
                    "{forwarder}\nthe source's log ends:\n{}",
                    self.log_tail(20)
                ))
            }
        })
        .await
    }

    /// A connection to the source's database, outside the server.
    pub async fn database(&self) -> tokio_postgres::Client {
        connect(&self.database_url).await
    }
}

/// The LRS Statements are forwarded to: the real app (in this process) on a database of
/// its own.
pub struct Target {
    pub app: TestApp,
}

impl Target {
    pub async fn start() -> Target {
        Target {
            app: crate::helpers::spawn_app().await,
        }
    }

    /// A target listening on `port` (one picked before the target was up).
    pub async fn start_on(port: u16) -> Target {
        let listen = format!("127.0.0.1:{port}").parse().unwrap();
        Target {
            app: crate::helpers::spawn_app_with(|s| s.listen = listen).await,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}/xapi", self.app.address)
    }

    /// How many rows each Statement id has in the target's database.
    pub async fn stored(&self) -> BTreeMap<String, i64> {
        let client = self.app.pool.get().await.unwrap();
        client
            .query("SELECT id::text, count(*) FROM statements GROUP BY id", &[])
            .await
            .unwrap()
            .into_iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect()
    }

    /// Waits until the target holds at least every id of `expected`; the ids it holds.
    pub async fn until_holds(&self, expected: &BTreeSet<String>) -> BTreeMap<String, i64> {
        eventually("the target holds every forwarded Statement", || async {
            let stored = self.stored().await;
            let missing = expected
                .iter()
                .filter(|id| !stored.contains_key(*id))
                .count();
            if missing == 0 {
                Ok(stored)
            } else {
                Err(format!("{missing} of {} missing", expected.len()))
            }
        })
        .await
    }

    /// `GET /xapi/statements?statementId=…` (or `voidedStatementId`) on the target.
    pub async fn get(&self, parameter: &str, id: &str) -> (u16, Value) {
        let response = self
            .app
            .xapi(Method::GET, "/xapi/statements")
            .query(&[(parameter, id)])
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

/// `statement` without what the receiving LRS sets itself.
pub fn content(statement: &Value) -> Value {
    let mut statement = statement.clone();
    let object = statement.as_object_mut().unwrap();
    object.remove("stored");
    object.remove("authority");
    statement
}
