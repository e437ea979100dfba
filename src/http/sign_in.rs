//! Dashboard sign-in over HTTP (`crate::oauth::sign_in`): the reports' gate sends a
//! browser without credentials to the provider, `GET /sign-in/callback` opens the
//! session and sets its cookie, `POST /sign-out` ends it. The cookie is read by the
//! reports' gate alone, never by xAPI's: a cookie must not authorise a write.

use actix_web::cookie::{time, Cookie, SameSite};
use actix_web::http::header::{self, AUTHORIZATION};
use actix_web::http::Method;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::error::ApiError;
use super::AppState;
use crate::auth::{Principal, Scope};
use crate::oauth::sign_in::hashed;
use crate::store::sessions;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "commonplace_session";

/// Who is signed in, for the dashboard to show (in the request's extensions).
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub name: String,
}

/// What the reports' gate makes of a request without `Authorization`.
pub enum Session {
    /// A session that holds the `reports` scope.
    Reader(Principal, SignedIn),
    /// An answer already: the way to the provider's sign-in, or the 403 page.
    Answer(HttpResponse),
    /// Neither: the gate asks for credentials as before.
    None,
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/sign-in/callback")
            .route(web::get().to(callback))
            .default_service(web::to(super::method_not_allowed)),
    )
    .service(
        web::resource("/sign-out")
            .route(web::post().to(sign_out))
            .default_service(web::to(super::method_not_allowed)),
    );
}

/// The session of a request to the reports or the dashboard, when sign-in is
/// configured and the request has no `Authorization` header (Basic and Bearer keep
/// their meaning for scripts); a browser navigation without a session is sent to sign in.
pub async fn session(state: &AppState, req: &HttpRequest) -> Result<Session, ApiError> {
    let Some((sign_in, _)) = state.oauth.sign_in() else {
        return Ok(Session::None);
    };
    if req.headers().contains_key(AUTHORIZATION) {
        return Ok(Session::None);
    }
    if let Some(cookie) = req.cookie(SESSION_COOKIE) {
        if let Some(found) = sessions::find(&state.pool, &hashed(cookie.value())).await? {
            let signed_in = SignedIn {
                name: found.name.clone(),
            };
            if !found.reports {
                return Ok(Session::Answer(forbidden_page(&signed_in)));
            }
            let principal = Principal {
                key: format!("session {} {}", found.issuer, found.subject),
                name: found.name,
                store_id: found.store_id,
                store: found.store,
                scopes: vec![Scope::Reports],
                tags: Default::default(),
                learner: None,
                token_authority: None,
            };
            return Ok(Session::Reader(principal, signed_in));
        }
    }
    if !is_navigation(req) {
        return Ok(Session::None);
    }
    let return_to = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/dashboard");
    state
        .throttles
        .admit_sign_in(req.peer_addr().map(|a| a.ip()))?;
    let location = sign_in
        .begin(&state.pool, &redirect_uri(state, req), return_to)
        .await?;
    Ok(Session::Answer(
        HttpResponse::Found()
            .insert_header((header::LOCATION, location))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish(),
    ))
}

/// A browser opening a page: GET or HEAD accepting HTML. API clients (JSON, CSV, no
/// `Accept`) keep getting 401.
fn is_navigation(req: &HttpRequest) -> bool {
    let accepts_html = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    (req.method() == Method::GET || req.method() == Method::HEAD) && accepts_html
}

/// Where the provider sends the browser back: under `--public-url` when set (it must
/// be registered at the provider exactly), else the address the browser used.
fn redirect_uri(state: &AppState, req: &HttpRequest) -> String {
    let base = match &state.settings.public_url {
        Some(url) => url.trim_end_matches('/').to_string(),
        None => {
            let info = req.connection_info();
            format!("{}://{}", info.scheme(), info.host())
        }
    };
    format!("{base}/sign-in/callback")
}

