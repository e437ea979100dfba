//! Communication §2.1.3: GET Statements — single, parameters, formats, paging, headers.

use std::collections::HashSet;

use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::common::*;

#[tokio::test]
async fn comm_2_1_3_get_by_statement_id_returns_the_statement() {
    let app = spawn_app().await;
    for version in VERSIONS {
        let id = post_one(&app, version, &statement("ada", "a")).await;
        let response = req(
            &app,
            Method::GET,
            &format!("/xapi/statements?statementId={id}"),
            version,
        )
        .send()
        .await
        .unwrap();
        assert_eq!(response.status(), 200);
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(
            content_type.starts_with("application/json"),
            "{content_type}"
        );
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["id"], json!(id.to_string()));
        assert!(
            body.get("statements").is_none(),
            "a single Statement, not a StatementResult"
        );
    }
}

#[tokio::test]
async fn comm_2_1_3_unknown_statement_id_is_404() {
    let app = spawn_app().await;
    for version in VERSIONS {
        assert_eq!(get_statement(&app, version, Uuid::new_v4()).await.0, 404);
        assert_eq!(get_voided(&app, version, Uuid::new_v4()).await.0, 404);
    }
}

#[tokio::test]
async fn comm_2_1_3_voided_statement_id_of_unvoided_statement_is_404() {
    let app = spawn_app().await;
    let id = post_one(&app, V2, &statement("ada", "a")).await;
    assert_eq!(get_voided(&app, V2, id).await.0, 404);
}

#[tokio::test]
async fn comm_2_1_3_statement_id_with_other_params_is_400() {
    let app = spawn_app().await;
    let id = post_one(&app, V2, &statement("ada", "a")).await;
    let agent = enc(&agent("ada"));
    for name in ["statementId", "voidedStatementId"] {
        for other in [
            format!("agent={agent}"),
            format!("verb={}", enc(&json!(VERB))),
            format!("activity={}", enc(&json!(activity_iri("a")))),
            format!("registration={}", Uuid::new_v4()),
            "related_activities=true".into(),
            "related_agents=true".into(),
            "since=2020-01-01T00:00:00Z".into(),
            "until=2020-01-01T00:00:00Z".into(),
            "limit=1".into(),
            "ascending=true".into(),
            "foo=bar".into(),
        ] {
            for version in VERSIONS {
                let (status, body) = get(&app, version, &format!("{name}={id}&{other}")).await;
                assert_eq!(status, 400, "{version} {name} + {other}: {body}");
            }
        }
    }
}

#[tokio::test]
async fn comm_2_1_3_statement_id_with_format_and_attachments_is_allowed() {
    let app = spawn_app().await;
    let id = post_one(&app, V2, &statement("ada", "a")).await;
    for extra in [
        "format=ids",
        "format=exact",
        "format=canonical",
        "attachments=false",
    ] {
        let (status, body) = get(&app, V2, &format!("statementId={id}&{extra}")).await;
        assert_eq!(status, 200, "{extra}: {body}");
        assert_eq!(body["id"], json!(id.to_string()));
    }
}

#[tokio::test]
async fn comm_2_1_3_both_statement_id_and_voided_statement_id_is_400() {
    let app = spawn_app().await;
    let id = post_one(&app, V2, &statement("ada", "a")).await;
    for version in VERSIONS {
        let (status, _) = get(
            &app,
            version,
            &format!("statementId={id}&voidedStatementId={id}"),
        )
        .await;
        assert_eq!(status, 400);
    }
}

#[tokio::test]
async fn comm_2_1_3_unknown_parameter_is_400() {
    let app = spawn_app().await;
    for version in VERSIONS {
        for query in [
            "foo=bar",
            "Agent=x",
            "statementID=x",
            "verb=http://example.com/v&bogus=1",
        ] {
            let response = req(
                &app,
                Method::GET,
                &format!("/xapi/statements?{query}"),
                version,
            )
            .send()
            .await
            .unwrap();
            assert_400(response, query).await;
        }
    }
}

#[tokio::test]
async fn comm_2_1_3_malformed_parameters_are_400() {
    let app = spawn_app().await;
    for query in [
        "agent={not json".to_string(),
        format!("agent={}", enc(&json!({"name": "no ifi"}))),
        format!(
            "agent={}",
            enc(&json!({"mbox": "mailto:a@example.com", "openid": "http://x.example.com/"}))
        ),
        "verb=not%20an%20iri".into(),
        "activity=not%20an%20iri".into(),
        "registration=nope".into(),
        "since=yesterday".into(),
        "until=2020-13-01T00:00:00Z".into(),
        "limit=-1".into(),
        "limit=ten".into(),
        "ascending=yes".into(),
        "format=full".into(),
        "attachments=1".into(),
        "related_agents=maybe".into(),
        "statementId=not-a-uuid".into(),
        "more=garbage".into(),
    ] {
        for version in VERSIONS {
            let response = req(
                &app,
                Method::GET,
                &format!("/xapi/statements?{query}"),
                version,
            )
            .send()
            .await
            .unwrap();
            assert_400(response, &format!("{version} {query}")).await;
        }
    }
}

