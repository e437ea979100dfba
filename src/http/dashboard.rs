//! `GET /dashboard`: the learning reports as one server-rendered page with hand-written
//! SVG (no scripts, no CDN, works offline), behind the reports' Basic credentials: a
//! browser without them gets 401 with a `WWW-Authenticate` prompt.

use std::collections::HashMap;
use std::fmt::Write;

use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use chrono::NaiveDate;
use deadpool_postgres::Pool;

use super::error::ApiError;
use super::params::query_pairs;
use super::report_access::{
    parse_day, period, replayed_through, report_response, reports_gate, Reader,
};
use super::sign_in::{sign_out_form, SignedIn};
use super::{get_or_head, resource, AppState};
use crate::modes::Mode;
use crate::store::learning::{self, MixRow, Scope, TeamFigures, TimeRule};
use crate::store::replicas::Need;
use crate::store::reports::{mode_figures, Bucket, Grouping, ModeFigures, Privacy};
use crate::store::{self, roster};

/// The picker lists at most this many learners, the most active first: a longer
/// `<select>` is no longer a way to find someone (others are reached by URL).
const PICKER_LEARNERS: usize = 500;

fn colour(mode: &str) -> &'static str {
    match mode {
        "directed" => "#1f5f99",
        "guided" => "#4d9de0",
        "self_planned" => "#e1a036",
        "self_directed" => "#d1495b",
        _ => "#9a9a9a",
    }
}

pub(super) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn percent(v: Option<f64>) -> String {
    v.map(|v| format!("{:.0} %", v * 100.0))
        .unwrap_or_else(|| "–".into())
}

/// Stacked bars of statements per week and mode; every bar carries its figures in
/// `data-` attributes and a `<title>` for a tooltip.
fn stacked_bars(class: &str, rows: &[(NaiveDate, String, i64)]) -> String {
    let mut weeks: Vec<NaiveDate> = rows.iter().map(|r| r.0).collect();
    weeks.sort();
    weeks.dedup();
    let total = |w: NaiveDate| rows.iter().filter(|r| r.0 == w).map(|r| r.2).sum::<i64>();
    let highest = weeks.iter().map(|w| total(*w)).max().unwrap_or(0).max(1);
    let (width, height, left, bottom) = (640.0, 260.0, 44.0, 30.0);
    let slot = (width - left) / weeks.len().max(1) as f64;
    let mut svg = format!(
        "<svg class=\"{class}\" viewBox=\"0 0 {width} {height}\" role=\"img\" \
         aria-label=\"Statements per week by learning mode\">"
    );
    let _ = write!(
        svg,
        "<text x=\"4\" y=\"12\" class=\"axis\">{highest}</text>\
         <line x1=\"{left}\" y1=\"{}\" x2=\"{width}\" y2=\"{}\" stroke=\"#888\"/>",
        height - bottom,
        height - bottom
    );
    for (i, week) in weeks.iter().enumerate() {
        let x = left + i as f64 * slot + slot * 0.15;
        let mut y = height - bottom;
        for mode in Mode::EVERY {
            let Some(row) = rows.iter().find(|r| r.0 == *week && r.1 == mode.as_str()) else {
                continue;
            };
            let h = row.2 as f64 / highest as f64 * (height - bottom - 16.0);
            y -= h;
            let _ = write!(
                svg,
                "<rect class=\"bar\" data-week=\"{week}\" data-mode=\"{mode}\" data-statements=\"{n}\" \
                 x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" fill=\"{c}\">\
                 <title>{week} {mode}: {n} statements</title></rect>",
                n = row.2,
                w = slot * 0.7,
                c = colour(mode.as_str()),
            );
        }
        let _ = write!(
            svg,
            "<text x=\"{x:.1}\" y=\"{}\" class=\"axis\">{}</text>",
            height - 10.0,
            week.format("%d %b")
        );
    }
    svg.push_str("</svg>");
    svg
}

fn legend() -> String {
    let mut out = String::from("<ul class=\"legend\">");
    for mode in Mode::EVERY {
        let _ = write!(
            out,
            "<li><span style=\"background:{}\"></span>{mode}</li>",
            colour(mode.as_str())
        );
    }
    out.push_str("</ul>");
    out
}

fn team_table(teams: &[TeamFigures]) -> String {
    let mut out = String::from(
        "<table class=\"teams\"><thead><tr><th>team</th><th>learners</th><th>statements</th>\
         <th>self-direction (time)</th><th>self-direction (statements)</th><th>goal coverage</th>\
         <th>linked to goals</th><th>finds shared / learner</th><th>directed completion</th>\
         <th>hours reported</th><th>hours estimated</th></tr></thead><tbody>",
    );
    for t in teams {
        let _ = write!(
            out,
            "<tr data-team=\"{team}\" data-statements=\"{}\"><td>{team}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.2}</td><td>{}</td>\
             <td>{:.1}</td><td>{:.1}</td></tr>",
            t.statements,
            t.learners,
            t.statements,
            percent(t.self_direction_by_time),
            percent(Some(t.self_direction_by_statements)),
            percent(Some(t.goal_coverage)),
            percent(t.goal_linked_share),
            t.finds_shared_per_learner,
            percent(t.directed_completion_rate),
            t.reported_seconds / 3600.0,
            t.estimated_seconds / 3600.0,
            team = escape(&t.team),
        );
    }
    if teams.is_empty() {
        out.push_str(
            "<tr><td colspan=\"11\">No team has enough active learners to show.</td></tr>",
        );
    }
    out.push_str("</tbody></table>");
    out
}

