//! The webhook target: `POST url` of `{"delivery": "<uuid>", "statements": [...]}`,
//! with `Commonplace-Delivery: <uuid>` and `Commonplace-Signature: t=UNIX_SECONDS,v1=HEX`,
//! HEX being the lowercase hex HMAC-SHA256, keyed with the forwarder's secret, of
//! `UNIX_SECONDS` + `.` + the raw body. The receiver verifies the signature, rejects a
//! timestamp far from its clock (a replayed request), and drops a delivery id it has
//! already taken: a batch sent again (after a failure, a crash or a takeover) keeps its
//! delivery id, and is signed again with the time it is sent.

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use super::target::{answer_of, failure_of, json_array, Answer, Outgoing};

pub const DELIVERY_HEADER: &str = "Commonplace-Delivery";
pub const SIGNATURE_HEADER: &str = "Commonplace-Signature";

/// Where and with which key a webhook forwarder sends. No `Debug`: it holds the secret.
pub struct Webhook {
    url: String,
    secret: Vec<u8>,
}

impl Webhook {
    pub fn new(url: String, auth: &Value) -> Result<Webhook, String> {
        let secret = auth
            .get("secret")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or("a webhook forwarder needs a secret")?;
        Ok(Webhook {
            url,
            secret: secret.as_bytes().to_vec(),
        })
    }

    pub async fn send(&self, http: &reqwest::Client, outgoing: &Outgoing<'_>) -> Answer {
        let statements = json_array(outgoing.statements.iter().map(|s| s.body.get()));
        let mut body =
            format!(r#"{{"delivery":"{}","statements":"#, outgoing.delivery).into_bytes();
        body.extend_from_slice(&statements);
        body.push(b'}');
        let now = chrono::Utc::now().timestamp();
        let request = http
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(DELIVERY_HEADER, outgoing.delivery.to_string())
            .header(SIGNATURE_HEADER, signature(&self.secret, now, &body))
            .body(body);
        match request.send().await {
            Ok(response) => answer_of(response, false).await,
            Err(e) => failure_of(&e),
        }
    }
}

/// The `Commonplace-Signature` value of a body sent at `timestamp` (Unix seconds).
pub fn signature(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_dot_body() {
        // Computed independently (Python's hmac module).
        let body = br#"{"delivery":"d","statements":[]}"#;
        assert_eq!(
            signature(b"whsec_test", 1_700_000_000, body),
            "t=1700000000,v1=db7e77230a5cee2fcddfbb8ad7b2a3e8dfcbe710e30e66cbe7f385842f3403a5"
        );
    }

    #[test]
    fn the_signature_changes_with_the_time_the_body_and_the_secret() {
        let body = br#"{"delivery":"d","statements":[]}"#;
        let signed = signature(b"whsec_test", 1_700_000_000, body);
        assert_ne!(signature(b"whsec_test", 1_700_000_001, body), signed);
        assert_ne!(signature(b"whsec_other", 1_700_000_000, body), signed);
        assert_ne!(
            signature(
                b"whsec_test",
                1_700_000_000,
                br#"{"delivery":"e","statements":[]}"#
            ),
            signed
        );
    }

    #[test]
    fn a_webhook_needs_a_secret() {
        assert!(Webhook::new("http://h/".into(), &json!({})).is_err());
        assert!(Webhook::new("http://h/".into(), &json!({"secret": ""})).is_err());
        assert!(Webhook::new("http://h/".into(), &json!({"secret": "s"})).is_ok());
    }
}
