//! Micro-benchmarks of the CPU work behind the API (criterion): parse + validate a
//! small, a typical and a large Statement, a batch of 100, the `canonical` and `ids`
//! formats, and JWS verification of a signed Statement.
//!
//! Run: `cargo bench --bench micro` (reports in `target/criterion/`; `benches/load.rs`
//! copies their means into `benches/RESULTS.md` when it runs afterwards).

use std::time::Duration;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use commonplace::workload::Workload;
use commonplace::xapi::format::{canonical, ids};
use commonplace::xapi::json::parse_json;
use commonplace::xapi::signature::verify_jws;
use commonplace::xapi::statement::{parse_statement, parse_statements};
use commonplace::xapi::Version;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::DecodePrivateKey as _;
use rsa::signature::{SignatureEncoding as _, Signer as _};
use serde_json::{json, Value};
use sha2::Sha256;

const KEY: &str = include_str!("../conformance/data/signatures/signer-key.pem");
const CERT: &str = include_str!("../conformance/data/signatures/signer-cert.pem");
const DEPTH: usize = 64;

fn small() -> Value {
    json!({
        "actor": {"mbox": "mailto:learner1@example.org"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"},
        "object": {"id": "https://example.org/pages/1"}
    })
}

/// A course Statement of the shared workload (registration, context, result).
fn typical() -> Value {
    let mut workload = Workload::new(7);
    loop {
        let statement = workload.statement();
        if statement
            .get("context")
            .and_then(|c| c.get("registration"))
            .is_some()
        {
            return statement;
        }
    }
}

/// A typical Statement carrying a 40-choice interaction in 5 languages, 50 `other`
/// context Activities and a 300-event extension log (about 60 KB).
fn large() -> Value {
    let mut statement = typical();
    let languages = ["en-US", "fr-FR", "de-DE", "es-ES", "ja-JP"];
    let names = |text: &str| -> Value {
        languages
            .iter()
            .map(|l| (l.to_string(), json!(format!("{text} ({l})"))))
            .collect::<serde_json::Map<_, _>>()
            .into()
    };
    statement["object"] = json!({
        "objectType": "Activity",
        "id": "https://lms.example.org/courses/1/modules/1/assessment",
        "definition": {
            "name": names("Final assessment"),
            "description": names("Forty questions on the whole course"),
            "type": "http://adlnet.gov/expapi/activities/assessment",
            "interactionType": "choice",
            "correctResponsesPattern": ["c7[,]c12"],
            "choices": (0..40).map(|i| json!({"id": format!("c{i}"), "description": names(&format!("Option {i}"))})).collect::<Vec<_>>()
        }
    });
    let context = statement["context"]
        .as_object_mut()
        .expect("course context");
    context["contextActivities"]["other"] = (0..50)
        .map(|i| json!({"id": format!("https://lms.example.org/resources/{i}"), "definition": {"name": {"en-US": format!("Resource {i}")}}}))
        .collect::<Vec<_>>()
        .into();
    context.insert(
        "extensions".into(),
        json!({"https://example.org/xapi/extensions/log": (0..300).map(|i| json!({"t": i, "event": "seek", "position": i * 3, "note": "the learner moved through the video"})).collect::<Vec<_>>()}),
    );
    statement
}

fn sign(statement: &Value) -> String {
    let x5c: String = CERT.lines().filter(|l| !l.starts_with("-----")).collect();
    let header = json!({ "alg": "RS256", "x5c": [x5c] });
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(statement.to_string())
    );
    let key = rsa::RsaPrivateKey::from_pkcs8_pem(KEY).expect("test key");
    let signature = SigningKey::<Sha256>::new(key)
        .sign(input.as_bytes())
        .to_vec();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse_validate");
    for (name, statement) in [
        ("small", small()),
        ("typical", typical()),
        ("large", large()),
    ] {
        let bytes = serde_json::to_vec(&statement).unwrap();
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(name), &bytes, |b, bytes| {
            b.iter(|| {
                let value = parse_json(bytes, DEPTH).unwrap();
                parse_statement(value, Version::V2_0_0, "statement").unwrap()
            })
        });
    }
    let batch = serde_json::to_vec(&Workload::new(3).batch(100)).unwrap();
    group.throughput(Throughput::Elements(100));
    group.bench_with_input(
        BenchmarkId::from_parameter("batch_100"),
        &batch,
        |b, bytes| {
            b.iter(|| {
                let value = parse_json(bytes, DEPTH).unwrap();
                parse_statements(value, Version::V2_0_0).unwrap()
            })
        },
    );
    group.finish();
}

fn formats(c: &mut Criterion) {
    let stored = parse_statement(typical(), Version::V2_0_0, "statement")
        .unwrap()
        .body;
    let languages = vec!["fr-FR".to_string(), "en".to_string()];
    let definition = json!({"name": {"en-US": "Canonical name", "fr-FR": "Nom canonique"}, "type": "http://adlnet.gov/expapi/activities/lesson"});
    let lookup = move |_: &str| Some(definition.clone());
    let mut group = c.benchmark_group("format");
    group.bench_function("canonical", |b| {
        b.iter(|| canonical(&stored, &languages, &lookup))
    });
    group.bench_function("ids", |b| b.iter(|| ids(&stored)));
    group.finish();
}

fn signatures(c: &mut Criterion) {
    let jws = sign(&typical());
    c.bench_function("verify_jws/rs256_x5c", |b| {
        b.iter(|| verify_jws(jws.as_bytes()).unwrap())
    });
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50)
}

criterion_group! {
    name = benches;
    config = config();
    targets = parse, formats, signatures
}
criterion_main!(benches);
