//! Data §2.6: Signed Statements.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use reqwest::Method;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::DecodePrivateKey as _;
use rsa::signature::{SignatureEncoding as _, Signer as _};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::comm_1_5_attachments::{send_mixed, sha256_hex};
use crate::common::*;

const KEY: &str = include_str!("../data/signatures/signer-key.pem");
const CERT: &str = include_str!("../data/signatures/signer-cert.pem");
const OTHER_CERT: &str = include_str!("../data/signatures/other-cert.pem");
const SIGNATURE: &str = "http://adlnet.gov/expapi/attachments/signature";

fn x5c(pem: &str) -> String {
    pem.lines().filter(|l| !l.starts_with("-----")).collect()
}

fn sign(payload: &Value, cert: &str) -> String {
    let header = json!({"alg": "RS256", "x5c": [x5c(cert)]});
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(payload.to_string())
    );
    let key = rsa::RsaPrivateKey::from_pkcs8_pem(KEY).unwrap();
    let sig = SigningKey::<Sha256>::new(key)
        .sign(input.as_bytes())
        .to_vec();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

/// `statement` with a signature attachment over `payload`, and the JWS part.
fn signed(
    statement: &Value,
    jws: &str,
    content_type: &str,
) -> (Value, Vec<(commonplace::xapi::multipart::Headers, Vec<u8>)>) {
    let mut s = statement.clone();
    s["attachments"] = json!([{
        "usageType": SIGNATURE,
        "display": {"en-US": "Signature"},
        "contentType": content_type,
        "length": jws.len(),
        "sha2": sha256_hex(jws.as_bytes()),
    }]);
    let headers = vec![
        ("Content-Type".to_string(), content_type.to_string()),
        (
            "Content-Transfer-Encoding".to_string(),
            "binary".to_string(),
        ),
        (
            "X-Experience-API-Hash".to_string(),
            sha256_hex(jws.as_bytes()),
        ),
    ];
    (s, vec![(headers, jws.as_bytes().to_vec())])
}

/// POSTs `statement` signed by `jws` (declared with `content_type`) as multipart/mixed.
async fn post_signed(
    app: &TestApp,
    version: &str,
    statement: &Value,
    jws: &str,
    content_type: &str,
) -> reqwest::Response {
    let (body, parts) = signed(statement, jws, content_type);
    send_mixed(
        app,
        Method::POST,
        "/xapi/statements",
        version,
        &body,
        &parts,
    )
    .await
}

fn base() -> Value {
    let mut s = with_id(statement("ada", "a"), uuid::Uuid::new_v4());
    s["timestamp"] = json!("2024-01-02T03:04:05.678Z");
    s
}

#[tokio::test]
async fn data_2_6_good_signature_is_200() {
    let app = spawn_app().await;
    for version in VERSIONS {
        let s = base();
        let response = post_signed(
            &app,
            version,
            &s,
            &sign(&s, CERT),
            "application/octet-stream",
        )
        .await;
        let status = response.status();
        assert_eq!(status, 200, "{version}: {}", response.text().await.unwrap());
    }
}

#[tokio::test]
async fn data_2_6_signature_over_equivalent_statement_is_200() {
    let app = spawn_app().await;
    // The signed payload may leave out LRS-set properties or order keys differently.
    let s = base();
    let mut payload = s.clone();
    payload.as_object_mut().unwrap().remove("id");
    payload["actor"]["mbox"] = json!("mailto:ADA@EXAMPLE.COM".to_lowercase());
    let response = post_signed(
        &app,
        V2,
        &s,
        &sign(&payload, CERT),
        "application/octet-stream",
    )
    .await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn data_2_6_bad_signature_is_400() {
    let app = spawn_app().await;
    for version in VERSIONS {
        let s = base();
        let response = post_signed(
            &app,
            version,
            &s,
            &sign(&s, OTHER_CERT),
            "application/octet-stream",
        )
        .await;
        assert_400(response, version).await;
        // A tampered signature segment.
        let mut jws = sign(&s, CERT);
        let last = jws.pop().unwrap();
        jws.push(if last == 'A' { 'B' } else { 'A' });
        let response = post_signed(&app, version, &s, &jws, "application/octet-stream").await;
        assert_400(response, version).await;
        // Not a JWS at all.
        let response =
            post_signed(&app, version, &s, "not a jws", "application/octet-stream").await;
        assert_400(response, version).await;
    }
    assert_nothing_stored(&app, "bad signatures").await;
}

#[tokio::test]
async fn data_2_6_payload_differing_from_statement_is_400() {
    let app = spawn_app().await;
    for version in VERSIONS {
        let s = base();
        let mut payload = s.clone();
        payload["verb"]["id"] = json!("http://example.com/verbs/other");
        let response = post_signed(
            &app,
            version,
            &s,
            &sign(&payload, CERT),
            "application/octet-stream",
        )
        .await;
        assert_400(response, version).await;
        let mut payload = s.clone();
        payload["result"] = json!({"success": true});
        let response = post_signed(
            &app,
            version,
            &s,
            &sign(&payload, CERT),
            "application/octet-stream",
        )
        .await;
        assert_400(response, version).await;
    }
    assert_nothing_stored(&app, "payload mismatch").await;
}

#[tokio::test]
async fn data_2_6_signature_content_type_not_octet_stream_is_400() {
    let app = spawn_app().await;
    for version in VERSIONS {
        let s = base();
        let response = post_signed(&app, version, &s, &sign(&s, CERT), "application/jose").await;
        assert_400(response, version).await;
    }
    assert_nothing_stored(&app, "signature content type").await;
}

#[tokio::test]
async fn data_2_6_signed_statement_is_returned_with_its_signature() {
    let app = spawn_app().await;
    let s = base();
    let jws = sign(&s, CERT);
    let response = post_signed(&app, V2, &s, &jws, "application/octet-stream").await;
    assert_eq!(response.status(), 200);
    let id = s["id"].as_str().unwrap();
    let response = req(
        &app,
        Method::GET,
        &format!("/xapi/statements?statementId={id}&attachments=true"),
        V2,
    )
    .send()
    .await
    .unwrap();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    let boundary = commonplace::xapi::multipart::boundary_of(&content_type).unwrap();
    let parts =
        commonplace::xapi::multipart::parse_mixed(&response.bytes().await.unwrap(), &boundary)
            .unwrap();
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[1].body, jws.as_bytes());
}

#[tokio::test]
async fn data_2_6_signature_in_a_batch_checks_its_own_statement() {
    let app = spawn_app().await;
    let a = base();
    let mut b = base();
    b["actor"] = agent("bob");
    // b carries a signature of a: invalid.
    let (signed_b, parts) = signed(&b, &sign(&a, CERT), "application/octet-stream");
    let response = send_mixed(
        &app,
        Method::POST,
        "/xapi/statements",
        V2,
        &json!([a.clone(), signed_b]),
        &parts,
    )
    .await;
    assert_400(response, "signature of another statement").await;
    let (signed_a, parts) = signed(&a, &sign(&a, CERT), "application/octet-stream");
    let response = send_mixed(
        &app,
        Method::POST,
        "/xapi/statements",
        V2,
        &json!([b, signed_a]),
        &parts,
    )
    .await;
    assert_eq!(response.status(), 200);
}
