//! Alternate request syntax through the real app (routing, the gate's rewrite, version
//! negotiation) with a database that cannot be reached: whatever the form, the answer
//! is never a 500. Input: the query string, a newline, the form body.
#![no_main]

use std::cell::RefCell;
use std::sync::OnceLock;

use actix_web::dev::Service;
use actix_web::{test, web, App};
use commonplace::configuration::Settings;
use commonplace::http::{self, AppState, CredentialCache, Throttles};
use commonplace::store::write_queue::StatementWriter;
use commonplace::store::Source;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use libfuzzer_sys::fuzz_target;

fn state() -> web::Data<AppState> {
    static STATE: OnceLock<web::Data<AppState>> = OnceLock::new();
    STATE
        .get_or_init(|| {
            let settings = Settings::new(
                "127.0.0.1:0".parse().unwrap(),
                Source::External("host=/nonexistent".into()),
            );
            let mut config = tokio_postgres::Config::new();
            config.host_path("/nonexistent-commonplace-fuzz");
            let manager = Manager::from_config(
                config,
                tokio_postgres::NoTls,
                ManagerConfig {
                    recycling_method: RecyclingMethod::Fast,
                },
            );
            let pool = Pool::builder(manager)
                .max_size(1)
                .runtime(deadpool_postgres::Runtime::Tokio1)
                .build()
                .unwrap();
            web::Data::new(AppState {
                statement_writer: StatementWriter::new(pool.clone(), 1),
                metrics: commonplace::http::metrics::Metrics::new(),
                pool,
                credentials: CredentialCache::new(std::time::Duration::from_secs(1)),
                throttles: Throttles::new(&settings.limits),
                settings,
            })
        })
        .clone()
}

type Call = Box<dyn FnMut(&str, Vec<u8>) -> u16>;

thread_local! {
    /// One runtime and one app for the whole run, behind a boxed closure.
    /// Leaked so that no destructor runs at exit, after the runtime's own thread-locals.
    static CALL: &'static RefCell<Call> = Box::leak(Box::new(RefCell::new(build())));
}

fn build() -> Call {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let app = runtime.block_on(test::init_service(
        App::new()
            .app_data(state())
            .configure(http::configure)
            .default_service(web::to(http::not_found)),
    ));
    Box::new(move |uri: &str, body: Vec<u8>| {
        runtime.block_on(async {
            let request = test::TestRequest::post()
                .uri(uri)
                .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
                .insert_header(("X-Experience-API-Version", "1.0.3"))
                .set_payload(body)
                .to_request();
            match app.call(request).await {
                Ok(response) => response.status().as_u16(),
                Err(e) => e.as_response_error().status_code().as_u16(),
            }
        })
    })
}

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|b| *b == b'\n').unwrap_or(data.len());
    let Ok(query) = std::str::from_utf8(&data[..split]) else {
        return;
    };
    // What the HTTP parser would refuse never reaches the app.
    let uri = format!("/xapi/statements?{query}");
    if uri.parse::<actix_web::http::Uri>().is_err() {
        return;
    }
    let body = data.get(split + 1..).unwrap_or_default().to_vec();
    let status = CALL.with(|call| (call.borrow_mut())(&uri, body));
    assert_ne!(status, 500, "500 for query {query:?}");
});