/// `/dashboard`, behind the reports' gate.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/dashboard")
            .wrap(actix_web::middleware::from_fn(reports_gate))
            .service(resource("").route(get_or_head(dashboard))),
    );
}

async fn dashboard(
    reader: Reader,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (mut learner, mut since, mut until) = (None, None, None);
    // The form sends every field; an empty one means "not given".
    for (name, value) in query_pairs(req.query_string())? {
        match name.as_str() {
            "learner" | "since" | "until" if value.trim().is_empty() => {}
            "learner" => learner = Some(value),
            "since" => since = Some(parse_day(&name, &value)?),
            "until" => until = Some(parse_day(&name, &value)?),
            other => {
                return Err(ApiError::InvalidParameter(format!(
                    "{other}: not a parameter of /dashboard"
                )))
            }
        }
    }
    // As in the reports: `until` is the last day shown, `since` defaults to 84 days before.
    let (since, last) = period(since, until)?;
    let store_id = reader.0.store_id;
    let scope = Scope {
        store_id,
        since,
        until: last.succ_opt().unwrap_or(last),
        min_team_size: state.settings.min_team_size,
        time: TimeRule::default(),
    };
    let privacy = Privacy {
        min_team_size: scope.min_team_size,
    };
    // Every figure of the page from one place, so the page is as fresh as it says.
    let served = state
        .read(Need::Report, async |pool| {
            let figures = |bucket, grouping| {
                mode_figures(
                    pool,
                    store_id,
                    scope.since,
                    scope.until,
                    bucket,
                    grouping,
                    privacy,
                )
            };
            let weekly: Vec<ModeFigures> = figures(Bucket::Week, Grouping::Store).await?;
            let per_learner = figures(Bucket::Month, Grouping::Learner).await?;
            let teams = learning::team_figures(pool, scope).await?;
            let picker = learner_picker(pool, store_id, &per_learner, learner.as_deref()).await?;
            let drill = match &learner {
                None => "<p class=\"note\">Pick a learner above to see their weekly mix, \
                          goals and top sources.</p>"
                    .to_string(),
                Some(raw) => learner_section(pool, scope, raw).await?,
            };
            Ok((weekly, teams, picker, drill))
        })
        .await?;
    let (weekly, teams, picker, drill) = &served.value;
    let bars: Vec<_> = weekly
        .iter()
        .map(|f| (f.bucket, f.mode.clone(), f.statements))
        .collect();
    let freshness = match replayed_through(&served) {
        Some(at) => format!(
            "<p class=\"note freshness\" data-replayed-through=\"{at}\">Figures as of {at}.</p>"
        ),
        None => String::new(),
    };
    let period = format!("since={since}&amp;until={last}");
    // Who is signed in to the dashboard, with the button that signs out.
    let signed_in = req
        .extensions()
        .get::<SignedIn>()
        .map(sign_out_form)
        .unwrap_or_default();
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Commonplace · learning modes</title><style>{STYLE}</style></head><body>\
         {signed_in}<h1>Learning modes, <span class=\"period\" data-since=\"{since}\" \
         data-until=\"{last}\">{since} – {last}</span></h1>\
         <form method=\"get\" action=\"/dashboard\" class=\"controls\">\
         <label>From <input type=\"date\" name=\"since\" value=\"{since}\"></label>\
         <label>To <input type=\"date\" name=\"until\" value=\"{last}\"></label>\
         <label>Learner {picker}</label><button>Show</button></form>\
         <section><h2>Statements per week</h2>{legend}{chart}</section>\
         <section><h2>Teams</h2><div class=\"scroll\">{table}</div>\
         <p class=\"note\">Teams with fewer than {min} active learners are hidden. Time is \
         reported durations plus time estimated from sessions (gaps up to 30 min, at most \
         10 min per Statement).</p></section>\
         <section><h2>Learner</h2>{drill}</section>{freshness}\
         <section><h2>Download</h2><ul class=\"downloads\">\
         <li><a href=\"/reports/modes?{period}&amp;format=csv\">modes per week (CSV)</a></li>\
         <li><a href=\"/reports/teams?{period}&amp;format=csv\">teams (CSV)</a></li>\
         <li><a href=\"/reports/sources?{period}&amp;format=csv\">sources (CSV)</a></li>\
         </ul></section></body></html>",
        legend = legend(),
        chart = stacked_bars("weekly-modes", &bars),
        table = team_table(teams),
        min = scope.min_team_size,
    );
    Ok(report_response(&served)
        .content_type("text/html; charset=utf-8")
        .body(html))
}

