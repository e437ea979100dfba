//! Alternate request syntax (1.0.3 Communication §1.3), removed in 2.0.

use crate::helpers::{basic_authorization, error_of, spawn_app, TestApp};

fn basic(app: &TestApp) -> String {
    basic_authorization(&app.key, &app.secret)
}

#[tokio::test]
async fn form_fields_act_as_headers_under_1_0_3() {
    let app = spawn_app().await;
    // Authorization and the version travel only in the form, as IE8/9-era clients send them.
    let form = [
        ("Authorization", basic(&app)),
        ("X-Experience-API-Version", "1.0.3".to_string()),
    ];
    let response = app
        .http
        .post(app.url("/xapi/about?method=GET"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let without_auth = app
        .http
        .post(app.url("/xapi/statements?method=GET"))
        .form(&[("X-Experience-API-Version", "1.0.3")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        without_auth.status(),
        401,
        "the form's headers are the request's headers"
    );
    assert_eq!(without_auth.headers()["x-experience-api-version"], "1.0.3");
}

#[tokio::test]
async fn alternate_syntax_is_refused_under_2_0() {
    let app = spawn_app().await;
    let response = app
        .http
        .post(app.url("/xapi/statements?method=GET"))
        .form(&[
            ("Authorization", basic(&app)),
            ("X-Experience-API-Version", "2.0.0".to_string()),
        ])
        .send()
        .await
        .unwrap();
    let (status, _, message) = error_of(response).await;
    assert_eq!(status, 400);
    assert!(message.contains("2.0"), "{message}");
}

#[tokio::test]
async fn other_query_parameters_and_unknown_methods_are_rejected() {
    let app = spawn_app().await;
    for query in ["method=GET&limit=1", "method=PATCH"] {
        let response = app
            .http
            .post(app.url(&format!("/xapi/statements?{query}")))
            .form(&[
                ("Authorization", basic(&app)),
                ("X-Experience-API-Version", "1.0.3".to_string()),
            ])
            .send()
            .await
            .unwrap();
        let (status, code, _) = error_of(response).await;
        assert_eq!(
            (status, code.as_str()),
            (400, "invalid_parameter"),
            "{query}"
        );
    }
}
