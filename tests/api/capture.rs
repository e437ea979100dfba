//! Capture: enrolment codes from the real CLI, the enrolment exchange, the capture
//! policy, and what a credential bound to a learner may do on /xapi/.

use std::process::Command;

use commonplace::auth::NewSecret;
use commonplace::store::reports::replace_roster;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{error_of, spawn_app, TestApp};

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

/// Enrols `learner` and returns the bound credential.
async fn enrolled(app: &TestApp, learner: &str) -> NewSecret {
    let (code, _) = invite(app, learner, &[]);
    let body: Value = enrol(app, &code).await.json().await.unwrap();
    NewSecret {
        key: body["key"].as_str().unwrap().to_string(),
        secret: body["secret"].as_str().unwrap().to_string(),
    }
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

async fn get_as(app: &TestApp, who: &NewSecret, path: &str) -> reqwest::Response {
    app.http
        .get(app.url(path))
        .basic_auth(&who.key, Some(&who.secret))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_code_enrols_once_and_unknown_codes_are_not_found() {
    let app = spawn_app().await;
    with_roster(&app).await;
    let (code, url) = invite(&app, "mailto:ada@example.org", &[]);
    assert_eq!(
        url,
        format!("http://{}/capture/enrol?code={code}", app.address)
    );

    // The invitation's page carries what the extension's content script reads.
    let page = app.http.get(&url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains(&format!(
        r#"<meta name="commonplace-enrol-code" content="{code}">"#
    )));
    assert!(html.contains(&format!(
        r#"<meta name="commonplace-enrol-endpoint" content="http://{}/">"#,
        app.address
    )));

    let response = enrol(&app, &code).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["endpoint"], format!("http://{}/xapi/", app.address));
    assert_eq!(
        body["actor"],
        json!({"objectType": "Agent", "mbox": "mailto:ada@example.org", "name": "Ada Lovelace"})
    );
    let bound = NewSecret {
        key: body["key"].as_str().unwrap().into(),
        secret: body["secret"].as_str().unwrap().into(),
    };
    // The credential is tagged as browser capture and bound to the learner.
    let listed = app.command(&["credentials", "list", "--json"]).unwrap();
    let listed: Value = serde_json::from_str(&listed).unwrap();
    let credential = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["key"] == bound.key.as_str())
        .unwrap();
    assert_eq!(
        credential["tags"],
        json!({"learner": "mbox:mailto:ada@example.org", "source": "browser"})
    );
    assert_eq!(
        credential["scopes"],
        json!([
            "statements/write",
            "statements/read/mine",
            "state",
            "profile"
        ])
    );

    let (status, error, _) = error_of(enrol(&app, &code).await).await;
    assert_eq!((status, error.as_str()), (410, "enrolment_code_used"));
    let (status, error, _) = error_of(enrol(&app, "no-such-code").await).await;
    assert_eq!((status, error.as_str()), (404, "enrolment_code_unknown"));
    let bad = app
        .http
        .post(app.url("/capture/enrol"))
        .json(&json!({"token": code}))
        .send()
        .await
        .unwrap();
    let (status, error, message) = error_of(bad).await;
    assert_eq!((status, error.as_str()), (400, "invalid_body"), "{message}");

    let codes: Value =
        serde_json::from_str(&capture_cli(&app, &["codes", "list", "--json"]).unwrap()).unwrap();
    let codes = codes.as_array().unwrap();
    assert_eq!(codes.len(), 1);
    assert_eq!(codes[0]["learner"], "mbox:mailto:ada@example.org");
    assert!(codes[0]["used"].is_string());
    assert!(
        !codes[0].to_string().contains(&code),
        "codes are kept hashed"
    );
}

#[tokio::test]
async fn redemptions_at_once_give_one_credential() {
    let app = spawn_app().await;
    let (code, _) = invite(&app, "mailto:ada@example.org", &[]);
    let all = futures_util::future::join_all((0..8).map(|_| enrol(&app, &code))).await;
    let mut statuses: Vec<u16> = all.iter().map(|r| r.status().as_u16()).collect();
    statuses.sort();
    assert_eq!(statuses, [200, 410, 410, 410, 410, 410, 410, 410]);
}

