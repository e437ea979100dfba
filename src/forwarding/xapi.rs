//! The xAPI target: `POST {endpoint}/statements` of a batch as a JSON array, with the
//! forwarder's `X-Experience-API-Version`, and HTTP Basic or an OAuth 2.0 bearer token
//! (client-credentials grant, cached until shortly before it expires). Statements whose
//! attachments' content the LRS holds go as `multipart/mixed` (Communication §1.5.2):
//! the Statements first, then one part per attachment, by its hash.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use base64::Engine as _;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use reqwest::StatusCode;
use serde_json::value::RawValue;
use serde_json::Value;
use tokio::sync::Mutex;

use super::target::{answer_of, describe, failure_of, json_array, truncated, Answer, Outgoing};
use crate::xapi::multipart::{build_mixed, new_boundary, Headers};

/// A token is fetched again this long before the target would find it expired.
const TOKEN_MARGIN: Duration = Duration::from_secs(30);

/// An xAPI LRS. No `Debug`: it holds credentials.
pub struct Xapi {
    statements_url: String,
    version: String,
    auth: Authorization,
}

enum Authorization {
    None,
    /// The whole `Authorization` value.
    Basic(String),
    OAuth(TokenSource),
}

impl Xapi {
    pub fn new(endpoint: &str, auth: &Value, version: &str) -> Result<Xapi, String> {
        let text = |key: &str| auth.get(key).and_then(Value::as_str).map(str::to_string);
        let auth = if let Some(username) = text("username") {
            let password = text("password").unwrap_or_default();
            let pair =
                base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
            Authorization::Basic(format!("Basic {pair}"))
        } else if let Some(token_url) = text("token_url") {
            Authorization::OAuth(TokenSource {
                token_url,
                client_id: text("client_id").ok_or("OAuth 2.0 needs a client_id")?,
                client_secret: text("client_secret").ok_or("OAuth 2.0 needs a client_secret")?,
                scope: text("scope"),
                cached: Mutex::new(None),
            })
        } else {
            Authorization::None
        };
        Ok(Xapi {
            statements_url: format!("{}/statements", endpoint.trim_end_matches('/')),
            version: version.to_string(),
            auth,
        })
    }

    pub async fn send(&self, http: &reqwest::Client, outgoing: &Outgoing<'_>) -> Answer {
        let bodies: Vec<Cow<'_, str>> = outgoing
            .statements
            .iter()
            .map(|s| self.in_target_version(&s.body))
            .collect();
        let json = json_array(bodies.iter().map(|body| body.as_ref()));
        let mut request = http
            .post(&self.statements_url)
            .header("X-Experience-API-Version", &self.version);
        request = match self.authorization(http).await {
            Ok(Some(value)) => request.header(AUTHORIZATION, value),
            Ok(None) => request,
            Err(answer) => return answer,
        };
        request = if outgoing.attachments.is_empty() {
            request.header(CONTENT_TYPE, "application/json").body(json)
        } else {
            let boundary = new_boundary();
            let mut parts: Vec<(Headers, &[u8])> = vec![(
                vec![("Content-Type".into(), "application/json".into())],
                &json,
            )];
            for (sha2, content_type, content) in outgoing.attachments {
                parts.push((
                    vec![
                        ("Content-Type".into(), content_type.clone()),
                        ("Content-Transfer-Encoding".into(), "binary".into()),
                        ("X-Experience-API-Hash".into(), sha2.clone()),
                    ],
                    content,
                ));
            }
            request
                .header(
                    CONTENT_TYPE,
                    format!("multipart/mixed; boundary={boundary}"),
                )
                .body(build_mixed(&boundary, &parts))
        };
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) => return failure_of(&e),
        };
        if response.status() == StatusCode::UNAUTHORIZED {
            if let Authorization::OAuth(source) = &self.auth {
                // Revoked or expired early: the next attempt fetches a new one.
                source.forget().await;
            }
        }
        answer_of(response, outgoing.statements.len() == 1).await
    }

    /// A Statement as a target of this version takes it. A 1.0.3 LRS refuses a
    /// `version` of 2.0.x (Data §2.4.10), which the source writes into a Statement
    /// sent without one under 2.0.0: such a Statement goes as 1.0.0 (the version
    /// property is not part of what Statements are compared by). One that uses what
    /// only 2.0 allows is still refused by the target, and dead-lettered.
    ///
    /// Only the top level is read (as JSON texts by key), and only when the text has a
    /// `version` at all; the rest is copied as it is.
    fn in_target_version<'a>(&self, body: &'a RawValue) -> Cow<'a, str> {
        let text = body.get();
        if !self.version.starts_with("1.") || !text.contains(r#""version""#) {
            return Cow::Borrowed(text);
        }
        let Ok(mut top) = serde_json::from_str::<BTreeMap<String, &RawValue>>(text) else {
            return Cow::Borrowed(text);
        };
        let newer = top
            .get("version")
            .and_then(|v| serde_json::from_str::<&str>(v.get()).ok())
            .is_some_and(|v| v.starts_with("2."));
        if !newer {
            return Cow::Borrowed(text);
        }
        let older: &RawValue = serde_json::from_str(r#""1.0.0""#).expect("a JSON string");
        top.insert("version".into(), older);
        serde_json::to_string(&top).map_or(Cow::Borrowed(text), Cow::Owned)
    }

    async fn authorization(&self, http: &reqwest::Client) -> Result<Option<String>, Answer> {
        match &self.auth {
            Authorization::None => Ok(None),
            Authorization::Basic(value) => Ok(Some(value.clone())),
            Authorization::OAuth(source) => source.bearer(http).await.map(Some),
        }
    }
}

