//! The store- and team-level sections of `/dashboard`: Statements per week, each team's
//! mix week by week (by time and by Statements), directed completion against
//! self-direction, and the team table.

use std::fmt::Write;

use chrono::NaiveDate;

use super::charts::{self, Frame, Mark, Point, Stacked, Table, Unit, PANEL, WIDE};
use super::page::{encode, escape, hours, mode_series, percent};
use super::Period;
use crate::modes::Mode;
use crate::store::learning::TeamFigures;
use crate::store::reports::ModeFigures;

fn week_label(week: NaiveDate) -> String {
    week.format("%d %b").to_string()
}

fn mode_index(mode: &str) -> Option<usize> {
    Mode::parse(mode).and_then(|m| Mode::EVERY.iter().position(|x| *x == m))
}

/// A row of `/reports/modes` as a mark: by Statements or by time.
fn mode_mark(f: &ModeFigures, team: Option<&str>, by_time: bool) -> Mark {
    let seconds = f.reported_seconds + f.estimated_seconds;
    let mut attributes = Vec::new();
    if let Some(team) = team {
        attributes.push(("data-team", team.to_string()));
    }
    attributes.extend([
        ("data-week", f.bucket.to_string()),
        ("data-mode", f.mode.clone()),
        ("data-statements", f.statements.to_string()),
    ]);
    if team.is_some() {
        attributes.extend([
            ("data-learners", f.active_learners.to_string()),
            ("data-seconds", seconds.to_string()),
            ("data-reported-seconds", f.reported_seconds.to_string()),
            ("data-estimated-seconds", f.estimated_seconds.to_string()),
        ]);
    }
    let who = team.map(|t| format!("{t}, ")).unwrap_or_default();
    let week = f.bucket;
    let mode = &f.mode;
    if by_time {
        Mark {
            value: seconds,
            estimated: f.estimated_seconds,
            attributes,
            tip: format!(
                "{who}week of {week}, {mode}: {} h ({} h reported, {} h estimated)",
                hours(seconds),
                hours(f.reported_seconds),
                hours(f.estimated_seconds)
            ),
        }
    } else {
        Mark {
            value: f.statements as f64,
            estimated: 0.0,
            attributes,
            tip: format!("{who}week of {week}, {mode}: {} statements", f.statements),
        }
    }
}

/// Per week, the marks of `rows` stacked from most to least directed.
fn columns(
    weeks: &[NaiveDate],
    rows: &[&ModeFigures],
    team: Option<&str>,
    by_time: bool,
) -> Vec<(String, Vec<(usize, Mark)>)> {
    weeks
        .iter()
        .map(|week| {
            let mut marks: Vec<(usize, Mark)> = rows
                .iter()
                .filter(|f| f.bucket == *week)
                .filter_map(|f| Some((mode_index(&f.mode)?, mode_mark(f, team, by_time))))
                .collect();
            marks.sort_by_key(|(series, _)| *series);
            (week_label(*week), marks)
        })
        .collect()
}

/// `#weekly`: Statements per week and mode for the whole store (marks `rect.bar`).
pub fn weekly(period: &Period, rows: &[ModeFigures]) -> String {
    let series = mode_series();
    let rows: Vec<&ModeFigures> = rows.iter().collect();
    let chart = Stacked {
        frame: Frame {
            id: "weekly",
            title: "Statements per week by learning mode".into(),
            desc: format!(
                "Stacked bars, one per week from {} to {}, of the store's Statements in \
                 each mode, most directed at the bottom.",
                period.since, period.last
            ),
            x_title: "Week starting".into(),
            y_title: "Statements".into(),
        },
        mark_class: "bar",
        unit: Unit::Count,
        series: &series,
        columns: columns(&period.weeks(), &rows, None, false),
        top: None,
        hatched: false,
    };
    let mut fallback = Table {
        caption: "Statements per week and mode".into(),
        headers: vec!["week".into()],
        rows: Vec::new(),
    };
    fallback
        .headers
        .extend(series.iter().map(|s| s.label.clone()));
    for week in period.weeks() {
        let mut row = vec![week.to_string()];
        for mode in Mode::EVERY {
            let n: i64 = rows
                .iter()
                .filter(|f| f.bucket == week && f.mode == mode.as_str())
                .map(|f| f.statements)
                .sum();
            row.push(n.to_string());
        }
        fallback.rows.push(row);
    }
    let drawing = format!(
        "<div class=\"weekly-modes\">{}</div>",
        charts::stacked_svg(&chart, WIDE)
    );
    charts::figure(
        "weekly",
        "Statements per week",
        &drawing,
        &charts::legend(&series, false),
        &fallback,
    )
}