/// Only a path of this site is a page to return to, never another origin.
fn same_origin_path(path: &str) -> &str {
    let local = path.starts_with('/') && !path.starts_with("//") && !path.contains('\\');
    if local {
        path
    } else {
        "/dashboard"
    }
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `GET /sign-in/callback`: the provider's answer. A session and its cookie, then
/// back to the page first asked for; any doubt is 400 naming why.
async fn callback(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let (sign_in, keys) = state
        .oauth
        .sign_in()
        .ok_or_else(|| ApiError::NotFound("dashboard sign-in is not configured".into()))?;
    let query = web::Query::<CallbackQuery>::from_query(req.query_string())
        .map_err(|e| ApiError::InvalidParameter(format!("the callback's query: {e}")))?
        .into_inner();
    if let Some(error) = query.error {
        let description = query.error_description.unwrap_or_default();
        return Err(ApiError::SignInRefused(format!(
            "the provider refused the sign-in: {error} {description}"
        )));
    }
    let (Some(code), Some(state_param)) = (query.code, query.state) else {
        return Err(ApiError::SignInRefused(
            "the callback needs both code and state".into(),
        ));
    };
    let (id, return_to) = sign_in
        .complete(
            &state.pool,
            keys,
            state.oauth.store_claim(),
            &redirect_uri(&state, &req),
            &state_param,
            &code,
        )
        .await?;
    let lifetime = sign_in.settings().session_lifetime;
    let cookie = Cookie::build(SESSION_COOKIE, id)
        .path("/")
        .http_only(true)
        .secure(is_https(&state))
        .same_site(SameSite::Lax)
        .max_age(time::Duration::seconds(lifetime.as_secs() as i64))
        .finish();
    Ok(HttpResponse::SeeOther()
        .cookie(cookie)
        .insert_header((header::LOCATION, same_origin_path(&return_to)))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}

fn is_https(state: &AppState) -> bool {
    state
        .settings
        .public_url
        .as_deref()
        .is_some_and(|url| url.starts_with("https://"))
}

/// `POST /sign-out`: the session deleted server-side (its cookie, replayed, opens
/// nothing) and the cookie cleared.
async fn sign_out(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    if let Some(cookie) = req.cookie(SESSION_COOKIE) {
        sessions::close(&state.pool, &hashed(cookie.value())).await?;
    }
    let mut expired = Cookie::build(SESSION_COOKIE, "")
        .path("/")
        .http_only(true)
        .secure(is_https(&state))
        .same_site(SameSite::Lax)
        .finish();
    expired.make_removal();
    Ok(HttpResponse::Ok()
        .cookie(expired)
        .content_type("text/html; charset=utf-8")
        .body(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <title>Signed out</title></head><body><h1>Signed out</h1>\
             <p><a href=\"/dashboard\">Sign in again</a></p></body></html>",
        ))
}

/// The HTML form that signs out, for the dashboard and the 403 page.
pub fn sign_out_form(signed_in: &SignedIn) -> String {
    format!(
        "<form method=\"post\" action=\"/sign-out\" class=\"signed-in\">Signed in as \
         <strong class=\"user\">{}</strong> <button>Sign out</button></form>",
        super::dashboard::escape(&signed_in.name)
    )
}

fn forbidden_page(signed_in: &SignedIn) -> HttpResponse {
    HttpResponse::Forbidden()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <title>Not allowed</title></head><body><h1>Not allowed</h1>\
             <p class=\"reason\">Your account may not read reports: ask for the group \
             that grants them.</p>{}</body></html>",
            sign_out_form(signed_in)
        ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_returned_to() {
        assert_eq!(same_origin_path("/reports/modes?x=1"), "/reports/modes?x=1");
        assert_eq!(same_origin_path("//evil.example/x"), "/dashboard");
        assert_eq!(same_origin_path("https://evil.example"), "/dashboard");
        assert_eq!(same_origin_path("/\\evil.example"), "/dashboard");
    }
}
