//! `GET /dashboard/concierge`: for the person who helps a learner when asked. Learners
//! whose goals went stale, colleagues to put a learner (or a goal's followers) in touch
//! with, and directed work started and not finished; each list with its CSV
//! (`/reports/concierge/*`). Opted-out learners are never listed, and a team smaller
//! than the minimum group size is not named.

use std::fmt::Write;

use actix_web::{web, HttpRequest, HttpResponse};

use super::charts::Table;
use super::insight::{colleagues_link, list, stale_table};
use super::learner::{picker, typed};
use super::names::Names;
use super::page::{encode, escape, page};
use super::{query, section, signed_in, Period};
use crate::http::error::ApiError;
use crate::http::report_access::{learner_ifi, replayed_through, report_response, Reader};
use crate::http::report_cache::read_report;
use crate::http::AppState;
use crate::store::insight::{self, Colleague, ColleaguesOf, StaleGoal, Unfinished};
use crate::store::learning;

/// Weeks without linked activity after which a goal is stale, unless the page says.
const DEFAULT_WEEKS: i64 = 4;
const MAX_WEEKS: i64 = 104;
/// Colleagues listed for a learner or a goal.
const COLLEAGUES: i64 = 10;
/// Rows a list shows on the page; its CSV has every one.
const SHOWN: usize = 200;

/// Whose colleagues the page was asked for, and what came of it.
#[derive(serde::Serialize)]
enum Asked {
    Nobody,
    OptedOut,
    /// Whose, how they are named on the page, and the colleagues found.
    Found(ColleaguesOf, String, Vec<Colleague>),
}

pub async fn concierge(
    reader: Reader,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (period, extra) = query(&req, "/dashboard/concierge", &["weeks", "learner", "goal"])?;
    let weeks = match extra.get("weeks") {
        None => DEFAULT_WEEKS,
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=MAX_WEEKS).contains(n))
            .ok_or_else(|| {
                ApiError::InvalidParameter(format!(
                    "weeks: '{v}' is not a whole number from 1 to {MAX_WEEKS}"
                ))
            })?,
    };
    let asked = match (extra.get("learner"), extra.get("goal")) {
        (None, None) => None,
        (Some(learner), None) => Some(ColleaguesOf::Learner(learner_ifi(
            "learner",
            learner.trim(),
        )?)),
        (None, Some(goal)) => Some(ColleaguesOf::Goal(goal.trim().to_string())),
        (Some(_), Some(_)) => {
            return Err(ApiError::InvalidParameter(
                "learner, goal: give one of them, not both".into(),
            ))
        }
    };
    let scope = period.scope(reader.0.store_id, &state);
    let chosen = extra.get("learner").map(String::as_str);
    let served = read_report(&state, &req, reader.0.store_id, async |pool| {
        let colleagues = async {
            Ok(match &asked {
                None => Asked::Nobody,
                Some(ColleaguesOf::Learner(ifi)) => {
                    let (learner, opted_out) =
                        learning::credited_learner(pool, scope.store_id, ifi).await?;
                    if opted_out {
                        Asked::OptedOut
                    } else {
                        let names =
                            Names::of(pool, scope.store_id, std::slice::from_ref(&learner)).await?;
                        let name = names.label(&learner).to_string();
                        let of = ColleaguesOf::Learner(learner);
                        let found =
                            insight::colleagues(pool, scope, of.clone(), COLLEAGUES).await?;
                        Asked::Found(of, name, found)
                    }
                }
                Some(ColleaguesOf::Goal(goal)) => {
                    let of = ColleaguesOf::Goal(goal.clone());
                    let found = insight::colleagues(pool, scope, of.clone(), COLLEAGUES).await?;
                    Asked::Found(of, format!("the goal {goal}"), found)
                }
            })
        };
        // The reads are independent: each on a connection of its own, at once.
        tokio::try_join!(
            insight::stale_goals(pool, scope, weeks),
            // One more than the page shows tells whether there are more.
            insight::unfinished_directed(pool, scope, Some(SHOWN as i64 + 1)),
            colleagues,
            picker(pool, scope, chosen),
        )
    })
    .await?;
    let (stale, unfinished, colleagues, picker) = &*served.value;
    let range = period.query();
    let freshness = replayed_through(&served)
        .map(|at| {
            format!("<p class=\"note freshness\" data-replayed-through=\"{at}\">Figures as of {at}.</p>")
        })
        .unwrap_or_default();
    let goal_asked = match colleagues {
        Asked::Found(ColleaguesOf::Goal(g), _, _) => g.clone(),
        _ => String::new(),
    };
    let body = format!(
        "<h1>Concierge, <span class=\"period\" data-since=\"{since}\" data-until=\"{last}\">\
         {since} – {last}</span></h1>\
         <form method=\"get\" action=\"/dashboard/concierge\" class=\"controls\">\
         <label>From <input type=\"date\" name=\"since\" value=\"{since}\"></label>\
         <label>To <input type=\"date\" name=\"until\" value=\"{last}\"></label>\
         <label>Stale after (weeks) <input type=\"number\" name=\"weeks\" min=\"1\" \
         max=\"{MAX_WEEKS}\" value=\"{weeks}\"></label>\
         <label>Colleagues of a learner {picker}</label>\
         <label>… or of a goal (its id) <input type=\"text\" name=\"goal\" \
         value=\"{goal}\" list=\"goals\"></label>{goal_list}<button>Show</button></form>\
         {stale}{colleagues}{unfinished}{freshness}",
        since = period.since,
        last = period.last,
        goal = escape(&goal_asked),
        goal_list = goal_list(stale),
        stale = section(
            "stale-goals",
            &format!("Goals with nothing done toward them for {weeks} weeks"),
            &[(
                "stale goals",
                format!("/reports/concierge/stale-goals?weeks={weeks}&amp;{range}"),
            )],
            &format!(
                "{}{}",
                more(stale.len()),
                stale_table(&period, &stale[..stale.len().min(SHOWN)])
            ),
        ),
        colleagues = colleagues_section(&period, colleagues),
        unfinished = section(
            "unfinished",
            "Directed work started and not completed",
            &[(
                "unfinished directed work",
                format!("/reports/concierge/unfinished?{range}"),
            )],
            &format!(
                "{}{}",
                more_than_read(unfinished.len()),
                unfinished_table(&period, unfinished)
            ),
        ),
    );
    Ok(report_response(&served)
        .content_type("text/html; charset=utf-8")
        .body(page("concierge", &signed_in(&req), &body)))
}

