//! Each chart and list of the dashboard and the concierge carries the figures of the
//! report behind it, for the same period.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use super::{
    encode, figure, in_chromium, insight_app, marks, report, sorted, sum, text, view, views,
    LISTED_LEARNER, SMALL_TEAMS, STALE_WEEKS,
};

#[tokio::test]
async fn each_chart_carries_the_apis_figures_for_the_period() {
    let (app, period) = insight_app().await;
    let range = period.query();
    let out = tempfile::tempdir().unwrap();
    let shown = in_chromium(&app, &views(&app, &period)[..2], out.path()).await;
    let dashboard = view(&shown, "dashboard", "desktop");
    let concierge = view(&shown, "concierge", "desktop");

    // Statements per week: one bar per week and mode of /reports/modes.
    let weekly = report(&app, &format!("/reports/modes?bucket=week&{range}")).await;
    let api = sorted(weekly["rows"].as_array().unwrap().iter().map(|r| {
        format!(
            "{} {} {}",
            text(&r["bucket"]),
            text(&r["mode"]),
            r["statements"]
        )
    }));
    let charted = sorted(marks(dashboard, "weekly").iter().map(|m| {
        format!(
            "{} {} {}",
            text(&m["week"]),
            text(&m["mode"]),
            text(&m["statements"])
        )
    }));
    assert!(api.len() > 2, "{weekly}");
    assert_eq!(charted, api);

    // The teams shown: those /reports/teams shows, never one below the minimum size.
    let teams = report(&app, &format!("/reports/teams?{range}")).await;
    let teams = teams["teams"].as_array().unwrap().clone();
    let shown_teams: BTreeSet<String> = teams.iter().map(|t| text(&t["team"])).collect();
    assert!(shown_teams.len() >= 4, "{teams:?}");
    for small in SMALL_TEAMS {
        assert!(!shown_teams.contains(small), "{small} is below the minimum");
    }

    // Each team's mix week by week: a mark per team, week and mode of
    // /reports/modes?group=team, once by time and once by Statements.
    let by_team = report(
        &app,
        &format!("/reports/modes?group=team&bucket=week&{range}"),
    )
    .await;
    let api: Vec<String> = sorted(
        by_team["rows"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| shown_teams.contains(&text(&r["group"])))
            .map(|r| {
                format!(
                    "{} {} {} statements={} learners={} seconds={} estimated={}",
                    text(&r["group"]),
                    text(&r["bucket"]),
                    text(&r["mode"]),
                    r["statements"],
                    r["activeLearners"],
                    figure(&sum(&r["reportedSeconds"], &r["estimatedSeconds"])),
                    figure(&r["estimatedSeconds"]),
                )
            }),
    );
    let mix = marks(dashboard, "team-mix");
    let charted: Vec<String> = sorted(mix.iter().map(|m| {
        format!(
            "{} {} {} statements={} learners={} seconds={} estimated={}",
            text(&m["team"]),
            text(&m["week"]),
            text(&m["mode"]),
            text(&m["statements"]),
            text(&m["learners"]),
            figure(&m["seconds"]),
            figure(&m["estimatedSeconds"]),
        )
    }));
    let twice: Vec<String> = sorted(api.iter().flat_map(|r| [r.clone(), r.clone()]));
    assert!(api.len() > 8, "{by_team}");
    assert_eq!(charted, twice);
    let panels: BTreeSet<String> = mix.iter().map(|m| text(&m["team"])).collect();
    assert_eq!(panels, shown_teams);

    // Completion against self-direction: one mark per team with both figures.
    let api = sorted(
        teams
            .iter()
            .filter(|t| {
                !t["directedCompletionRate"].is_null() && !t["selfDirectionByTime"].is_null()
            })
            .map(|t| {
                format!(
                    "{} completion={} self-direction={} learners={}",
                    text(&t["team"]),
                    figure(&t["directedCompletionRate"]),
                    figure(&t["selfDirectionByTime"]),
                    t["learners"]
                )
            }),
    );
    let charted = sorted(marks(dashboard, "completion-engagement").iter().map(|m| {
        format!(
            "{} completion={} self-direction={} learners={}",
            text(&m["team"]),
            figure(&m["completion"]),
            figure(&m["selfDirection"]),
            text(&m["learners"])
        )
    }));
    assert!(api.len() >= 4, "{teams:?}");
    assert_eq!(charted, api);

    // Where people learn on their own: the self-directed hosts and Activities of
    // /reports/sources, with the previous period's figures of those it had too.
    let self_directed = |sources: &Value| -> Value {
        sources["modes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["mode"] == "self_directed")
            .cloned()
            .unwrap_or(json!({"hosts": [], "activities": []}))
    };
    let now = self_directed(&report(&app, &format!("/reports/sources?{range}")).await);
    let before = self_directed(
        &report(
            &app,
            &format!("/reports/sources?top=25&{}", period.previous().query()),
        )
        .await,
    );
    let mut api = Vec::new();
    for (kind, list) in [("host", "hosts"), ("activity", "activities")] {
        for r in now[list].as_array().unwrap() {
            let prior = before[list]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["key"] == r["key"]);
            api.push(format!(
                "{kind} {} statements={} learners={} seconds={} before={}",
                text(&r["key"]),
                r["statements"],
                r["learners"],
                figure(&sum(&r["reportedSeconds"], &r["estimatedSeconds"])),
                prior.map_or("-".into(), |p| format!(
                    "{}/{}",
                    p["learners"],
                    figure(&sum(&p["reportedSeconds"], &p["estimatedSeconds"]))
                )),
            ));
        }
    }
    let charted: Vec<String> = marks(dashboard, "own-sources")
        .iter()
        .map(|m| {
            format!(
                "{} {} statements={} learners={} seconds={} before={}",
                text(&m["kind"]),
                text(&m["key"]),
                text(&m["statements"]),
                text(&m["learners"]),
                figure(&m["seconds"]),
                if m["previousLearners"].is_null() {
                    "-".into()
                } else {
                    format!(
                        "{}/{}",
                        text(&m["previousLearners"]),
                        figure(&m["previousSeconds"])
                    )
                },
            )
        })
        .collect();
    assert!(api.iter().any(|r| r.starts_with("host ")), "{now}");
    assert!(
        api.iter().any(|r| !r.ends_with("before=-")),
        "nothing to compare with: {before}"
    );
    assert_eq!(sorted(charted), sorted(api));

    // Goals: per team, who documented goals and the self-directed time linked to them,
    // as /reports/goals gives them; then its first stale goals (for four weeks), in its
    // order.
    let goals = report(&app, &format!("/reports/goals?weeks=4&{range}")).await;
    let goal_marks = marks(dashboard, "goals");
    let api = sorted(goals["teams"].as_array().unwrap().iter().flat_map(|t| {
        [
            format!(
                "{} learners={} setters={} goals={}",
                text(&t["team"]),
                t["learners"],
                t["goalSetters"],
                t["goals"]
            ),
            format!(
                "{} self-directed={} linked={}",
                text(&t["team"]),
                figure(&t["selfDirectedSeconds"]),
                figure(&t["goalLinkedSeconds"])
            ),
        ]
    }));
    let charted = sorted(goal_marks.iter().filter(|m| !m["team"].is_null()).map(|m| {
        if m["goalSetters"].is_null() {
            format!(
                "{} self-directed={} linked={}",
                text(&m["team"]),
                figure(&m["selfDirectedSeconds"]),
                figure(&m["goalLinkedSeconds"])
            )
        } else {
            format!(
                "{} learners={} setters={} goals={}",
                text(&m["team"]),
                text(&m["learners"]),
                text(&m["goalSetters"]),
                text(&m["goals"])
            )
        }
    }));
    assert!(api.len() >= 8, "{goals}");
    assert_eq!(charted, api);
    let stale: Vec<String> = goals["staleGoals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| format!("{} {}", text(&g["learner"]), text(&g["goal"])))
        .collect();
    assert!(!stale.is_empty(), "no stale goal to show: {goals}");
    assert_eq!(listed_goals(&goal_marks), stale[..stale.len().min(10)]);

    // Sharing: per week and team the finds shared, and the most shared items.
    let sharing = report(&app, &format!("/reports/sharing?top=10&{range}")).await;
    let share_marks = marks(dashboard, "sharing");
    let api = sorted(
        sharing["weeks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|w| w["shares"].as_i64() > Some(0))
            .map(|w| {
                format!(
                    "{} {} shares={} sharers={}",
                    text(&w["week"]),
                    text(&w["team"]),
                    w["shares"],
                    w["sharers"]
                )
            }),
    );
    let charted = sorted(
        share_marks
            .iter()
            .filter(|m| !m["week"].is_null())
            .map(|m| {
                format!(
                    "{} {} shares={} sharers={}",
                    text(&m["week"]),
                    text(&m["team"]),
                    text(&m["shares"]),
                    text(&m["sharers"])
                )
            }),
    );
    assert!(api.len() > 2, "{sharing}");
    assert_eq!(charted, api);
    let api = sorted(sharing["topShared"].as_array().unwrap().iter().map(|i| {
        format!(
            "{} shares={} sharers={}",
            text(&i["activity"]),
            i["shares"],
            i["sharers"]
        )
    }));
    let charted = sorted(
        share_marks
            .iter()
            .filter(|m| !m["activity"].is_null())
            .map(|m| {
                format!(
                    "{} shares={} sharers={}",
                    text(&m["activity"]),
                    text(&m["shares"]),
                    text(&m["sharers"])
                )
            }),
    );
    assert!(!api.is_empty(), "{sharing}");
    assert_eq!(charted, api);

    // The concierge's lists: the stale goals, the learner's colleagues and the directed
    // work not finished, as /reports/concierge/* list them.
    let stale = report(
        &app,
        &format!("/reports/concierge/stale-goals?weeks={STALE_WEEKS}&{range}"),
    )
    .await;
    let api: Vec<String> = stale["staleGoals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| format!("{} {}", text(&g["learner"]), text(&g["goal"])))
        .collect();
    assert!(!api.is_empty(), "no stale goal to show: {stale}");
    assert_eq!(listed_goals(&marks(concierge, "stale-goals")), api);
    let colleagues = report(
        &app,
        &format!(
            "/reports/concierge/colleagues?learner={}&{range}",
            encode(LISTED_LEARNER)
        ),
    )
    .await;
    let api: Vec<String> = colleagues["colleagues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| text(&c["learner"]))
        .collect();
    let listed: Vec<String> = marks(concierge, "colleagues")
        .iter()
        .map(|m| text(&m["learner"]))
        .collect();
    assert!(!api.is_empty(), "{colleagues}");
    assert_eq!(listed, api);
    let unfinished = report(&app, &format!("/reports/concierge/unfinished?{range}")).await;
    let api: Vec<String> = unfinished["unfinished"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| format!("{} {}", text(&u["learner"]), text(&u["course"])))
        .collect();
    let listed = marks(concierge, "unfinished");
    let listed: Vec<String> = listed
        .iter()
        .filter(|m| !m["learner"].is_null())
        .zip(listed.iter().filter(|m| !m["course"].is_null()))
        .map(|(l, c)| format!("{} {}", text(&l["learner"]), text(&c["course"])))
        .collect();
    assert!(!api.is_empty(), "{unfinished}");
    assert_eq!(listed, api);
}

/// The learner and goal of each row of a stale-goals list, in its order.
fn listed_goals(marks: &[&Value]) -> Vec<String> {
    marks
        .iter()
        .filter(|m| !m["learner"].is_null())
        .zip(marks.iter().filter(|m| !m["goal"].is_null()))
        .map(|(l, g)| format!("{} {}", text(&l["learner"]), text(&g["goal"])))
        .collect()
}
