//! Dashboard sign-in (`--oidc-client-id`): the OpenID Connect authorization-code flow
//! with PKCE (S256), `state` and `nonce` at the first `--oidc-issuer`. A sign-in under
//! way is kept server-side under the hash of its `state` and used once; a completed one
//! opens a server-side session under the hash of the cookie's random id.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use deadpool_postgres::Pool;
use jsonwebtoken::{Algorithm, Validation};
use rand::RngCore;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;

use super::external::ExternalIssuers;
use crate::configuration::SignInSettings;
use crate::store::{self, credentials, sessions};

/// How long a browser may take at the provider's login page.
const ATTEMPT_LIFETIME: std::time::Duration = std::time::Duration::from_secs(600);
/// Clock skew allowed on the ID token's `exp` and `iat`.
const LEEWAY_SECS: u64 = 60;
/// The store of sessions when no store claim is configured.
const DEFAULT_STORE: &str = "default";
/// The scopes asked of the provider: who the user is.
pub const SCOPES: &str = "openid profile";

/// Why a sign-in did not complete.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// The browser's callback cannot complete a sign-in (400): an unknown or used
    /// `state`, a code the provider refuses, an ID token that does not verify.
    #[error("{0}")]
    Refused(String),
    /// The provider cannot be reached or answers nonsense (502).
    #[error("{0}")]
    Provider(String),
    #[error(transparent)]
    Store(#[from] store::Error),
}

/// The provider's endpoints, from its discovery document.
#[derive(Debug, Clone)]
struct Endpoints {
    authorization: String,
    token: String,
}

/// The dashboard's OpenID Connect client.
#[derive(Debug)]
pub struct SignIn {
    settings: SignInSettings,
    http: reqwest::Client,
    endpoints: Mutex<Option<Endpoints>>,
}

/// A new random value, URL-safe: 256 bits.
fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The SHA-256 of a value the browser holds: what the database keeps instead.
pub fn hashed(value: &str) -> Vec<u8> {
    Sha256::digest(value.as_bytes()).to_vec()
}

impl SignIn {
    pub fn new(settings: SignInSettings) -> SignIn {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        SignIn {
            settings,
            http,
            endpoints: Mutex::new(None),
        }
    }

    pub fn settings(&self) -> &SignInSettings {
        &self.settings
    }

