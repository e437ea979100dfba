//! `#own-sources`: where people learn on their own. The top self-directed hosts and
//! Activities of `/reports/sources`, by learning time, with their learners, and how each
//! changed from the previous period of the same length.

use std::fmt::Write;

use super::charts::{self, Frame, Mark, Ranked, Table, Unit};
use super::page::{colour, escape, hours};
use super::Period;
use crate::store::learning::{self, ModeSources};

/// The mode whose sources the section shows: learning people chose on their own.
pub const MODE: &str = "self_directed";
/// How many of each kind the section shows.
pub const TOP: i64 = 10;
/// How many of each kind are read for the previous period, to find the figures of this
/// period's top ones there.
pub const PREVIOUS_TOP: i64 = 25;

fn of_mode(modes: &[ModeSources]) -> Option<&ModeSources> {
    modes.iter().find(|m| m.mode == MODE)
}

fn seconds(r: &learning::Ranked) -> f64 {
    r.reported_seconds + r.estimated_seconds
}

/// How a source's time changed since the previous period: "new" when it was not among
/// the previous period's top [`PREVIOUS_TOP`].
fn change(now: &learning::Ranked, before: Option<&learning::Ranked>) -> String {
    match before {
        None => "new".into(),
        Some(b) => format!("{:+.1} h", (seconds(now) - seconds(b)) / 3600.0),
    }
}

fn ranked_chart(
    kind: &str,
    now: &[learning::Ranked],
    before: &[learning::Ranked],
    previous: &Period,
) -> String {
    let mut rows: Vec<&learning::Ranked> = now.iter().collect();
    rows.sort_by(|a, b| {
        seconds(b)
            .total_cmp(&seconds(a))
            .then_with(|| a.key.cmp(&b.key))
    });
    let bars: Vec<Ranked> = rows
        .iter()
        .map(|r| {
            let prior = before.iter().find(|b| b.key == r.key);
            let mut attributes = vec![
                ("data-kind", kind.to_string()),
                ("data-key", r.key.clone()),
                ("data-mode", MODE.to_string()),
                ("data-statements", r.statements.to_string()),
                ("data-learners", r.learners.to_string()),
                ("data-seconds", seconds(r).to_string()),
                ("data-reported-seconds", r.reported_seconds.to_string()),
                ("data-estimated-seconds", r.estimated_seconds.to_string()),
            ];
            if let Some(p) = prior {
                attributes.extend([
                    ("data-previous-learners", p.learners.to_string()),
                    ("data-previous-seconds", seconds(p).to_string()),
                ]);
            }
            let label = r.name.clone().unwrap_or_else(|| r.key.clone());
            Ranked {
                // A web page read on one's own links to itself; other IRIs (and any other
                // scheme) are not followed.
                href: (kind == "activity"
                    && (r.key.starts_with("https://") || r.key.starts_with("http://")))
                .then(|| r.key.clone()),
                mark: Mark {
                    value: seconds(r),
                    estimated: r.estimated_seconds,
                    attributes,
                    tip: format!(
                        "{label}: {} learners, {} h ({} h estimated), {} statements",
                        r.learners,
                        hours(seconds(r)),
                        hours(r.estimated_seconds),
                        r.statements
                    ),
                },
                note: format!(
                    "{} h · {} learners · {}",
                    hours(seconds(r)),
                    r.learners,
                    change(r, prior)
                ),
                label,
            }
        })
        .collect();
    let plural = if kind == "host" {
        "hosts"
    } else {
        "Activities"
    };
    let id = format!("own-sources-{kind}");
    let frame = Frame {
        id: &id,
        title: format!("Top self-directed {plural} by learning time"),
        desc: format!(
            "Horizontal bars, one per {kind}, of the learning time (reported solid, estimated \
             hatched) people spent on it on their own in the period; beside each bar its \
             learners, its hours and the change since {} – {}.",
            previous.since, previous.last
        ),
        x_title: "Hours (reported + estimated)".into(),
        y_title: String::new(),
    };
    let fallback = Table {
        caption: format!("Top self-directed {plural}"),
        headers: [
            kind,
            "learners",
            "statements",
            "hours",
            "hours estimated",
            "learners before",
            "hours before",
        ]
        .map(String::from)
        .to_vec(),
        rows: rows
            .iter()
            .map(|r| {
                let prior = before.iter().find(|b| b.key == r.key);
                vec![
                    escape(r.name.as_deref().unwrap_or(&r.key)),
                    r.learners.to_string(),
                    r.statements.to_string(),
                    hours(seconds(r)),
                    hours(r.estimated_seconds),
                    prior.map_or("–".into(), |p| p.learners.to_string()),
                    prior.map_or("–".into(), |p| hours(seconds(p))),
                ]
            })
            .collect(),
    };
    let series = [charts::Series {
        label: format!("self-directed time on the {kind}"),
        colour: colour(MODE).to_string(),
    }];
    charts::figure(
        &id,
        &format!("Top self-directed {plural}"),
        &charts::hbars_svg(&frame, Unit::Hours, colour(MODE), &bars),
        &charts::legend(&series, true),
        &fallback,
    )
}

/// The section's figures: this period's and the previous one's sources.
pub fn own_sources(now: &[ModeSources], before: &[ModeSources], previous: &Period) -> String {
    let empty = ModeSources {
        mode: MODE.into(),
        hosts: Vec::new(),
        activities: Vec::new(),
    };
    let now = of_mode(now).unwrap_or(&empty);
    let before = of_mode(before).unwrap_or(&empty);
    let mut out = String::new();
    let _ = write!(
        out,
        "{}{}<p class=\"note\">Learners of a host or Activity are those with self-directed \
         Statements on it. Beside each bar: hours, learners, and the change in hours since \
         {} – {} (\"new\": not among that period's top {PREVIOUS_TOP}).</p>",
        ranked_chart("host", &now.hosts, &before.hosts, previous),
        ranked_chart("activity", &now.activities, &before.activities, previous),
        previous.since,
        previous.last,
    );
    out
}