#[tokio::test]
async fn expired_and_revoked_codes_are_gone() {
    let app = spawn_app().await;
    let (expiring, _) = invite(&app, "mailto:ada@example.org", &["--expires", "1s"]);
    let (revoked, _) = invite(&app, "mailto:bob@example.org", &[]);
    let codes: Value =
        serde_json::from_str(&capture_cli(&app, &["codes", "list", "--json"]).unwrap()).unwrap();
    let id = codes
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["learner"] == "mbox:mailto:bob@example.org")
        .unwrap()["id"]
        .to_string();
    capture_cli(&app, &["codes", "revoke", &id]).unwrap();
    assert!(capture_cli(&app, &["codes", "revoke", &id]).is_err());
    assert!(capture_cli(&app, &["invite", "--learner", "ada", "--json"]).is_err());

    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let (status, error, _) = error_of(enrol(&app, &expiring).await).await;
    assert_eq!((status, error.as_str()), (410, "enrolment_code_expired"));
    let (status, error, _) = error_of(enrol(&app, &revoked).await).await;
    assert_eq!((status, error.as_str()), (410, "enrolment_code_revoked"));
}

#[tokio::test]
async fn a_roster_invitation_leaves_out_opted_out_learners() {
    let app = spawn_app().await;
    with_roster(&app).await;
    let csv_path = tempfile::NamedTempFile::new().unwrap();
    let path = csv_path.path().to_str().unwrap();
    capture_cli(&app, &["invite", "--roster", "--output", path]).unwrap();
    let csv = std::fs::read_to_string(path).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "learner,name,code,url");
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(lines[1].starts_with("mailto:ada@example.org,Ada Lovelace,"));
    assert!(lines[2].starts_with("mailto:bob@example.org,Bob,"));
    assert!(!csv.contains("cy@example.org"));
    let code = lines[2].split(',').nth(2).unwrap();
    assert_eq!(enrol(&app, code).await.status(), 200);
}

#[tokio::test]
async fn the_policy_carries_the_store_settings_and_the_roster() {
    let app = spawn_app().await;
    with_roster(&app).await;
    let bound = enrolled(&app, "mailto:ada@example.org").await;
    let policy: Value = get_as(&app, &bound, "/capture/policy")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(policy["minimumDwellSeconds"], 30);
    assert_eq!(policy["siteOnly"], false);
    assert_eq!(policy["deniedHosts"], json!([]));

    app.command(&["hosts", "deny", "mail.example.org"]).unwrap();
    let set = capture_cli(
        &app,
        &[
            "policy",
            "--minimum-dwell",
            "5",
            "--site-only",
            "true",
            "--json",
        ],
    )
    .unwrap();
    let set: Value = serde_json::from_str(&set).unwrap();
    assert_eq!(set["minimumDwellSeconds"], 5);

    let response = get_as(&app, &bound, "/capture/policy").await;
    assert_eq!(response.status(), 200);
    let policy: Value = response.json().await.unwrap();
    assert_eq!(policy["deniedHosts"], json!(["mail.example.org"]));
    assert_eq!(policy["minimumDwellSeconds"], 5);
    assert_eq!(policy["siteOnly"], true);
    assert_eq!(policy["name"], "Ada Lovelace");
    assert_eq!(policy["team"]["objectType"], "Group");
    assert_eq!(policy["team"]["name"], "Design");
    assert_eq!(policy["team"]["account"]["name"], "Design");
    assert_eq!(policy["actor"]["mbox"], "mailto:ada@example.org");

    // Only a bound credential may ask.
    let operator = NewSecret {
        key: app.key.clone(),
        secret: app.secret.clone(),
    };
    let (status, error, _) = error_of(get_as(&app, &operator, "/capture/policy").await).await;
    assert_eq!((status, error.as_str()), (403, "forbidden"));
}

