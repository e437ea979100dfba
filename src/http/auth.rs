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
use crate::oauth::{tokens, Bearer, BearerError, OAuth};
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

    /// Authenticates a request with `Authorization: Bearer` (`crate::oauth`) behind the
    /// same throttle as Basic: a refused token counts as a failed attempt of its
    /// address, and of the credential it names if it claims to be this LRS's.
    pub async fn admit_bearer(
        &self,
        pool: &Pool,
        oauth: &OAuth,
        throttles: &Throttles,
        token: &str,
        address: Option<IpAddr>,
    ) -> Result<Principal, ApiError> {
        let key = oauth.named_credential(token);
        throttles.admit_authentication(address, key.as_deref())?;
        let principal = match self.bearer_principal(pool, oauth, token).await {
            Ok(principal) => principal,
            Err(e @ (ApiError::InvalidToken(_) | ApiError::MalformedBearer(_))) => {
                throttles.authentication_failed(address, key.as_deref());
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        throttles.admit_request(&principal.key)?;
        Ok(principal)
    }

    /// The caller a bearer token stands for: a token of this LRS, its credential, which
    /// must still be active (revocation is seen within the cache's TTL, at once on the
    /// instance that revoked), with the token's scopes as far as the credential still
    /// holds them.
    async fn bearer_principal(
        &self,
        pool: &Pool,
        oauth: &OAuth,
        token: &str,
    ) -> Result<Principal, ApiError> {
        if !is_b64token(token) {
            return Err(ApiError::MalformedBearer(
                "the Authorization header is not 'Bearer' followed by a token (RFC 6750 §2.1)"
                    .into(),
            ));
        }
        Ok(match oauth.bearer(pool, token).await {
            Ok(Bearer::Credential { key, scopes }) => {
                let record = self.active(pool, &key).await?.ok_or_else(|| {
                    ApiError::InvalidToken(
                        "the credential this token was issued to has been revoked".into(),
                    )
                })?;
                Principal {
                    scopes: tokens::common(&scopes, &record.scopes),
                    ..principal_of(record)
                }
            }
            Ok(Bearer::External(principal)) => principal,
            Err(BearerError::Invalid(why)) => return Err(ApiError::InvalidToken(why)),
            Err(BearerError::Store(e)) => return Err(e.into()),
        })
    }

    /// Authenticates the request's `Authorization` header.
    async fn authenticate(&self, pool: &Pool, headers: &HeaderMap) -> Result<Principal, ApiError> {
        let (key, secret) = basic_credentials(headers)?;
        self.verify(pool, &key, &secret).await
    }

    /// The active credential `key` if `secret` is its secret.
    pub async fn verify(
        &self,
        pool: &Pool,
        key: &str,
        secret: &str,
    ) -> Result<Principal, ApiError> {
        let record = self.active(pool, key).await?.ok_or_else(rejected)?;
        if !secret_matches(secret, &record.secret_hash) {
            return Err(rejected());
        }
        Ok(principal_of(record))
    }

    async fn active(&self, pool: &Pool, key: &str) -> Result<Option<CredentialRecord>, ApiError> {
        if let Some(record) = self.cached(key) {
            return Ok(Some(record));
        }
        let record = credentials::find_active(pool, key).await?;
        if let Some(record) = &record {
            self.remember(record.clone());
        }
        Ok(record)
    }
}

fn principal_of(record: CredentialRecord) -> Principal {
    Principal {
        key: record.key,
        name: record.name,
        store_id: record.store_id,
        store: record.store,
        scopes: record.scopes,
        tags: record.tags,
        learner: record.learner,
        token_authority: None,
    }
}

/// What follows the scheme of an `Authorization: Bearer` header (RFC 6750 §2.1), if
/// that is the request's scheme: the token, or an empty text when there is none or it
/// is not text, which `admit_bearer` refuses as malformed.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.as_bytes().trim_ascii();
    let scheme_end = value.iter().position(|b| *b == b' ').unwrap_or(value.len());
    let (scheme, token) = value.split_at(scheme_end);
    scheme
        .eq_ignore_ascii_case(b"bearer")
        .then(|| std::str::from_utf8(token).map_or("", str::trim))
}

/// Whether `token` has the syntax of RFC 6750 §2.1: `b64token`.
fn is_b64token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
}

/// The Basic credentials of the `Authorization` header; `None` without the header.
pub fn presented_basic(headers: &HeaderMap) -> Option<Result<(String, String), ApiError>> {
    headers
        .contains_key(AUTHORIZATION)
        .then(|| basic_credentials(headers))
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
            "authentication scheme '{scheme}' is not supported; use Basic or Bearer"
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
