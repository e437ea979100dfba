//! Where a forwarder sends, and what its answers mean: delivered, a rejection of what
//! was sent (a 4xx: the batch is split until the one bad Statement is found), or a
//! failure worth retrying (no connection, a timeout, 429, 5xx, or an answer that says
//! the target refuses everything now: bad credentials, wrong address), retried with
//! exponential backoff and jitter, and no sooner than the target's `Retry-After`.

use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Response, StatusCode};
use serde_json::Value;
use uuid::Uuid;

use super::webhook::Webhook;
use super::xapi::Xapi;
use crate::store::forwarding_reads::StoredStatement;

/// How long one request may take, connecting included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The first retry waits about this long; each further one twice as long, up to
/// [`BACKOFF_MAX`]. A jitter of up to half spreads retries of many batches out.
const BACKOFF_FIRST: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// The longest `Retry-After` honoured as given.
const RETRY_AFTER_MAX: Duration = Duration::from_secs(3600);
/// How much of a target's answer is kept (in a dead letter, or as the last error).
const ANSWER_MAX: usize = 2048;

/// A batch on its way: its delivery id, its Statements and, for an xAPI target, the
/// content of their attachments the LRS holds (sha2, content type, content).
pub struct Outgoing<'a> {
    pub delivery: Uuid,
    pub statements: &'a [StoredStatement],
    pub attachments: &'a [(String, String, Vec<u8>)],
}

/// A JSON array of these JSON texts (the Statements as stored, or as a target takes
/// them), written by copying them: nothing is parsed or written again.
pub fn json_array<'a>(texts: impl ExactSizeIterator<Item = &'a str> + Clone) -> Vec<u8> {
    let size = texts.clone().map(str::len).sum::<usize>() + texts.len() + 2;
    let mut array = Vec::with_capacity(size);
    array.push(b'[');
    for (i, text) in texts.enumerate() {
        if i > 0 {
            array.push(b',');
        }
        array.extend_from_slice(text.as_bytes());
    }
    array.push(b']');
    array
}

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Delivered,
    /// The target refused what was sent (a 4xx for the request's content).
    Rejected {
        status: u16,
        answer: String,
    },
    /// Worth trying again, after `after` when the target said so.
    Retry {
        error: String,
        after: Option<Duration>,
    },
}

impl Answer {
    pub fn retry(error: String) -> Answer {
        Answer::Retry { error, after: None }
    }
}

/// A target, built from a forwarder's row. No `Debug`: targets hold secrets.
pub enum Target {
    Xapi(Xapi),
    Webhook(Webhook),
}

impl Target {
    pub fn new(kind: &str, url: &str, auth: &Value, xapi_version: &str) -> Result<Target, String> {
        match kind {
            "xapi" => Ok(Target::Xapi(Xapi::new(url, auth, xapi_version)?)),
            "webhook" => Ok(Target::Webhook(Webhook::new(url.to_string(), auth)?)),
            other => Err(format!("unknown forwarder kind {other:?}")),
        }
    }

    /// Whether Statements go with their attachments' content.
    pub fn takes_attachments(&self) -> bool {
        matches!(self, Target::Xapi(_))
    }

    pub async fn send(&self, http: &reqwest::Client, outgoing: &Outgoing<'_>) -> Answer {
        match self {
            Target::Xapi(xapi) => xapi.send(http, outgoing).await,
            Target::Webhook(webhook) => webhook.send(http, outgoing).await,
        }
    }
}

/// The wait before retry number `attempt + 1`: exponential, with jitter.
pub fn backoff(attempt: u32) -> Duration {
    let base = BACKOFF_FIRST
        .saturating_mul(2u32.saturating_pow(attempt.min(16)))
        .min(BACKOFF_MAX);
    let half = base / 2;
    half + half.mul_f64(rand::random::<f64>())
}

/// What an answer's status means. `conflict_means_held`: an xAPI target answering 409
/// for a single Statement already holds it (with other content, it will never take it;
/// with the same, it has it), so it counts as delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Meaning {
    Delivered,
    Rejected,
    Retry,
}

pub fn meaning(status: StatusCode, conflict_means_held: bool) -> Meaning {
    match status.as_u16() {
        200..=299 => Meaning::Delivered,
        409 if conflict_means_held => Meaning::Delivered,
        // The target turns everything away right now (credentials, address, method,
        // proxy, its own timeout, throttling): splitting the batch cannot help, and
        // dead-lettering would discard Statements it would take once fixed.
        401 | 403 | 404 | 405 | 407 | 408 | 421 | 429 => Meaning::Retry,
        400..=499 => Meaning::Rejected,
        _ => Meaning::Retry,
    }
}