#[tokio::test]
async fn a_bound_credential_writes_only_as_its_learner() {
    let app = spawn_app().await;
    with_roster(&app).await;
    let bound = enrolled(&app, "mailto:ada@example.org").await;
    let before = app.stored_statements().await;

    let batch = json!([
        read(mbox("ada@example.org"), "https://news.example.net/a"),
        read(mbox("bob@example.org"), "https://news.example.net/b"),
    ]);
    let refused = app
        .xapi_as(&bound, Method::POST, "/xapi/statements")
        .json(&batch)
        .send()
        .await
        .unwrap();
    let (status, error, message) = error_of(refused).await;
    assert_eq!((status, error.as_str()), (403, "forbidden"));
    assert!(message.starts_with("statement[1].actor"), "{message}");
    assert_eq!(app.stored_statements().await, before, "nothing was stored");

    let id = uuid::Uuid::new_v4();
    let put = app
        .xapi_as(
            &bound,
            Method::PUT,
            &format!("/xapi/statements?statementId={id}"),
        )
        .json(&read(mbox("bob@example.org"), "https://news.example.net/b"))
        .send()
        .await
        .unwrap();
    let (status, _, message) = error_of(put).await;
    assert_eq!(status, 403);
    assert!(message.starts_with("statement.actor"), "{message}");

    // A Group under the learner's IFI with another learner as a member: the plain
    // `agent` filter would list it as that member's Statement.
    let group = json!({"objectType": "Group", "mbox": "mailto:ada@example.org",
                       "member": [mbox("bob@example.org")]});
    let refused = app
        .xapi_as(&bound, Method::POST, "/xapi/statements")
        .json(&json!([read(group, "https://news.example.net/b")]))
        .send()
        .await
        .unwrap();
    let (status, _, message) = error_of(refused).await;
    assert_eq!(status, 403);
    assert!(
        message.starts_with("statement[0].actor: mbox:mailto:bob@example.org"),
        "{message}"
    );
    assert_eq!(app.stored_statements().await, before, "nothing was stored");

    // The learner's roster alias is the learner.
    let alias = json!({"account": {"homePage": "https://hr.example.org", "name": "77"}});
    let accepted = app
        .xapi_as(&bound, Method::POST, "/xapi/statements")
        .json(&json!([
            read(mbox("ada@example.org"), "https://news.example.net/a"),
            read(alias, "https://news.example.net/c"),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), 200);
    assert_eq!(app.stored_statements().await, before + 2);
}

#[tokio::test]
async fn a_bound_credential_reads_and_voids_only_its_own_statements() {
    let app = spawn_app().await;
    let bound = enrolled(&app, "mailto:ada@example.org").await;
    // Another credential's Statement, even about the same learner.
    let theirs: Vec<String> = app
        .xapi(Method::POST, "/xapi/statements")
        .json(&read(
            mbox("ada@example.org"),
            "https://lms.example.org/course",
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mine: Vec<String> = app
        .xapi_as(&bound, Method::POST, "/xapi/statements")
        .json(&read(mbox("ada@example.org"), "https://news.example.net/a"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    let one = app
        .xapi_as(
            &bound,
            Method::GET,
            &format!("/xapi/statements?statementId={}", theirs[0]),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(one.status(), 404);
    let all: Value = app
        .xapi_as(&bound, Method::GET, "/xapi/statements")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = all["statements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [mine[0].as_str()]);

    let void = |target: &str| {
        json!({"actor": mbox("ada@example.org"),
               "verb": {"id": "http://adlnet.gov/expapi/verbs/voided"},
               "object": {"objectType": "StatementRef", "id": target}})
    };
    let refused = app
        .xapi_as(&bound, Method::POST, "/xapi/statements")
        .json(&json!([void(&theirs[0])]))
        .send()
        .await
        .unwrap();
    let (status, error, message) = error_of(refused).await;
    assert_eq!((status, error.as_str()), (403, "forbidden"));
    assert!(message.starts_with("statement[0].object.id"), "{message}");
    let voided = app
        .xapi_as(&bound, Method::POST, "/xapi/statements")
        .json(&void(&mine[0]))
        .send()
        .await
        .unwrap();
    assert_eq!(voided.status(), 200);
    let gone = app
        .xapi(
            Method::GET,
            &format!("/xapi/statements?statementId={}", mine[0]),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 404, "the learner's own Statement was voided");
}

#[tokio::test]
async fn resending_another_credentials_statement_does_not_let_a_bound_credential_void_it() {
    let app = spawn_app().await;
    let bound = enrolled(&app, "mailto:ada@example.org").await;
    // An LMS's Statement about the learner, whose body the learner can see (a course
    // in the browser sends it).
    let id = uuid::Uuid::new_v4().to_string();
    let mut theirs = read(
        mbox("ada@example.org"),
        "https://lms.example.org/failed-quiz",
    );
    theirs["id"] = json!(id);
    let stored = app
        .xapi(Method::POST, "/xapi/statements")
        .json(&theirs)
        .send()
        .await
        .unwrap();
    assert_eq!(stored.status(), 200);

    // The same Statement again (accepted as already stored) and a voiding of it.
    let void = json!({"actor": mbox("ada@example.org"),
                      "verb": {"id": "http://adlnet.gov/expapi/verbs/voided"},
                      "object": {"objectType": "StatementRef", "id": id}});
    let refused = app
        .xapi_as(&bound, Method::POST, "/xapi/statements")
        .json(&json!([theirs, void]))
        .send()
        .await
        .unwrap();
    let (status, error, message) = error_of(refused).await;
    assert_eq!((status, error.as_str()), (403, "forbidden"));
    assert!(message.starts_with("statement[1].object.id"), "{message}");
    let still_there = app
        .xapi(Method::GET, &format!("/xapi/statements?statementId={id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        still_there.status(),
        200,
        "the LMS's Statement is not voided"
    );

    // A Statement of its own sent with its voiding in one batch is still allowed.
    let own = uuid::Uuid::new_v4().to_string();
    let mut mine = read(mbox("ada@example.org"), "https://news.example.net/a");
    mine["id"] = json!(own);
    let mut void_own = void.clone();
    void_own["object"]["id"] = json!(own);
    let accepted = app
        .xapi_as(&bound, Method::POST, "/xapi/statements")
        .json(&json!([mine, void_own]))
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), 200);
}

#[tokio::test]
async fn a_bound_credential_keeps_documents_of_its_own_agent_only() {
    let app = spawn_app().await;
    with_roster(&app).await;
    let bound = enrolled(&app, "mailto:ada@example.org").await;
    let state_url = |agent: &Value| {
        format!(
            "/xapi/activities/state?{}",
            serde_urlencoded::to_string([
                ("activityId", "https://commonplace.dev/capture"),
                ("agent", &agent.to_string()),
                ("stateId", "outbox"),
            ])
            .unwrap()
        )
    };
    let profile_url = |agent: &Value| {
        format!(
            "/xapi/agents/profile?{}",
            serde_urlencoded::to_string([
                ("agent", agent.to_string().as_str()),
                ("profileId", "prefs")
            ])
            .unwrap()
        )
    };
    let send = |method: Method, url: String| {
        app.xapi_as(&bound, method, &url)
            .header("content-type", "application/json")
            .body(r#"{"paused": false}"#)
            .send()
    };
    let ada = mbox("ada@example.org");
    let bob = mbox("bob@example.org");
    let alias = json!({"account": {"homePage": "https://hr.example.org", "name": "77"}});

    for url in [state_url(&bob), profile_url(&bob)] {
        let (status, error, message) =
            error_of(send(Method::PUT, url.clone()).await.unwrap()).await;
        assert_eq!((status, error.as_str()), (403, "forbidden"), "{url}");
        assert!(message.contains("mailto:bob@example.org"), "{message}");
        let read = app.xapi_as(&bound, Method::GET, &url).send().await.unwrap();
        assert_eq!(read.status(), 403, "{url}");
    }
    for url in [state_url(&ada), profile_url(&ada), state_url(&alias)] {
        assert_eq!(
            send(Method::PUT, url.clone()).await.unwrap().status(),
            204,
            "{url}"
        );
        let read = app.xapi_as(&bound, Method::GET, &url).send().await.unwrap();
        assert_eq!(read.status(), 200, "{url}");
        assert_eq!(
            read.json::<Value>().await.unwrap(),
            json!({"paused": false})
        );
    }
    let activity_profile = format!(
        "/xapi/activities/profile?{}",
        serde_urlencoded::to_string([
            ("activityId", "https://commonplace.dev/capture"),
            ("profileId", "shared")
        ])
        .unwrap()
    );
    let (status, error, _) = error_of(send(Method::PUT, activity_profile).await.unwrap()).await;
    assert_eq!((status, error.as_str()), (403, "forbidden"));
}

#[tokio::test]
async fn the_learner_disconnects_and_the_credential_is_revoked() {
    let app = spawn_app().await;
    let bound = enrolled(&app, "mailto:ada@example.org").await;
    assert_eq!(get_as(&app, &bound, "/capture/policy").await.status(), 200);
    let deleted = app
        .http
        .delete(app.url("/capture/credential"))
        .basic_auth(&bound.key, Some(&bound.secret))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert_eq!(get_as(&app, &bound, "/capture/policy").await.status(), 401);
    let xapi = app
        .xapi_as(&bound, Method::GET, "/xapi/statements")
        .send()
        .await
        .unwrap();
    assert_eq!(xapi.status(), 401);
}

#[tokio::test]
async fn the_package_is_a_manifest_v3_zip() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("commonplace-capture.zip");
    let out = Command::new(env!("CARGO_BIN_EXE_commonplace"))
        .args(["capture", "package", "--output", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(&path).unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes.clone())).unwrap();
    let manifest: Value = {
        let file = archive
            .by_name("manifest.json")
            .expect("manifest.json at the root");
        serde_json::from_reader(file).unwrap()
    };
    assert_eq!(manifest["manifest_version"], 3);
    for i in 0..archive.len() {
        let name = archive.by_index(i).unwrap().name().unwrap().to_string();
        assert!(
            !name.split('/').any(|p| p.starts_with('.') || p == "tests"),
            "{name}"
        );
    }
    // The server hands out the same package.
    let served = app
        .http
        .get(app.url("/capture/extension.zip"))
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), 200);
    assert_eq!(served.headers()["content-type"], "application/zip");
    assert_eq!(served.bytes().await.unwrap().to_vec(), bytes);
}

#[tokio::test]
async fn me_shows_the_learners_reported_time_as_reported() {
    let app = spawn_app().await;
    let bound = enrolled(&app, "mailto:ada@example.org").await;
    let mut statement = read(
        mbox("ada@example.org"),
        "https://news.example.net/long-read",
    );
    statement["result"] = json!({"duration": "PT45.5S"});
    let posted = app
        .xapi_as(&bound, Method::POST, "/xapi/statements")
        .json(&statement)
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 200);

    let response = get_as(&app, &bound, "/capture/me").await;
    assert_eq!(response.status(), 200);
    let me: Value = response.json().await.unwrap();
    let mix = me["mix"].as_array().unwrap();
    let modes: Vec<&str> = mix.iter().map(|m| m["mode"].as_str().unwrap()).collect();
    assert_eq!(
        modes,
        ["directed", "guided", "self_planned", "self_directed"]
    );
    let self_directed = &mix[3];
    assert_eq!(self_directed["statements"], 1);
    assert_eq!(self_directed["reportedSeconds"], 45.5);
    assert_eq!(self_directed["estimatedSeconds"], 0.0);
    assert_eq!(mix[0]["statements"], 0);
    assert!(me["since"].as_str().unwrap() <= me["until"].as_str().unwrap());

    let bad = get_as(&app, &bound, "/capture/me?since=yesterday").await;
    let (status, error, _) = error_of(bad).await;
    assert_eq!((status, error.as_str()), (400, "invalid_parameter"));
}
