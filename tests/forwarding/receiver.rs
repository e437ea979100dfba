//! A webhook receiver on loopback, written the way the README tells a receiver to be
//! written: it verifies `Commonplace-Signature` (HMAC-SHA256 with the shared secret over
//! `t` + `.` + the raw body, `t` within five minutes of its clock) and keeps each
//! delivery by its `Commonplace-Delivery` id. It fails on purpose on a script: it is not
//! listening yet (connection refused), answers 500, 429 with `Retry-After`, or answers
//! only after the forwarder has given up waiting; and it always answers 400 to a batch
//! holding a Statement it was told to reject.

use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::dev::ServerHandle;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

/// How far the signed time may be from the receiver's clock before it is a replay.
const TOLERANCE_SECONDS: i64 = 300;

/// What the receiver does to the next request instead of accepting it.
#[derive(Debug, Clone)]
pub enum Fault {
    /// 500 Internal Server Error.
    ServerError,
    /// 429 Too Many Requests with `Retry-After: seconds`.
    TooMany { retry_after: u64 },
    /// Waits this long, then accepts the batch: the forwarder has stopped waiting by
    /// then, so it re-sends a batch the receiver did take.
    Slow(Duration),
}

/// One request as it arrived and how it was answered.
#[derive(Debug, Clone)]
pub struct Request {
    pub path: String,
    pub delivery: String,
    pub status: u16,
    pub at: Instant,
}

/// A batch the receiver took.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub path: String,
    pub delivery: String,
    pub statements: Vec<Value>,
}

#[derive(Default)]
struct Log {
    script: VecDeque<Fault>,
    rejected: HashSet<String>,
    requests: Vec<Request>,
    deliveries: Vec<Delivery>,
    bad_signatures: Vec<String>,
}

struct Shared {
    secret: String,
    /// Every request waits this long before it is answered (to slow delivery down).
    pace: Duration,
    log: Mutex<Log>,
}

pub struct Receiver {
    pub port: u16,
    shared: Arc<Shared>,
    server: Option<ServerHandle>,
}

impl Receiver {
    /// A receiver with a port of its own that is not listening yet: connections to it
    /// are refused until `listen`.
    pub fn reserve(secret: &str) -> Receiver {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Receiver {
            port,
            shared: Arc::new(Shared {
                secret: secret.to_string(),
                pace: Duration::ZERO,
                log: Mutex::default(),
            }),
            server: None,
        }
    }

    /// A receiver already listening.
    pub fn start(secret: &str) -> Receiver {
        let mut receiver = Receiver::reserve(secret);
        receiver.listen();
        receiver
    }

    /// A receiver already listening that takes `pace` over every request.
    pub fn paced(secret: &str, pace: Duration) -> Receiver {
        let mut receiver = Receiver::reserve(secret);
        Arc::get_mut(&mut receiver.shared).unwrap().pace = pace;
        receiver.listen();
        receiver
    }

    pub fn listen(&mut self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port)).expect("bind the receiver");
        let shared = self.shared.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::from(shared.clone()))
                .app_data(web::PayloadConfig::new(64 << 20))
                .default_service(web::post().to(receive))
        })
        .workers(2)
        .disable_signals()
        .listen(listener)
        .unwrap()
        .run();
        self.server = Some(server.handle());
        tokio::spawn(server);
    }

    /// The URL of path `path` on this receiver (forwarders told apart by path).
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The next requests meet these faults, in order.
    pub fn script(&self, faults: impl IntoIterator<Item = Fault>) {
        self.shared.log.lock().unwrap().script.extend(faults);
    }

    /// Every batch holding this Statement is answered 400.
    pub fn reject(&self, statement_id: &str) {
        let mut log = self.shared.log.lock().unwrap();
        log.rejected.insert(statement_id.to_string());
    }

    pub fn accept_all(&self) {
        self.shared.log.lock().unwrap().rejected.clear();
    }

    pub fn requests(&self) -> Vec<Request> {
        self.shared.log.lock().unwrap().requests.clone()
    }

    pub fn deliveries(&self) -> Vec<Delivery> {
        self.shared.log.lock().unwrap().deliveries.clone()
    }

    /// What failed verification, and why: must stay empty.
    pub fn bad_signatures(&self) -> Vec<String> {
        self.shared.log.lock().unwrap().bad_signatures.clone()
    }

    /// The Statements taken at `path`, by id, after dropping repeated delivery ids,
    /// with how many times each id arrived. A delivery id seen again must carry the
    /// very same Statements (the forwarder re-sends a batch unchanged).
    pub fn received(&self, path: &str) -> BTreeMap<String, usize> {
        let mut first: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for delivery in self.deliveries().into_iter().filter(|d| d.path == path) {
            match first.get(&delivery.delivery) {
                Some(earlier) => assert_eq!(
                    earlier, &delivery.statements,
                    "delivery {} was re-sent with other Statements",
                    delivery.delivery
                ),
                None => {
                    first.insert(delivery.delivery, delivery.statements);
                }
            }
        }
        let mut counts = BTreeMap::new();
        for statement in first.values().flatten() {
            *counts
                .entry(statement["id"].as_str().unwrap().to_string())
                .or_insert(0) += 1;
        }
        counts
    }

    /// The ids of `received(path)`, each checked to have arrived once.
    pub fn received_once(&self, path: &str) -> BTreeSet<String> {
        let counts = self.received(path);
        let repeated: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
        assert!(
            repeated.is_empty(),
            "Statements in more than one delivery: {repeated:?}"
        );
        counts.into_keys().collect()
    }

    /// The Statement with this id as the receiver took it.
    pub fn statement(&self, id: &str) -> Option<Value> {
        self.deliveries()
            .into_iter()
            .flat_map(|d| d.statements)
            .find(|s| s["id"] == id)
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            drop(server.stop(false));
        }
    }
}

