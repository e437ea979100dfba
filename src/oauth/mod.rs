//! OAuth 2.0: the LRS as an authorization server for the client-credentials grant
//! (tokens for a credential, signed by keys the LRS keeps and rotates), and the one
//! entry the HTTP gates call for `Authorization: Bearer`.

pub mod external;
mod issuer_keys;
pub mod keys;
pub mod sign_in;
pub mod tokens;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use deadpool_postgres::Pool;
use serde::Deserialize;

use crate::auth::{Principal, Scope};
use crate::configuration::OAuthSettings;
use crate::store;
use keys::{KeyError, KeyRing};
use tokens::Claims;

/// What a verified bearer token stands for.
#[derive(Debug, Clone)]
pub enum Bearer {
    /// A token this LRS issued to the credential `key` (which must still be active when
    /// the token is used), granting `scopes` (within the credential's own).
    Credential { key: String, scopes: Vec<Scope> },
    /// A token of a trusted external OpenID Connect issuer (`external`), as the caller
    /// it stands for.
    External(Principal),
}

/// Why a bearer token is refused.
#[derive(Debug, thiserror::Error)]
pub enum BearerError {
    /// RFC 6750 `invalid_token`: malformed, unsigned, badly signed, expired, or not for
    /// this LRS.
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] store::Error),
}

/// The authorization server: its issuer URL, its keys and its settings.
pub struct OAuth {
    issuer: String,
    settings: OAuthSettings,
    keys: KeyRing,
    external: Option<external::ExternalIssuers>,
    sign_in: Option<sign_in::SignIn>,
}

/// A token as issued: the JWT and what it grants.
pub struct Issued {
    pub access_token: String,
    pub expires_in: u64,
    pub scopes: Vec<Scope>,
}

impl OAuth {
    /// `issuer`: the LRS's public base URL, without a trailing slash.
    pub fn new(issuer: String, settings: OAuthSettings) -> OAuth {
        let keys = KeyRing::new(settings.key_rotation, settings.token_lifetime);
        let external = external::ExternalIssuers::new(settings.oidc.clone());
        let sign_in = settings.sign_in.clone().map(sign_in::SignIn::new);
        OAuth {
            issuer: issuer.trim_end_matches('/').to_string(),
            settings,
            keys,
            external,
            sign_in,
        }
    }

    /// The dashboard's sign-in when configured, with the issuers' keys that verify its
    /// ID tokens.
    pub fn sign_in(&self) -> Option<(&sign_in::SignIn, &external::ExternalIssuers)> {
        Some((self.sign_in.as_ref()?, self.external.as_ref()?))
    }

    /// The claim naming the store of an external issuer's tokens and sessions.
    pub fn store_claim(&self) -> Option<&str> {
        self.settings.oidc.store_claim.as_deref()
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn scope_prefix(&self) -> &str {
        &self.settings.scope_prefix
    }

    /// Signs a token for the credential `key` of `store`, granting `scopes`.
    pub async fn issue(
        &self,
        pool: &Pool,
        key: &str,
        store: &str,
        scopes: Vec<Scope>,
    ) -> Result<Issued, KeyError> {
        let signing = self.keys.current(pool).await?;
        let lifetime = self.settings.token_lifetime;
        let claims = Claims::new(&self.issuer, key, store, &scopes, lifetime);
        let access_token =
            jsonwebtoken::encode(&tokens::header(&signing.kid), &claims, &signing.encoding)
                .map_err(|e| {
                    tracing::error!(kid = %signing.kid, error = %e, "cannot sign an access token");
                    KeyError::Unusable
                })?;
        Ok(Issued {
            access_token,
            expires_in: lifetime.as_secs(),
            scopes,
        })
    }

    /// The published signing keys as a JSON Web Key Set.
    pub async fn jwks(&self, pool: &Pool) -> Result<serde_json::Value, KeyError> {
        let keys: Vec<_> = self
            .keys
            .published(pool)
            .await?
            .iter()
            .map(|key| key.jwk())
            .collect();
        Ok(serde_json::json!({ "keys": keys }))
    }

    /// Verifies a bearer token: the LRS's own when its `iss` is this LRS, else an
    /// external issuer's when its `iss` is exactly a configured `--oidc-issuer`.
    pub async fn bearer(&self, pool: &Pool, token: &str) -> Result<Bearer, BearerError> {
        let issuer = unverified(token)?.iss;
        if issuer.as_deref() == Some(self.issuer.as_str()) {
            return self.own_token(pool, token).await;
        }
        if let (Some(external), Some(issuer)) = (&self.external, issuer.as_deref()) {
            if external.trusts(issuer) {
                let prefix = &self.settings.scope_prefix;
                let principal = external.principal(pool, token, issuer, prefix).await?;
                return Ok(Bearer::External(principal));
            }
        }
        Err(BearerError::Invalid(
            "the token was not issued by this LRS".into(),
        ))
    }

    /// The credential a token claims to be this LRS's token for, unverified: the key
    /// its failure counts against, as a failed Basic login counts against its key.
    pub fn named_credential(&self, token: &str) -> Option<String> {
        let claims = unverified(token).ok()?;
        let sub = claims.sub?.as_str()?.to_string();
        (claims.iss.as_deref() == Some(self.issuer.as_str())).then_some(sub)
    }

    async fn own_token(&self, pool: &Pool, token: &str) -> Result<Bearer, BearerError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| BearerError::Invalid(format!("the token's header is not valid: {e}")))?;
        let kid = header
            .kid
            .ok_or_else(|| BearerError::Invalid("the token names no signing key (kid)".into()))?;
        let key = self.keys.find(pool, &kid).await?.ok_or_else(|| {
            BearerError::Invalid(format!("the token's signing key '{kid}' is not known"))
        })?;
        let claims =
            jsonwebtoken::decode::<Claims>(token, &key.decoding, &tokens::validation(&self.issuer))
                .map_err(|e| match e.kind() {
                    jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                        BearerError::Invalid("the token has expired".into())
                    }
                    jsonwebtoken::errors::ErrorKind::InvalidSignature => {
                        BearerError::Invalid("the token's signature is not valid".into())
                    }
                    jsonwebtoken::errors::ErrorKind::InvalidAlgorithm => {
                        BearerError::Invalid("this LRS's tokens are signed with ES256 only".into())
                    }
                    _ => BearerError::Invalid(format!("the token is not valid: {e}")),
                })?
                .claims;
        let scopes = claims.scopes();
        Ok(Bearer::Credential {
            key: claims.sub,
            scopes,
        })
    }
}

/// The `iss` and `sub` claims of a JWT, read before its signature is checked: only to
/// choose the keys that check it, and the credential whose failed attempts it counts.
#[derive(Deserialize)]
struct Unverified {
    iss: Option<String>,
    /// Any JSON: external issuers' `sub` is theirs to shape.
    sub: Option<serde_json::Value>,
}

fn unverified(token: &str) -> Result<Unverified, BearerError> {
    let malformed = || BearerError::Invalid("the token is not a well-formed JWT".into());
    let mut parts = token.split('.');
    let (Some(_), Some(payload), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed());
    };
    let bytes = URL_SAFE_NO_PAD.decode(payload).map_err(|_| malformed())?;
    serde_json::from_slice(&bytes).map_err(|_| malformed())
}
