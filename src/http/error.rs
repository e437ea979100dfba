//! The HTTP error type: every failure a client can see, with a stable code, mapped
//! to its status and JSON body in exactly one place.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::capture::enrolment::Refusal;
use crate::oauth::keys::KeyError;
use crate::oauth::sign_in::SignInError;
use crate::oauth::tokens::TokenError;
use crate::store;
use crate::xapi::version::UnsupportedVersion;

/// Seconds a client is told to wait when the database is down.
const RETRY_AFTER_SECONDS: u32 = 5;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the X-Experience-API-Version header is required")]
    MissingVersion,
    #[error("{0}")]
    UnsupportedVersion(#[from] UnsupportedVersion),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    /// A bearer token that is malformed, badly signed, expired or revoked (RFC 6750 §3.1).
    #[error("{0}")]
    InvalidToken(String),
    /// A valid bearer token whose scopes do not allow the request (RFC 6750 §3.1).
    #[error("{0}")]
    InsufficientScope(String),
    /// An `Authorization: Bearer` header without a well-formed token (RFC 6750 §2.1,
    /// §3.1 `invalid_request`).
    #[error("{0}")]
    MalformedBearer(String),
    /// A refusal of `POST /oauth/token`, answered as RFC 6749 §5.2 says.
    #[error("{0}")]
    Token(TokenError),
    /// A malformed query parameter or header.
    #[error("{0}")]
    InvalidParameter(String),
    /// A request body that is not what the resource accepts.
    #[error("{0}")]
    InvalidBody(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{method} is not allowed on {path}")]
    MethodNotAllowed { method: String, path: String },
    #[error("the request body is larger than the limit of {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// A part of the body beyond its own limit (an attachment, say).
    #[error("{0}")]
    TooLarge(String),
    #[error("{message}")]
    TooManyRequests { retry_after: u64, message: String },
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PreconditionFailed(String),
    #[error("{0}")]
    NotImplemented(String),
    /// A dashboard sign-in callback that cannot complete (`crate::oauth::sign_in`).
    #[error("{0}")]
    SignInRefused(String),
    /// The OpenID Provider of the dashboard sign-in cannot be reached or misbehaves.
    #[error("{0}")]
    ProviderUnavailable(String),
    /// An enrolment code that cannot be exchanged for a capture credential.
    #[error("{}", .0.message())]
    Enrolment(Refusal),
    #[error("the database is unavailable; retry shortly")]
    Unavailable,
    #[error("the request did not complete within {0} s; retry shortly")]
    TimedOut(u64),
    #[error("internal error")]
    Internal,
}

impl ApiError {
    /// The stable, machine-readable code of the error.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::MissingVersion => "missing_version",
            ApiError::UnsupportedVersion(_) => "unsupported_version",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::SignInRefused(_) => "sign_in_refused",
            ApiError::ProviderUnavailable(_) => "provider_unavailable",
            ApiError::InvalidToken(_) => "invalid_token",
            ApiError::InsufficientScope(_) => "insufficient_scope",
            ApiError::MalformedBearer(_) => "invalid_request",
            ApiError::Token(error) => error.code(),
            ApiError::InvalidParameter(_) => "invalid_parameter",
            ApiError::InvalidBody(_) => "invalid_body",
            ApiError::NotFound(_) => "not_found",
            ApiError::MethodNotAllowed { .. } => "method_not_allowed",
            ApiError::PayloadTooLarge { .. } | ApiError::TooLarge(_) => "payload_too_large",
            ApiError::TooManyRequests { .. } => "too_many_requests",
            ApiError::Conflict(_) => "conflict",
            ApiError::PreconditionFailed(_) => "precondition_failed",
            ApiError::NotImplemented(_) => "not_implemented",
            ApiError::Enrolment(refusal) => refusal.code(),
            ApiError::Unavailable => "database_unavailable",
            ApiError::TimedOut(_) => "timeout",
            ApiError::Internal => "internal",
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::MissingVersion
            | ApiError::UnsupportedVersion(_)
            | ApiError::InvalidParameter(_)
            | ApiError::InvalidBody(_)
            | ApiError::MalformedBearer(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_)
            | ApiError::InvalidToken(_)
            | ApiError::Token(TokenError::InvalidClient { .. }) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) | ApiError::InsufficientScope(_) => StatusCode::FORBIDDEN,
            ApiError::Token(_) | ApiError::SignInRefused(_) => StatusCode::BAD_REQUEST,
            ApiError::ProviderUnavailable(_) => StatusCode::BAD_GATEWAY,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge { .. } | ApiError::TooLarge(_) => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            ApiError::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            ApiError::Enrolment(Refusal::Unknown) => StatusCode::NOT_FOUND,
            ApiError::Enrolment(_) => StatusCode::GONE,
            ApiError::Unavailable | ApiError::TimedOut(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        match self {
            ApiError::Unauthorized(_) => {
                response.insert_header((
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"xAPI\", charset=\"UTF-8\""),
                ));
            }
            ApiError::InvalidToken(why)
            | ApiError::InsufficientScope(why)
            | ApiError::MalformedBearer(why) => {
                response.insert_header((
                    header::WWW_AUTHENTICATE,
                    format!(
                        "Bearer realm=\"xAPI\", error=\"{}\", error_description=\"{}\"",
                        self.code(),
                        quotable(why)
                    ),
                ));
            }
            ApiError::Token(error) => {
                if let TokenError::InvalidClient { basic: true, .. } = error {
                    response.insert_header((
                        header::WWW_AUTHENTICATE,
                        HeaderValue::from_static("Basic realm=\"oauth\", charset=\"UTF-8\""),
                    ));
                }
                // RFC 6749 §5.2: the error, not the xAPI error object.
                return response
                    .insert_header((header::CACHE_CONTROL, "no-store"))
                    .json(json!({
                        "error": error.code(),
                        "error_description": quotable(&error.to_string()),
                    }));
            }
            ApiError::Unavailable | ApiError::TimedOut(_) => {
                response.insert_header((header::RETRY_AFTER, RETRY_AFTER_SECONDS));
            }
            ApiError::TooManyRequests { retry_after, .. } => {
                response.insert_header((header::RETRY_AFTER, *retry_after));
            }
            _ => {}
        }
        response.json(json!({"error": {"code": self.code(), "message": self.to_string()}}))
    }
}