/// `#team-mix`: small multiples, one panel per team the team table shows, of the mix
/// week by week by learning time (estimate hatched) and by Statements, on scales shared
/// by every panel so teams compare at a glance.
pub fn team_mix(period: &Period, rows: &[ModeFigures], teams: &[TeamFigures]) -> String {
    let series = mode_series();
    let weeks = period.weeks();
    let mut fallback = Table {
        caption: "Per team and week: statements · hours (of which estimated)".into(),
        headers: vec!["team".into(), "week".into()],
        rows: Vec::new(),
    };
    fallback
        .headers
        .extend(series.iter().map(|s| s.label.clone()));
    let mut panels = Vec::new();
    for by_time in [true, false] {
        let (kind, y_title, unit) = if by_time {
            ("time", "Hours", Unit::Hours)
        } else {
            ("statements", "Statements", Unit::Count)
        };
        let per_team: Vec<_> = teams
            .iter()
            .map(|team| {
                let own: Vec<&ModeFigures> = rows.iter().filter(|f| f.group == team.team).collect();
                columns(&weeks, &own, Some(&team.team), by_time)
            })
            .collect();
        // One scale for every panel of the kind.
        let top = per_team
            .iter()
            .flatten()
            .map(|(_, marks)| marks.iter().map(|(_, m)| m.value).sum::<f64>())
            .fold(0.0, f64::max);
        let mut grid = String::new();
        for (i, (team, columns)) in teams.iter().zip(per_team).enumerate() {
            let id = format!("team-mix-{kind}-{i}");
            let chart = Stacked {
                frame: Frame {
                    id: &id,
                    title: format!("{}: learning {kind} per week by mode", team.team),
                    desc: format!(
                        "Stacked bars per week of the team {}'s learning {kind} in each mode{}.",
                        team.team,
                        if by_time {
                            ", reported time solid and estimated time hatched"
                        } else {
                            ""
                        }
                    ),
                    x_title: "Week starting".into(),
                    y_title: y_title.into(),
                },
                mark_class: "mark",
                unit,
                series: &series,
                columns,
                top: Some(top),
                hatched: by_time,
            };
            let _ = write!(
                grid,
                "<figure class=\"panel\" data-team=\"{team}\"><figcaption>{team}</figcaption>\
                 {svg}</figure>",
                team = escape(&team.team),
                svg = charts::stacked_svg(&chart, PANEL)
            );
        }
        panels.push(grid);
    }
    for team in teams {
        for week in &weeks {
            let mut row = vec![escape(&team.team), week.to_string()];
            for mode in Mode::EVERY {
                let cell = rows
                    .iter()
                    .find(|f| f.group == team.team && f.bucket == *week && f.mode == mode.as_str())
                    .map(|f| {
                        format!(
                            "{} · {} h ({} est.)",
                            f.statements,
                            hours(f.reported_seconds + f.estimated_seconds),
                            hours(f.estimated_seconds)
                        )
                    })
                    .unwrap_or_else(|| "–".into());
                row.push(cell);
            }
            fallback.rows.push(row);
        }
    }
    let legend = charts::legend(&series, true);
    let empty = if teams.is_empty() {
        "<p class=\"note\">No team has enough active learners to show.</p>"
    } else {
        ""
    };
    format!(
        "{empty}<figure class=\"chart\" data-chart=\"team-mix-time\"><figcaption>Learning time \
         per week by mode (hours; the estimate hatched)</figcaption>{legend}\
         <div class=\"multiples\">{time}</div></figure>\
         <figure class=\"chart\" data-chart=\"team-mix-statements\"><figcaption>Statements per \
         week by mode</figcaption><div class=\"multiples\">{statements}</div>\
         <details class=\"fallback\"><summary>Table of the figures</summary>{table}</details>\
         </figure>",
        time = panels[0],
        statements = panels[1],
        table = charts::table(&fallback),
    )
}

