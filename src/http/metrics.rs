//! Prometheus metrics, served at `GET /metrics` in the text exposition format.
//!
//! Each app has its own registry (so tests of one app see only its own counts):
//! - `commonplace_http_requests_total{method,route,status}` and
//!   `commonplace_http_request_duration_seconds{method,route,status}` (histogram), where
//!   `route` is the matched route pattern (`/xapi/statements`), never the raw path, and
//!   `unmatched` for requests no route answers;
//! - `commonplace_statements_ingested_total`: Statements accepted by `PUT`/`POST
//!   /xapi/statements` (a Statement already stored unchanged counts again);
//! - `commonplace_database_pool_{max_size,size,in_use,available,waiting}`: the connection
//!   pool, read when scraped;
//! - `commonplace_statement_writers_busy` and `commonplace_statement_writes_waiting`: the
//!   writers of small Statement requests (`store::write_queue`) writing now, and the
//!   requests queued for them, read when scraped;
//! - `commonplace_database_operation_duration_seconds{operation}` (histogram): the
//!   database calls of the Statement resource (`insert_statements`, `statement_by_id`,
//!   `statement_page`), connection wait (and the wait for a group-commit writer)
//!   included;
//! - `commonplace_database_reads_total{target}`: reads of the API served by the
//!   `primary` or a `replica` (`store::replicas`); per replica (label `replica`,
//!   `host:port/dbname`) `commonplace_replica_lag_seconds` (absent while it is down or
//!   cannot be timed) and `commonplace_replica_in_rotation` (1 or 0), as its last
//!   check found them;
//! - per forwarder (label `forwarder`, its name): `commonplace_forwarder_delivered_total`,
//!   `_failed_total` and `_dead_lettered_total` (counters), `_lag_statements`,
//!   `_lag_seconds` and `_active` (1 active, 0 paused), read from the database when
//!   scraped, since every instance delivers for every forwarder and the row is the
//!   truth (`store::forwarders`).

use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse};
use deadpool_postgres::Pool;
use prometheus::proto::MetricFamily;
use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramTimer, HistogramVec, IntCounter, IntCounterVec,
    IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};

use super::AppState;
use crate::store::forwarders::{self, ForwarderInfo};
use crate::store::replicas::{ReplicaState, ReplicaStatus, Target};
use crate::store::write_queue::StatementWriter;

/// Request latency buckets, in seconds: 0.5 ms to 10 s.
const LATENCY_BUCKETS: [f64; 15] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 7.5, 10.0,
];

pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    request_seconds: HistogramVec,
    statements_ingested: IntCounter,
    database_seconds: HistogramVec,
    database_reads: IntCounterVec,
    report_answers: IntCounterVec,
    pool_max_size: IntGauge,
    pool_size: IntGauge,
    pool_in_use: IntGauge,
    pool_available: IntGauge,
    pool_waiting: IntGauge,
    writers_busy: IntGauge,
    writes_waiting: IntGauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let labels = ["method", "route", "status"];
        let requests = IntCounterVec::new(
            Opts::new(
                "commonplace_http_requests_total",
                "HTTP requests answered, by method, route pattern and status",
            ),
            &labels,
        )
        .expect("valid metric");
        let request_seconds = HistogramVec::new(
            HistogramOpts::new(
                "commonplace_http_request_duration_seconds",
                "Time from receiving a request to its response head, by method, route pattern and status",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &labels,
        )
        .expect("valid metric");
        let statements_ingested = IntCounter::new(
            "commonplace_statements_ingested_total",
            "Statements accepted by PUT and POST /xapi/statements",
        )
        .expect("valid metric");
        let database_seconds = HistogramVec::new(
            HistogramOpts::new(
                "commonplace_database_operation_duration_seconds",
                "Duration of the Statement resource's database calls, connection wait included",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["operation"],
        )
        .expect("valid metric");
        let database_reads = IntCounterVec::new(
            Opts::new(
                "commonplace_database_reads_total",
                "Reads of the API (Statements, documents, Activities, Agents, reports), by \
                 where they were served: the primary or a replica",
            ),
            &["target"],
        )
        .expect("valid metric");
        let report_answers = IntCounterVec::new(
            Opts::new(
                "commonplace_report_answers_total",
                "Report and dashboard answers, by whether they were kept from an earlier \
                 request at the same version of the figures (hit) or computed (miss)",
            ),
            &["cache"],
        )
        .expect("valid metric");
        let gauge = |name: &str, help: &str| IntGauge::new(name, help).expect("valid metric");
        let metrics = Metrics {
            requests,
            request_seconds,
            statements_ingested,
            database_seconds,
            database_reads,
            report_answers,
            pool_max_size: gauge(
                "commonplace_database_pool_max_size",
                "Most connections the pool may open",
            ),
            pool_size: gauge(
                "commonplace_database_pool_size",
                "Connections the pool holds now",
            ),
            pool_in_use: gauge(
                "commonplace_database_pool_in_use",
                "Connections lent to requests now",
            ),
            pool_available: gauge(
                "commonplace_database_pool_available",
                "Idle connections ready to be lent",
            ),
            pool_waiting: gauge(
                "commonplace_database_pool_waiting",
                "Requests waiting for a connection",
            ),
            writers_busy: gauge(
                "commonplace_statement_writers_busy",
                "Writers of small Statement requests writing now",
            ),
            writes_waiting: gauge(
                "commonplace_statement_writes_waiting",
                "Small Statement requests queued for a writer, to be stored together",
            ),
            registry,
        };
        let collectors: [Box<dyn prometheus::core::Collector>; 13] = [
            Box::new(metrics.requests.clone()),
            Box::new(metrics.request_seconds.clone()),
            Box::new(metrics.statements_ingested.clone()),
            Box::new(metrics.database_seconds.clone()),
            Box::new(metrics.database_reads.clone()),
            Box::new(metrics.report_answers.clone()),
            Box::new(metrics.pool_max_size.clone()),
            Box::new(metrics.pool_size.clone()),
            Box::new(metrics.pool_in_use.clone()),
            Box::new(metrics.pool_available.clone()),
            Box::new(metrics.pool_waiting.clone()),
            Box::new(metrics.writers_busy.clone()),
            Box::new(metrics.writes_waiting.clone()),
        ];
        for collector in collectors {
            metrics
                .registry
                .register(collector)
                .expect("metric registered once");
        }
        metrics
    }

    /// Counts Statements just stored (or accepted as already stored).
    pub fn statements_ingested(&self, count: usize) {
        self.statements_ingested.inc_by(count as u64);
    }

    /// Counts a read served by `target`.
    pub fn database_read(&self, target: Target) {
        self.database_reads
            .with_label_values(&[target.as_str()])
            .inc();
    }

    /// Counts a report answer, kept (`hit`) or computed.
    pub fn report_answer(&self, hit: bool) {
        self.report_answers
            .with_label_values(&[if hit { "hit" } else { "miss" }])
            .inc();
    }

    /// Times a database call until the returned timer is dropped.
    pub fn database_timer(&self, operation: &str) -> HistogramTimer {
        self.database_seconds
            .with_label_values(&[operation])
            .start_timer()
    }

    fn observe_request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let status = status.to_string();
        let labels = [method, route, status.as_str()];
        self.requests.with_label_values(&labels).inc();
        self.request_seconds
            .with_label_values(&labels)
            .observe(seconds);
    }

    /// The text exposition of every metric, the pool's and the writers' read now, and
    /// the series of these forwarders.
    pub fn render(
        &self,
        pool: &Pool,
        writer: &StatementWriter,
        forwarders: &[ForwarderInfo],
    ) -> String {
        let status = pool.status();
        let in_use = status.size.saturating_sub(status.available);
        self.pool_max_size.set(status.max_size as i64);
        self.pool_size.set(status.size as i64);
        self.pool_in_use.set(in_use as i64);
        self.pool_available.set(status.available as i64);
        self.pool_waiting.set(status.waiting as i64);
        let writers = writer.status();
        self.writers_busy.set(writers.busy as i64);
        self.writes_waiting.set(writers.waiting as i64);
        let mut families = self.registry.gather();
        families.extend(forwarder_families(forwarders));
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&families, &mut out)
            .expect("text encoding cannot fail");
        String::from_utf8(out).expect("the text format is UTF-8")
    }
}

/// How long a scrape waits for the forwarders' figures before it is answered without
/// them (the database is down or busy: the other series still tell).
const FORWARDER_FIGURES_WAIT: Duration = Duration::from_secs(2);