/// Checks `Commonplace-Signature: t=UNIX_SECONDS,v1=HEX` over `body`.
pub fn verify(secret: &str, header: &str, body: &[u8], now: i64) -> Result<(), String> {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => t = Some(value),
            Some(("v1", value)) => v1 = Some(value),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return Err(format!("no t or v1 in {header:?}"));
    };
    let seconds: i64 = t.parse().map_err(|_| format!("t is not a number: {t:?}"))?;
    if (now - seconds).abs() > TOLERANCE_SECONDS {
        return Err(format!("t={seconds} is stale (now {now})"));
    }
    let expected = hex::decode(v1).map_err(|_| format!("v1 is not hex: {v1:?}"))?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(t.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&expected)
        .map_err(|_| format!("v1 does not match the body (t={t})"))
}

/// The signature header a sender with `secret` puts on `body` at `t`.
pub fn sign(secret: &str, t: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

async fn receive(
    request: HttpRequest,
    body: web::Bytes,
    shared: web::Data<Shared>,
) -> HttpResponse {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let arrived = Instant::now();
    let path = request.path().to_string();
    let delivery = header("commonplace-delivery");
    let now = chrono::Utc::now().timestamp();
    let mut problem = verify(&shared.secret, &header("commonplace-signature"), &body, now).err();
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if problem.is_none() && !header("content-type").starts_with("application/json") {
        problem = Some(format!("content type {:?}", header("content-type")));
    }
    if problem.is_none() && (delivery.is_empty() || parsed["delivery"] != delivery.as_str()) {
        problem = Some(format!(
            "header delivery {delivery:?}, body delivery {}",
            parsed["delivery"]
        ));
    }
    let statements = parsed["statements"].as_array().cloned().unwrap_or_default();
    let statement_ids: Vec<String> = statements
        .iter()
        .map(|s| s["id"].as_str().unwrap_or("").to_string())
        .collect();
    if !shared.pace.is_zero() {
        tokio::time::sleep(shared.pace).await;
    }
    let (status, retry_after, slow) = {
        let mut log = shared.log.lock().unwrap();
        if let Some(problem) = problem {
            log.bad_signatures.push(problem);
            (401, None, None)
        } else {
            match log.script.pop_front() {
                Some(Fault::ServerError) => (500, None, None),
                Some(Fault::TooMany { retry_after }) => (429, Some(retry_after), None),
                Some(Fault::Slow(wait)) => (200, None, Some(wait)),
                None if statement_ids.iter().any(|id| log.rejected.contains(id)) => {
                    (400, None, None)
                }
                None => (200, None, None),
            }
        }
    };
    // A slow answer comes after the batch was taken: the forwarder, which stopped
    // waiting, sends it again under the same delivery id.
    let refused = {
        let mut log = shared.log.lock().unwrap();
        log.requests.push(Request {
            path: path.clone(),
            delivery: delivery.clone(),
            status,
            at: arrived,
        });
        if status == 200 {
            log.deliveries.push(Delivery {
                path,
                delivery,
                statements,
            });
        }
        statement_ids
            .iter()
            .find(|id| log.rejected.contains(*id))
            .cloned()
            .unwrap_or_default()
    };
    if let Some(wait) = slow {
        tokio::time::sleep(wait).await;
    }
    match status {
        200 => HttpResponse::Ok().json(json!({"received": statement_ids.len()})),
        400 => HttpResponse::BadRequest()
            .json(json!({"error": format!("statement {refused} is refused here")})),
        429 => HttpResponse::TooManyRequests()
            .insert_header(("Retry-After", retry_after.unwrap().to_string()))
            .json(json!({"error": "slow down"})),
        401 => HttpResponse::Unauthorized().json(json!({"error": "bad signature"})),
        _ => HttpResponse::InternalServerError().json(json!({"error": "on purpose"})),
    }
}
