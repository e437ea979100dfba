//! Capture: enrolment codes from the real CLI, the enrolment exchange, the capture
//! policy and the learner's own figures (`enrolment`), and what a credential bound to
//! a learner may do on /xapi/ (`bound`).

mod bound;
mod enrolment;

use commonplace::auth::NewSecret;
use commonplace::store::reports::replace_roster;
use serde_json::{json, Value};

use crate::helpers::TestApp;

const READ: &str = "https://w3id.org/xapi/dod-isd/verbs/read";
const ROSTER: &str = "learner,name,team,manager,opt_out,also\n\
    mailto:ada@example.org,Ada Lovelace,Design,mailto:grace@example.org,,account:https://hr.example.org|77\n\
    mailto:bob@example.org,Bob,Design,mailto:grace@example.org,,\n\
    mailto:cy@example.org,Cy,Ops,mailto:grace@example.org,yes,\n";

/// Runs `commonplace capture ARGS` against the test app's database; stdout on success.
fn capture_cli(app: &TestApp, args: &[&str]) -> Result<String, String> {
    app.command(&[&["capture"], args].concat())
}

/// `capture invite --json` for `learner`, with extra arguments; the code and URL.
fn invite(app: &TestApp, learner: &str, extra: &[&str]) -> (String, String) {
    let public_url = format!("http://{}", app.address);
    let mut args = vec!["invite", "--learner", learner, "--json"];
    args.extend(["--public-url", &public_url]);
    args.extend(extra);
    let out: Value = serde_json::from_str(&capture_cli(app, &args).unwrap()).unwrap();
    assert_eq!(out.as_object().unwrap().len(), 2, "{out}");
    (
        out["code"].as_str().unwrap().to_string(),
        out["url"].as_str().unwrap().to_string(),
    )
}

async fn enrol(app: &TestApp, code: &str) -> reqwest::Response {
    app.http
        .post(app.url("/capture/enrol"))
        .json(&json!({"code": code}))
        .send()
        .await
        .unwrap()
}

/// `capture codes list --json`.
fn listed_codes(app: &TestApp) -> Value {
    serde_json::from_str(&capture_cli(app, &["codes", "list", "--json"]).unwrap()).unwrap()
}

/// The bound credential of an enrolment answer.
fn bound_credential(enrolment: &Value) -> NewSecret {
    NewSecret {
        key: enrolment["key"].as_str().unwrap().to_string(),
        secret: enrolment["secret"].as_str().unwrap().to_string(),
    }
}

/// Enrols `learner` and returns the bound credential.
async fn enrolled(app: &TestApp, learner: &str) -> NewSecret {
    let (code, _) = invite(app, learner, &[]);
    bound_credential(&enrol(app, &code).await.json().await.unwrap())
}

async fn with_roster(app: &TestApp) {
    let entries = commonplace::roster::parse(ROSTER).unwrap();
    replace_roster(&app.pool, app.default_store_id().await, &entries)
        .await
        .unwrap();
}

fn read(actor: Value, page: &str) -> Value {
    json!({
        "actor": actor,
        "verb": {"id": READ, "display": {"en": "read"}},
        "object": {"id": page, "definition": {"type": "https://w3id.org/xapi/acrossx/activities/webpage"}}
    })
}

fn mbox(address: &str) -> Value {
    json!({"objectType": "Agent", "mbox": format!("mailto:{address}")})
}

/// `actor` voids the Statement `target`.
fn voiding(actor: Value, target: &str) -> Value {
    json!({"actor": actor,
           "verb": {"id": "http://adlnet.gov/expapi/verbs/voided"},
           "object": {"objectType": "StatementRef", "id": target}})
}

/// The `all` credential, as the operator (an LMS, a report reader) holds it.
fn operator(app: &TestApp) -> NewSecret {
    NewSecret {
        key: app.key.clone(),
        secret: app.secret.clone(),
    }
}

/// GET /xapi/statements?`query` with `who`'s credential.
async fn get_statements_as(app: &TestApp, who: &NewSecret, query: &str) -> reqwest::Response {
    app.xapi_as(
        who,
        reqwest::Method::GET,
        &format!("/xapi/statements?{query}"),
    )
    .send()
    .await
    .unwrap()
}

/// POST /xapi/statements of `body` with `who`'s credential.
async fn post_as(app: &TestApp, who: &NewSecret, body: &Value) -> reqwest::Response {
    app.xapi_as(who, reqwest::Method::POST, "/xapi/statements")
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn get_as(app: &TestApp, who: &NewSecret, path: &str) -> reqwest::Response {
    app.http
        .get(app.url(path))
        .basic_auth(&who.key, Some(&who.secret))
        .send()
        .await
        .unwrap()
}