/// The per-forwarder series, from a registry of their own made for this scrape: the
/// figures are the database's, so a forwarder deleted since the last scrape is gone.
fn forwarder_families(forwarders: &[ForwarderInfo]) -> Vec<MetricFamily> {
    let registry = Registry::new();
    let labels = ["forwarder"];
    let counter = |name: &str, help: &str| {
        let counter = IntCounterVec::new(Opts::new(name, help), &labels).expect("valid metric");
        registry
            .register(Box::new(counter.clone()))
            .expect("metric registered once");
        counter
    };
    let delivered = counter(
        "commonplace_forwarder_delivered_total",
        "Statements the forwarder's target accepted (or already held)",
    );
    let failed = counter(
        "commonplace_forwarder_failed_total",
        "Failed delivery attempts of the forwarder, retried",
    );
    let dead_lettered = counter(
        "commonplace_forwarder_dead_lettered_total",
        "Statements the forwarder's target refused, put in its dead-letter list",
    );
    let gauge = |name: &str, help: &str| {
        let gauge = IntGaugeVec::new(Opts::new(name, help), &labels).expect("valid metric");
        registry
            .register(Box::new(gauge.clone()))
            .expect("metric registered once");
        gauge
    };
    let lag = gauge(
        "commonplace_forwarder_lag_statements",
        "Statements of the forwarder's store stored after its position (counted up to 100000)",
    );
    let active = gauge(
        "commonplace_forwarder_active",
        "1 when the forwarder is active, 0 when paused",
    );
    let lag_seconds = GaugeVec::new(
        Opts::new(
            "commonplace_forwarder_lag_seconds",
            "Seconds since the oldest Statement after the forwarder's position was stored",
        ),
        &labels,
    )
    .expect("valid metric");
    registry
        .register(Box::new(lag_seconds.clone()))
        .expect("metric registered once");
    for f in forwarders {
        let label = [f.name.as_str()];
        delivered
            .with_label_values(&label)
            .inc_by(f.delivered.max(0) as u64);
        failed
            .with_label_values(&label)
            .inc_by(f.failed.max(0) as u64);
        dead_lettered
            .with_label_values(&label)
            .inc_by(f.dead_lettered.max(0) as u64);
        lag.with_label_values(&label).set(f.lag);
        lag_seconds.with_label_values(&label).set(f.lag_seconds);
        active
            .with_label_values(&label)
            .set(i64::from(f.state == "active"));
    }
    registry.gather()
}

/// The per-replica series in the text format, made for this scrape from the checker's
/// last findings (no replicas, no series).
fn replica_series(statuses: &[ReplicaStatus]) -> String {
    if statuses.is_empty() {
        return String::new();
    }
    let labels = ["replica"];
    let lag = GaugeVec::new(
        Opts::new(
            "commonplace_replica_lag_seconds",
            "How far the replica's replay is behind the primary, in the primary's seconds",
        ),
        &labels,
    )
    .expect("valid metric");
    let in_rotation = IntGaugeVec::new(
        Opts::new(
            "commonplace_replica_in_rotation",
            "1 when the replica serves reads, 0 when it is down, lagging or not a standby",
        ),
        &labels,
    )
    .expect("valid metric");
    for status in statuses {
        let label = [status.replica.as_str()];
        if let Some(seconds) = status.lag {
            lag.with_label_values(&label).set(seconds.as_secs_f64());
        }
        in_rotation
            .with_label_values(&label)
            .set(i64::from(status.state == ReplicaState::InRotation));
    }
    let registry = Registry::new();
    registry
        .register(Box::new(lag))
        .expect("metric registered once");
    registry
        .register(Box::new(in_rotation))
        .expect("metric registered once");
    let mut out = Vec::new();
    TextEncoder::new()
        .encode(&registry.gather(), &mut out)
        .expect("text encoding cannot fail");
    String::from_utf8(out).expect("the text format is UTF-8")
}

/// `GET /metrics`: no authentication, like `/health` (aggregate counts only).
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let forwarders =
        match tokio::time::timeout(FORWARDER_FIGURES_WAIT, forwarders::list(&state.pool)).await {
            Ok(Ok(forwarders)) => forwarders,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "metrics without the forwarders' figures");
                Vec::new()
            }
            Err(_) => {
                tracing::warn!("metrics without the forwarders' figures: the database is slow");
                Vec::new()
            }
        };
    HttpResponse::Ok()
        .content_type(TextEncoder::new().format_type())
        .body(
            state
                .metrics
                .render(&state.pool, &state.statement_writer, &forwarders)
                + &replica_series(&state.replicas.statuses()),
        )
}

/// Counts and times every request by method, matched route pattern and status.
pub async fn track_requests(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let method = method_label(req.method());
    let outcome = next.call(req).await;
    if let Some(state) = state {
        let (route, status) = match &outcome {
            Ok(res) => (res.request().match_pattern(), res.status()),
            Err(e) => (None, e.as_response_error().status_code()),
        };
        state.metrics.observe_request(
            method,
            route.as_deref().unwrap_or("unmatched"),
            status.as_u16(),
            started.elapsed().as_secs_f64(),
        );
    }
    outcome
}

/// Standard methods by name; anything else as `other`, so labels stay few.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        _ => "other",
    }
}
