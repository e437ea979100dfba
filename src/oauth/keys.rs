//! The LRS's signing keys: ES256 (P-256) keys generated here, kept in the database so
//! that every instance signs and verifies alike, rotated on a schedule, published as a
//! JSON Web Key Set (RFC 7517) while tokens they signed may still be valid.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use jsonwebtoken::{DecodingKey, EncodingKey};
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Value};

use crate::store::{self, oauth::StoredKey};

/// How often an unknown `kid` may make this instance reload the keys (another instance
/// may have rotated); more often, the token is refused without a look.
const RELOAD_AT_MOST_EVERY: Duration = Duration::from_secs(1);

/// Why there is no key to sign with.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(transparent)]
    Store(#[from] store::Error),
    /// The current key's row cannot be used (a damaged database); logged when found.
    #[error("the current OAuth signing key cannot be used")]
    Unusable,
}

/// One signing key, ready to sign and verify.
pub struct SigningKey {
    pub kid: String,
    created: DateTime<Utc>,
    pub encoding: EncodingKey,
    pub decoding: DecodingKey,
    /// The public point's coordinates, base64url, as the JWK publishes them.
    x: String,
    y: String,
}

impl SigningKey {
    fn from_stored(stored: &StoredKey) -> Option<SigningKey> {
        let pair = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &stored.private_key,
            &SystemRandom::new(),
        )
        .map_err(|e| tracing::error!(kid = %stored.kid, error = %e, "unusable OAuth signing key"))
        .ok()?;
        // An uncompressed point: 0x04, then 32 bytes of x and 32 of y.
        let point = pair.public_key().as_ref();
        let x = URL_SAFE_NO_PAD.encode(&point[1..33]);
        let y = URL_SAFE_NO_PAD.encode(&point[33..65]);
        Some(SigningKey {
            kid: stored.kid.clone(),
            created: stored.created,
            encoding: EncodingKey::from_ec_der(&stored.private_key),
            decoding: DecodingKey::from_ec_components(&x, &y).ok()?,
            x,
            y,
        })
    }

    /// The public key as a JWK (RFC 7517, RFC 7518 §6.2).
    pub fn jwk(&self) -> Value {
        json!({
            "kty": "EC",
            "crv": "P-256",
            "x": self.x,
            "y": self.y,
            "kid": self.kid,
            "alg": "ES256",
            "use": "sig",
        })
    }
}

/// A new P-256 key: its id and its PKCS#8 DER.
fn generate() -> (String, Vec<u8>) {
    let pkcs8 =
        EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
            .expect("the system's random source works");
    (crate::auth::random_token(12), pkcs8.as_ref().to_vec())
}

struct Loaded {
    /// Newest first.
    keys: Vec<Arc<SigningKey>>,
    at: Instant,
}

/// This instance's view of the keys in the database.
pub struct KeyRing {
    rotation: Duration,
    /// How long a key stays published: the rotation period plus the token lifetime.
    keep: Duration,
    loaded: RwLock<Option<Loaded>>,
}

impl KeyRing {
    pub fn new(rotation: Duration, token_lifetime: Duration) -> Self {
        KeyRing {
            rotation,
            keep: rotation + token_lifetime,
            loaded: RwLock::new(None),
        }
    }

    fn is_current(&self, key: &SigningKey) -> bool {
        let age = Utc::now().signed_duration_since(key.created);
        age.to_std().map_or(true, |age| age < self.rotation)
    }

    /// The key that signs now, rotating it when it has grown too old.
    pub async fn current(&self, pool: &Pool) -> Result<Arc<SigningKey>, KeyError> {
        let newest = self.snapshot().and_then(|keys| keys.first().cloned());
        if let Some(key) = newest.filter(|key| self.is_current(key)) {
            return Ok(key);
        }
        let stored =
            store::oauth::current_or_rotate(pool, self.rotation, self.keep, generate).await?;
        let keys = self.reload(pool).await?;
        keys.into_iter()
            .find(|key| key.kid == stored.kid)
            .ok_or(KeyError::Unusable)
    }

    /// The key named `kid`, if it is published.
    pub async fn find(
        &self,
        pool: &Pool,
        kid: &str,
    ) -> Result<Option<Arc<SigningKey>>, store::Error> {
        let (keys, at) = {
            let loaded = self.loaded.read().unwrap_or_else(|e| e.into_inner());
            match loaded.as_ref() {
                Some(loaded) => (loaded.keys.clone(), Some(loaded.at)),
                None => (Vec::new(), None),
            }
        };
        if let Some(key) = keys.iter().find(|key| key.kid == kid) {
            return Ok(Some(key.clone()));
        }
        if at.is_some_and(|at| at.elapsed() < RELOAD_AT_MOST_EVERY) {
            return Ok(None);
        }
        Ok(self
            .reload(pool)
            .await?
            .into_iter()
            .find(|key| key.kid == kid))
    }

    /// Every published key, newest first, as the database has them now (with a
    /// current one).
    pub async fn published(&self, pool: &Pool) -> Result<Vec<Arc<SigningKey>>, KeyError> {
        self.current(pool).await?;
        Ok(self.reload(pool).await?)
    }

    fn snapshot(&self) -> Option<Vec<Arc<SigningKey>>> {
        let loaded = self.loaded.read().unwrap_or_else(|e| e.into_inner());
        loaded.as_ref().map(|loaded| loaded.keys.clone())
    }

    async fn reload(&self, pool: &Pool) -> Result<Vec<Arc<SigningKey>>, store::Error> {
        let keys: Vec<Arc<SigningKey>> = store::oauth::published(pool, self.keep)
            .await?
            .iter()
            .filter_map(SigningKey::from_stored)
            .map(Arc::new)
            .collect();
        let mut loaded = self.loaded.write().unwrap_or_else(|e| e.into_inner());
        *loaded = Some(Loaded {
            keys: keys.clone(),
            at: Instant::now(),
        });
        Ok(keys)
    }
}