#[tokio::test]
async fn comm_2_1_3_empty_result_is_200_statement_result() {
    let app = spawn_app().await;
    for version in VERSIONS {
        let (status, body) = get(
            &app,
            version,
            &format!("verb={}", enc(&json!("http://example.com/none"))),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(body["statements"], json!([]));
        assert!(body["more"].as_str().is_none_or(str::is_empty), "{body}");
    }
}

#[tokio::test]
async fn comm_2_1_3_default_order_is_most_recent_stored_first_and_ascending_reverses() {
    let app = spawn_app().await;
    let mut posted = Vec::new();
    for n in 0..4 {
        posted.push(post_one(&app, V2, &statement("ada", &n.to_string())).await);
    }
    let mut newest_first = posted.clone();
    newest_first.reverse();
    assert_eq!(query_ids(&app, V2, "").await, newest_first);
    assert_eq!(query_ids(&app, V2, "ascending=true").await, posted);
    assert_eq!(query_ids(&app, V2, "ascending=false").await, newest_first);
}

#[tokio::test]
async fn comm_2_1_3_limit_caps_the_page_and_more_continues() {
    let app = spawn_app().await;
    let mut posted = Vec::new();
    for n in 0..5 {
        posted.push(post_one(&app, V1, &statement("ada", &n.to_string())).await);
    }
    for version in VERSIONS {
        let (status, page) = get(&app, version, "limit=2").await;
        assert_eq!(status, 200);
        assert_eq!(ids_of(&page).len(), 2);
        let more = page["more"].as_str().unwrap();
        assert!(
            more.starts_with('/') || more.starts_with("http"),
            "more is an IRL: {more}"
        );
        let all = query_ids(&app, version, "limit=2").await;
        assert_eq!(all.len(), 5);
        assert_eq!(all.iter().collect::<HashSet<_>>().len(), 5);
    }
}

#[tokio::test]
async fn comm_2_1_3_limit_zero_means_server_maximum() {
    let app = spawn_app().await;
    let batch: Vec<Value> = (0..30).map(|n| statement("ada", &n.to_string())).collect();
    post_ok(&app, V2, &json!(batch)).await;
    let (status, page) = get(&app, V2, "limit=0").await;
    assert_eq!(status, 200);
    assert_eq!(
        ids_of(&page).len(),
        30,
        "limit=0 returns up to the server's maximum"
    );
}

#[tokio::test]
async fn comm_2_1_3_more_returns_each_statement_once_despite_new_inserts() {
    let app = spawn_app().await;
    let mut posted = Vec::new();
    for n in 0..6 {
        posted.push(post_one(&app, V2, &statement("ada", &n.to_string())).await);
    }
    for ascending in [false, true] {
        let (status, mut page) = get(&app, V2, &format!("limit=2&ascending={ascending}")).await;
        assert_eq!(status, 200);
        let mut seen = ids_of(&page);
        let mut inserted = Vec::new();
        while let Some(more) = page["more"]
            .as_str()
            .filter(|m| !m.is_empty())
            .map(String::from)
        {
            inserted.push(post_one(&app, V2, &statement("ada", "late")).await);
            let response = req(&app, Method::GET, &more, V2).send().await.unwrap();
            assert_eq!(response.status(), 200);
            page = response.json().await.unwrap();
            seen.extend(ids_of(&page));
        }
        let unique: HashSet<&Uuid> = seen.iter().collect();
        assert_eq!(
            unique.len(),
            seen.len(),
            "ascending={ascending}: a statement came twice"
        );
        for id in &posted {
            assert!(seen.contains(id), "ascending={ascending}: {id} was skipped");
        }
        posted.extend(inserted);
    }
}

#[tokio::test]
async fn comm_2_1_3_more_link_keeps_the_filters() {
    let app = spawn_app().await;
    for n in 0..4 {
        post_one(&app, V2, &statement("ada", &n.to_string())).await;
        post_one(&app, V2, &statement("bob", &n.to_string())).await;
    }
    let query = format!("agent={}&limit=1", enc(&agent("bob")));
    let ids = query_ids(&app, V2, &query).await;
    assert_eq!(ids.len(), 4);
    for id in ids {
        let (_, s) = get_statement(&app, V2, id).await;
        assert_eq!(s["actor"]["mbox"], json!("mailto:bob@example.com"));
    }
}

#[tokio::test]
async fn comm_2_1_3_more_link_works_with_the_other_version_header_too() {
    let app = spawn_app().await;
    for n in 0..3 {
        post_one(&app, V1, &statement("ada", &n.to_string())).await;
    }
    let (_, page) = get(&app, V1, "limit=1").await;
    let more = page["more"].as_str().unwrap();
    let response = req(&app, Method::GET, more, V1).send().await.unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn comm_2_1_3_consistent_through_and_last_modified_headers() {
    let app = spawn_app().await;
    let id = post_one(&app, V2, &statement("ada", "a")).await;
    let (_, stored) = get_statement(&app, V2, id).await;
    let stored_at =
        chrono::DateTime::parse_from_rfc3339(stored["stored"].as_str().unwrap()).unwrap();
    for version in VERSIONS {
        for query in [format!("statementId={id}"), String::new(), "limit=1".into()] {
            let response = req(
                &app,
                Method::GET,
                &format!("/xapi/statements?{query}"),
                version,
            )
            .send()
            .await
            .unwrap();
            assert_eq!(response.status(), 200);
            let through = response
                .headers()
                .get("X-Experience-API-Consistent-Through")
                .unwrap_or_else(|| panic!("{version} ?{query}: no consistent-through"))
                .to_str()
                .unwrap();
            let through = chrono::DateTime::parse_from_rfc3339(through).expect("ISO 8601");
            assert!(
                through >= stored_at,
                "consistent-through {through} before stored {stored_at}"
            );
            let modified = response
                .headers()
                .get("Last-Modified")
                .unwrap_or_else(|| panic!("{version} ?{query}: no Last-Modified"))
                .to_str()
                .unwrap();
            let modified = chrono::DateTime::parse_from_rfc2822(modified).expect("HTTP-date");
            assert_eq!(
                modified.timestamp(),
                stored_at.timestamp(),
                "Last-Modified = stored"
            );
        }
    }
    // Errors and empty results still carry consistent-through.
    let (status, _) = get(
        &app,
        V2,
        &format!("verb={}", enc(&json!("http://example.com/none"))),
    )
    .await;
    assert_eq!(status, 200);
    let response = req(
        &app,
        Method::GET,
        "/xapi/statements?verb=http%3A%2F%2Fexample.com%2Fnone",
        V2,
    )
    .send()
    .await
    .unwrap();
    assert!(response
        .headers()
        .contains_key("X-Experience-API-Consistent-Through"));
}

#[tokio::test]
async fn comm_2_1_3_last_modified_is_the_newest_stored_of_the_page() {
    let app = spawn_app().await;
    post_one(&app, V2, &statement("ada", "a")).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let newest = post_one(&app, V2, &statement("ada", "b")).await;
    let (_, s) = get_statement(&app, V2, newest).await;
    let stored = chrono::DateTime::parse_from_rfc3339(s["stored"].as_str().unwrap()).unwrap();
    for query in ["", "ascending=true"] {
        let response = req(&app, Method::GET, &format!("/xapi/statements?{query}"), V2)
            .send()
            .await
            .unwrap();
        let modified = response.headers()["Last-Modified"].to_str().unwrap();
        let modified = chrono::DateTime::parse_from_rfc2822(modified).unwrap();
        assert_eq!(modified.timestamp(), stored.timestamp(), "?{query}");
    }
}

#[tokio::test]
async fn comm_2_1_3_head_has_get_headers_and_no_body() {
    let app = spawn_app().await;
    let id = post_one(&app, V2, &statement("ada", "a")).await;
    for query in [format!("statementId={id}"), String::new()] {
        let path = format!("/xapi/statements?{query}");
        let get = req(&app, Method::GET, &path, V2).send().await.unwrap();
        let head = req(&app, Method::HEAD, &path, V2).send().await.unwrap();
        assert_eq!(head.status(), 200);
        for name in [
            "content-type",
            "last-modified",
            "x-experience-api-consistent-through",
            "x-experience-api-version",
        ] {
            assert!(
                head.headers().contains_key(name),
                "HEAD ?{query}: no {name}"
            );
            assert!(get.headers().contains_key(name), "GET ?{query}: no {name}");
        }
        assert!(head.bytes().await.unwrap().is_empty());
    }
    let head = req(
        &app,
        Method::HEAD,
        &format!("/xapi/statements?statementId={}", Uuid::new_v4()),
        V2,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(head.status(), 404);
}

#[tokio::test]
async fn comm_2_1_3_format_ids_reduces_agents_activities_verbs() {
    let app = spawn_app().await;
    let mut body = statement("ada", "a");
    body["object"]["definition"] =
        json!({"name": {"en-US": "A"}, "type": "http://example.com/types/t"});
    body["context"] = json!({"instructor": agent("ins"), "contextActivities": {"parent": [{"id": activity_iri("p"), "definition": {"name": {"en": "P"}}}]}});
    let id = post_one(&app, V2, &body).await;
    for (version, query) in [
        (V1, format!("statementId={id}&format=ids")),
        (V2, "format=ids".to_string()),
    ] {
        let (status, result) = get(&app, version, &query).await;
        assert_eq!(status, 200);
        let s = if result.get("statements").is_some() {
            result["statements"][0].clone()
        } else {
            result
        };
        assert_eq!(
            s["actor"],
            json!({"objectType": "Agent", "mbox": "mailto:ada@example.com"}),
            "{s}"
        );
        assert_eq!(s["verb"], json!({"id": VERB}));
        assert_eq!(
            s["object"],
            json!({"objectType": "Activity", "id": activity_iri("a")})
        );
        assert!(s["context"]["instructor"].get("name").is_none());
        assert!(s["context"]["contextActivities"]["parent"][0]
            .get("definition")
            .is_none());
    }
}

#[tokio::test]
async fn comm_2_1_3_format_exact_returns_the_statement_as_sent() {
    let app = spawn_app().await;
    let mut body = statement("ada", "a");
    body["object"]["definition"] = json!({"name": {"en-US": "A", "fr": "Un"}});
    body["result"] = json!({"score": {"scaled": 0.5}, "extensions": {"http://example.com/ext": {"nested": [1, 2.5, "x", null]}}});
    let id = post_one(&app, V2, &body).await;
    let (_, s) = get(&app, V2, &format!("statementId={id}&format=exact")).await;
    for key in ["actor", "verb", "object", "result"] {
        assert_eq!(s[key], body[key], "{key}");
    }
}

#[tokio::test]
async fn comm_2_1_3_format_canonical_returns_one_language_per_map() {
    let app = spawn_app().await;
    let mut body = statement("ada", "a");
    body["verb"]["display"] = json!({"en-US": "experienced", "fr-FR": "expérimenté"});
    body["object"]["definition"] = json!({
        "name": {"en-US": "Course", "fr-FR": "Cours", "de": "Kurs"},
        "description": {"en-US": "A course", "fr-FR": "Un cours"},
        "type": "http://adlnet.gov/expapi/activities/cmi.interaction",
        "interactionType": "choice",
        "correctResponsesPattern": ["a"],
        "choices": [{"id": "a", "description": {"en-US": "Yes", "fr-FR": "Oui"}}]
    });
    let id = post_one(&app, V2, &body).await;
    for (language, expected) in [
        ("fr-FR", "Cours"),
        ("de", "Kurs"),
        ("en-US", "Course"),
        ("fr-FR;q=0.1, de;q=0.9", "Kurs"),
    ] {
        for query in [
            format!("statementId={id}&format=canonical"),
            "format=canonical".to_string(),
        ] {
            let response = req(&app, Method::GET, &format!("/xapi/statements?{query}"), V2)
                .header("Accept-Language", language)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            let result: Value = response.json().await.unwrap();
            let s = if result.get("statements").is_some() {
                result["statements"][0].clone()
            } else {
                result
            };
            let definition = &s["object"]["definition"];
            let name = definition["name"].as_object().unwrap();
            assert_eq!(name.len(), 1, "{language}: {definition}");
            assert_eq!(
                name.values().next().unwrap(),
                &json!(expected),
                "{language}"
            );
            assert_eq!(
                definition["description"].as_object().unwrap().len(),
                1,
                "{definition}"
            );
            assert_eq!(
                definition["choices"][0]["description"]
                    .as_object()
                    .unwrap()
                    .len(),
                1,
                "{definition}"
            );
        }
    }
    // Without Accept-Language, still one language per map.
    let (_, s) = get(&app, V2, &format!("statementId={id}&format=canonical")).await;
    assert_eq!(
        s["object"]["definition"]["name"].as_object().unwrap().len(),
        1,
        "{s}"
    );
}

#[tokio::test]
async fn comm_2_1_3_format_canonical_uses_the_latest_definition() {
    let app = spawn_app().await;
    let mut first = statement("ada", "a");
    first["object"]["definition"] = json!({"name": {"en-US": "Old"}});
    let id = post_one(&app, V2, &first).await;
    let mut second = statement("bob", "a");
    second["object"]["definition"] = json!({"name": {"en-US": "New"}});
    post_one(&app, V2, &second).await;
    let (_, s) = get(&app, V2, &format!("statementId={id}&format=canonical")).await;
    assert_eq!(s["object"]["definition"]["name"], json!({"en-US": "New"}));
    let (_, exact) = get(&app, V2, &format!("statementId={id}")).await;
    assert_eq!(
        exact["object"]["definition"]["name"],
        json!({"en-US": "Old"})
    );
}

#[tokio::test]
async fn comm_2_1_3_attachments_false_reports_application_json() {
    let app = spawn_app().await;
    post_one(&app, V2, &statement("ada", "a")).await;
    let response = req(&app, Method::GET, "/xapi/statements?attachments=false", V2)
        .send()
        .await
        .unwrap();
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
}

#[tokio::test]
async fn comm_2_1_3_statements_of_other_stores_are_never_seen() {
    let app = spawn_app().await;
    let mine = post_one(&app, V2, &statement("ada", "a")).await;
    commonplace::store::credentials::create_store(&app.pool, "other")
        .await
        .unwrap();
    let other = app
        .credential("other", &[commonplace::auth::Scope::All])
        .await;
    let as_other = |method: Method, path: &str| {
        app.http
            .request(method, app.url(path))
            .basic_auth(&other.key, Some(&other.secret))
            .header("X-Experience-API-Version", V2)
    };
    let response = as_other(Method::GET, &format!("/xapi/statements?statementId={mine}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let result: Value = as_other(Method::GET, "/xapi/statements")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(result["statements"], json!([]));
    // The same id may be used in another store without conflict.
    let response = as_other(Method::POST, "/xapi/statements")
        .json(&with_id(statement("bob", "b"), mine))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let (_, s) = get_statement(&app, V2, mine).await;
    assert_eq!(s["actor"]["mbox"], json!("mailto:ada@example.com"));
    // And a `more` link of store A cannot be replayed by store B.
    for n in 0..3 {
        post_one(&app, V2, &statement("ada", &n.to_string())).await;
    }
    let (_, page) = get(&app, V2, "limit=1").await;
    let more = page["more"].as_str().unwrap();
    let response = as_other(Method::GET, more).send().await.unwrap();
    assert_ne!(response.status(), 200);
}

#[tokio::test]
async fn comm_2_1_3_consistent_through_on_every_get_response() {
    let app = spawn_app().await;
    for query in [
        format!("statementId={}", Uuid::new_v4()),
        format!("voidedStatementId={}", Uuid::new_v4()),
        "foo=bar".to_string(),
    ] {
        for method in [Method::GET, Method::HEAD] {
            let response = req(
                &app,
                method.clone(),
                &format!("/xapi/statements?{query}"),
                V2,
            )
            .send()
            .await
            .unwrap();
            assert!(response.status().is_client_error());
            assert!(
                response
                    .headers()
                    .contains_key("X-Experience-API-Consistent-Through"),
                "{method} ?{query} ({}) has no consistent-through",
                response.status()
            );
        }
    }
}

#[tokio::test]
async fn comm_2_1_3_statement_id_is_case_insensitive() {
    let app = spawn_app().await;
    let id = post_one(&app, V2, &statement("ada", "a")).await;
    let upper = id.to_string().to_uppercase();
    let (status, s) = get(&app, V2, &format!("statementId={upper}")).await;
    assert_eq!(status, 200);
    assert_eq!(s["id"], json!(id.to_string()));
    // PUT with an uppercase parameter and a lowercase body id is no mismatch.
    let other = Uuid::new_v4();
    let body = with_id(statement("ada", "b"), other);
    let response = put(
        &app,
        V2,
        &format!("statementId={}", other.to_string().to_uppercase()),
        &body,
    )
    .await;
    assert_eq!(response.status(), 204);
}

#[tokio::test]
async fn comm_2_1_3_agent_parameter_must_be_agent_or_identified_group() {
    let app = spawn_app().await;
    for bad in [
        json!({"objectType": "Group", "member": [agent("ada")]}),
        json!({"objectType": "Activity", "id": activity_iri("a")}),
        json!([agent("ada")]),
        json!("mailto:ada@example.com"),
    ] {
        let (status, body) = get(&app, V2, &format!("agent={}", enc(&bad))).await;
        assert_eq!(status, 400, "agent={bad}: {body}");
    }
}