/// The longest `error_description` given: it may quote what the client sent.
const DESCRIPTION_CHARS: usize = 200;

/// `text` as an `error_description` (RFC 6749 §5.2, RFC 6750 §3): printable ASCII
/// without quotes or backslashes (each other character becomes `?`), at most
/// `DESCRIPTION_CHARS` long, so that it is a valid quoted-string whatever it quotes.
fn quotable(text: &str) -> String {
    let mut quoted: String = text
        .chars()
        .take(DESCRIPTION_CHARS + 1)
        .map(|c| match c {
            '"' | '\\' => '\'',
            ' '..='~' => c,
            _ => '?',
        })
        .collect();
    if quoted.len() > DESCRIPTION_CHARS {
        quoted.truncate(DESCRIPTION_CHARS - 3);
        quoted.push_str("...");
    }
    quoted
}

impl From<SignInError> for ApiError {
    fn from(e: SignInError) -> Self {
        match e {
            SignInError::Refused(why) => ApiError::SignInRefused(why),
            SignInError::Provider(why) => {
                tracing::warn!(%why, "the sign-in provider is unavailable");
                ApiError::ProviderUnavailable(why)
            }
            SignInError::Store(e) => e.into(),
        }
    }
}

impl From<KeyError> for ApiError {
    fn from(e: KeyError) -> Self {
        match e {
            KeyError::Store(e) => e.into(),
            KeyError::Unusable => ApiError::Internal,
        }
    }
}

impl From<store::Error> for ApiError {
    fn from(e: store::Error) -> Self {
        match e {
            store::Error::Unavailable(why) => {
                tracing::warn!(error = %why, "database unavailable");
                ApiError::Unavailable
            }
            store::Error::NotFound(why) => ApiError::NotFound(why),
            store::Error::Conflict(why) => ApiError::Conflict(why),
            other => {
                tracing::error!(error = ?other, "storage failure");
                ApiError::Internal
            }
        }
    }
}
