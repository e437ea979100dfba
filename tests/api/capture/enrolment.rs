//! Enrolment: codes from the real CLI, the exchange for a bound credential, the
//! capture policy, the learner's own figures, disconnecting, and the package.

use std::process::Command;

use serde_json::{json, Value};

use super::{
    bound_credential, capture_cli, enrol, enrolled, get_as, get_statements_as, invite,
    listed_codes, mbox, operator, post_as, read, with_roster,
};
use crate::helpers::{error_of, spawn_app};

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
    let bound = bound_credential(&body);
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

    let codes = listed_codes(&app);
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
    let codes = listed_codes(&app);
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
    let (status, error, _) = error_of(get_as(&app, &operator(&app), "/capture/policy").await).await;
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
    let xapi = get_statements_as(&app, &bound, "").await;
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
    let posted = post_as(&app, &bound, &statement).await;
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

#[tokio::test]
async fn a_learner_invited_by_a_roster_alias_is_named_as_the_roster_names_them() {
    let app = spawn_app().await;
    with_roster(&app).await;
    let (code, _) = invite(&app, "account:https://hr.example.org|77", &[]);
    let response = enrol(&app, &code).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["actor"],
        json!({"objectType": "Agent", "name": "Ada Lovelace",
               "account": {"homePage": "https://hr.example.org", "name": "77"}})
    );
    // Bound to the alias, it writes as the learner the alias belongs to as well.
    let bound = bound_credential(&body);
    let posted = post_as(
        &app,
        &bound,
        &read(mbox("ada@example.org"), "https://news.example.net/a"),
    )
    .await;
    assert_eq!(posted.status(), 200);
    // Someone the roster does not know enrols too, without a name.
    let (code, _) = invite(&app, "mailto:zed@example.org", &[]);
    let body: Value = enrol(&app, &code).await.json().await.unwrap();
    assert_eq!(body["actor"], mbox("zed@example.org"));
}

#[tokio::test]
async fn erasing_a_learner_revokes_their_capture_and_forgets_their_codes() {
    let app = spawn_app().await;
    let bound = enrolled(&app, "mailto:ada@example.org").await;
    invite(&app, "mailto:ada@example.org", &[]);
    let (bobs_code, _) = invite(&app, "mailto:bob@example.org", &[]);
    // (Not used before the erasure: this server would trust it from its cache for up
    // to 10 s, as it does any credential revoked by another process.)

    app.command(&[
        "erase",
        "--agent",
        r#"{"mbox":"mailto:ada@example.org"}"#,
        "--requested-by",
        "dpo@example.com",
    ])
    .unwrap();

    // Her browser records nothing more, and nothing kept for capture names her.
    let policy = get_as(&app, &bound, "/capture/policy").await;
    assert_eq!(policy.status(), 401);
    let codes = listed_codes(&app).to_string();
    assert!(!codes.contains("ada@example.org"), "{codes}");
    let credentials = app.command(&["credentials", "list", "--json"]).unwrap();
    assert!(!credentials.contains("ada@example.org"), "{credentials}");
    // Another learner's invitation is untouched.
    assert_eq!(enrol(&app, &bobs_code).await.status(), 200);
}
