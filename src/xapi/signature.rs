//! Signed Statements (xAPI 1.0.3 Data §2.6; xAPI 2.0 §4.2.6): checking the
//! JWS carried by an attachment with usageType
//! `http://adlnet.gov/expapi/attachments/signature`.
//!
//! [`verify_jws`] decodes a JWS in Compact Serialization, requires `alg` to be
//! RS256, RS384 or RS512, verifies the signature against the first
//! certificate of the header's `x5c` when there is one, and returns the
//! payload, which must be a JSON object (the signed Statement). Comparing that
//! payload with the received Statement is the caller's job.
//!
//! Pure functions, no I/O. The x5c check only catches mistakes (the spec's
//! note): the certificate chain, dates and trust are not examined.

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::signature::Verifier as _;
use rsa::{BigUint, RsaPublicKey};
use serde_json::{Map, Value};
use sha2::{Sha256, Sha384, Sha512};
use thiserror::Error;
use x509_cert::der::Decode as _;

/// Largest RSA modulus accepted from an x5c certificate, in bits.
const MAX_RSA_BITS: usize = 16384;

/// OID 1.2.840.113549.1.1.1, rsaEncryption.
const RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";

/// base64url without padding (RFC 7515 §2); trailing `=` is tolerated.
const B64URL: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Standard base64 for x5c entries (RFC 7515 §4.1.6); missing padding tolerated.
const B64STD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Why a signature is malformed. Every variant maps to `400 Bad Request`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SignatureError {
    #[error("signature attachment is empty")]
    Empty,
    #[error("signature is not a JWS in Compact Serialization: it contains whitespace, control or non-ASCII characters")]
    NotAscii,
    #[error("signature uses JWS JSON Serialization; only JWS Compact Serialization is accepted")]
    JsonSerialization,
    #[error("signature is not a JWS in Compact Serialization: expected 3 dot-separated parts (header.payload.signature), found {0}")]
    SegmentCount(usize),
    #[error("JWS {segment} is empty")]
    EmptySegment { segment: &'static str },
    #[error("JWS {segment} is not valid base64url: {detail}")]
    Base64 {
        segment: &'static str,
        detail: String,
    },
    #[error("JWS header is not a JSON object: {0}")]
    Header(String),
    #[error("JWS header has no \"alg\" string")]
    MissingAlg,
    #[error("JWS algorithm {0:?} is not allowed: the signature must use RS256, RS384 or RS512")]
    UnsupportedAlg(String),
    #[error("JWS header lists critical extensions ({0}) that are not supported")]
    Critical(String),
    #[error("JWS payload is not valid JSON: {0}")]
    PayloadNotJson(String),
    #[error("JWS payload must be a JSON object (the signed Statement), found {0}")]
    PayloadNotObject(&'static str),
    #[error("JWS header x5c is invalid: {0}")]
    X5c(String),
    #[error("JWS signature does not verify against the public key of the first x5c certificate")]
    BadSignature,
}

/// The three algorithms xAPI allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    RS256,
    RS384,
    RS512,
}

impl Alg {
    pub fn as_str(self) -> &'static str {
        match self {
            Alg::RS256 => "RS256",
            Alg::RS384 => "RS384",
            Alg::RS512 => "RS512",
        }
    }

    fn parse(s: &str) -> Option<Alg> {
        match s {
            "RS256" => Some(Alg::RS256),
            "RS384" => Some(Alg::RS384),
            "RS512" => Some(Alg::RS512),
            _ => None,
        }
    }
}

/// Everything [`verify_jws_detailed`] learned from a well-formed JWS.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedJws {
    pub alg: Alg,
    /// The decoded JOSE header.
    pub header: Map<String, Value>,
    /// The payload's octets as signed.
    pub payload_bytes: Vec<u8>,
    /// The payload parsed as JSON: always an object.
    pub payload: Value,
    /// Whether the header had an x5c whose first certificate verified the
    /// signature (false: there was no x5c, nothing to verify against).
    pub verified_with_x5c: bool,
}

