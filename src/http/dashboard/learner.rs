//! The learner picker of `/dashboard` and the drill-down into one learner: their weekly
//! mix, goals and top sources, with the Statements behind them a link away.

use std::fmt::Write;

use deadpool_postgres::Pool;

use super::charts::{self, Frame, Mark, Stacked, Table, Unit, WIDE};
use super::names::Names;
use super::page::{encode, escape, mode_series};
use super::Period;
use crate::modes::Mode;
use crate::store::dashboard_reads::active_learners;
use crate::store::learning::{self, Scope};
use crate::store::{self};

/// The picker lists at most this many learners, the most active first: a longer
/// `<select>` is no longer a way to find someone (others are reached by URL).
const PICKER_LEARNERS: i64 = 500;

/// A `<select>` of the learners with statements in the period, most active first, by
/// name. Opted-out learners are never listed.
pub async fn picker(
    pool: &Pool,
    scope: Scope,
    chosen: Option<&str>,
) -> Result<String, store::Error> {
    let (seen, totals) = active_learners(
        pool,
        scope.store_id,
        scope.since,
        scope.until,
        PICKER_LEARNERS,
    )
    .await?;
    let ifis: Vec<String> = totals.iter().map(|(ifi, _)| ifi.clone()).collect();
    let names = Names::of(pool, scope.store_id, &ifis).await?;
    let chosen = chosen.and_then(|raw| crate::roster::canonical_ifi(raw.trim()));
    let mut out = format!(
        "<select name=\"learner\" class=\"learners\" data-seen=\"{seen}\">\
         <option value=\"\">— {seen} learners in the period —</option>"
    );
    for (ifi, statements) in &totals {
        let _ = write!(
            out,
            "<option value=\"{value}\" data-learner=\"{ifi}\"{selected}>{label} ({statements})</option>",
            value = escape(typed(ifi)),
            ifi = escape(ifi),
            selected = if chosen.as_deref() == Some(ifi) { " selected" } else { "" },
            label = escape(names.label(ifi)),
        );
    }
    out.push_str("</select>");
    Ok(out)
}

/// The IFI as a learner is typed: `mailto:…` rather than the stored `mbox:mailto:…`.
pub fn typed(ifi: &str) -> &str {
    ifi.strip_prefix("mbox:").unwrap_or(ifi)
}

/// The drill-down into the learner `asked` (an IFI as the LRS writes it) is credited
/// to, unless they opted out.
pub async fn section(
    pool: &Pool,
    scope: Scope,
    period: &Period,
    asked: &str,
) -> Result<String, store::Error> {
    let (ifi, opted_out) = learning::credited_learner(pool, scope.store_id, asked).await?;
    if opted_out {
        return Ok("<p class=\"note\">This learner opted out of learner-level reports.</p>".into());
    }
    let names = Names::of(pool, scope.store_id, std::slice::from_ref(&ifi)).await?;
    let report = learning::learner_report(pool, scope, &ifi, "week", 5).await?;
    let name = names.label(&ifi);
    let series = mode_series();
    let columns = period
        .weeks()
        .into_iter()
        .map(|week| {
            let mut marks: Vec<(usize, Mark)> = report
                .mix
                .iter()
                .filter(|m| m.bucket == week)
                .filter_map(|m| {
                    let series = Mode::parse(&m.mode)
                        .and_then(|mode| Mode::EVERY.iter().position(|x| *x == mode))?;
                    Some((
                        series,
                        Mark {
                            value: m.statements as f64,
                            estimated: 0.0,
                            attributes: vec![
                                ("data-week", m.bucket.to_string()),
                                ("data-mode", m.mode.clone()),
                                ("data-statements", m.statements.to_string()),
                            ],
                            tip: format!(
                                "week of {}, {}: {} statements",
                                m.bucket, m.mode, m.statements
                            ),
                        },
                    ))
                })
                .collect();
            marks.sort_by_key(|(series, _)| *series);
            (week.format("%d %b").to_string(), marks)
        })
        .collect();
    let chart = Stacked {
        frame: Frame {
            id: "learner-chart",
            title: format!("{name}: Statements per week by learning mode"),
            desc: "Stacked bars, one per week, of the learner's Statements in each mode.".into(),
            x_title: "Week starting".into(),
            y_title: "Statements".into(),
        },
        mark_class: "bar",
        unit: Unit::Count,
        series: &series,
        columns,
        top: None,
        hatched: false,
    };
    let fallback = Table {
        caption: "The learner's Statements per week and mode".into(),
        headers: [
            "week",
            "mode",
            "statements",
            "hours reported",
            "hours estimated",
        ]
        .map(String::from)
        .to_vec(),
        rows: report
            .mix
            .iter()
            .map(|m| {
                vec![
                    m.bucket.to_string(),
                    escape(&m.mode),
                    m.statements.to_string(),
                    super::page::hours(m.reported_seconds),
                    super::page::hours(m.estimated_seconds),
                ]
            })
            .collect(),
    };
    let learner_query = format!("learner={}&amp;{}", encode(typed(&ifi)), period.query());
    let mut out = format!(
        "<h3>{name}</h3><div class=\"learner\" data-learner=\"{ifi}\">\
         <p class=\"links\"><a class=\"statements-link\" href=\"/dashboard/statements?{learner_query}\">\
         the Statements behind these figures</a><a class=\"report-link\" \
         href=\"/reports/learners/{path}?{range}\">report</a><a class=\"csv-link\" \
         href=\"/reports/learners/{path}?{range}&amp;format=csv\">CSV</a></p>{figure}",
        name = escape(name),
        ifi = escape(&ifi),
        path = encode(typed(&ifi)),
        range = period.query(),
        figure = charts::figure(
            "learner-modes",
            "Statements per week",
            &format!(
                "<div class=\"learner-modes\">{}</div>",
                charts::stacked_svg(&chart, WIDE)
            ),
            &charts::legend(&series, false),
            &fallback,
        ),
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
