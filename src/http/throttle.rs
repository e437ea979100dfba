//! Fixed-window counters that turn abuse into 429 with `Retry-After`: failed
//! authentications per key and per client address, (optionally) requests per
//! credential, and dashboard sign-ins started per client address. Counters live in this process; with several instances each enforces
//! its own share.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::error::ApiError;
use crate::configuration::Limits;

/// Entries kept before expired windows are swept.
const SWEEP_AT: usize = 10_000;
/// Dashboard sign-ins a client address may start per `SIGN_IN_WINDOW`: each keeps a
/// row until it completes or expires (`crate::oauth::sign_in`), so this bounds the
/// rows an address can make to twice as many.
pub const SIGN_INS_PER_ADDRESS: u32 = 20;
/// As long as a sign-in under way is kept.
const SIGN_IN_WINDOW: Duration = Duration::from_secs(600);

struct Windows {
    length: Duration,
    counts: Mutex<HashMap<String, (Instant, u32)>>,
}

impl Windows {
    fn new(length: Duration) -> Self {
        Windows {
            length,
            counts: Mutex::new(HashMap::new()),
        }
    }

    /// Seconds until `name`'s window ends, if it has reached `limit`.
    fn blocked(&self, name: &str, limit: u32) -> Option<u64> {
        let counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let (start, count) = counts.get(name)?;
        let elapsed = start.elapsed();
        (elapsed < self.length && *count >= limit).then(|| seconds_left(self.length - elapsed))
    }

    /// Counts one event for `name`; returns the count within the current window and
    /// the seconds left in it.
    fn count(&self, name: &str) -> (u32, u64) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        if counts.len() > SWEEP_AT {
            let length = self.length;
            counts.retain(|_, (start, _)| start.elapsed() < length);
        }
        let now = Instant::now();
        let entry = counts.entry(name.to_string()).or_insert((now, 0));
        if entry.0.elapsed() >= self.length {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
        (
            entry.1,
            seconds_left(self.length.saturating_sub(entry.0.elapsed())),
        )
    }
}

fn seconds_left(left: Duration) -> u64 {
    (left.as_millis().div_ceil(1000) as u64).max(1)
}

pub struct Throttles {
    auth_failures: u32,
    failures: Windows,
    rate_limit: Option<u32>,
    requests: Windows,
    sign_ins: Windows,
}

impl Throttles {
    pub fn new(limits: &Limits) -> Self {
        Throttles {
            auth_failures: limits.auth_failures,
            failures: Windows::new(limits.auth_failure_window),
            rate_limit: limits.rate_limit,
            requests: Windows::new(limits.rate_window),
            sign_ins: Windows::new(SIGN_IN_WINDOW),
        }
    }

    fn names(address: Option<IpAddr>, key: Option<&str>) -> Vec<String> {
        let mut names = Vec::with_capacity(2);
        if let Some(address) = address {
            names.push(format!("addr:{address}"));
        }
        if let Some(key) = key {
            names.push(format!("key:{key}"));
        }
        names
    }

    /// 429 while the address or the key has used up its failed authentications.
    pub fn admit_authentication(
        &self,
        address: Option<IpAddr>,
        key: Option<&str>,
    ) -> Result<(), ApiError> {
        if self.auth_failures == 0 {
            return Ok(());
        }
        let wait = Self::names(address, key)
            .iter()
            .filter_map(|name| self.failures.blocked(name, self.auth_failures))
            .max();
        match wait {
            Some(retry_after) => Err(ApiError::TooManyRequests {
                retry_after,
                message: "too many failed authentications from this client or for this key; \
                          retry later"
                    .into(),
            }),
            None => Ok(()),
        }
    }

    pub fn authentication_failed(&self, address: Option<IpAddr>, key: Option<&str>) {
        if self.auth_failures == 0 {
            return;
        }
        for name in Self::names(address, key) {
            self.failures.count(&name);
        }
    }

    /// Counts a dashboard sign-in started from `address`; 429 beyond
    /// `SIGN_INS_PER_ADDRESS` in its window.
    pub fn admit_sign_in(&self, address: Option<IpAddr>) -> Result<(), ApiError> {
        let Some(address) = address else {
            return Ok(());
        };
        let (count, retry_after) = self.sign_ins.count(&format!("addr:{address}"));
        if count > SIGN_INS_PER_ADDRESS {
            return Err(ApiError::TooManyRequests {
                retry_after,
                message: format!(
                    "this client may start {SIGN_INS_PER_ADDRESS} sign-ins per {} s; \
                     retry later",
                    SIGN_IN_WINDOW.as_secs()
                ),
            });
        }
        Ok(())
    }

    /// Counts a request of an authenticated credential; 429 beyond the rate limit.
    pub fn admit_request(&self, key: &str) -> Result<(), ApiError> {
        let Some(limit) = self.rate_limit else {
            return Ok(());
        };
        let (count, retry_after) = self.requests.count(key);
        if count > limit {
            return Err(ApiError::TooManyRequests {
                retry_after,
                message: format!(
                    "this credential may make {limit} requests per {} s; retry later",
                    self.requests.length.as_secs()
                ),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(failures: u32, rate: Option<u32>) -> Limits {
        Limits {
            auth_failures: failures,
            rate_limit: rate,
            ..Limits::default()
        }
    }

    #[test]
    fn failures_block_the_address_and_the_key_after_the_limit() {
        let throttles = Throttles::new(&limits(2, None));
        let here: IpAddr = "10.0.0.1".parse().unwrap();
        let there: IpAddr = "10.0.0.2".parse().unwrap();
        throttles.authentication_failed(Some(here), Some("k"));
        assert!(throttles
            .admit_authentication(Some(here), Some("k"))
            .is_ok());
        throttles.authentication_failed(Some(here), Some("k"));
        assert!(throttles.admit_authentication(Some(here), None).is_err());
        assert!(throttles
            .admit_authentication(Some(there), Some("k"))
            .is_err());
        assert!(throttles
            .admit_authentication(Some(there), Some("other"))
            .is_ok());
    }

    #[test]
    fn zero_failures_disables_the_throttle() {
        let throttles = Throttles::new(&limits(0, None));
        for _ in 0..10 {
            throttles.authentication_failed(None, Some("k"));
        }
        assert!(throttles.admit_authentication(None, Some("k")).is_ok());
    }

    #[test]
    fn the_rate_limit_counts_per_credential() {
        let throttles = Throttles::new(&limits(0, Some(3)));
        for _ in 0..3 {
            assert!(throttles.admit_request("a").is_ok());
        }
        match throttles.admit_request("a") {
            Err(ApiError::TooManyRequests { retry_after, .. }) => {
                assert!((1..=60).contains(&retry_after))
            }
            other => panic!("{other:?}"),
        }
        assert!(throttles.admit_request("b").is_ok());
    }
}
