//! The signing keys of OpenID Connect issuers: found through each issuer's discovery
//! document, kept, and fetched again when a token names a key not kept (at most once
//! per `REFETCH_INTERVAL`) or the kept set has grown old.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm, PublicKeyUse,
};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;

/// An unknown `kid` refetches the provider's keys at most this often, so a flood of
/// tokens naming made-up keys does not become a flood of requests to the provider.
const REFETCH_INTERVAL: Duration = Duration::from_secs(10);
/// Kept keys are fetched again after this long, so a key the provider withdrew stops
/// verifying tokens here too.
const MAX_KEY_AGE: Duration = Duration::from_secs(3600);
/// How long a fetch of the discovery document or the keys may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// The keys of the issuers, fetched when needed and kept.
#[derive(Debug)]
pub struct IssuerKeys {
    http: reqwest::Client,
    /// Locked only to read or update, never across a fetch.
    sets: Mutex<HashMap<String, KeptSet>>,
}

impl Default for IssuerKeys {
    fn default() -> Self {
        let http = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .build()
            .unwrap_or_default();
        IssuerKeys {
            http,
            sets: Mutex::default(),
        }
    }
}

/// An issuer's key set as last fetched, when a fetch other than the first was last
/// made (the throttle of `key_for`), and the lock a fetch of its keys holds.
#[derive(Debug, Default)]
struct KeptSet {
    set: Option<(JwkSet, Instant)>,
    refetched: Option<Instant>,
    fetching: Arc<tokio::sync::Mutex<()>>,
}

/// What the kept keys say of a token's key: use this one, refuse (throttled), or fetch
/// (with the kept key, if any, for when the provider cannot be reached).
enum Kept {
    Use(Jwk),
    Refused,
    Fetch(Option<Jwk>, Arc<tokio::sync::Mutex<()>>),
}