/// `#completion-engagement`: one mark per team, directed completion across, the share
/// of learning time that is self-planned or self-directed up.
pub fn completion_engagement(teams: &[TeamFigures]) -> String {
    let mut points = Vec::new();
    let mut unplotted = Vec::new();
    for t in teams {
        match (t.directed_completion_rate, t.self_direction_by_time) {
            (Some(completion), Some(self_direction)) => points.push(Point {
                label: t.team.clone(),
                x: completion,
                y: self_direction,
                attributes: vec![
                    ("data-team", t.team.clone()),
                    ("data-completion", completion.to_string()),
                    ("data-self-direction", self_direction.to_string()),
                    ("data-learners", t.learners.to_string()),
                ],
                tip: format!(
                    "{}: {} of directed courses completed, {} of learning time self-directed",
                    t.team,
                    percent(Some(completion)),
                    percent(Some(self_direction))
                ),
            }),
            _ => unplotted.push(escape(&t.team)),
        }
    }
    let frame = Frame {
        id: "completion-engagement-chart",
        title: "Directed completion against self-directed engagement, per team".into(),
        desc: "A scatter with one labelled point per team: across, the share of the directed \
               courses its learners were active in that they completed; up, the share of its \
               learning time (reported and estimated) that is self-planned or self-directed."
            .into(),
        x_title: "Directed courses completed".into(),
        y_title: "Learning time self-directed".into(),
    };
    let fallback = Table {
        caption: "Per team".into(),
        headers: [
            "team",
            "learners",
            "directed courses",
            "directed completion",
            "self-direction (time)",
            "self-direction (statements)",
        ]
        .map(String::from)
        .to_vec(),
        rows: teams
            .iter()
            .map(|t| {
                vec![
                    escape(&t.team),
                    t.learners.to_string(),
                    t.directed_courses.to_string(),
                    percent(t.directed_completion_rate),
                    percent(t.self_direction_by_time),
                    percent(Some(t.self_direction_by_statements)),
                ]
            })
            .collect(),
    };
    let mut out = charts::figure(
        "completion-engagement",
        "Directed completion and self-direction per team",
        &charts::scatter_svg(&frame, &points),
        "",
        &fallback,
    );
    if !unplotted.is_empty() {
        let _ = write!(
            out,
            "<p class=\"note\">Not plotted (no directed course or no learning time in the \
             period): {}.</p>",
            unplotted.join(", ")
        );
    }
    out
}

/// `#teams`: the figures of `/reports/teams`; each team links to its Statements.
pub fn team_table(period: &Period, teams: &[TeamFigures]) -> String {
    let mut out = String::from(
        "<div class=\"scroll\"><table class=\"teams\"><thead><tr><th>team</th><th>learners</th>\
         <th>statements</th><th>self-direction (time)</th><th>self-direction (statements)</th>\
         <th>goal coverage</th><th>linked to goals</th><th>finds shared / learner</th>\
         <th>directed completion</th><th>hours reported</th><th>hours estimated</th></tr>\
         </thead><tbody>",
    );
    for t in teams {
        let _ = write!(
            out,
            "<tr data-team=\"{team}\" data-statements=\"{}\"><td><a class=\"statements-link\" \
             href=\"/dashboard/statements?team={query}&amp;{range}\">{team}</a></td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.2}</td><td>{}</td>\
             <td>{}</td><td>{}</td></tr>",
            t.statements,
            t.learners,
            t.statements,
            percent(t.self_direction_by_time),
            percent(Some(t.self_direction_by_statements)),
            percent(Some(t.goal_coverage)),
            percent(t.goal_linked_share),
            t.finds_shared_per_learner,
            percent(t.directed_completion_rate),
            hours(t.reported_seconds),
            hours(t.estimated_seconds),
            team = escape(&t.team),
            query = encode(&t.team),
            range = period.query(),
        );
    }
    if teams.is_empty() {
        out.push_str(
            "<tr><td colspan=\"11\">No team has enough active learners to show.</td></tr>",
        );
    }
    out.push_str("</tbody></table></div>");
    out
}