/// A `<select>` of the learners with statements in the period, most active first, by
/// roster name where there is one. `/reports/modes?group=learner` already leaves out
/// opted-out learners, so they are never listed.
async fn learner_picker(
    pool: &Pool,
    store_id: i64,
    per_learner: &[ModeFigures],
    chosen: Option<&str>,
) -> Result<String, store::Error> {
    let mut by_learner: HashMap<&str, i64> = HashMap::new();
    for f in per_learner {
        *by_learner.entry(&f.group).or_default() += f.statements;
    }
    let mut totals: Vec<(String, i64)> = by_learner
        .into_iter()
        .map(|(ifi, n)| (ifi.to_string(), n))
        .collect();
    totals.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let seen = totals.len();
    totals.truncate(PICKER_LEARNERS);
    let ifis: Vec<String> = totals.iter().map(|(ifi, _)| ifi.clone()).collect();
    let names = roster::names(pool, store_id, &ifis).await?;
    let chosen = chosen.and_then(|raw| crate::roster::canonical_ifi(raw.trim()));
    let mut out = format!(
        "<select name=\"learner\" class=\"learners\" data-seen=\"{seen}\">\
         <option value=\"\">— {seen} learners in the period —</option>"
    );
    for (ifi, statements) in &totals {
        // The IFI as a learner is typed: `mailto:…` rather than the stored `mbox:mailto:…`.
        let value = ifi.strip_prefix("mbox:").unwrap_or(ifi);
        let label = names.get(ifi).map(String::as_str).unwrap_or(value);
        let _ = write!(
            out,
            "<option value=\"{value}\" data-learner=\"{ifi}\"{selected}>{label} ({statements})</option>",
            value = escape(value),
            ifi = escape(ifi),
            selected = if chosen.as_deref() == Some(ifi) { " selected" } else { "" },
            label = escape(label),
        );
    }
    out.push_str("</select>");
    Ok(out)
}

async fn learner_section(pool: &Pool, scope: Scope, raw: &str) -> Result<String, store::Error> {
    let Some(asked) = crate::roster::canonical_ifi(raw.trim()) else {
        return Ok(format!(
            "<p class=\"note\">'{}' is not a learner IFI.</p>",
            escape(raw)
        ));
    };
    let ifi = learning::learner_of(pool, scope.store_id, &asked).await?;
    let roster = learning::roster_entry(pool, scope.store_id, &ifi).await?;
    if roster.as_ref().is_some_and(|r| r.2) {
        return Ok("<p class=\"note\">This learner opted out of learner-level reports.</p>".into());
    }
    let report = learning::learner_report(pool, scope, &ifi, "week", 5).await?;
    let bars: Vec<_> = report
        .mix
        .iter()
        .map(|m: &MixRow| (m.bucket, m.mode.clone(), m.statements))
        .collect();
    let mut out = format!(
        "<h3>{}</h3><div class=\"learner\" data-learner=\"{}\">{}",
        escape(report.name.as_deref().unwrap_or(&ifi)),
        escape(&ifi),
        stacked_bars("learner-modes", &bars)
    );
    out.push_str("<h4>Goals</h4><ul>");
    for goal in &report.goals {
        let _ = write!(
            out,
            "<li>{}{} — {} linked activities</li>",
            escape(goal.name.as_deref().unwrap_or(&goal.goal)),
            if goal.achieved { " (achieved)" } else { "" },
            goal.activities.len()
        );
    }
    out.push_str("</ul><h4>Top sources</h4><ul>");
    // Reported time (durations the Statements carry, e.g. the Capture extension's active
    // reading time) is shown apart from the estimate, as in the team table.
    for source in &report.top_sources {
        let _ = write!(
            out,
            "<li class=\"source\" data-host=\"{host}\" data-statements=\"{n}\" \
             data-reported-seconds=\"{reported:.2}\">{host} — {n} statements, \
             {reported:.0} s reported, {estimated:.0} s estimated</li>",
            host = escape(&source.key),
            n = source.statements,
            reported = source.reported_seconds,
            estimated = source.estimated_seconds,
        );
    }
    out.push_str("</ul></div>");
    Ok(out)
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0 auto;max-width:1100px;padding:1rem;color:#222}\
h1{font-size:1.4rem}section{margin-bottom:2rem}svg{width:100%;height:auto;max-height:320px}\
.axis{font-size:10px;fill:#555}.legend{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:1rem}\
.legend span{display:inline-block;width:12px;height:12px;margin-right:4px}\
.scroll{overflow-x:auto}table{border-collapse:collapse;font-size:.9rem}\
th,td{padding:.3rem .5rem;border-bottom:1px solid #ddd;text-align:right}th:first-child,td:first-child{text-align:left}\
.note{color:#555;font-size:.85rem}\
.controls{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:end;margin-bottom:1.5rem}\
.controls label{display:flex;flex-direction:column;font-size:.85rem;max-width:100%;min-width:0}\
select{max-width:100%}\
@media (max-width:600px){body{padding:.5rem}table{font-size:.75rem}}";