/// The answer a response makes.
pub async fn answer_of(response: Response, conflict_means_held: bool) -> Answer {
    let status = response.status();
    let after = retry_after(response.headers(), chrono::Utc::now());
    let meaning = meaning(status, conflict_means_held);
    if meaning == Meaning::Delivered {
        return Answer::Delivered;
    }
    let text = match response.bytes().await {
        Ok(bytes) => truncated(&String::from_utf8_lossy(&bytes)),
        Err(e) => format!("(the answer could not be read: {})", describe(&e)),
    };
    match meaning {
        Meaning::Rejected => Answer::Rejected {
            status: status.as_u16(),
            answer: text,
        },
        _ => Answer::Retry {
            error: format!("the target answered {status}: {text}"),
            after,
        },
    }
}

/// The failure a request that got no answer makes.
pub fn failure_of(error: &reqwest::Error) -> Answer {
    if error.is_timeout() {
        return Answer::retry(format!("no answer within {} s", REQUEST_TIMEOUT.as_secs()));
    }
    Answer::retry(describe(error))
}

/// An error with its causes, without the URL (a webhook URL may carry a token).
pub fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    if let Some(url) = error.url() {
        text = text.replace(url.as_str(), "the target");
    }
    text
}

/// An answer cut to [`ANSWER_MAX`] bytes, kept as an error or a dead letter's answer.
pub fn truncated(text: &str) -> String {
    let text = text.trim();
    if text.len() <= ANSWER_MAX {
        return text.to_string();
    }
    let mut end = ANSWER_MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// `Retry-After` as seconds or an HTTP date.
fn retry_after(headers: &HeaderMap, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let wait = match value.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => {
            let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
            (at.with_timezone(&chrono::Utc) - now)
                .to_std()
                .unwrap_or_default()
        }
    };
    Some(wait.min(RETRY_AFTER_MAX))
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_up_to_a_cap() {
        for attempt in 0..40 {
            let base = BACKOFF_FIRST
                .saturating_mul(2u32.saturating_pow(attempt.min(16)))
                .min(BACKOFF_MAX);
            let wait = backoff(attempt);
            assert!(wait >= base / 2 && wait <= base, "{attempt}: {wait:?}");
        }
        assert!(backoff(0) <= Duration::from_millis(250));
        assert!(backoff(3) >= Duration::from_secs(1));
        assert!(backoff(30) <= BACKOFF_MAX);
    }

    #[test]
    fn statuses_mean_delivered_rejected_or_retry() {
        let of = |code: u16, held| meaning(StatusCode::from_u16(code).unwrap(), held);
        assert_eq!(of(200, false), Meaning::Delivered);
        assert_eq!(of(204, false), Meaning::Delivered);
        assert_eq!(of(400, false), Meaning::Rejected);
        assert_eq!(of(413, false), Meaning::Rejected);
        assert_eq!(of(409, false), Meaning::Rejected);
        assert_eq!(of(409, true), Meaning::Delivered);
        for code in [401, 403, 404, 408, 429, 500, 502, 503, 504, 302] {
            assert_eq!(of(code, false), Meaning::Retry, "{code}");
        }
    }

    #[test]
    fn retry_after_is_seconds_or_a_date() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(RETRY_AFTER, HeaderValue::from_str(value).unwrap());
            retry_after(&headers, now)
        };
        assert_eq!(with("7"), Some(Duration::from_secs(7)));
        assert_eq!(
            with("Tue, 01 Dec 2026 10:00:30 GMT"),
            Some(Duration::from_secs(30))
        );
        assert_eq!(with("Tue, 01 Dec 2026 09:00:00 GMT"), Some(Duration::ZERO));
        assert_eq!(with("99999999"), Some(RETRY_AFTER_MAX));
        assert_eq!(with("soon"), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn stored_texts_make_a_json_array() {
        let texts = [r#"{"id": "a"}"#, r#"{"id": "b", "n": [1, 2]}"#];
        let array = json_array(texts.iter().copied());
        let parsed: Value = serde_json::from_slice(&array).unwrap();
        assert_eq!(
            parsed,
            serde_json::json!([{"id": "a"}, {"id": "b", "n": [1, 2]}])
        );
        assert_eq!(json_array(std::iter::empty::<&str>()), b"[]");
    }

    #[test]
    fn long_answers_are_cut() {
        let long = "é".repeat(ANSWER_MAX);
        let cut = truncated(&long);
        assert!(cut.len() <= ANSWER_MAX + '…'.len_utf8());
        assert!(cut.ends_with('…'));
        assert_eq!(truncated("  short \n"), "short");
    }
}
