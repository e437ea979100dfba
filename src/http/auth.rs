//! HTTP Basic authentication against stored credentials, with a short-lived cache so
//! that a busy client does not cost a database round trip per request, behind the
//! throttle of failed attempts: the one door of every authenticated route.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use actix_web::http::header::{HeaderMap, AUTHORIZATION};
use base64::Engine;
use deadpool_postgres::Pool;

use super::error::ApiError;
use super::throttle::Throttles;
use crate::auth::{secret_matches, Principal};
use crate::store::credentials::{self, CredentialRecord};

/// Verified credentials by key. Revocation is seen by every instance within the TTL.
pub struct CredentialCache {
    ttl: Duration,
    entries: RwLock<HashMap<String, (CredentialRecord, Instant)>>,
}

impl CredentialCache {
    pub fn new(ttl: Duration) -> Self {
        CredentialCache {
            ttl,
            entries: RwLock::new(HashMap::new()),
        }
    }

    fn cached(&self, key: &str) -> Option<CredentialRecord> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries
            .get(key)
            .filter(|(_, at)| at.elapsed() < self.ttl)
            .map(|(record, _)| record.clone())
    }

    fn remember(&self, record: CredentialRecord) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if entries.len() > 10_000 {
            entries.retain(|_, (_, at)| at.elapsed() < self.ttl);
        }
        entries.insert(record.key.clone(), (record, Instant::now()));
    }

    /// Drops a revoked credential at once, so this instance refuses it from the next
    /// request on (others within the TTL).
    pub fn forget(&self, key: &str) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        entries.remove(key);
    }

    /// Authenticates a request to any authenticated route (xAPI, the reports, the
    /// dashboard) from `address`: 429 while its key or its address has used up its
    /// failed attempts, each failure counted, then the credential's request rate. One
    /// door with one set of counters, so a key locked out on one route is locked out on
    /// every route.
    pub async fn admit(
        &self,
        pool: &Pool,
        throttles: &Throttles,
        headers: &HeaderMap,
        address: Option<IpAddr>,
    ) -> Result<Principal, ApiError> {
        let key = presented_key(headers);
        throttles.admit_authentication(address, key.as_deref())?;
        let principal = match self.authenticate(pool, headers).await {
            Ok(principal) => principal,
            Err(e @ ApiError::Unauthorized(_)) => {
                // A request without credentials is a prompt for them, not a guess.
                if headers.contains_key(AUTHORIZATION) {
                    throttles.authentication_failed(address, key.as_deref());
                }
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        throttles.admit_request(&principal.key)?;
        Ok(principal)
    }

    /// Authenticates the request's `Authorization` header.
    async fn authenticate(&self, pool: &Pool, headers: &HeaderMap) -> Result<Principal, ApiError> {
        let (key, secret) = basic_credentials(headers)?;
        let record = match self.cached(&key) {
            Some(record) => record,
            None => {
                let record = credentials::find_active(pool, &key)
                    .await?
                    .ok_or_else(rejected)?;
                self.remember(record.clone());
                record
            }
        };
        if !secret_matches(&secret, &record.secret_hash) {
            return Err(rejected());
        }
        Ok(Principal {
            key: record.key,
            name: record.name,
            store_id: record.store_id,
            store: record.store,
            scopes: record.scopes,
            tags: record.tags,
            learner: record.learner,
        })
    }
}

/// The key a request presents, if its `Authorization` header is Basic credentials.
fn presented_key(headers: &HeaderMap) -> Option<String> {
    basic_credentials(headers).ok().map(|(key, _)| key)
}

fn rejected() -> ApiError {
    ApiError::Unauthorized("the credentials are not valid".into())
}

fn basic_credentials(headers: &HeaderMap) -> Result<(String, String), ApiError> {
    let value = headers
        .get(AUTHORIZATION)
        .ok_or_else(|| {
            ApiError::Unauthorized("this resource requires HTTP Basic authentication".into())
        })?
        .to_str()
        .map_err(|_| ApiError::Unauthorized("the Authorization header is not valid text".into()))?;
    let (scheme, encoded) = value.trim().split_once(' ').ok_or_else(malformed)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(ApiError::Unauthorized(format!(
            "authentication scheme '{scheme}' is not supported; use Basic"
        )));
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| malformed())?;
    let text = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (key, secret) = text.split_once(':').ok_or_else(malformed)?;
    Ok((key.to_string(), secret.to_string()))
}

fn malformed() -> ApiError {
    ApiError::Unauthorized("the Authorization header is not well-formed Basic credentials".into())
}
