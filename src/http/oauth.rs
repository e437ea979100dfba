//! The LRS as an OAuth 2.0 authorization server: `POST /oauth/token` (the
//! client-credentials grant, RFC 6749 §4.4), the signing keys at
//! `/.well-known/jwks.json` (RFC 7517) and the metadata at
//! `/.well-known/oauth-authorization-server` (RFC 8414).

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::error::ApiError;
use super::{auth, get_or_head, method_not_allowed, AppState};
use crate::auth::Scope;
use crate::oauth::tokens::{holds, scope_named, scope_text, TokenError};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/oauth/token")
            .route(web::post().to(token))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/.well-known/jwks.json")
            .route(get_or_head(jwks))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/.well-known/oauth-authorization-server")
            .route(get_or_head(metadata))
            .default_service(web::to(method_not_allowed)),
    );
}

fn invalid_request(why: impl Into<String>) -> ApiError {
    ApiError::Token(TokenError::InvalidRequest(why.into()))
}

/// `POST /oauth/token`: a credential's key and secret (HTTP Basic, or `client_id` and
/// `client_secret` in the form) for an access token with its scopes, or fewer.
async fn token(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let form_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !form_type {
        return Err(invalid_request(
            "the request must be a form (Content-Type: application/x-www-form-urlencoded)",
        ));
    }
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body)
        .map_err(|_| invalid_request("the form is not well-formed"))?;
    let param = |name: &str| -> Result<Option<&str>, ApiError> {
        let mut values = pairs.iter().filter(|(k, _)| k == name);
        let first = values.next().map(|(_, v)| v.as_str());
        if values.next().is_some() {
            return Err(invalid_request(format!("{name}: given more than once")));
        }
        Ok(first.filter(|v| !v.is_empty()))
    };
    match param("grant_type")? {
        None => return Err(invalid_request("grant_type: missing")),
        Some("client_credentials") => {}
        Some(other) => {
            return Err(ApiError::Token(TokenError::UnsupportedGrantType(format!(
                "grant_type '{other}' is not supported; only client_credentials is"
            ))))
        }
    }
    let in_form = (param("client_id")?, param("client_secret")?);
    let (key, secret, basic) = match (auth::presented_basic(req.headers()), in_form) {
        (Some(_), (Some(_), _) | (_, Some(_))) => {
            return Err(invalid_request(
                "the client authenticated twice (HTTP Basic and form fields); use one",
            ))
        }
        (Some(Ok((key, secret))), _) => match (form_decoded(&key), form_decoded(&secret)) {
            (Some(key), Some(secret)) => (key, secret, true),
            _ => return Err(malformed_basic(&state, &req)),
        },
        (Some(Err(_)), _) => return Err(malformed_basic(&state, &req)),
        (None, (Some(key), Some(secret))) => (key.to_string(), secret.to_string(), false),
        (None, (Some(_), None)) => return Err(invalid_request("client_secret: missing")),
        (None, (None, _)) => {
            return Err(invalid_client(
                "no client authentication: use HTTP Basic or client_id and client_secret",
                true,
            ))
        }
    };
    // The same throttle of failed attempts as every other door.
    let address = req.peer_addr().map(|a| a.ip());
    state.throttles.admit_authentication(address, Some(&key))?;
    let principal = match state.credentials.verify(&state.pool, &key, &secret).await {
        Ok(principal) => principal,
        Err(ApiError::Unauthorized(_)) => {
            state.throttles.authentication_failed(address, Some(&key));
            return Err(invalid_client(
                "the client credentials are not valid",
                basic,
            ));
        }
        Err(e) => return Err(e),
    };
    let scopes = match param("scope")? {
        None => principal.scopes.clone(),
        Some(requested) => granted(requested, &principal.scopes, state.oauth.scope_prefix())?,
    };
    let issued = state
        .oauth
        .issue(&state.pool, &principal.key, &principal.store, scopes)
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(json!({
            "access_token": issued.access_token,
            "token_type": "Bearer",
            "expires_in": issued.expires_in,
            "scope": scope_text(&issued.scopes),
        })))
}

/// RFC 6749 §2.3.1: the client id and secret are form-urlencoded before they are put
/// in HTTP Basic. `None` when the decoded text is not UTF-8. Generated keys and
/// secrets (base64url) read the same either way.
fn form_decoded(text: &str) -> Option<String> {
    let spaced = text.replace('+', " ");
    let decoded = percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .ok()?;
    Some(decoded.into_owned())
}

/// A malformed `Authorization` header counts as a failed attempt of the address, as at
/// every other door (429 once its attempts are used up).
fn malformed_basic(state: &AppState, req: &HttpRequest) -> ApiError {
    let address = req.peer_addr().map(|a| a.ip());
    if let Err(e) = state.throttles.admit_authentication(address, None) {
        return e;
    }
    state.throttles.authentication_failed(address, None);
    invalid_client(
        "the Authorization header is not well-formed Basic credentials",
        true,
    )
}

fn invalid_client(why: &str, basic: bool) -> ApiError {
    ApiError::Token(TokenError::InvalidClient {
        description: why.into(),
        basic,
    })
}

/// The scopes asked for (space-separated names, `prefix` optional), each of which the
/// credential must hold.
fn granted(requested: &str, held: &[Scope], prefix: &str) -> Result<Vec<Scope>, ApiError> {
    let mut scopes = Vec::new();
    for name in requested.split_whitespace() {
        let scope = scope_named(name, prefix).ok_or_else(|| {
            ApiError::Token(TokenError::InvalidScope(format!(
                "'{name}' is not a scope of this LRS"
            )))
        })?;
        if !holds(held, scope) {
            return Err(ApiError::Token(TokenError::InvalidScope(format!(
                "the client does not hold the scope '{name}'"
            ))));
        }
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    if scopes.is_empty() {
        return Err(invalid_request("scope: empty"));
    }
    Ok(scopes)
}

/// `GET /.well-known/jwks.json`: the keys that verify this LRS's tokens.
async fn jwks(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let keys = state.oauth.jwks(&state.pool).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .json(keys))
}

/// `GET /.well-known/oauth-authorization-server`: RFC 8414 metadata.
async fn metadata(state: web::Data<AppState>) -> HttpResponse {
    let issuer = state.oauth.issuer();
    let prefix = state.oauth.scope_prefix();
    let mut scopes: Vec<String> = Scope::EVERY.iter().map(|s| s.to_string()).collect();
    if !prefix.is_empty() {
        scopes.extend(Scope::EVERY.iter().map(|s| format!("{prefix}{s}")));
        scopes.extend(["write", "read"].map(|alias| format!("{prefix}{alias}")));
    }
    HttpResponse::Ok().json(json!({
        "issuer": issuer,
        "token_endpoint": format!("{issuer}/oauth/token"),
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "scopes_supported": scopes,
        "response_types_supported": [],
    }))
}