impl IssuerKeys {
    /// The key that signed a token of `issuer`: from the kept key set while it is
    /// younger than `MAX_KEY_AGE` and has the `kid`, else from a fresh fetch. Fetches
    /// other than the first successful one are at most one per `REFETCH_INTERVAL`, so
    /// neither made-up kids nor an unreachable provider make a request per token.
    /// A fetch holds only its issuer's fetch lock, never the kept keys, so tokens whose
    /// key is kept are verified while a slow provider is being asked.
    pub(crate) async fn key_for(
        &self,
        issuer: &str,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<DecodingKey, String> {
        let key = match self.kept_key(issuer, kid, alg, false) {
            Kept::Use(key) => key,
            Kept::Refused => return Err(no_such_key(kid, alg)),
            Kept::Fetch(_, fetching) => {
                // Tokens needing a fetch meanwhile wait for this one rather than fetch
                // too, then find its keys (or the throttle) in the kept set.
                let _fetching = fetching.lock().await;
                match self.kept_key(issuer, kid, alg, true) {
                    Kept::Use(key) => key,
                    Kept::Refused => return Err(no_such_key(kid, alg)),
                    Kept::Fetch(known, _) => self.fetch_and_keep(issuer, kid, alg, known).await?,
                }
            }
        };
        DecodingKey::from_jwk(&key).map_err(|e| format!("the issuer's key is unusable: {e}"))
    }

    /// What the kept keys of `issuer` say of a token's key. With `claim`, a refetch it
    /// calls for is counted against the throttle from now on.
    fn kept_key(&self, issuer: &str, kid: Option<&str>, alg: Algorithm, claim: bool) -> Kept {
        let mut keys = self.sets.lock().unwrap_or_else(|e| e.into_inner());
        let kept = keys.entry(issuer.to_string()).or_default();
        let fresh = kept
            .set
            .as_ref()
            .is_some_and(|(_, at)| at.elapsed() < MAX_KEY_AGE);
        let known = kept
            .set
            .as_ref()
            .and_then(|(set, _)| matching_key(set, kid, alg))
            .cloned();
        let throttled = kept
            .refetched
            .is_some_and(|at| at.elapsed() < REFETCH_INTERVAL);
        match known {
            Some(key) if fresh || throttled => Kept::Use(key),
            _ if throttled => Kept::Refused,
            known => {
                if claim && kept.set.is_some() {
                    kept.refetched = Some(Instant::now());
                }
                Kept::Fetch(known, kept.fetching.clone())
            }
        }
    }

    /// Fetches the keys of `issuer` and keeps them; `known` is the kept key of the
    /// token, used while the provider cannot be reached.
    async fn fetch_and_keep(
        &self,
        issuer: &str,
        kid: Option<&str>,
        alg: Algorithm,
        known: Option<Jwk>,
    ) -> Result<Jwk, String> {
        let fetched = self.fetch_keys(issuer).await;
        let mut keys = self.sets.lock().unwrap_or_else(|e| e.into_inner());
        let kept = keys.entry(issuer.to_string()).or_default();
        match fetched {
            Ok(set) => {
                let key = matching_key(&set, kid, alg).cloned();
                kept.set = Some((set, Instant::now()));
                key.ok_or_else(|| no_such_key(kid, alg))
            }
            Err(reason) => {
                tracing::warn!(%issuer, %reason, "cannot fetch the OIDC issuer's keys");
                kept.refetched = Some(Instant::now());
                known.ok_or(format!("the issuer's keys cannot be fetched: {reason}"))
            }
        }
    }

    /// The discovery document's `jwks_uri`, then the key set there: the keys this crate
    /// can read (a provider may publish others, e.g. for encryption).
    async fn fetch_keys(&self, issuer: &str) -> Result<JwkSet, String> {
        let discovery = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let metadata: Value = self.get_json(&discovery).await?;
        if metadata.get("issuer").and_then(Value::as_str) != Some(issuer) {
            return Err(format!(
                "the discovery document at {discovery} names another issuer"
            ));
        }
        let jwks_uri = metadata
            .get("jwks_uri")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("the discovery document at {discovery} has no jwks_uri"))?;
        let set = self.get_json(jwks_uri).await?;
        let keys = set
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| format!("the key set at {jwks_uri} has no keys"))?
            .iter()
            .filter_map(|key| serde_json::from_value(key.clone()).ok())
            .collect();
        Ok(JwkSet { keys })
    }

    async fn get_json(&self, url: &str) -> Result<Value, String> {
        let response = self
            .http
            .get(url)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| format!("GET {url}: {e}"))?;
        response
            .json()
            .await
            .map_err(|e| format!("GET {url}: not JSON: {e}"))
    }
    /// Whether no issuer's keys have been asked for.
    #[cfg(test)]
    pub(super) fn is_empty(&self) -> bool {
        self.sets.lock().unwrap().is_empty()
    }
}

fn no_such_key(kid: Option<&str>, alg: Algorithm) -> String {
    match kid {
        Some(kid) => format!("the issuer has no {alg:?} key '{kid}'"),
        None => format!("the token names no key and the issuer has no single {alg:?} key"),
    }
}

