//! Communication §1.3 (1.0.3 only; 2.0 removed the syntax): in an alternate-syntax
//! request the form parameters `Authorization`, `X-Experience-API-Version`,
//! `Content-Type`, `Content-Length`, `If-Match` and `If-None-Match` are the request's
//! headers. Where the client also sent a real header of that name, the form field is the
//! one that counts, so a form version the LRS does not serve is 400 as the header is.

use reqwest::{RequestBuilder, Response};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::common::*;

/// `POST path?method=…`, with no header of its own (the form carries them).
fn alternate(app: &TestApp, method: &str, path: &str) -> RequestBuilder {
    app.http.post(app.url(&format!("{path}?method={method}")))
}

/// A form that authenticates with the test credential under 1.0.3, plus `more`.
fn form(app: &TestApp, more: &[(&str, String)]) -> Vec<(String, String)> {
    let mut fields = vec![
        (
            "Authorization".to_string(),
            basic_authorization(&app.key, &app.secret),
        ),
        ("X-Experience-API-Version".to_string(), V1.to_string()),
    ];
    for (name, value) in more {
        fields.retain(|(k, _)| k != name);
        fields.push((name.to_string(), value.clone()));
    }
    fields
}

/// The response's header `name`, empty when it has none.
fn header(response: &Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .map_or(String::new(), |v| v.to_str().unwrap().to_string())
}

async fn status_and_version(response: Response) -> (u16, String) {
    let version = header(&response, "X-Experience-API-Version");
    (response.status().as_u16(), version)
}

#[tokio::test]
async fn comm_1_3_form_version_field_is_the_version_header() {
    let app = spawn_app().await;
    let put_statement = |version_field: &str, real_header: Option<&str>| {
        let id = Uuid::new_v4();
        let mut request = alternate(&app, "PUT", "/xapi/statements");
        if let Some(real) = real_header {
            request = request.header("X-Experience-API-Version", real);
        }
        let fields = form(
            &app,
            &[
                ("X-Experience-API-Version", version_field.to_string()),
                ("statementId", id.to_string()),
                ("content", statement("ada", "alt").to_string()),
            ],
        );
        (id, request.form(&fields))
    };
    // An unsupported form version is 400, as the header would be, even beside a valid
    // real header; nothing is stored.
    for (field, real) in [("0.8", Some(V1)), ("0.8", None), ("9.9.9", Some(V1))] {
        let (id, request) = put_statement(field, real);
        let message = assert_400(request.send().await.unwrap(), &format!("form {field}")).await;
        assert!(message.contains(field), "{message}");
        let (status, _) = get_statement(&app, V1, id).await;
        assert_eq!(status, 404, "form {field}: stored anyway");
    }
    // A form 2.0.0 asks for the syntax 2.0 removed, whatever the real header says.
    let (_, request) = put_statement(V2, Some(V1));
    let message = assert_400(request.send().await.unwrap(), "form 2.0.0").await;
    assert!(message.contains("2.0"), "{message}");
    // Both valid and different: the form's version is the request's.
    let (id, request) = put_statement(V1, Some(V2));
    let (status, version) = status_and_version(request.send().await.unwrap()).await;
    assert_eq!((status, version.as_str()), (204, V1));
    assert_eq!(get_statement(&app, V1, id).await.0, 200);
    // Without a form version the real header is the version: 2.0.0 refuses the syntax.
    let response = alternate(&app, "GET", "/xapi/statements")
        .header("X-Experience-API-Version", V2)
        .form(&[("Authorization", basic_authorization(&app.key, &app.secret))])
        .send()
        .await
        .unwrap();
    assert_400(response, "real 2.0.0 header, no form version").await;
}

#[tokio::test]
async fn comm_1_3_form_authorization_field_is_the_authorization_header() {
    let app = spawn_app().await;
    let wrong = basic_authorization(&app.key, "not-the-secret");
    let right = basic_authorization(&app.key, &app.secret);
    for (real, field, expected) in [(&right, &wrong, 401), (&wrong, &right, 200)] {
        let response = alternate(&app, "GET", "/xapi/statements")
            .header("Authorization", real)
            .form(&form(
                &app,
                &[("Authorization", field.clone()), ("limit", "1".into())],
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), expected, "form Authorization {field}");
    }
}

/// The activity profile document `profile` of one Activity, by alternate syntax.
fn profile_fields(app: &TestApp, profile: &str, more: &[(&str, String)]) -> Vec<(String, String)> {
    let mut fields = form(
        app,
        &[
            ("activityId", activity_iri("alt-doc")),
            ("profileId", profile.to_string()),
        ],
    );
    fields.extend(more.iter().map(|(k, v)| (k.to_string(), v.clone())));
    fields
}

async fn get_profile(app: &TestApp, profile: &str) -> (u16, String, String, Value) {
    let response = alternate(app, "GET", "/xapi/activities/profile")
        .form(&profile_fields(app, profile, &[]))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let (etag, content_type) = (header(&response, "ETag"), header(&response, "Content-Type"));
    let body = response.text().await.unwrap();
    (
        status,
        etag,
        content_type,
        serde_json::from_str(&body).unwrap_or(Value::String(body)),
    )
}

#[tokio::test]
async fn comm_1_3_form_if_match_and_if_none_match_fields_are_the_headers() {
    let app = spawn_app().await;
    let put = |profile: &str, more: Vec<(&str, String)>, content: Value| {
        let mut fields = profile_fields(&app, profile, &more);
        fields.push(("Content-Type".into(), "application/json".into()));
        fields.push(("content".into(), content.to_string()));
        alternate(&app, "PUT", "/xapi/activities/profile").form(&fields)
    };
    let created = put("p", vec![("If-None-Match", "*".into())], json!({"v": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 204);
    let (_, etag, _, _) = get_profile(&app, "p").await;
    assert!(!etag.is_empty());

    for (name, value) in [
        ("If-Match", "\"0000\"".to_string()),
        ("If-None-Match", "*".into()),
    ] {
        let response = put("p", vec![(name, value.clone())], json!({"v": 2}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 412, "form {name}: {value}");
    }
    // A real header does not rescue a failing form precondition.
    let response = put("p", vec![("If-Match", "\"0000\"".into())], json!({"v": 2}))
        .header("If-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 412, "a real If-Match beside the form's");
    assert_eq!(get_profile(&app, "p").await.3, json!({"v": 1}));

    let response = put("p", vec![("If-Match", etag)], json!({"v": 3}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(get_profile(&app, "p").await.3, json!({"v": 3}));
}

#[tokio::test]
async fn comm_1_3_form_content_type_field_is_the_content_type_header() {
    let app = spawn_app().await;
    for (profile, content_type, content) in [
        ("json", "application/json", r#"{"a": 1}"#),
        ("text", "text/plain", "plain words"),
    ] {
        let mut fields = profile_fields(&app, profile, &[]);
        fields.push(("Content-Type".into(), content_type.into()));
        fields.push(("content".into(), content.into()));
        let response = alternate(&app, "PUT", "/xapi/activities/profile")
            .form(&fields)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 204, "{content_type}");
        let (status, _, stored_type, _) = get_profile(&app, profile).await;
        assert_eq!(status, 200);
        assert!(
            stored_type.starts_with(content_type),
            "stored as {stored_type}, sent as {content_type}"
        );
    }
    // The form's Content-Type describes `content`: a Statement sent as text is not JSON.
    let mut fields = form(&app, &[("Content-Type", "text/plain".into())]);
    fields.push(("content".into(), statement("ada", "typed").to_string()));
    let response = alternate(&app, "POST", "/xapi/statements")
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
}
