//! `GET /dashboard/statements?learner=…|team=…&since&until[&mode][&page]`: the
//! Statements behind a learner's or a team's figures, latest first, a page at a time,
//! each with the mode and rule it was labelled with (as `/reports/explain` gives them).

use std::fmt::Write;

use actix_web::{web, HttpRequest, HttpResponse};

use super::names::Names;
use super::page::{encode, escape, page};
use super::{query, Period};
use crate::http::error::ApiError;
use crate::http::report_access::{learner_ifi, report_response, Reader};
use crate::http::AppState;
use crate::modes::Mode;
use crate::store::dashboard_reads::{statements_behind, Behind, Listed};
use crate::store::learning;
use crate::store::replicas::Need;
use crate::xapi::ifi::Ifi;

/// Statements per page.
const PAGE: i64 = 50;

/// What a request may be refused for once the store has been read.
enum Refusal {
    OptedOut(String),
    HiddenTeam(String),
}

pub async fn statements(
    reader: Reader,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (period, extra) = query(
        &req,
        "/dashboard/statements",
        &["learner", "team", "mode", "page"],
    )?;
    let asked = match (extra.get("learner"), extra.get("team")) {
        (Some(learner), None) => Behind::Learner(learner_ifi("learner", learner.trim())?),
        (None, Some(team)) => Behind::Team(team.clone()),
        _ => {
            return Err(ApiError::InvalidParameter(
                "learner, team: give exactly one of them".into(),
            ))
        }
    };
    let mode = match extra.get("mode") {
        None => None,
        Some(m) => Some(Mode::parse(m).ok_or_else(|| {
            ApiError::InvalidParameter(format!(
                "mode: '{m}' is not one of directed, guided, self_planned, self_directed, unclassified"
            ))
        })?),
    };
    let page_number = match extra.get("page") {
        None => 1,
        Some(p) => p
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=1_000_000).contains(n))
            .ok_or_else(|| {
                ApiError::InvalidParameter(format!("page: '{p}' is not a whole number from 1"))
            })?,
    };
    let scope = period.scope(reader.0.store_id, &state);
    let served = state
        .read(Need::Report, async |pool| {
            let behind = match &asked {
                Behind::Learner(ifi) => {
                    let (learner, opted_out) =
                        learning::credited_learner(pool, scope.store_id, ifi).await?;
                    if opted_out {
                        return Ok(Err(Refusal::OptedOut(learner)));
                    }
                    Behind::Learner(learner)
                }
                Behind::Team(team) => {
                    let shown = learning::team_figures(pool, scope).await?;
                    if !shown.iter().any(|t| &t.team == team) {
                        return Ok(Err(Refusal::HiddenTeam(team.clone())));
                    }
                    Behind::Team(team.clone())
                }
            };
            // One more than a page tells whether a next page exists.
            let listed = statements_behind(
                pool,
                scope.store_id,
                &behind,
                (scope.since, scope.until),
                mode.map(Mode::as_str),
                ((page_number - 1) * PAGE, PAGE + 1),
            )
            .await?;
            let mut learners: Vec<String> = listed.iter().map(|s| s.learner.clone()).collect();
            if let Behind::Learner(l) = &behind {
                learners.push(l.clone());
            }
            learners.sort();
            learners.dedup();
            let names = Names::of(pool, scope.store_id, &learners).await?;
            Ok(Ok((behind, listed, names)))
        })
        .await?;
    let (behind, listed, names) = match &served.value {
        Ok(found) => found,
        Err(Refusal::OptedOut(learner)) => {
            return Err(ApiError::Forbidden(format!(
                "learner: {learner} opted out of learner-level reports; their Statements are not listed"
            )))
        }
        Err(Refusal::HiddenTeam(team)) => {
            return Err(ApiError::NotFound(format!(
                "team: '{team}' is not shown for the period (no such team, or fewer than {} active learners)",
                scope.min_team_size
            )))
        }
    };
    let html = page(
        "Statements",
        &super::signed_in(&req),
        &render(&period, behind, mode, page_number, listed, names),
    );
    Ok(report_response(&served)
        .content_type("text/html; charset=utf-8")
        .body(html))
}

