//! Requirement tests of the document resources, named after the xAPI 1.0.3
//! Communication section they check (§2.2 Documents, §2.3 State, §2.6 Agent Profile,
//! §2.7 Activity Profile, with §3.1 Concurrency as documents use it). Every test runs
//! under both served versions unless the rule differs between them.

#[path = "../tests/api/helpers.rs"]
mod helpers;

use reqwest::{Method, Response};
use serde_json::{json, Value};

use helpers::{spawn_app, TestApp};

const VERSIONS: [&str; 2] = ["1.0.3", "2.0.0"];

/// One of the three document resources.
#[derive(Clone, Copy, Debug)]
enum Resource {
    State,
    ActivityProfile,
    AgentProfile,
}

const RESOURCES: [Resource; 3] = [
    Resource::State,
    Resource::ActivityProfile,
    Resource::AgentProfile,
];

impl Resource {
    fn path(self) -> &'static str {
        match self {
            Resource::State => "/xapi/activities/state",
            Resource::ActivityProfile => "/xapi/activities/profile",
            Resource::AgentProfile => "/xapi/agents/profile",
        }
    }

    fn id_param(self) -> &'static str {
        match self {
            Resource::State => "stateId",
            _ => "profileId",
        }
    }

    /// The context parameters for an activity and agent unique to `tag`.
    fn context(self, tag: &str) -> Vec<(&'static str, String)> {
        let activity = ("activityId", format!("http://example.org/activity/{tag}"));
        let agent = (
            "agent",
            json!({"objectType": "Agent", "mbox": format!("mailto:{tag}@example.org")}).to_string(),
        );
        match self {
            Resource::State => vec![activity, agent],
            Resource::ActivityProfile => vec![activity],
            Resource::AgentProfile => vec![agent],
        }
    }

    fn url(self, params: &[(&str, String)]) -> String {
        format!(
            "{}?{}",
            self.path(),
            serde_urlencoded::to_string(params).unwrap()
        )
    }

    /// The URL of document `id` in the context of `tag`.
    fn doc(self, tag: &str, id: &str) -> String {
        let mut params = self.context(tag);
        params.push((self.id_param(), id.to_string()));
        self.url(&params)
    }

    /// The URL of the list of ids (and, for State, the bulk delete) of `tag`.
    fn list(self, tag: &str) -> String {
        self.url(&self.context(tag))
    }
}

/// A context tag unique to one test, resource and version.
fn tag(test: &str, resource: Resource, version: &str) -> String {
    format!("{test}-{resource:?}-{}", version.replace('.', "")).to_lowercase()
}

