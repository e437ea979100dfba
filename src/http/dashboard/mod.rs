//! `GET /dashboard` and its pages: the learning reports as server-rendered pages with
//! hand-written SVG (no scripts, no CDN, works offline), behind the reports' gate (Basic
//! credentials with a `WWW-Authenticate` prompt, or a sign-in session). Every figure
//! links to the report and CSV it comes from; a learner's or team's figures link to the
//! Statements behind them (`/dashboard/statements`).

mod charts;
mod concierge;
mod insight;
mod learner;
mod names;
mod overview;
mod page;
mod sources;
mod statements;

use std::collections::BTreeMap;
use std::fmt::Write;

use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use chrono::{Datelike, Days, NaiveDate};

pub(super) use page::escape;

use super::error::ApiError;
use super::params::query_pairs;
use super::report_access::{
    learner_ifi, parse_day, period, replayed_through, report_response, reports_gate, Reader,
};
use super::report_cache::read_report;
use super::sign_in::{sign_out_form, SignedIn};
use super::{get_or_head, resource, AppState};
use crate::store::insight::{self as insight_reads, previous_period};
use crate::store::learning::{self, Scope, TimeRule};
use crate::store::reports::{mode_figures, Bucket, Grouping, Privacy};

/// A goal is stale on `/dashboard` after this many weeks without linked activity.
const STALE_WEEKS: i64 = 4;
/// The most shared items `/dashboard` shows.
const SHARED_ITEMS: i64 = 10;

/// `/dashboard` and its pages, behind the reports' gate.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/dashboard")
            .wrap(actix_web::middleware::from_fn(reports_gate))
            .service(resource("").route(get_or_head(dashboard)))
            .service(resource("/statements").route(get_or_head(statements::statements)))
            .service(resource("/concierge").route(get_or_head(concierge::concierge))),
    );
}

/// The days a page covers, both included.
#[derive(Debug, Clone, Copy)]
pub struct Period {
    pub since: NaiveDate,
    pub last: NaiveDate,
}

impl Period {
    /// The period as report parameters, escaped for an HTML attribute.
    pub fn query(&self) -> String {
        format!("since={}&amp;until={}", self.since, self.last)
    }

    /// The Mondays of the weeks the period touches, so every chart has the same columns.
    pub fn weeks(&self) -> Vec<NaiveDate> {
        let mut week =
            self.since - Days::new(u64::from(self.since.weekday().num_days_from_monday()));
        let mut weeks = Vec::new();
        while week <= self.last {
            weeks.push(week);
            week = week + Days::new(7);
        }
        weeks
    }

    /// The period of the same length just before this one (as the reports define it).
    pub fn previous(&self, state: &AppState) -> Period {
        let before = previous_period(self.scope(0, state));
        Period {
            since: before.since,
            last: before.until.pred_opt().unwrap_or(before.until),
        }
    }

    /// The scope of the reports for this period.
    pub fn scope(&self, store_id: i64, state: &AppState) -> Scope {
        Scope {
            store_id,
            since: self.since,
            until: self.last.succ_opt().unwrap_or(self.last),
            min_team_size: state.settings.min_team_size,
            time: TimeRule::default(),
        }
    }
}

/// A page's period (as the reports read it: `until` is the last day shown, `since`
/// defaults to 84 days before) and the other parameters it takes. Forms send every
/// field, so an empty one means "not given"; a parameter the page does not take is
/// refused.
pub fn query(
    req: &HttpRequest,
    resource: &str,
    allowed: &[&str],
) -> Result<(Period, BTreeMap<String, String>), ApiError> {
    let (mut since, mut until) = (None, None);
    let mut extra = BTreeMap::new();
    for (name, value) in query_pairs(req.query_string())? {
        let known = matches!(name.as_str(), "since" | "until") || allowed.contains(&name.as_str());
        if !known {
            return Err(ApiError::InvalidParameter(format!(
                "{name}: not a parameter of {resource}"
            )));
        }
        if value.trim().is_empty() {
            continue;
        }
        match name.as_str() {
            "since" => since = Some(parse_day(&name, &value)?),
            "until" => until = Some(parse_day(&name, &value)?),
            _ => {
                extra.insert(name, value);
            }
        }
    }
    let (since, last) = period(since, until)?;
    Ok((Period { since, last }, extra))
}

/// A section of a page: its heading, the reports (JSON and CSV) its figures come from,
/// then its figures.
fn section(id: &str, heading: &str, reports: &[(&str, String)], body: &str) -> String {
    let mut links = String::new();
    for (label, path) in reports {
        let _ = write!(
            links,
            "<a class=\"report-link\" href=\"{path}\">{label} (report)</a>\
             <a class=\"csv-link\" href=\"{path}&amp;format=csv\">{label} (CSV)</a>"
        );
    }
    format!("<section id=\"{id}\"><h2>{heading}</h2><p class=\"links\">{links}</p>{body}</section>")
}

/// Who is signed in to the dashboard, with the button that signs out.
fn signed_in(req: &HttpRequest) -> String {
    req.extensions()
        .get::<SignedIn>()
        .map(sign_out_form)
        .unwrap_or_default()
}