fn render(
    period: &Period,
    behind: &Behind,
    mode: Option<Mode>,
    page_number: i64,
    listed: &[Listed],
    names: &Names,
) -> String {
    let (who, whose, xapi) = match behind {
        Behind::Learner(l) => (
            names.label(l).to_string(),
            format!("learner={}", encode(super::learner::typed(l))),
            Ifi::from_canonical(l).map(|ifi| {
                let agent = serde_json::Value::Object(ifi.to_json_properties()).to_string();
                format!(
                    "/xapi/statements?agent={}&amp;since={}T00:00:00Z&amp;until={}T00:00:00Z",
                    encode(&agent),
                    period.since,
                    period.last.succ_opt().unwrap_or(period.last)
                )
            }),
        ),
        Behind::Team(t) => (format!("team {t}"), format!("team={}", encode(t)), None),
    };
    let base = format!("/dashboard/statements?{whose}&amp;{}", period.query());
    let mut out = format!(
        "<h1>Statements behind <span class=\"who\">{who}</span>, <span class=\"period\" \
         data-since=\"{since}\" data-until=\"{last}\">{since} – {last}</span>{mode_shown}</h1>\
         <p class=\"note\">The Statements the learning figures count (not voided, with a \
         learner), by the day they were learned on, latest first; opted-out learners' \
         Statements are never listed. Each shows the mode and the rule that labelled it, as \
         <code>/reports/explain</code> gives them; after a rule change, \
         <code>commonplace modes reclassify</code> relabels them.</p>\
         <p class=\"links modes\"><a href=\"{base}\">every mode</a>",
        who = escape(&who),
        since = period.since,
        last = period.last,
        mode_shown = mode.map(|m| format!(", {m}")).unwrap_or_default(),
    );
    for m in Mode::EVERY {
        let _ = write!(out, "<a href=\"{base}&amp;mode={m}\">{m}</a>");
    }
    out.push_str("</p>");
    if let Some(link) = &xapi {
        let _ = write!(
            out,
            "<p class=\"links\"><a class=\"xapi-link\" href=\"{link}\">the same learner's \
             Statements through the xAPI</a> <span class=\"note\">(by stored time; an xAPI \
             client sends the <code>X-Experience-API-Version</code> header)</span></p>"
        );
    }
    let team = matches!(behind, Behind::Team(_));
    out.push_str("<div class=\"list\"><div class=\"scroll\"><table class=\"statements\"><thead><tr><th>stored</th>");
    if team {
        out.push_str("<th>learner</th>");
    }
    out.push_str(
        "<th>verb</th><th>object</th><th>mode</th><th>rule</th><th>links</th></tr></thead><tbody>",
    );
    for s in listed.iter().take(PAGE as usize) {
        let _ = write!(
            out,
            "<tr data-statement=\"{id}\" data-mode=\"{mode}\" data-rule=\"{rule}\">\
             <td>{stored}</td>",
            id = s.id,
            mode = escape(s.mode.as_deref().unwrap_or("")),
            rule = escape(s.rule.as_deref().unwrap_or("")),
            stored = s
                .stored
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        );
        if team {
            let _ = write!(out, "<td>{}</td>", escape(names.label(&s.learner)));
        }
        let _ = write!(
            out,
            "<td title=\"{verb}\">{verb_shown}</td><td title=\"{object}\">{object_shown}</td>\
             <td>{mode}</td><td>{rule}</td><td><a class=\"explain-link\" \
             href=\"/reports/explain?statementId={id}\">explain</a> <a class=\"xapi-link\" \
             href=\"/xapi/statements?statementId={id}\">xAPI</a></td></tr>",
            verb = escape(&s.verb),
            verb_shown = escape(s.verb_display.as_deref().unwrap_or(&s.verb)),
            object = escape(s.object.as_deref().unwrap_or("")),
            object_shown = escape(
                s.object_name
                    .as_deref()
                    .or(s.object.as_deref())
                    .unwrap_or("")
            ),
            mode = escape(s.mode.as_deref().unwrap_or("(not labelled)")),
            rule = escape(s.rule.as_deref().unwrap_or("–")),
            id = s.id,
        );
    }
    if listed.is_empty() {
        out.push_str("<tr><td colspan=\"7\">No Statements in the period.</td></tr>");
    }
    out.push_str("</tbody></table></div></div><p class=\"links pages\">");
    let mode_query = mode.map(|m| format!("&amp;mode={m}")).unwrap_or_default();
    if page_number > 1 {
        let _ = write!(
            out,
            "<a rel=\"prev\" href=\"{base}{mode_query}&amp;page={}\">newer</a>",
            page_number - 1
        );
    }
    let _ = write!(out, " <span>page {page_number}</span> ");
    if listed.len() as i64 > PAGE {
        let _ = write!(
            out,
            "<a rel=\"next\" href=\"{base}{mode_query}&amp;page={}\">older</a>",
            page_number + 1
        );
    }
    out.push_str("</p>");
    out
}