    /// Starts a sign-in that returns to `return_to` (a same-origin path): the URL of
    /// the provider's authorization endpoint to send the browser to.
    pub async fn begin(
        &self,
        pool: &Pool,
        redirect_uri: &str,
        return_to: &str,
    ) -> Result<String, SignInError> {
        let endpoints = self.endpoints().await?;
        let state = random_token();
        let attempt = sessions::Attempt {
            nonce: random_token(),
            verifier: random_token(),
            return_to: return_to.to_string(),
        };
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(attempt.verifier.as_bytes()));
        sessions::begin_attempt(pool, &hashed(&state), &attempt, ATTEMPT_LIFETIME).await?;
        let mut url = reqwest::Url::parse(&endpoints.authorization).map_err(|e| {
            SignInError::Provider(format!("the provider's authorization endpoint: {e}"))
        })?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.settings.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", SCOPES)
            .append_pair("state", &state)
            .append_pair("nonce", &attempt.nonce)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        Ok(url.into())
    }

    /// Completes the sign-in of `state` with `code`: the code exchanged (with the
    /// PKCE verifier, the client authenticated by HTTP Basic), the ID token verified
    /// (signature by the issuer's published keys, `iss`, `aud`, `exp`, `nonce`), and
    /// a session opened. The session's cookie value and the page to return to.
    pub async fn complete(
        &self,
        pool: &Pool,
        keys: &ExternalIssuers,
        store_claim: Option<&str>,
        redirect_uri: &str,
        state: &str,
        code: &str,
    ) -> Result<(String, String), SignInError> {
        let attempt = sessions::take_attempt(pool, &hashed(state))
            .await?
            .ok_or_else(|| {
                SignInError::Refused(
                    "the sign-in's state is unknown, expired or already used; sign in again".into(),
                )
            })?;
        let id_token = self.exchange(code, &attempt.verifier, redirect_uri).await?;
        let claims = self
            .verify_id_token(keys, &id_token, &attempt.nonce)
            .await?;
        let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_string);
        let subject =
            text("sub").ok_or_else(|| SignInError::Refused("the ID token has no sub".into()))?;
        let name = text("name")
            .or_else(|| text("preferred_username"))
            .or_else(|| text("email"))
            .unwrap_or_else(|| subject.clone());
        let store = match store_claim {
            None => DEFAULT_STORE.to_string(),
            Some(claim) => text(claim).ok_or_else(|| {
                SignInError::Refused(format!(
                    "the ID token has no '{claim}' claim naming its store"
                ))
            })?,
        };
        let store_id = credentials::store_id_by_name(pool, &store)
            .await?
            .ok_or_else(|| SignInError::Refused(format!("the store '{store}' does not exist")))?;
        let session = sessions::Session {
            store_id,
            store,
            issuer: self.settings.issuer.clone(),
            subject,
            name,
            reports: self.grants_reports(&claims),
        };
        let id = random_token();
        sessions::open(pool, &hashed(&id), &session, self.settings.session_lifetime).await?;
        Ok((id, attempt.return_to))
    }

    /// Whether the ID token's claims grant the `reports` scope: every user's do without
    /// a configured claim; else the claim (a string or an array) contains the value.
    fn grants_reports(&self, claims: &Map<String, Value>) -> bool {
        let Some((claim, value)) = &self.settings.reports_claim else {
            return true;
        };
        match claims.get(claim) {
            Some(Value::String(text)) => text == value,
            Some(Value::Array(items)) => items.iter().any(|item| item.as_str() == Some(value)),
            _ => false,
        }
    }

    /// The code exchanged at the token endpoint: the ID token.
    async fn exchange(
        &self,
        code: &str,
        verifier: &str,
        redirect_uri: &str,
    ) -> Result<String, SignInError> {
        let endpoints = self.endpoints().await?;
        let response = self
            .http
            .post(&endpoints.token)
            .basic_auth(
                form_encoded(&self.settings.client_id),
                Some(form_encoded(&self.settings.client_secret)),
            )
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", redirect_uri),
                ("code_verifier", verifier),
            ])
            .send()
            .await
            .map_err(|e| SignInError::Provider(format!("the token endpoint: {e}")))?;
        let status = response.status();
        let body: Value = response
            .json()
            .await
            .map_err(|e| SignInError::Provider(format!("the token endpoint: not JSON: {e}")))?;
        if !status.is_success() {
            let error = body.get("error").and_then(Value::as_str).unwrap_or("?");
            let description = body
                .get("error_description")
                .and_then(Value::as_str)
                .unwrap_or("");
            return Err(SignInError::Refused(format!(
                "the provider refused the code: {error} {description}"
            )));
        }
        body.get("id_token")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| SignInError::Provider("the token endpoint sent no id_token".into()))
    }

    async fn verify_id_token(
        &self,
        keys: &ExternalIssuers,
        token: &str,
        nonce: &str,
    ) -> Result<Map<String, Value>, SignInError> {
        let refused = |why: String| SignInError::Refused(format!("the ID token: {why}"));
        let header = jsonwebtoken::decode_header(token).map_err(|e| refused(e.to_string()))?;
        if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
            return Err(refused(format!("{:?} is not accepted", header.alg)));
        }
        let issuer = &self.settings.issuer;
        let key = keys
            .keys
            .key_for(issuer, header.kid.as_deref(), header.alg)
            .await
            .map_err(refused)?;
        let mut validation = Validation::new(header.alg);
        validation.leeway = LEEWAY_SECS;
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[&self.settings.client_id]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let claims = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
            .map_err(|e| refused(format!("does not verify: {e}")))?
            .claims;
        if claims.get("nonce").and_then(Value::as_str) != Some(nonce) {
            return Err(refused("its nonce is not this sign-in's".into()));
        }
        Ok(claims)
    }

    /// The provider's endpoints, fetched once.
    async fn endpoints(&self) -> Result<Endpoints, SignInError> {
        let mut kept = self.endpoints.lock().await;
        if let Some(endpoints) = kept.as_ref() {
            return Ok(endpoints.clone());
        }
        let issuer = &self.settings.issuer;
        let url = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let unavailable = |why: String| SignInError::Provider(format!("GET {url}: {why}"));
        let metadata: Value = self
            .http
            .get(&url)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| unavailable(e.to_string()))?
            .json()
            .await
            .map_err(|e| unavailable(format!("not JSON: {e}")))?;
        let field = |name: &str| {
            metadata
                .get(name)
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| unavailable(format!("no {name}")))
        };
        if field("issuer")? != *issuer {
            return Err(unavailable("it names another issuer".into()));
        }
        let endpoints = Endpoints {
            authorization: field("authorization_endpoint")?,
            token: field("token_endpoint")?,
        };
        *kept = Some(endpoints.clone());
        Ok(endpoints)
    }
}

/// RFC 6749 §2.3.1: client_secret_basic encodes the id and secret as form values first.
fn form_encoded(value: &str) -> String {
    reqwest::Url::parse_with_params("x:", &[("v", value)])
        .map(|url| url.query().unwrap_or_default()[2..].to_string())
        .unwrap_or_else(|_| value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sign_in(reports_claim: Option<(&str, &str)>) -> SignIn {
        SignIn::new(SignInSettings {
            issuer: "https://idp.example.com".into(),
            client_id: "dashboard".into(),
            client_secret: "s".into(),
            session_lifetime: std::time::Duration::from_secs(60),
            reports_claim: reports_claim.map(|(c, v)| (c.into(), v.into())),
        })
    }

    #[test]
    fn the_reports_scope_follows_the_configured_claim() {
        let claims = |v: Value| v.as_object().cloned().unwrap();
        assert!(sign_in(None).grants_reports(&claims(json!({"sub": "a"}))));
        let leads = sign_in(Some(("groups", "ld-leads")));
        assert!(leads.grants_reports(&claims(json!({"groups": ["staff", "ld-leads"]}))));
        assert!(leads.grants_reports(&claims(json!({"groups": "ld-leads"}))));
        assert!(!leads.grants_reports(&claims(json!({"groups": ["staff"]}))));
        assert!(!leads.grants_reports(&claims(json!({"sub": "a"}))));
    }

    #[test]
    fn client_credentials_are_form_encoded_for_basic() {
        assert_eq!(form_encoded("a b:c&d"), "a+b%3Ac%26d");
        assert_eq!(form_encoded("plain-id"), "plain-id");
    }
}