/// Checks a signature attachment's data and returns the signed Statement
/// (the JWS payload, a JSON object). See [`verify_jws_detailed`].
pub fn verify_jws(jws: &[u8]) -> Result<Value, SignatureError> {
    verify_jws_detailed(jws).map(|v| v.payload)
}

fn decode_segment(segment: &'static str, text: &str) -> Result<Vec<u8>, SignatureError> {
    if text.is_empty() {
        return Err(SignatureError::EmptySegment { segment });
    }
    B64URL.decode(text).map_err(|e| SignatureError::Base64 {
        segment,
        detail: e.to_string(),
    })
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The RSA public key of a DER X.509 certificate.
fn rsa_key_of_certificate(der: &[u8]) -> Result<RsaPublicKey, SignatureError> {
    let cert = x509_cert::Certificate::from_der(der).map_err(|e| {
        SignatureError::X5c(format!(
            "first certificate is not a DER X.509 certificate: {e}"
        ))
    })?;
    let spki = &cert.tbs_certificate.subject_public_key_info;
    if spki.algorithm.oid.to_string() != RSA_ENCRYPTION {
        return Err(SignatureError::X5c(format!(
            "first certificate's key is not an RSA key (algorithm {})",
            spki.algorithm.oid
        )));
    }
    let bits = spki.subject_public_key.as_bytes().ok_or_else(|| {
        SignatureError::X5c("first certificate's public key is not whole octets".into())
    })?;
    let key = rsa::pkcs1::RsaPublicKey::from_der(bits).map_err(|e| {
        SignatureError::X5c(format!(
            "first certificate's RSA public key is malformed: {e}"
        ))
    })?;
    RsaPublicKey::new_with_max_size(
        BigUint::from_bytes_be(key.modulus.as_bytes()),
        BigUint::from_bytes_be(key.public_exponent.as_bytes()),
        MAX_RSA_BITS,
    )
    .map_err(|e| {
        SignatureError::X5c(format!(
            "first certificate's RSA public key is unusable: {e}"
        ))
    })
}

fn verify_rsa(
    alg: Alg,
    key: RsaPublicKey,
    input: &[u8],
    signature: &[u8],
) -> Result<(), SignatureError> {
    let sig = Signature::try_from(signature).map_err(|_| SignatureError::BadSignature)?;
    let ok = match alg {
        Alg::RS256 => VerifyingKey::<Sha256>::new(key).verify(input, &sig).is_ok(),
        Alg::RS384 => VerifyingKey::<Sha384>::new(key).verify(input, &sig).is_ok(),
        Alg::RS512 => VerifyingKey::<Sha512>::new(key).verify(input, &sig).is_ok(),
    };
    if ok {
        Ok(())
    } else {
        Err(SignatureError::BadSignature)
    }
}

/// Checks a signature attachment's data (Data §2.6 "LRS Requirements"):
///
/// 1. it is a JWS in Compact Serialization, `header.payload.signature`, each
///    part base64url (JSON Serialization → [`SignatureError::JsonSerialization`]);
///    surrounding whitespace is ignored;
/// 2. the header is a JSON object whose `alg` is RS256, RS384 or RS512, with
///    no `crit` (no extension is understood);
/// 3. when the header has `x5c`, the signature must verify with the RSA
///    public key of its first certificate (a standard-base64 DER certificate);
///    without `x5c` there is nothing to verify against and the signature is
///    only checked to be non-empty base64url;
/// 4. the payload is JSON and an object.
pub fn verify_jws_detailed(jws: &[u8]) -> Result<VerifiedJws, SignatureError> {
    let text = std::str::from_utf8(jws).map_err(|_| SignatureError::NotAscii)?;
    let text = text.trim_matches(|c: char| c.is_ascii_whitespace());
    if text.is_empty() {
        return Err(SignatureError::Empty);
    }
    if text.starts_with('{') {
        return Err(SignatureError::JsonSerialization);
    }
    if !text.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(SignatureError::NotAscii);
    }
    let segments: Vec<&str> = text.split('.').collect();
    let [header_b64, payload_b64, signature_b64] = segments[..] else {
        return Err(SignatureError::SegmentCount(segments.len()));
    };

    let header_bytes = decode_segment("header", header_b64)?;
    let header: Value =
        serde_json::from_slice(&header_bytes).map_err(|e| SignatureError::Header(e.to_string()))?;
    let Value::Object(header) = header else {
        return Err(SignatureError::Header(format!(
            "found {}",
            json_type(&header)
        )));
    };
    let alg = match header.get("alg") {
        Some(Value::String(s)) => {
            Alg::parse(s).ok_or_else(|| SignatureError::UnsupportedAlg(s.clone()))?
        }
        _ => return Err(SignatureError::MissingAlg),
    };
    if let Some(crit) = header.get("crit") {
        return Err(SignatureError::Critical(crit.to_string()));
    }

    let payload_bytes = decode_segment("payload", payload_b64)?;
    let signature = decode_segment("signature", signature_b64)?;

    let mut verified_with_x5c = false;
    if let Some(x5c) = header.get("x5c") {
        let first = match x5c {
            Value::Array(certs) => match certs.first() {
                Some(Value::String(s)) => s,
                Some(other) => {
                    return Err(SignatureError::X5c(format!(
                        "entries must be base64 strings, found {}",
                        json_type(other)
                    )))
                }
                None => return Err(SignatureError::X5c("it is an empty array".into())),
            },
            other => {
                return Err(SignatureError::X5c(format!(
                    "it must be an array, found {}",
                    json_type(other)
                )))
            }
        };
        let compact: String = first.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        let der = B64STD
            .decode(&compact)
            .or_else(|_| B64URL.decode(&compact))
            .map_err(|e| {
                SignatureError::X5c(format!("first certificate is not valid base64: {e}"))
            })?;
        let key = rsa_key_of_certificate(&der)?;
        let signing_input = &text[..header_b64.len() + 1 + payload_b64.len()];
        verify_rsa(alg, key, signing_input.as_bytes(), &signature)?;
        verified_with_x5c = true;
    }

    let payload: Value = serde_json::from_slice(&payload_bytes)
        .map_err(|e| SignatureError::PayloadNotJson(e.to_string()))?;
    if !payload.is_object() {
        return Err(SignatureError::PayloadNotObject(json_type(&payload)));
    }
    Ok(VerifiedJws {
        alg,
        header,
        payload_bytes,
        payload,
        verified_with_x5c,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use rsa::pkcs8::DecodePrivateKey as _;
    use rsa::signature::{SignatureEncoding as _, Signer as _};
    use rsa::RsaPrivateKey;
    use serde_json::json;

    const SIGNER_KEY: &str = include_str!("../../conformance/data/signatures/signer-key.pem");
    const SIGNER_CERT: &str = include_str!("../../conformance/data/signatures/signer-cert.pem");
    const OTHER_KEY: &str = include_str!("../../conformance/data/signatures/other-key.pem");
    const OTHER_CERT: &str = include_str!("../../conformance/data/signatures/other-cert.pem");
    const SPEC_JWS: &str = include_str!("../../conformance/data/signatures/spec-appendix-d.jws");

    /// The x5c form of a PEM certificate: its base64 body on one line.
    fn x5c_of(pem: &str) -> String {
        pem.lines().filter(|l| !l.starts_with("-----")).collect()
    }

    fn b64(data: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(data)
    }

    fn sign(alg: &str, header: &Value, payload: &[u8], key_pem: &str) -> String {
        let key = RsaPrivateKey::from_pkcs8_pem(key_pem).unwrap();
        let input = format!("{}.{}", b64(header.to_string().as_bytes()), b64(payload));
        let sig = match alg {
            "RS256" => rsa::pkcs1v15::SigningKey::<Sha256>::new(key)
                .sign(input.as_bytes())
                .to_vec(),
            "RS384" => rsa::pkcs1v15::SigningKey::<Sha384>::new(key)
                .sign(input.as_bytes())
                .to_vec(),
            "RS512" => rsa::pkcs1v15::SigningKey::<Sha512>::new(key)
                .sign(input.as_bytes())
                .to_vec(),
            _ => b"not really a signature".to_vec(),
        };
        format!("{input}.{}", b64(&sig))
    }

    fn statement() -> Value {
        json!({
            "id": "33cff416-e331-4c9d-969e-5373a1756120",
            "actor": {"mbox": "mailto:example@example.com", "objectType": "Agent"},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"},
            "object": {"id": "http://example.com/activity"}
        })
    }

    fn signed(alg: &str, with_x5c: bool) -> String {
        let header = if with_x5c {
            json!({"alg": alg, "x5c": [x5c_of(SIGNER_CERT)]})
        } else {
            json!({"alg": alg})
        };
        sign(alg, &header, statement().to_string().as_bytes(), SIGNER_KEY)
    }

    #[test]
    fn valid_rs256_with_x5c() {
        let jws = signed("RS256", true);
        let v = verify_jws_detailed(jws.as_bytes()).unwrap();
        assert_eq!(v.alg, Alg::RS256);
        assert!(v.verified_with_x5c);
        assert_eq!(v.payload, statement());
        assert_eq!(verify_jws(jws.as_bytes()).unwrap(), statement());
    }

    #[test]
    fn valid_rs384_and_rs512_with_x5c() {
        for (alg, expected) in [("RS384", Alg::RS384), ("RS512", Alg::RS512)] {
            let v = verify_jws_detailed(signed(alg, true).as_bytes()).unwrap();
            assert_eq!(v.alg, expected);
            assert!(v.verified_with_x5c);
        }
    }

    #[test]
    fn valid_without_x5c_is_not_verified_but_accepted() {
        // As the ADL conformance suite signs: {"alg":"RS256"} only.
        let v = verify_jws_detailed(signed("RS256", false).as_bytes()).unwrap();
        assert!(!v.verified_with_x5c);
        assert_eq!(v.payload, statement());
    }

    #[test]
    fn x5c_chain_uses_first_certificate_and_tolerates_whitespace() {
        let header =
            json!({"alg": "RS256", "x5c": [x5c_of(SIGNER_CERT), x5c_of(OTHER_CERT)], "typ": "JWT"});
        let jws = sign(
            "RS256",
            &header,
            statement().to_string().as_bytes(),
            SIGNER_KEY,
        );
        assert!(verify_jws(format!("  {jws}\r\n").as_bytes()).is_ok());
    }

    #[test]
    fn spec_appendix_d_example_verifies() {
        let v = verify_jws_detailed(SPEC_JWS.as_bytes()).unwrap();
        assert!(v.verified_with_x5c);
        assert_eq!(v.payload["id"], "33cff416-e331-4c9d-969e-5373a1756120");
        assert_eq!(v.payload["timestamp"], "2013-04-01T12:00:00Z");
        assert!(v.payload_bytes.starts_with(b"{\r\n    \"version\""));
    }

    #[test]
    fn wrong_key_or_tampered_payload_fails() {
        // Signed by another key than the x5c certificate's.
        let header = json!({"alg": "RS256", "x5c": [x5c_of(SIGNER_CERT)]});
        let jws = sign(
            "RS256",
            &header,
            statement().to_string().as_bytes(),
            OTHER_KEY,
        );
        assert_eq!(
            verify_jws(jws.as_bytes()),
            Err(SignatureError::BadSignature)
        );

        // Payload swapped after signing.
        let jws = signed("RS256", true);
        let parts: Vec<&str> = jws.split('.').collect();
        let tampered = format!("{}.{}.{}", parts[0], b64(br#"{"id":"evil"}"#), parts[2]);
        assert_eq!(
            verify_jws(tampered.as_bytes()),
            Err(SignatureError::BadSignature)
        );

        // Header claims RS512 but the signature was made with SHA-256.
        let header = json!({"alg": "RS512", "x5c": [x5c_of(SIGNER_CERT)]});
        let payload = statement().to_string();
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(payload.as_bytes())
        );
        let key = RsaPrivateKey::from_pkcs8_pem(SIGNER_KEY).unwrap();
        let sig = rsa::pkcs1v15::SigningKey::<Sha256>::new(key)
            .sign(input.as_bytes())
            .to_vec();
        let jws = format!("{input}.{}", b64(&sig));
        assert_eq!(
            verify_jws(jws.as_bytes()),
            Err(SignatureError::BadSignature)
        );

        // Truncated signature.
        let jws = signed("RS256", true);
        let (input, sig) = jws.rsplit_once('.').unwrap();
        let sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
        let cut = format!("{input}.{}", b64(&sig[..sig.len() - 1]));
        assert_eq!(
            verify_jws(cut.as_bytes()),
            Err(SignatureError::BadSignature)
        );
    }

    #[test]
    fn unsupported_algorithms() {
        for alg in ["HS256", "none", "ES256", "PS256", "rs256"] {
            let jws = sign(
                alg,
                &json!({"alg": alg}),
                statement().to_string().as_bytes(),
                SIGNER_KEY,
            );
            assert_eq!(
                verify_jws(jws.as_bytes()),
                Err(SignatureError::UnsupportedAlg(alg.into())),
                "{alg}"
            );
        }
        // "none" with the empty signature part of an unsecured JWS.
        let jws = format!("{}.{}.", b64(br#"{"alg":"none"}"#), b64(b"{}"));
        assert_eq!(
            verify_jws(jws.as_bytes()),
            Err(SignatureError::UnsupportedAlg("none".into()))
        );
        let jws = format!("{}.{}.c2ln", b64(br#"{"typ":"JWT"}"#), b64(b"{}"));
        assert_eq!(verify_jws(jws.as_bytes()), Err(SignatureError::MissingAlg));
        let jws = format!("{}.{}.c2ln", b64(br#"{"alg":256}"#), b64(b"{}"));
        assert_eq!(verify_jws(jws.as_bytes()), Err(SignatureError::MissingAlg));
    }

    #[test]
    fn crit_is_refused() {
        let header = json!({"alg": "RS256", "crit": ["b64"], "b64": false});
        let jws = sign(
            "RS256",
            &header,
            statement().to_string().as_bytes(),
            SIGNER_KEY,
        );
        assert!(matches!(
            verify_jws(jws.as_bytes()),
            Err(SignatureError::Critical(_))
        ));
    }

    #[test]
    fn malformed_compact_form() {
        assert_eq!(verify_jws(b""), Err(SignatureError::Empty));
        assert_eq!(verify_jws(b"  \n"), Err(SignatureError::Empty));
        assert_eq!(verify_jws(b"abc.def"), Err(SignatureError::SegmentCount(2)));
        assert_eq!(
            verify_jws(b"a.b.c.d.e"),
            Err(SignatureError::SegmentCount(5))
        );
        assert_eq!(verify_jws(b"not a jws"), Err(SignatureError::NotAscii));
        assert_eq!(verify_jws(b"\xff\xfe.a.b"), Err(SignatureError::NotAscii));
        let jws = signed("RS256", false);
        let parts: Vec<&str> = jws.split('.').collect();
        assert_eq!(
            verify_jws(format!(".{}.{}", parts[1], parts[2]).as_bytes()),
            Err(SignatureError::EmptySegment { segment: "header" })
        );
        assert_eq!(
            verify_jws(format!("{}..{}", parts[0], parts[2]).as_bytes()),
            Err(SignatureError::EmptySegment { segment: "payload" })
        );
        assert_eq!(
            verify_jws(format!("{}.{}.", parts[0], parts[1]).as_bytes()),
            Err(SignatureError::EmptySegment {
                segment: "signature"
            })
        );
        // Header that is JSON but not an object, or not JSON.
        let e = verify_jws(format!("{}.{}.{}", b64(b"[1]"), parts[1], parts[2]).as_bytes())
            .unwrap_err();
        assert!(matches!(e, SignatureError::Header(_)), "{e}");
        let e = verify_jws(format!("{}.{}.{}", b64(b"{alg"), parts[1], parts[2]).as_bytes())
            .unwrap_err();
        assert!(matches!(e, SignatureError::Header(_)), "{e}");
    }

    #[test]
    fn json_serialization_is_refused() {
        let jws = signed("RS256", false);
        let parts: Vec<&str> = jws.split('.').collect();
        let flattened = json!({"protected": parts[0], "payload": parts[1], "signature": parts[2]});
        assert_eq!(
            verify_jws(flattened.to_string().as_bytes()),
            Err(SignatureError::JsonSerialization)
        );
        let general = json!({"payload": parts[1], "signatures": [{"protected": parts[0], "signature": parts[2]}]});
        assert_eq!(
            verify_jws(format!("\n {general}").as_bytes()),
            Err(SignatureError::JsonSerialization)
        );
    }

    #[test]
    fn bad_base64() {
        let jws = signed("RS256", true);
        let parts: Vec<&str> = jws.split('.').collect();
        for (i, segment) in ["header", "payload", "signature"].into_iter().enumerate() {
            let mut p: Vec<String> = parts.iter().map(|s| s.to_string()).collect();
            p[i] = format!("{}*!", &p[i][..p[i].len() - 2]);
            let e = verify_jws(p.join(".").as_bytes()).unwrap_err();
            assert!(
                matches!(e, SignatureError::Base64 { segment: s, .. } if s == segment),
                "{e}"
            );
        }
        // Standard-alphabet characters are not base64url.
        let bad = format!("{}.{}.ab+/", parts[0], parts[1]);
        assert!(matches!(
            verify_jws(bad.as_bytes()),
            Err(SignatureError::Base64 {
                segment: "signature",
                ..
            })
        ));
        // Padding is tolerated.
        let header = b64(br#"{"alg": "RS256"}"#);
        assert_eq!(header.len() % 4, 2);
        let padded = format!("{header}==.{}.{}", parts[1], parts[2]);
        assert!(verify_jws(padded.as_bytes()).is_ok());
    }

    #[test]
    fn payload_must_be_a_json_object() {
        let header = json!({"alg": "RS256", "x5c": [x5c_of(SIGNER_CERT)]});
        // The conformance suite's "breakJson": a quote replaced by an apostrophe.
        let broken = statement().to_string().replacen('"', "'", 1);
        let jws = sign("RS256", &header, broken.as_bytes(), SIGNER_KEY);
        assert!(matches!(
            verify_jws(jws.as_bytes()),
            Err(SignatureError::PayloadNotJson(_))
        ));
        let jws = sign("RS256", &header, b"[1,2]", SIGNER_KEY);
        assert_eq!(
            verify_jws(jws.as_bytes()),
            Err(SignatureError::PayloadNotObject("an array"))
        );
        let jws = sign("RS256", &json!({"alg": "RS256"}), b"\"str\"", SIGNER_KEY);
        assert_eq!(
            verify_jws(jws.as_bytes()),
            Err(SignatureError::PayloadNotObject("a string"))
        );
    }

    #[test]
    fn payload_keeps_member_order() {
        let payload = br#"{"verb":{"id":"v"},"actor":{"mbox":"mailto:a@b.c"},"id":"x"}"#;
        let jws = sign("RS256", &json!({"alg": "RS256"}), payload, SIGNER_KEY);
        let v = verify_jws_detailed(jws.as_bytes()).unwrap();
        assert_eq!(v.payload_bytes, payload);
        let keys: Vec<&String> = v.payload.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["verb", "actor", "id"]);
    }

    #[test]
    fn bad_x5c_values() {
        let payload = statement().to_string();
        let cases = [
            json!({"alg": "RS256", "x5c": "MIIB"}),
            json!({"alg": "RS256", "x5c": []}),
            json!({"alg": "RS256", "x5c": [42]}),
            json!({"alg": "RS256", "x5c": ["***"]}),
            json!({"alg": "RS256", "x5c": ["aGVsbG8gd29ybGQ="]}),
        ];
        for header in cases {
            let jws = sign("RS256", &header, payload.as_bytes(), SIGNER_KEY);
            let e = verify_jws(jws.as_bytes()).unwrap_err();
            assert!(matches!(e, SignatureError::X5c(_)), "{header}: {e}");
        }
    }

    #[test]
    fn error_messages_are_clear() {
        assert_eq!(
            SignatureError::UnsupportedAlg("HS256".into()).to_string(),
            "JWS algorithm \"HS256\" is not allowed: the signature must use RS256, RS384 or RS512"
        );
        assert_eq!(
            SignatureError::BadSignature.to_string(),
            "JWS signature does not verify against the public key of the first x5c certificate"
        );
    }
}
