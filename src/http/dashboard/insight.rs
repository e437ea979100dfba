//! `#goals` and `#sharing` of `/dashboard`: who documented goals and how much of their
//! self-directed time serves them, which goals went stale, and the finds shared per team
//! week by week with the most shared items (`store::insight`, as `/reports/goals` and
//! `/reports/sharing` give them).

use std::fmt::Write;

use super::charts::{self, Frame, Mark, Ranked, Series, Stacked, Table, Unit, WIDE};
use super::learner::typed;
use super::page::{colour, encode, escape, hours, PALETTE};
use super::Period;
use crate::store::insight::{SharedItem, StaleGoal, TeamGoals, TeamWeekShares};

/// Stale goals listed on the dashboard; the concierge page and the CSV have them all.
const STALE_SHOWN: usize = 10;

fn share(part: f64, whole: f64) -> f64 {
    if whole > 0.0 {
        part / whole
    } else {
        0.0
    }
}

/// Per team, the share of learners who documented a goal and the share of self-directed
/// time linked to one; then the stale goals.
pub fn goals(period: &Period, teams: &[TeamGoals], stale: &[StaleGoal], weeks: i64) -> String {
    let setters: Vec<Ranked> = teams
        .iter()
        .map(|t| Ranked {
            label: t.team.clone(),
            href: None,
            mark: Mark {
                value: share(t.goal_setters as f64, t.learners as f64),
                estimated: 0.0,
                attributes: vec![
                    ("data-team", t.team.clone()),
                    ("data-learners", t.learners.to_string()),
                    ("data-goal-setters", t.goal_setters.to_string()),
                    ("data-goals", t.goals.to_string()),
                ],
                tip: format!(
                    "{}: {} of {} learners documented {} goals",
                    t.team, t.goal_setters, t.learners, t.goals
                ),
            },
            note: format!(
                "{} of {} learners · {} goals",
                t.goal_setters, t.learners, t.goals
            ),
        })
        .collect();
    let linked: Vec<Ranked> = teams
        .iter()
        .map(|t| Ranked {
            label: t.team.clone(),
            href: None,
            mark: Mark {
                value: share(t.goal_linked_seconds, t.self_directed_seconds),
                estimated: 0.0,
                attributes: vec![
                    ("data-team", t.team.clone()),
                    (
                        "data-self-directed-seconds",
                        t.self_directed_seconds.to_string(),
                    ),
                    (
                        "data-goal-linked-seconds",
                        t.goal_linked_seconds.to_string(),
                    ),
                ],
                tip: format!(
                    "{}: {} h of {} h self-directed learning linked to a goal",
                    t.team,
                    hours(t.goal_linked_seconds),
                    hours(t.self_directed_seconds)
                ),
            },
            note: format!(
                "{} of {} h",
                hours(t.goal_linked_seconds),
                hours(t.self_directed_seconds)
            ),
        })
        .collect();
    let fallback = Table {
        caption: "Goals per team".into(),
        headers: [
            "team",
            "learners",
            "documented a goal",
            "goals",
            "self-directed hours",
            "of which linked to a goal",
        ]
        .map(String::from)
        .to_vec(),
        rows: teams
            .iter()
            .map(|t| {
                vec![
                    escape(&t.team),
                    t.learners.to_string(),
                    t.goal_setters.to_string(),
                    t.goals.to_string(),
                    hours(t.self_directed_seconds),
                    hours(t.goal_linked_seconds),
                ]
            })
            .collect(),
    };
    let setters_frame = Frame {
        id: "goal-setters-chart",
        title: "Learners who documented a goal, per team".into(),
        desc: "Horizontal bars, one per team, of the share of its active learners who had \
               documented at least one goal by the period's end."
            .into(),
        x_title: "Learners with a documented goal".into(),
        y_title: String::new(),
    };
    let linked_frame = Frame {
        id: "goal-linked-chart",
        title: "Self-directed time serving a goal, per team".into(),
        desc: "Horizontal bars, one per team, of the share of its self-planned and \
               self-directed learning time (reported and estimated) in Statements linked to \
               a goal."
            .into(),
        x_title: "Self-directed time linked to a goal".into(),
        y_title: String::new(),
    };
    let mut out = charts::figure(
        "goal-setters",
        "Who documented goals",
        &charts::hbars_svg(
            &setters_frame,
            Unit::Share,
            colour("self_planned"),
            &setters,
        ),
        "",
        &fallback,
    );
    out.push_str(&charts::figure(
        "goal-linked",
        "How much self-directed time serves a goal",
        &charts::hbars_svg(&linked_frame, Unit::Share, colour("self_directed"), &linked),
        "",
        &fallback,
    ));
    let _ = write!(
        out,
        "<h3>Stale goals</h3><p class=\"note\">Goals not achieved with no linked activity in \
         the {weeks} weeks before the period's end, longest idle first: {} in all{}.</p>",
        stale.len(),
        if stale.len() > STALE_SHOWN {
            format!(", the first {STALE_SHOWN} here, every one on the concierge page")
        } else {
            String::new()
        }
    );
    out.push_str(&stale_table(period, &stale[..stale.len().min(STALE_SHOWN)]));
    out
}

/// A link to the concierge page asking for the colleagues of `what` (`learner=…` or
/// `goal=…`, encoded).
pub fn colleagues_link(period: &Period, what: &str, text: &str) -> String {
    format!(
        "<a class=\"colleagues-link\" href=\"/dashboard/concierge?{what}&amp;{}#colleagues\">{}</a>",
        period.query(),
        escape(text)
    )
}