/// A key of the set that may verify `alg`: its kind and curve must fit (an HMAC key or
/// an RSA key for ES256 never does), its `alg`, when given, must be `alg`, and its
/// `use`, when given, signatures.
fn matching_key<'a>(set: &'a JwkSet, kid: Option<&str>, alg: Algorithm) -> Option<&'a Jwk> {
    let fits = |key: &&Jwk| {
        let kind = match (&key.algorithm, alg) {
            (AlgorithmParameters::RSA(_), Algorithm::RS256) => true,
            (AlgorithmParameters::EllipticCurve(ec), Algorithm::ES256) => {
                ec.curve == EllipticCurve::P256
            }
            _ => false,
        };
        let declared = match key.common.key_algorithm {
            None => true,
            Some(KeyAlgorithm::RS256) => alg == Algorithm::RS256,
            Some(KeyAlgorithm::ES256) => alg == Algorithm::ES256,
            Some(_) => false,
        };
        let for_signatures = matches!(
            key.common.public_key_use,
            None | Some(PublicKeyUse::Signature)
        );
        kind && declared && for_signatures
    };
    match kid {
        Some(kid) => set
            .keys
            .iter()
            .filter(fits)
            .find(|key| key.common.key_id.as_deref() == Some(kid)),
        None => {
            let mut candidates = set.keys.iter().filter(fits);
            let only = candidates.next()?;
            candidates.next().is_none().then_some(only)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A provider on loopback whose key set (key `ec-1`) is served at once the first
    /// time; later fetches of it report on `asked` and are answered only once
    /// `release` is notified.
    async fn slow_provider(
        asked: tokio::sync::mpsc::UnboundedSender<()>,
        release: Arc<tokio::sync::Notify>,
    ) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let discovery = json!({"issuer": issuer, "jwks_uri": format!("{issuer}/jwks")});
        let jwks = json!({"keys": [{"kty": "EC", "crv": "P-256", "kid": "ec-1", "alg": "ES256",
            "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
            "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]});
        tokio::spawn(async move {
            let mut jwks_served = 0;
            loop {
                let (mut socket, _) = listener.accept().await.unwrap();
                let mut request = vec![0; 4096];
                let read = socket.read(&mut request).await.unwrap();
                let request = String::from_utf8_lossy(&request[..read]).to_string();
                let body = if request.starts_with("GET /jwks ") {
                    jwks_served += 1;
                    if jwks_served > 1 {
                        asked.send(()).unwrap();
                        release.notified().await;
                    }
                    jwks.to_string()
                } else {
                    discovery.to_string()
                };
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                socket.write_all(response.as_bytes()).await.unwrap();
            }
        });
        issuer
    }

    #[tokio::test]
    async fn a_kept_key_verifies_while_a_made_up_kid_waits_on_a_slow_provider() {
        let (asked, mut refetch_started) = tokio::sync::mpsc::unbounded_channel();
        let release = Arc::new(tokio::sync::Notify::new());
        let issuer = slow_provider(asked, release.clone()).await;
        let verifier = Arc::new(IssuerKeys::default());
        assert!(verifier
            .key_for(&issuer, Some("ec-1"), Algorithm::ES256)
            .await
            .is_ok());

        let refetch = tokio::spawn({
            let (verifier, issuer) = (verifier.clone(), issuer.clone());
            async move {
                let made_up = verifier.key_for(&issuer, Some("made-up"), Algorithm::ES256);
                made_up.await.map(|_| ())
            }
        });
        refetch_started.recv().await.unwrap();
        // The provider now holds the refetch; the kept key must not wait for it.
        let kept = verifier.key_for(&issuer, Some("ec-1"), Algorithm::ES256);
        tokio::pin!(refetch);
        let first = tokio::select! {
            biased;
            verified = kept => { assert!(verified.is_ok()); "kept key" }
            _ = &mut refetch => "refetch",
        };
        assert_eq!(first, "kept key");
        release.notify_one();
        let refused = refetch.await.unwrap().unwrap_err();
        assert!(refused.contains("made-up"), "{refused}");
    }

    #[test]
    fn only_keys_of_the_token_algorithm_match() {
        let set: JwkSet = serde_json::from_value(json!({"keys": [
            {"kty": "EC", "crv": "P-256", "kid": "ec-1", "alg": "ES256",
             "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
             "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
            {"kty": "oct", "kid": "secret", "k": "c2VjcmV0"},
            {"kty": "EC", "crv": "P-256", "kid": "ec-enc", "use": "enc",
             "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
             "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}
        ]}))
        .unwrap();
        assert!(matching_key(&set, Some("ec-1"), Algorithm::ES256).is_some());
        assert!(matching_key(&set, Some("ec-1"), Algorithm::RS256).is_none());
        assert!(matching_key(&set, None, Algorithm::ES256).is_some());
        assert!(matching_key(&set, Some("secret"), Algorithm::RS256).is_none());
        assert!(matching_key(&set, Some("other"), Algorithm::ES256).is_none());
        assert!(matching_key(&set, Some("ec-enc"), Algorithm::ES256).is_none());
    }
}
