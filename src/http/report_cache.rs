//! Report answers kept in memory until the figures they come from change.
//!
//! At a million Statements a dashboard page reads tens of thousands of rollup rows in
//! about ten queries, and an L&D lead reloads it, colleagues open the same page, a
//! wall display polls it: each time the same answer, recomputed. An answer is a function
//! of the store, the request (path, query and `Accept`), the day (a period's default end is
//! today) and the data the reports read, whose version
//! ([`learning_feed::report_version`], migration 0023) moves with every change to that
//! data. So an answer is kept under all four, and a request finds it only while the
//! version it reads, from the database that serves it, is the one the answer was
//! computed at: a kept answer is never staler than a computed one. Requests that miss
//! at once compute the answer once, together.

use std::any::Any;
use std::io;
use std::sync::Arc;

use actix_web::http::header::ACCEPT;
use actix_web::HttpRequest;
use chrono::{NaiveDate, Utc};
use deadpool_postgres::Pool;
use moka::future::Cache;
use serde::Serialize;

use super::AppState;
use crate::store::learning_feed;
use crate::store::replicas::{Need, Served};
use crate::store::Error;

/// How long an answer nobody asks for again is kept.
const IDLE: std::time::Duration = std::time::Duration::from_secs(15 * 60);

pub struct ReportCache {
    answers: Cache<Key, Answer>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    store_id: i64,
    /// Path and query, as asked.
    request: String,
    /// The `Accept` header, which may choose CSV.
    accept: Option<String>,
    day: NaiveDate,
    version: i64,
}

#[derive(Clone)]
struct Answer {
    value: Arc<dyn Any + Send + Sync>,
    /// About the bytes it holds: the length of its JSON.
    weight: u32,
}

impl ReportCache {
    /// A cache of at most `bytes` (counted as the answers' JSON); 0 keeps nothing.
    pub fn new(bytes: u64) -> ReportCache {
        ReportCache {
            answers: Cache::builder()
                .max_capacity(bytes)
                .weigher(|_, answer: &Answer| answer.weight)
                .time_to_idle(IDLE)
                .build(),
        }
    }
}

/// Serves a report's figures for `req` of `store_id` through the cache: `read` runs
/// only when no answer of the current version is kept. The figures come back shared.
pub async fn read_report<T>(
    state: &AppState,
    req: &HttpRequest,
    store_id: i64,
    read: impl AsyncFn(&Pool) -> Result<T, Error>,
) -> Result<Served<Arc<T>>, Error>
where
    T: Serialize + Send + Sync + 'static,
{
    let request = match req.query_string() {
        "" => req.path().to_string(),
        query => format!("{}?{query}", req.path()),
    };
    let accept = req
        .headers()
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let day = Utc::now().date_naive();
    state
        .read(Need::Report, async |pool| {
            let key = Key {
                store_id,
                request: request.clone(),
                accept: accept.clone(),
                day,
                version: learning_feed::report_version(pool).await?,
            };
            let cache = &state.report_cache.answers;
            if let Some(answer) = cache.get(&key).await {
                state.metrics.report_answer(true);
                return Ok(shared(answer));
            }
            state.metrics.report_answer(false);
            // The first of the requests that miss computes; the others wait for it and
            // get its answer. When it fails, it keeps its error and each waiter
            // computes its own.
            let mut failure = None;
            let computed = cache
                .optionally_get_with(key, async {
                    match read(pool).await {
                        Ok(value) => Some(Answer {
                            weight: json_length(&value),
                            value: Arc::new(value),
                        }),
                        Err(e) => {
                            failure = Some(e);
                            None
                        }
                    }
                })
                .await;
            match (computed, failure) {
                (Some(answer), _) => Ok(shared(answer)),
                (None, Some(e)) => Err(e),
                (None, None) => Ok(Arc::new(read(pool).await?)),
            }
        })
        .await
}

fn shared<T: Send + Sync + 'static>(answer: Answer) -> Arc<T> {
    answer
        .value
        .downcast()
        .expect("a key names one request, and a request one type of answer")
}

/// The length of `value`'s JSON, counted without writing it anywhere.
fn json_length<T: Serialize>(value: &T) -> u32 {
    struct Count(usize);
    impl io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Serialising figures to a counter cannot fail; an answer that somehow could is
    // weighed at the most a weight can be, so it is not kept.
    match serde_json::to_writer(&mut count, value) {
        Ok(()) => u32::try_from(count.0).unwrap_or(u32::MAX),
        Err(_) => u32::MAX,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_weighs_its_json() {
        assert_eq!(json_length(&vec!["ab", "c"]), r#"["ab","c"]"#.len() as u32);
    }
}