/// Stale goals as a table, each learner by name; a learner or a goal links to their
/// colleagues on the concierge page.
pub fn stale_table(period: &Period, stale: &[StaleGoal]) -> String {
    list(&Table {
        caption: "Stale goals".into(),
        headers: [
            "learner",
            "team",
            "goal",
            "documented",
            "last linked activity",
        ]
        .map(String::from)
        .to_vec(),
        rows: stale
            .iter()
            .map(|g| {
                vec![
                    format!(
                        "<span class=\"learner\" data-learner=\"{}\">{}</span>",
                        escape(&g.learner),
                        colleagues_link(
                            period,
                            &format!("learner={}", encode(typed(&g.learner))),
                            typed(&g.name)
                        )
                    ),
                    escape(g.team.as_deref().unwrap_or("–")),
                    format!(
                        "<span data-goal=\"{}\">{}</span>",
                        escape(&g.goal),
                        colleagues_link(
                            period,
                            &format!("goal={}", encode(&g.goal)),
                            g.goal_name.as_deref().unwrap_or(&g.goal)
                        )
                    ),
                    g.documented.to_string(),
                    g.last_activity.map_or("none".into(), |d| d.to_string()),
                ]
            })
            .collect(),
    })
}

/// A table of text (names, goals, days) rather than figures.
pub fn list(table: &Table) -> String {
    format!("<div class=\"list\">{}</div>", charts::table(table))
}

/// Finds shared per week stacked by team, and the most shared items.
pub fn sharing(period: &Period, weeks: &[TeamWeekShares], items: &[SharedItem]) -> String {
    let mut teams: Vec<&str> = weeks.iter().map(|w| w.team.as_str()).collect();
    teams.sort();
    teams.dedup();
    let series: Vec<Series> = teams
        .iter()
        .enumerate()
        .map(|(i, t)| Series {
            label: t.to_string(),
            colour: PALETTE[i % PALETTE.len()].to_string(),
        })
        .collect();
    let columns = period
        .weeks()
        .into_iter()
        .map(|week| {
            let marks = weeks
                .iter()
                .filter(|w| w.week == week && w.shares > 0)
                .filter_map(|w| {
                    let series = teams.iter().position(|t| *t == w.team)?;
                    Some((
                        series,
                        Mark {
                            value: w.shares as f64,
                            estimated: 0.0,
                            attributes: vec![
                                ("data-week", w.week.to_string()),
                                ("data-team", w.team.clone()),
                                ("data-shares", w.shares.to_string()),
                                ("data-sharers", w.sharers.to_string()),
                            ],
                            tip: format!(
                                "{}, week of {}: {} finds shared by {} learners",
                                w.team, w.week, w.shares, w.sharers
                            ),
                        },
                    ))
                })
                .collect();
            (week.format("%d %b").to_string(), marks)
        })
        .collect();
    let chart = Stacked {
        frame: Frame {
            id: "sharing-weeks-chart",
            title: "Finds shared per week, by team".into(),
            desc: "Stacked bars, one per week, of the finds each team's learners shared.".into(),
            x_title: "Week starting".into(),
            y_title: "Finds shared".into(),
        },
        mark_class: "mark",
        unit: Unit::Count,
        series: &series,
        columns,
        top: None,
        hatched: false,
    };
    let by_week = Table {
        caption: "Finds shared per team and week (learners who shared)".into(),
        headers: ["week", "team", "finds shared", "learners who shared"]
            .map(String::from)
            .to_vec(),
        rows: weeks
            .iter()
            .map(|w| {
                vec![
                    w.week.to_string(),
                    escape(&w.team),
                    w.shares.to_string(),
                    w.sharers.to_string(),
                ]
            })
            .collect(),
    };
    let ranked: Vec<Ranked> = items
        .iter()
        .map(|i| Ranked {
            label: i.name.clone().unwrap_or_else(|| i.activity.clone()),
            href: (i.activity.starts_with("https://") || i.activity.starts_with("http://"))
                .then(|| i.activity.clone()),
            mark: Mark {
                value: i.shares as f64,
                estimated: 0.0,
                attributes: vec![
                    ("data-activity", i.activity.clone()),
                    ("data-shares", i.shares.to_string()),
                    ("data-sharers", i.sharers.to_string()),
                ],
                tip: format!(
                    "{}: shared {} times by {} learners",
                    i.activity, i.shares, i.sharers
                ),
            },
            note: format!("{} shares · {} learners", i.shares, i.sharers),
        })
        .collect();
    let items_frame = Frame {
        id: "shared-items-chart",
        title: "The most shared items".into(),
        desc: "Horizontal bars, one per Activity, of how often it was shared in the period.".into(),
        x_title: "Times shared".into(),
        y_title: String::new(),
    };
    let items_table = Table {
        caption: "The most shared items".into(),
        headers: ["item", "shares", "learners who shared"]
            .map(String::from)
            .to_vec(),
        rows: items
            .iter()
            .map(|i| {
                vec![
                    escape(i.name.as_deref().unwrap_or(&i.activity)),
                    i.shares.to_string(),
                    i.sharers.to_string(),
                ]
            })
            .collect(),
    };
    let mut out = charts::figure(
        "sharing-weeks",
        "Finds shared per week",
        &charts::stacked_svg(&chart, WIDE),
        &charts::legend(&series, false),
        &by_week,
    );
    out.push_str(&charts::figure(
        "shared-items",
        "The most shared items",
        &charts::hbars_svg(&items_frame, Unit::Count, colour("guided"), &ranked),
        "",
        &items_table,
    ));
    out
}
