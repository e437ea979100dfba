//! Sign-ins under way are kept server-side until they complete or expire, so a client
//! that keeps opening /dashboard without ever signing in is stopped at a bounded
//! number of them rather than growing the table.

use reqwest::header::ACCEPT;
use reqwest::{redirect, StatusCode};

use super::sign_in::lrs_signing_in;
use super::Provider;

/// Sign-ins one client address may start per ten minutes.
const SIGN_INS_PER_ADDRESS: i64 = 20;

#[tokio::test]
async fn a_client_opening_the_dashboard_again_and_again_keeps_a_bounded_number_of_sign_ins() {
    let provider = Provider::start();
    let app = lrs_signing_in(&provider).await;
    let browser = reqwest::Client::builder()
        .redirect(redirect::Policy::none())
        .build()
        .unwrap();
    let mut answers = Vec::new();
    for _ in 0..SIGN_INS_PER_ADDRESS + 5 {
        let response = browser
            .get(app.url("/dashboard"))
            .header(ACCEPT, "text/html")
            .send()
            .await
            .unwrap();
        answers.push(response.status());
    }
    let sent_to_provider = answers.iter().filter(|s| s.is_redirection()).count();
    assert_eq!(sent_to_provider as i64, SIGN_INS_PER_ADDRESS, "{answers:?}");
    assert!(answers[SIGN_INS_PER_ADDRESS as usize..]
        .iter()
        .all(|s| *s == StatusCode::TOO_MANY_REQUESTS));

    let client = app.pool.get().await.unwrap();
    let kept: i64 = client
        .query_one("SELECT count(*) FROM sign_in_attempts", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(kept, SIGN_INS_PER_ADDRESS);
}