/// How many a list holds, and that the CSV has the rest when the page shows fewer.
fn more(count: usize) -> String {
    if count > SHOWN {
        format!(
            "<p class=\"note\">{count} in all; the first {SHOWN} here, every one in the CSV.</p>"
        )
    } else {
        format!("<p class=\"note\">{count} in all.</p>")
    }
}

/// The note under a list read one row past what the page shows.
fn more_than_read(count: usize) -> String {
    if count > SHOWN {
        format!(
            "<p class=\"note\">More than {SHOWN}; the first {SHOWN} here, every one in the CSV.</p>"
        )
    } else {
        format!("<p class=\"note\">{count} in all.</p>")
    }
}

/// The goals of the stale list, to pick one by its name in the goal field.
fn goal_list(stale: &[StaleGoal]) -> String {
    let mut goals: Vec<(&str, &str)> = stale
        .iter()
        .map(|g| (g.goal.as_str(), g.goal_name.as_deref().unwrap_or(&g.goal)))
        .collect();
    goals.sort();
    goals.dedup();
    let mut out = String::from("<datalist id=\"goals\">");
    for (goal, name) in goals {
        let _ = write!(
            out,
            "<option value=\"{}\">{}</option>",
            escape(goal),
            escape(name)
        );
    }
    out.push_str("</datalist>");
    out
}

fn colleagues_section(period: &Period, asked: &Asked) -> String {
    let range = period.query();
    let (heading, reports, body) = match asked {
        Asked::Nobody => (
            "Colleagues".to_string(),
            Vec::new(),
            "<p class=\"note\">Pick a learner or a goal above (or follow a learner's or a \
             goal's link in the lists) to find colleagues who learn from the same sources and \
             share their finds.</p>"
                .to_string(),
        ),
        Asked::OptedOut => (
            "Colleagues".to_string(),
            Vec::new(),
            "<p class=\"note\">This learner opted out of learner-level reports.</p>".to_string(),
        ),
        Asked::Found(of, who, found) => {
            let what = match of {
                ColleaguesOf::Learner(l) => format!("learner={}", encode(typed(l))),
                ColleaguesOf::Goal(g) => format!("goal={}", encode(g)),
            };
            let table = list(&Table {
                caption: format!("Colleagues of {who}"),
                headers: [
                    "colleague",
                    "team",
                    "sources in common",
                    "in common",
                    "finds shared",
                ]
                .map(String::from)
                .to_vec(),
                rows: found
                    .iter()
                    .map(|c| {
                        vec![
                            format!(
                                "<span class=\"learner\" data-learner=\"{}\">{}</span>",
                                escape(&c.learner),
                                colleagues_link(
                                    period,
                                    &format!("learner={}", encode(typed(&c.learner))),
                                    typed(&c.name)
                                )
                            ),
                            escape(c.team.as_deref().unwrap_or("–")),
                            c.common_sources.to_string(),
                            escape(&c.common.join(", ")),
                            c.shares.to_string(),
                        ]
                    })
                    .collect(),
            });
            (
                format!("Colleagues of {who}"),
                vec![(
                    "colleagues",
                    format!("/reports/concierge/colleagues?{what}&amp;{range}"),
                )],
                table,
            )
        }
    };
    section("colleagues", &escape(&heading), &reports, &body)
}

fn unfinished_table(period: &Period, unfinished: &[Unfinished]) -> String {
    list(&Table {
        caption: "Directed courses not completed".into(),
        headers: ["learner", "team", "course", "started", "last activity"]
            .map(String::from)
            .to_vec(),
        rows: unfinished
            .iter()
            .take(SHOWN)
            .map(|u| {
                vec![
                    format!(
                        "<span class=\"learner\" data-learner=\"{}\">{}</span>",
                        escape(&u.learner),
                        colleagues_link(
                            period,
                            &format!("learner={}", encode(typed(&u.learner))),
                            typed(&u.name)
                        )
                    ),
                    escape(u.team.as_deref().unwrap_or("–")),
                    format!(
                        "<span data-course=\"{}\">{}</span>",
                        escape(&u.course),
                        escape(u.course_name.as_deref().unwrap_or(&u.course))
                    ),
                    u.started.to_string(),
                    u.last_activity.to_string(),
                ]
            })
            .collect(),
    })
}