async fn call(
    app: &TestApp,
    version: &str,
    method: Method,
    url: &str,
    body: Option<(&str, &[u8])>,
    headers: &[(&str, &str)],
) -> Response {
    let mut request = app
        .http
        .request(method, app.url(url))
        .basic_auth(&app.key, Some(&app.secret))
        .header("X-Experience-API-Version", version);
    if let Some((content_type, bytes)) = body {
        request = request
            .header("Content-Type", content_type)
            .body(bytes.to_vec());
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

async fn put_json(
    app: &TestApp,
    version: &str,
    url: &str,
    body: Value,
    headers: &[(&str, &str)],
) -> u16 {
    let bytes = body.to_string().into_bytes();
    call(
        app,
        version,
        Method::PUT,
        url,
        Some(("application/json", &bytes)),
        headers,
    )
    .await
    .status()
    .as_u16()
}

async fn post_json(app: &TestApp, version: &str, url: &str, body: Value) -> u16 {
    let bytes = body.to_string().into_bytes();
    call(
        app,
        version,
        Method::POST,
        url,
        Some(("application/json", &bytes)),
        &[],
    )
    .await
    .status()
    .as_u16()
}

async fn get(app: &TestApp, version: &str, url: &str) -> Response {
    call(app, version, Method::GET, url, None, &[]).await
}

async fn get_json(app: &TestApp, version: &str, url: &str) -> Value {
    let response = get(app, version, url).await;
    assert_eq!(response.status(), 200, "GET {url}");
    response.json().await.unwrap()
}

/// Runs the block for every resource under every version.
macro_rules! each_resource_and_version {
    ($resource:ident, $version:ident, $body:block) => {
        for $version in VERSIONS {
            for $resource in RESOURCES {
                $body
            }
        }
    };
}

// §2.2 Document Resources

#[tokio::test]
async fn comm_2_2_documents_about_unknown_activities_and_agents_are_accepted() {
    let app = spawn_app().await;
    each_resource_and_version!(resource, version, {
        let url = resource.doc(&tag("unknown", resource, version), "d");
        assert_eq!(
            put_json(&app, version, &url, json!({"a": 1}), &[]).await,
            204
        );
    });
}

#[tokio::test]
async fn comm_2_2_post_of_json_to_a_json_document_merges_top_level_properties_with_204() {
    let app = spawn_app().await;
    each_resource_and_version!(resource, version, {
        let url = resource.doc(&tag("merge", resource, version), "d");
        assert_eq!(
            post_json(
                &app,
                version,
                &url,
                json!({"x": "foo", "y": "bar", "o": {"a": 1}})
            )
            .await,
            204
        );
        assert_eq!(
            post_json(
                &app,
                version,
                &url,
                json!({"x": "bash", "z": "faz", "o": {"b": 2}})
            )
            .await,
            204
        );
        assert_eq!(
            get_json(&app, version, &url).await,
            json!({"x": "bash", "y": "bar", "z": "faz", "o": {"b": 2}}),
            "{resource:?} {version}"
        );
    });
}

#[tokio::test]
async fn comm_2_2_post_merge_when_either_document_is_not_json_is_400_and_changes_nothing() {
    let app = spawn_app().await;
    each_resource_and_version!(resource, version, {
        let t = tag("nonjson", resource, version);
        let json_doc = resource.doc(&t, "json");
        assert_eq!(
            post_json(&app, version, &json_doc, json!({"x": 1})).await,
            204
        );
        let posted_text = call(
            &app,
            version,
            Method::POST,
            &json_doc,
            Some(("text/plain", b"{\"x\":2}")),
            &[],
        )
        .await;
        assert_eq!(posted_text.status(), 400, "{resource:?} {version}");
        assert_eq!(get_json(&app, version, &json_doc).await, json!({"x": 1}));

        let text_doc = resource.doc(&t, "text");
        let put = call(
            &app,
            version,
            Method::PUT,
            &text_doc,
            Some(("text/plain", b"hello")),
            &[],
        )
        .await;
        assert_eq!(put.status(), 204);
        assert_eq!(
            post_json(&app, version, &text_doc, json!({"x": 1})).await,
            400
        );
        assert_eq!(
            get(&app, version, &text_doc).await.text().await.unwrap(),
            "hello"
        );
    });
}

#[tokio::test]
async fn comm_2_2_post_merge_when_either_document_is_not_a_json_object_is_400_and_changes_nothing()
{
    let app = spawn_app().await;
    each_resource_and_version!(resource, version, {
        let t = tag("nonobject", resource, version);
        let object_doc = resource.doc(&t, "object");
        assert_eq!(
            post_json(&app, version, &object_doc, json!({"x": 1})).await,
            204
        );
        assert_eq!(
            post_json(&app, version, &object_doc, json!([1, 2])).await,
            400
        );
        let broken = call(
            &app,
            version,
            Method::POST,
            &object_doc,
            Some(("application/json", b"{\"x\":")),
            &[],
        )
        .await;
        assert_eq!(broken.status(), 400);
        assert_eq!(get_json(&app, version, &object_doc).await, json!({"x": 1}));

        let array_doc = resource.doc(&t, "array");
        assert_eq!(
            put_json(&app, version, &array_doc, json!([1]), &[]).await,
            204
        );
        assert_eq!(
            post_json(&app, version, &array_doc, json!({"x": 1})).await,
            400
        );
        assert_eq!(get_json(&app, version, &array_doc).await, json!([1]));
    });
}

#[tokio::test]
async fn comm_2_2_any_content_type_is_stored_and_returned_unchanged() {
    let app = spawn_app().await;
    each_resource_and_version!(resource, version, {
        let url = resource.doc(&tag("binary", resource, version), "d");
        let bytes: Vec<u8> = (0..=255u8).rev().collect();
        let put = call(
            &app,
            version,
            Method::PUT,
            &url,
            Some(("application/x-custom-binary", &bytes)),
            &[],
        )
        .await;
        assert_eq!(put.status(), 204);
        let response = get(&app, version, &url).await;
        assert_eq!(
            response.headers()["content-type"],
            "application/x-custom-binary"
        );
        assert_eq!(response.bytes().await.unwrap().to_vec(), bytes);
    });
}

/// XAPI-00314 (ADL suite, Activity Profile): a POST with no body and no Content-Type
/// carries no document, so it is 400 and stores nothing; PUT likewise. An empty body
/// that declares its type is an empty document and is stored.
#[tokio::test]
async fn xapi_00314_put_or_post_without_a_body_or_content_type_is_400() {
    let app = spawn_app().await;
    each_resource_and_version!(resource, version, {
        let url = resource.doc(&tag("nobody", resource, version), "d");
        for method in [Method::POST, Method::PUT] {
            let response = call(&app, version, method.clone(), &url, None, &[]).await;
            assert_eq!(response.status(), 400, "{method} {resource:?} {version}");
        }
        assert_eq!(get(&app, version, &url).await.status(), 404);
        let empty = call(
            &app,
            version,
            Method::PUT,
            &url,
            Some(("text/plain", b"")),
            &[],
        )
        .await;
        assert_eq!(empty.status(), 204, "{resource:?} {version}");
        assert!(get(&app, version, &url)
            .await
            .bytes()
            .await
            .unwrap()
            .is_empty());
    });
}

#[tokio::test]
async fn comm_2_2_single_document_get_and_head_send_last_modified_as_an_http_date() {
    let app = spawn_app().await;
    each_resource_and_version!(resource, version, {
        let url = resource.doc(&tag("modified", resource, version), "d");
        assert_eq!(post_json(&app, version, &url, json!({})).await, 204);
        for method in [Method::GET, Method::HEAD] {
            let response = call(&app, version, method.clone(), &url, None, &[]).await;
            let modified = response.headers()["last-modified"]
                .to_str()
                .unwrap()
                .to_string();
            let parsed = chrono::DateTime::parse_from_rfc2822(&modified).expect("HTTP-date");
            let age = chrono::Utc::now() - parsed.with_timezone(&chrono::Utc);
            assert!(age.num_seconds().abs() <= 5, "{method} {modified}");
        }
    });
}

#[tokio::test]
async fn comm_2_2_last_modified_advances_when_the_document_changes() {
    let app = spawn_app().await;
    for version in VERSIONS {
        let resource = Resource::ActivityProfile;
        let url = resource.doc(&tag("advances", resource, version), "d");
        assert_eq!(post_json(&app, version, &url, json!({"v": 1})).await, 204);
        let first = get(&app, version, &url).await.headers()["last-modified"].clone();
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        assert_eq!(post_json(&app, version, &url, json!({"v": 2})).await, 204);
        let second = get(&app, version, &url).await.headers()["last-modified"].clone();
        let at = |v: &reqwest::header::HeaderValue| {
            chrono::DateTime::parse_from_rfc2822(v.to_str().unwrap()).unwrap()
        };
        assert!(at(&second) > at(&first), "{version}");
    }
}

// §2.3 State, §2.6 Agent Profile, §2.7 Activity Profile: single documents

#[tokio::test]
async fn comm_2_3_2_6_2_7_single_document_put_get_delete_round_trip() {
    let app = spawn_app().await;
    each_resource_and_version!(resource, version, {
        let url = resource.doc(&tag("roundtrip", resource, version), "d");
        assert_eq!(
            put_json(&app, version, &url, json!({"k": "v"}), &[]).await,
            204
        );
        assert_eq!(get_json(&app, version, &url).await, json!({"k": "v"}));
        let delete = call(&app, version, Method::DELETE, &url, None, &[]).await;
        assert_eq!(delete.status(), 204);
        assert_eq!(
            get(&app, version, &url).await.status(),
            404,
            "{resource:?} {version}"
        );
    });
}

#[tokio::test]
async fn comm_2_3_2_6_2_7_missing_required_parameters_are_400() {
    let app = spawn_app().await;
    each_resource_and_version!(resource, version, {
        let t = tag("missing", resource, version);
        let mut full = resource.context(&t);
        full.push((resource.id_param(), "d".to_string()));
        for dropped in 0..full.len() {
            let mut params = full.clone();
            let (name, _) = params.remove(dropped);
            let url = resource.url(&params);
            let mut methods = vec![Method::PUT, Method::POST];
            if name != resource.id_param() {
                methods.push(Method::GET);
                methods.push(Method::DELETE);
            }
            for method in methods {
                let body: &[u8] = b"{}";
                let response = call(
                    &app,
                    version,
                    method.clone(),
                    &url,
                    Some(("application/json", body)),
                    &[],
                )
                .await;
                let status = response.status();
                let message = response.text().await.unwrap();
                assert_eq!(
                    status, 400,
                    "{method} {resource:?} without {name} ({version})"
                );
                assert!(message.contains(name), "{message}");
            }
        }
    });
}

#[tokio::test]
async fn comm_2_6_2_7_profile_delete_without_profile_id_is_400() {
    let app = spawn_app().await;
    for version in VERSIONS {
        for resource in [Resource::ActivityProfile, Resource::AgentProfile] {
            let url = resource.list(&tag("nodelete", resource, version));
            let response = call(&app, version, Method::DELETE, &url, None, &[]).await;
            assert_eq!(response.status(), 400, "{resource:?} {version}");
        }
    }
}

#[tokio::test]
async fn comm_2_3_2_6_2_7_malformed_parameters_are_400() {
    let app = spawn_app().await;
    let bad_agents = [
        "not json",
        "{}",
        r#"{"name":"no identifier"}"#,
        r#"{"mbox":"learner@example.org"}"#,
        r#"{"mbox":"mailto:a@b.org","openid":"https://b.org/a"}"#,
        r#"{"objectType":"Activity","id":"http://x.org"}"#,
    ];
    each_resource_and_version!(resource, version, {
        let t = tag("malformed", resource, version);
        let mut cases: Vec<(&str, String)> = vec![("unknownParam", "x".into())];
        if matches!(resource, Resource::State | Resource::ActivityProfile) {
            cases.push(("activityId", "not an iri".into()));
        }
        if matches!(resource, Resource::State | Resource::AgentProfile) {
            cases.extend(bad_agents.iter().map(|a| ("agent", a.to_string())));
        }
        if matches!(resource, Resource::State) {
            cases.push(("registration", "not-a-uuid".into()));
        }
        for (name, value) in cases {
            let mut params: Vec<(&str, String)> = resource
                .context(&t)
                .into_iter()
                .filter(|(n, _)| *n != name)
                .collect();
            params.push((resource.id_param(), "d".into()));
            params.push((name, value.clone()));
            let url = resource.url(&params);
            for method in [Method::GET, Method::PUT, Method::POST, Method::DELETE] {
                let body: &[u8] = b"{}";
                let response = call(
                    &app,
                    version,
                    method.clone(),
                    &url,
                    Some(("application/json", body)),
                    &[],
                )
                .await;
                let status = response.status();
                let message = response.text().await.unwrap();
                assert_eq!(
                    status, 400,
                    "{method} {resource:?} {name}={value} ({version})"
                );
                assert!(message.contains(name), "{message}");
            }
        }
    });
}

#[tokio::test]
async fn comm_2_3_state_registration_is_part_of_the_document_address() {
    let app = spawn_app().await;
    for version in VERSIONS {
        let resource = Resource::State;
        let url = resource.doc(&tag("registration", resource, version), "d");
        let registered = format!("{url}&registration=6f2a0c4e-6c3b-4f1e-9a5d-6f0e7a1b2c3d");
        assert_eq!(
            put_json(&app, version, &registered, json!({"r": 1}), &[]).await,
            204
        );
        assert_eq!(get(&app, version, &url).await.status(), 404, "{version}");
        assert_eq!(get_json(&app, version, &registered).await, json!({"r": 1}));
    }
}

#[tokio::test]
async fn comm_2_6_agent_profile_agent_may_be_any_inverse_functional_identifier() {
    let app = spawn_app().await;
    let agents = [
        json!({"mbox": "mailto:ifi@example.org"}),
        json!({"mbox_sha1sum": "ebd31e95054c018b10727ccffd2ef2ec3a016ee9"}),
        json!({"openid": "https://openid.example.org/ifi"}),
        json!({"account": {"homePage": "https://lms.example.org", "name": "ifi"}}),
    ];
    for version in VERSIONS {
        for agent in &agents {
            let params = [
                ("agent", agent.to_string()),
                ("profileId", version.to_string()),
            ];
            let url = Resource::AgentProfile.url(&params);
            assert_eq!(
                put_json(&app, version, &url, json!({"a": 1}), &[]).await,
                204,
                "{agent}"
            );
            assert_eq!(get_json(&app, version, &url).await, json!({"a": 1}));
        }
    }
}

// Multiple-document GET and DELETE

#[tokio::test]
async fn comm_2_3_state_get_without_state_id_returns_ids() {
    let app = spawn_app().await;
    let resource = Resource::State;
    for version in VERSIONS {
        let t = tag("ids", resource, version);
        for id in ["a", "b"] {
            assert_eq!(
                post_json(&app, version, &resource.doc(&t, id), json!({})).await,
                204
            );
        }
        let mut ids: Vec<String> =
            serde_json::from_value(get_json(&app, version, &resource.list(&t)).await).unwrap();
        ids.sort();
        assert_eq!(ids, ["a", "b"], "{version}");
    }
}

#[tokio::test]
async fn comm_2_6_2_7_profile_get_without_profile_id_returns_ids() {
    let app = spawn_app().await;
    for version in VERSIONS {
        for resource in [Resource::ActivityProfile, Resource::AgentProfile] {
            let t = tag("ids", resource, version);
            assert_eq!(get_json(&app, version, &resource.list(&t)).await, json!([]));
            for id in ["a", "b"] {
                assert_eq!(
                    post_json(&app, version, &resource.doc(&t, id), json!({})).await,
                    204
                );
            }
            let mut ids: Vec<String> =
                serde_json::from_value(get_json(&app, version, &resource.list(&t)).await).unwrap();
            ids.sort();
            assert_eq!(ids, ["a", "b"], "{resource:?} {version}");
        }
    }
}

#[tokio::test]
async fn comm_2_3_2_6_2_7_since_returns_only_ids_updated_after_it() {
    let app = spawn_app().await;
    each_resource_and_version!(resource, version, {
        let t = tag("since", resource, version);
        assert_eq!(
            post_json(&app, version, &resource.doc(&t, "before"), json!({})).await,
            204
        );
        tokio::time::sleep(std::time::Duration::from_millis(15)).await;
        let since = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        tokio::time::sleep(std::time::Duration::from_millis(15)).await;
        assert_eq!(
            post_json(&app, version, &resource.doc(&t, "after"), json!({})).await,
            204
        );
        let mut params = resource.context(&t);
        params.push(("since", since));
        assert_eq!(
            get_json(&app, version, &resource.url(&params)).await,
            json!(["after"])
        );
        let mut bad = resource.context(&t);
        bad.push(("since", "last tuesday".into()));
        assert_eq!(get(&app, version, &resource.url(&bad)).await.status(), 400);
    });
}

#[tokio::test]
async fn comm_2_3_state_delete_without_state_id_deletes_every_document_of_the_context() {
    let app = spawn_app().await;
    let resource = Resource::State;
    for version in VERSIONS {
        let t = tag("bulk", resource, version);
        let other = tag("bulk-other", resource, version);
        for id in ["a", "b"] {
            assert_eq!(
                post_json(&app, version, &resource.doc(&t, id), json!({})).await,
                204
            );
        }
        assert_eq!(
            post_json(&app, version, &resource.doc(&other, "a"), json!({})).await,
            204
        );
        let delete = call(&app, version, Method::DELETE, &resource.list(&t), None, &[]).await;
        assert_eq!(delete.status(), 204);
        assert_eq!(get_json(&app, version, &resource.list(&t)).await, json!([]));
        assert_eq!(
            get_json(&app, version, &resource.list(&other)).await,
            json!(["a"])
        );
    }
}

// §3.1 Concurrency, as it applies to the documents

#[tokio::test]
async fn comm_3_1_get_sends_a_quoted_sha1_etag() {
    use sha1::Digest;
    let app = spawn_app().await;
    each_resource_and_version!(resource, version, {
        let url = resource.doc(&tag("etag", resource, version), "d");
        let body = br#"{"e":1}"#;
        let put = call(
            &app,
            version,
            Method::PUT,
            &url,
            Some(("application/json", body)),
            &[],
        )
        .await;
        assert_eq!(put.status(), 204);
        let expected = format!("\"{}\"", hex::encode(sha1::Sha1::digest(body)));
        assert_eq!(
            get(&app, version, &url).await.headers()["etag"],
            expected.as_str()
        );
    });
}

#[tokio::test]
async fn comm_3_1_if_match_mismatch_is_412_for_put_post_and_delete_and_changes_nothing() {
    let app = spawn_app().await;
    each_resource_and_version!(resource, version, {
        let url = resource.doc(&tag("ifmatch", resource, version), "d");
        assert_eq!(post_json(&app, version, &url, json!({"v": 1})).await, 204);
        let stale = [("If-Match", "\"1234\"")];
        let body: &[u8] = br#"{"v":2}"#;
        for method in [Method::PUT, Method::POST, Method::DELETE] {
            let response = call(
                &app,
                version,
                method.clone(),
                &url,
                Some(("application/json", body)),
                &stale,
            )
            .await;
            assert_eq!(response.status(), 412, "{method} {resource:?} {version}");
        }
        assert_eq!(get_json(&app, version, &url).await, json!({"v": 1}));
        let current = get(&app, version, &url).await.headers()["etag"]
            .to_str()
            .unwrap()
            .to_string();
        assert_eq!(
            put_json(
                &app,
                version,
                &url,
                json!({"v": 3}),
                &[("If-Match", &current)]
            )
            .await,
            204
        );
        assert_eq!(get_json(&app, version, &url).await, json!({"v": 3}));
    });
}

#[tokio::test]
async fn comm_3_1_if_none_match_star_is_412_when_the_document_exists() {
    let app = spawn_app().await;
    each_resource_and_version!(resource, version, {
        let url = resource.doc(&tag("ifnonematch", resource, version), "d");
        let star = [("If-None-Match", "*")];
        assert_eq!(
            put_json(&app, version, &url, json!({"v": 1}), &star).await,
            204
        );
        assert_eq!(
            put_json(&app, version, &url, json!({"v": 2}), &star).await,
            412
        );
        assert_eq!(get_json(&app, version, &url).await, json!({"v": 1}));
    });
}

#[tokio::test]
async fn comm_3_1_profile_put_without_headers_on_an_existing_document_is_409_with_advice() {
    let app = spawn_app().await;
    for version in VERSIONS {
        for resource in [Resource::ActivityProfile, Resource::AgentProfile] {
            let url = resource.doc(&tag("conflict", resource, version), "d");
            assert_eq!(
                put_json(&app, version, &url, json!({"v": 1}), &[]).await,
                204
            );
            let bytes = br#"{"v":2}"#;
            let response = call(
                &app,
                version,
                Method::PUT,
                &url,
                Some(("application/json", bytes)),
                &[],
            )
            .await;
            assert_eq!(response.status(), 409, "{resource:?} {version}");
            let message = response.text().await.unwrap();
            assert!(
                message.contains("If-Match") && message.contains("GET"),
                "{message}"
            );
            assert_eq!(get_json(&app, version, &url).await, json!({"v": 1}));
        }
    }
}

#[tokio::test]
async fn comm_3_1_state_put_without_headers_overwrites_under_1_0_3_and_is_409_under_2_0() {
    let app = spawn_app().await;
    let resource = Resource::State;
    for (version, expected, stored) in [("1.0.3", 204, 2), ("2.0.0", 409, 1)] {
        let url = resource.doc(&tag("stateconflict", resource, version), "d");
        assert_eq!(
            put_json(&app, version, &url, json!({"v": 1}), &[]).await,
            204
        );
        assert_eq!(
            put_json(&app, version, &url, json!({"v": 2}), &[]).await,
            expected,
            "{version}"
        );
        assert_eq!(get_json(&app, version, &url).await, json!({"v": stored}));
    }
}

#[tokio::test]
async fn comm_3_1_post_and_delete_without_headers_are_accepted() {
    let app = spawn_app().await;
    each_resource_and_version!(resource, version, {
        let url = resource.doc(&tag("headerless", resource, version), "d");
        assert_eq!(post_json(&app, version, &url, json!({"v": 1})).await, 204);
        assert_eq!(post_json(&app, version, &url, json!({"w": 2})).await, 204);
        let delete = call(&app, version, Method::DELETE, &url, None, &[]).await;
        assert_eq!(delete.status(), 204);
    });
}

// §1.1 HEAD, for the document resources

#[tokio::test]
async fn comm_1_1_head_on_documents_and_id_lists_answers_like_get_without_a_body() {
    let app = spawn_app().await;
    each_resource_and_version!(resource, version, {
        let t = tag("head", resource, version);
        assert_eq!(
            post_json(&app, version, &resource.doc(&t, "d"), json!({"h": 1})).await,
            204
        );
        for url in [resource.doc(&t, "d"), resource.list(&t)] {
            let got = get(&app, version, &url).await;
            let head = call(&app, version, Method::HEAD, &url, None, &[]).await;
            assert_eq!(head.status(), 200);
            assert_eq!(head.headers()["etag"], got.headers()["etag"]);
            assert_eq!(
                head.headers()["content-type"],
                got.headers()["content-type"]
            );
            assert!(head.bytes().await.unwrap().is_empty());
        }
    });
}