async fn dashboard(
    reader: Reader,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (period, extra) = query(&req, "/dashboard", &["learner"])?;
    let learner = extra
        .get("learner")
        .map(|raw| learner_ifi("learner", raw.trim()))
        .transpose()?;
    let store_id = reader.0.store_id;
    let scope = period.scope(store_id, &state);
    let previous = period.previous(&state);
    let previous_scope = previous.scope(store_id, &state);
    let privacy = Privacy {
        min_team_size: scope.min_team_size,
    };
    // Every figure of the page from one place, so the page is as fresh as it says.
    let served = read_report(&state, &req, reader.0.store_id, async |pool| {
        let weekly = |grouping| {
            mode_figures(
                pool,
                store_id,
                scope.since,
                scope.until,
                Bucket::Week,
                grouping,
                privacy,
            )
        };
        let drill = async {
            match &learner {
                None => Ok(
                    "<p class=\"note\">Pick a learner above to see their weekly \
                                mix, goals and top sources.</p>"
                        .to_string(),
                ),
                Some(ifi) => learner::section(pool, scope, &period, ifi).await,
            }
        };
        // The reads are independent: each on a connection of its own, at once.
        let (store_weeks, team_weeks, teams, (now, before), (goals, stale), shared, picker, drill) =
            tokio::try_join!(
                weekly(Grouping::Store),
                weekly(Grouping::Team),
                learning::team_figures(pool, scope),
                async {
                    tokio::try_join!(
                        learning::sources(pool, scope, sources::TOP),
                        learning::sources(pool, previous_scope, sources::PREVIOUS_TOP),
                    )
                },
                async {
                    tokio::try_join!(
                        insight_reads::goal_figures(pool, scope),
                        insight_reads::stale_goals(pool, scope, STALE_WEEKS),
                    )
                },
                async {
                    tokio::try_join!(
                        insight_reads::sharing_by_week(pool, scope),
                        insight_reads::top_shared(pool, scope, SHARED_ITEMS),
                    )
                },
                learner::picker(pool, scope, learner.as_deref()),
                drill,
            )?;
        let (shared_weeks, shared_items) = shared;
        // The mix of the teams the team table shows, and no other.
        let team_weeks: Vec<_> = team_weeks
            .into_iter()
            .filter(|f| teams.iter().any(|t| t.team == f.group))
            .collect();
        Ok([
            overview::weekly(&period, &store_weeks),
            overview::team_mix(&period, &team_weeks, &teams),
            overview::completion_engagement(&teams),
            sources::own_sources(&now, &before, &previous),
            insight::goals(&period, &goals, &stale, STALE_WEEKS),
            insight::sharing(&period, &shared_weeks, &shared_items),
            overview::team_table(&period, &teams),
            picker,
            drill,
        ])
    })
    .await?;
    let [weekly, team_mix, completion, own_sources, goals, sharing, team_table, picker, drill] =
        &*served.value;
    let freshness = match replayed_through(&served) {
        Some(at) => format!(
            "<p class=\"note freshness\" data-replayed-through=\"{at}\">Figures as of {at}.</p>"
        ),
        None => String::new(),
    };
    let range = period.query();
    let (since, last) = (period.since, period.last);
    let sections = [
        section(
            "weekly",
            "Statements per week",
            &[(
                "modes per week",
                format!("/reports/modes?bucket=week&amp;{range}"),
            )],
            weekly,
        ),
        section(
            "team-mix",
            "How each team's mix moves week by week",
            &[(
                "modes per team and week",
                format!("/reports/modes?group=team&amp;bucket=week&amp;{range}"),
            )],
            team_mix,
        ),
        section(
            "completion-engagement",
            "Directed completion and self-directed engagement",
            &[("teams", format!("/reports/teams?{range}"))],
            completion,
        ),
        section(
            "own-sources",
            "Where people learn on their own",
            &[
                ("sources", format!("/reports/sources?{range}")),
                (
                    "sources, previous period",
                    format!(
                        "/reports/sources?top={}&amp;{}",
                        sources::PREVIOUS_TOP,
                        previous.query()
                    ),
                ),
            ],
            own_sources,
        ),
        section(
            "goals",
            "Goals",
            &[
                ("goals", format!("/reports/goals?{range}")),
                (
                    "stale goals",
                    format!("/reports/concierge/stale-goals?weeks={STALE_WEEKS}&amp;{range}"),
                ),
            ],
            goals,
        ),
        section(
            "sharing",
            "Sharing",
            &[("sharing", format!("/reports/sharing?{range}"))],
            sharing,
        ),
        section(
            "teams",
            "Teams",
            &[("teams", format!("/reports/teams?{range}"))],
            &format!(
                "{team_table}<p class=\"note\">Teams with fewer than {min} active learners are \
                 hidden. Time is reported durations plus time estimated from sessions (gaps up \
                 to 30 min, at most 10 min per Statement). A team's name lists the Statements \
                 behind its figures.</p>",
                min = scope.min_team_size
            ),
        ),
        format!("<section id=\"learner\"><h2>Learner</h2>{drill}</section>"),
    ];
    let body = format!(
        "<h1>Learning modes, <span class=\"period\" data-since=\"{since}\" \
         data-until=\"{last}\">{since} – {last}</span></h1>\
         <form method=\"get\" action=\"/dashboard\" class=\"controls\">\
         <label>From <input type=\"date\" name=\"since\" value=\"{since}\"></label>\
         <label>To <input type=\"date\" name=\"until\" value=\"{last}\"></label>\
         <label>Learner {picker}</label><button>Show</button></form>\
         {sections}{freshness}\
         <section id=\"downloads\"><h2>Download</h2><ul class=\"downloads\">\
         <li><a href=\"/reports/modes?{range}&amp;format=csv\">modes per week (CSV)</a></li>\
         <li><a href=\"/reports/teams?{range}&amp;format=csv\">teams (CSV)</a></li>\
         <li><a href=\"/reports/sources?{range}&amp;format=csv\">sources (CSV)</a></li>\
         </ul></section>",
        sections = sections.concat(),
    );
    Ok(report_response(&served)
        .content_type("text/html; charset=utf-8")
        .body(page::page("learning modes", &signed_in(&req), &body)))
}
