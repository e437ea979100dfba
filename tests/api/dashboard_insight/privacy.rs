//! Opted-out learners and teams below the minimum size appear on no view, and the
//! lists behind a row that would name them are refused.

use std::collections::BTreeSet;

use super::{encode, in_chromium, insight_app, report, text, views, OPTED_OUT, SMALL_TEAMS};

#[tokio::test]
async fn opted_out_learners_and_small_teams_appear_on_no_view() {
    let (app, period) = insight_app().await;
    let range = period.query();

    // The roster made learner3's team one of a single learner.
    let learner3 = report(
        &app,
        &format!(
            "/reports/learners/{}?{range}",
            encode(r#"{"mbox":"mailto:learner3@example.org"}"#)
        ),
    )
    .await;
    assert_eq!(learner3["team"], "Skunkworks", "{learner3}");
    // Each small team has a learner active in the period: the views have someone to
    // leave out.
    let learners = report(&app, &format!("/reports/modes?group=learner&{range}")).await;
    let teams_of_learners: BTreeSet<String> = learners["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| text(&r["team"]))
        .collect();
    for small in SMALL_TEAMS {
        assert!(
            teams_of_learners.contains(small),
            "no learner of {small} in the period: {teams_of_learners:?}"
        );
    }

    let out = tempfile::tempdir().unwrap();
    let mut views = views(&app, &period);
    // The team list of a team that is shown, beside the learner's.
    views.push((
        "team-statements",
        app.url(&format!("/dashboard/statements?team=Sales&{range}")),
    ));
    let shown = in_chromium(&app, &views, out.path()).await;
    for v in &shown {
        let html = text(&v["html"]);
        for hidden in OPTED_OUT.iter().chain(&SMALL_TEAMS) {
            assert!(
                !html.contains(hidden),
                "{} at {} shows {hidden}",
                v["name"],
                v["width"]
            );
        }
        assert!(html.len() > 2000, "{}: {html}", v["name"]);
    }

    // Nor do the lists behind a row name them: asked for, they are refused.
    let opted_out = app
        .report(&format!(
            "/dashboard/statements?learner=mailto:learner5@example.org&{range}"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(opted_out.status(), 403);
    for small in SMALL_TEAMS {
        let response = app
            .report(&format!("/dashboard/statements?team={small}&{range}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{small}");
    }
}