/// Access tokens from the target's token endpoint, one at a time, kept until shortly
/// before they expire.
struct TokenSource {
    token_url: String,
    client_id: String,
    client_secret: String,
    scope: Option<String>,
    cached: Mutex<Option<(String, Instant)>>,
}

impl TokenSource {
    /// `Authorization: Bearer …`, fetching a token when none is cached or it is about
    /// to expire. Held across the fetch, so batches in flight wait for one fetch.
    async fn bearer(&self, http: &reqwest::Client) -> Result<String, Answer> {
        let mut cached = self.cached.lock().await;
        if let Some((token, until)) = cached.as_ref() {
            if Instant::now() < *until {
                return Ok(format!("Bearer {token}"));
            }
        }
        let (token, lifetime) = self.fetch(http).await?;
        let until = Instant::now() + lifetime.saturating_sub(TOKEN_MARGIN);
        *cached = Some((token.clone(), until));
        Ok(format!("Bearer {token}"))
    }

    async fn forget(&self) {
        *self.cached.lock().await = None;
    }

    /// RFC 6749 §4.4: the client authenticates with HTTP Basic, its id and secret
    /// form-urlencoded first (§2.3.1).
    async fn fetch(&self, http: &reqwest::Client) -> Result<(String, Duration), Answer> {
        let pair = format!(
            "{}:{}",
            form_encoded(&self.client_id),
            form_encoded(&self.client_secret)
        );
        let mut form = vec![("grant_type", "client_credentials")];
        if let Some(scope) = &self.scope {
            form.push(("scope", scope));
        }
        let failed = |why: String| Answer::retry(format!("the token endpoint: {why}"));
        let response = http
            .post(&self.token_url)
            .header(
                AUTHORIZATION,
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(pair)
                ),
            )
            .form(&form)
            .send()
            .await
            .map_err(|e| failed(describe(&e)))?;
        let status = response.status();
        let body: Value = match response.bytes().await {
            Ok(bytes) if status.is_success() => serde_json::from_slice(&bytes)
                .map_err(|_| failed(format!("answered {status} with no JSON token")))?,
            Ok(bytes) => {
                let text = truncated(&String::from_utf8_lossy(&bytes));
                return Err(failed(format!("answered {status}: {text}")));
            }
            Err(e) => return Err(failed(describe(&e))),
        };
        let token = body
            .get("access_token")
            .and_then(Value::as_str)
            .ok_or_else(|| failed("the answer has no access_token".into()))?;
        // Without `expires_in` (RFC 6749 §5.1 makes it optional), an hour.
        let lifetime = body
            .get("expires_in")
            .and_then(Value::as_u64)
            .unwrap_or(3600);
        Ok((token.to_string(), Duration::from_secs(lifetime)))
    }
}

fn form_encoded(text: &str) -> String {
    serde_urlencoded::to_string([("", text)])
        .map(|pair| pair[1..].to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn statements_go_to_the_statements_resource_of_the_endpoint() {
        for endpoint in [
            "http://lrs.example.org/xapi",
            "http://lrs.example.org/xapi/",
        ] {
            let xapi = Xapi::new(endpoint, &json!({}), "1.0.3").unwrap();
            assert_eq!(
                xapi.statements_url,
                "http://lrs.example.org/xapi/statements"
            );
        }
    }

    #[test]
    fn client_credentials_are_form_encoded_for_basic() {
        assert_eq!(form_encoded("a b:c/é"), "a+b%3Ac%2F%C3%A9");
        assert_eq!(form_encoded("plain"), "plain");
    }

    #[test]
    fn a_1_0_3_target_gets_2_0_statements_as_1_0_0() {
        let older = Xapi::new("http://lrs/xapi", &json!({}), "1.0.3").unwrap();
        let newer = Xapi::new("http://lrs/xapi", &json!({}), "2.0.0").unwrap();
        let stored = |body: Value| RawValue::from_string(body.to_string()).unwrap();
        let two = stored(json!({"id": "x", "version": "2.0.0", "object": {"version": "2.0"}}));
        let one = stored(json!({"id": "x", "version": "1.0.3"}));
        let none = stored(json!({"id": "x"}));
        let sent = |xapi: &Xapi, body: &RawValue| -> Value {
            serde_json::from_str(&xapi.in_target_version(body)).unwrap()
        };
        assert_eq!(
            sent(&older, &two),
            json!({"id": "x", "version": "1.0.0", "object": {"version": "2.0"}})
        );
        assert_eq!(sent(&older, &one)["version"], "1.0.3");
        assert_eq!(sent(&older, &none), json!({"id": "x"}));
        assert_eq!(sent(&newer, &two)["version"], "2.0.0");
        assert_eq!(sent(&newer, &one)["version"], "1.0.3");
        // Untouched Statements go as stored, byte for byte.
        assert!(matches!(older.in_target_version(&one), Cow::Borrowed(_)));
        assert!(matches!(newer.in_target_version(&two), Cow::Borrowed(_)));
    }

    #[test]
    fn oauth_needs_a_client_id_and_secret() {
        let auth = json!({"token_url": "http://idp/token", "client_id": "c"});
        assert!(Xapi::new("http://lrs/xapi", &auth, "2.0.0").is_err());
    }
}
