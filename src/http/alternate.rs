//! Alternate request syntax (xAPI 1.0.3 Communication §1.3): a `POST ?method=X` whose
//! form body carries headers, parameters and `content`. The request is rewritten into
//! the ordinary form before routing, so every handler sees one shape. xAPI 2.0 removed
//! the syntax, so a 2.0 request using it is refused.
//!
//! A form field named after a header is that header for the request (the LRS "MUST
//! treat the form parameters listed above as header parameters"), so it replaces a real
//! header of the same name: the form is what the client's code controls, and for
//! `Content-Type`/`Content-Length` the real headers describe the form itself. A form
//! `X-Experience-API-Version` the LRS does not serve is therefore 400 like the header,
//! whatever real header came with it.

use actix_web::dev::ServiceRequest;
use actix_web::http::header::{HeaderName, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use actix_web::http::{Method, Uri};
use actix_web::web::Bytes;
use actix_web::HttpMessage;

use super::body::collect;
use super::error::ApiError;
use super::middleware::{stated_version, VERSION_HEADER};
use crate::xapi::version::Version;

/// Form fields that stand for headers (Content-Transfer-Encoding deliberately excluded).
const HEADER_FIELDS: [&str; 6] = [
    "authorization",
    "x-experience-api-version",
    "content-type",
    "content-length",
    "if-match",
    "if-none-match",
];

pub fn is_alternate(req: &ServiceRequest) -> bool {
    method_in_query(req).is_some()
}

/// The method an alternate-syntax request stands for, read from its query alone (the
/// form is not read yet): `None` for an ordinary request or a method xAPI has not.
pub fn stands_for(req: &ServiceRequest) -> Option<Method> {
    method_named(&method_in_query(req)?)
}

/// The `method` a POST's query names, as given.
fn method_in_query(req: &ServiceRequest) -> Option<String> {
    if req.method() != Method::POST {
        return None;
    }
    let query: Vec<(String, String)> = serde_urlencoded::from_str(req.query_string()).ok()?;
    query
        .into_iter()
        .find(|(k, _)| k == "method")
        .map(|(_, name)| name)
}

fn method_named(name: &str) -> Option<Method> {
    Some(match name {
        "GET" => Method::GET,
        "PUT" => Method::PUT,
        "POST" => Method::POST,
        "DELETE" => Method::DELETE,
        "HEAD" => Method::HEAD,
        _ => return None,
    })
}

pub async fn rewrite(req: &mut ServiceRequest, max_body: usize) -> Result<(), ApiError> {
    let query: Vec<(String, String)> = serde_urlencoded::from_str(req.query_string())
        .map_err(|e| ApiError::InvalidParameter(format!("malformed query string: {e}")))?;
    if let Some((name, _)) = query.iter().find(|(k, _)| k != "method") {
        return Err(ApiError::InvalidParameter(format!(
            "alternate request syntax allows only 'method' in the query string, found '{name}'"
        )));
    }
    let method = method_named(&query[0].1).ok_or_else(|| {
        ApiError::InvalidParameter(format!("method '{}' is not an xAPI method", query[0].1))
    })?;
    let form_type = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !form_type
        .to_ascii_lowercase()
        .starts_with("application/x-www-form-urlencoded")
    {
        return Err(ApiError::InvalidBody(
            "alternate request syntax requires an application/x-www-form-urlencoded body".into(),
        ));
    }
    let body = collect(req.take_payload(), max_body).await?;
    let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&body)
        .map_err(|e| ApiError::InvalidBody(format!("malformed form body: {e}")))?;

    let mut content = Bytes::new();
    let mut params = Vec::new();
    req.headers_mut().remove(CONTENT_TYPE);
    for (name, value) in fields {
        let lower = name.to_ascii_lowercase();
        if name == "content" {
            content = Bytes::from(value);
        } else if HEADER_FIELDS.contains(&lower.as_str()) {
            let header = HeaderName::from_bytes(lower.as_bytes()).map_err(|_| {
                ApiError::InvalidParameter(format!("'{name}' is not a header name"))
            })?;
            req.headers_mut()
                .insert(header, header_value(&name, &value)?);
        } else {
            params.push((name, value));
        }
    }
    if header_says_2_0(req.headers().get(&VERSION_HEADER)) {
        return Err(removed_in_2_0());
    }
    req.headers_mut()
        .insert(CONTENT_LENGTH, HeaderValue::from(content.len()));
    let query = serde_urlencoded::to_string(&params).map_err(|_| ApiError::Internal)?;
    let path_and_query = if query.is_empty() {
        req.path().to_string()
    } else {
        format!("{}?{}", req.path(), query)
    };
    let uri: Uri = path_and_query.parse().map_err(|_| {
        ApiError::InvalidParameter("form parameters do not make a valid query".into())
    })?;
    let head = req.head_mut();
    head.method = method;
    head.uri = uri;
    req.set_payload(bytes_payload(content));
    Ok(())
}

fn header_says_2_0(value: Option<&HeaderValue>) -> bool {
    stated_version(value).is_some_and(Version::is_2_0)
}

fn removed_in_2_0() -> ApiError {
    ApiError::InvalidParameter(
        "alternate request syntax (?method=) was removed in xAPI 2.0.0; send an ordinary request"
            .into(),
    )
}

fn header_value(name: &str, value: &str) -> Result<HeaderValue, ApiError> {
    HeaderValue::from_str(value).map_err(|_| {
        ApiError::InvalidParameter(format!("form field '{name}' is not a valid header value"))
    })
}

fn bytes_payload(bytes: Bytes) -> actix_web::dev::Payload {
    let (_, mut payload) = actix_http::h1::Payload::create(true);
    payload.unread_data(bytes);
    actix_web::dev::Payload::from(payload)
}
