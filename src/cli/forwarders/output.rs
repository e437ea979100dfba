//! How forwarders are printed: aligned tables and key-value lines for people, JSON
//! with `--json`. Never a secret: `ForwarderInfo` holds none.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Map, Value};

use crate::store::forwarders::{self, DeadLetter, ForwarderInfo};

pub(super) fn as_object(info: &ForwarderInfo) -> Map<String, Value> {
    match json!(info) {
        Value::Object(object) => object,
        _ => unreachable!("a forwarder serialises as an object"),
    }
}

pub(super) fn print_json(value: &impl serde::Serialize) -> Result<(), String> {
    println!(
        "{}",
        serde_json::to_string_pretty(value).map_err(|e| e.to_string())?
    );
    Ok(())
}

/// One line per forwarder, in aligned columns.
pub(super) fn print_table(all: &[ForwarderInfo]) {
    if all.is_empty() {
        println!("no forwarders (create one with `commonplace forwarders create`)");
        return;
    }
    let header = [
        "NAME",
        "KIND",
        "STORE",
        "STATE",
        "DELIVERED",
        "FAILED",
        "DEAD",
        "LAG",
        "LAG_S",
        "URL",
    ];
    let rows: Vec<[String; 10]> = all
        .iter()
        .map(|f| {
            [
                f.name.clone(),
                f.kind.clone(),
                f.store.clone(),
                f.state.clone(),
                f.delivered.to_string(),
                f.failed.to_string(),
                f.dead_lettered.to_string(),
                lag_text(f),
                format!("{:.1}", f.lag_seconds),
                f.url.clone(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:width$}"))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(header.to_vec());
    for row in &rows {
        line(row.iter().map(String::as_str).collect());
    }
}

fn lag_text(info: &ForwarderInfo) -> String {
    if info.lag >= forwarders::LAG_COUNTED_UP_TO {
        format!("{}+", info.lag)
    } else {
        info.lag.to_string()
    }
}

pub(super) fn print_details(info: &ForwarderInfo) {
    let filter = match &info.filter {
        Value::Object(keys) if keys.is_empty() => "none (every Statement)".to_string(),
        other => other.to_string(),
    };
    let mut lines = vec![
        ("name", info.name.clone()),
        ("kind", info.kind.clone()),
        ("store", info.store.clone()),
        ("url", info.url.clone()),
        ("state", info.state.clone()),
        ("delivered", info.delivered.to_string()),
        ("failed", info.failed.to_string()),
        ("dead lettered", info.dead_lettered.to_string()),
        (
            "lag",
            format!("{} Statements, {:.1} s", lag_text(info), info.lag_seconds),
        ),
        ("position", info.position.to_string()),
        ("filter", filter),
    ];
    if let Some(version) = &info.xapi_version {
        lines.push(("xAPI version", version.clone()));
    }
    lines.push((
        "last error",
        info.last_error.clone().unwrap_or_else(|| "none".into()),
    ));
    lines.push(("created", rfc3339(info.created)));
    for (label, value) in lines {
        println!("{:<15}{value}", format!("{label}:"));
    }
}

pub(super) fn print_dead_letters(dead_letters: &[DeadLetter]) {
    if dead_letters.is_empty() {
        println!("dead letters: none");
        return;
    }
    if dead_letters.len() as i64 >= forwarders::DEAD_LETTERS_SHOWN {
        println!("dead letters (the oldest {}):", dead_letters.len());
    } else {
        println!("dead letters ({}):", dead_letters.len());
    }
    for d in dead_letters {
        println!(
            "  seq {}  {}  {}  {}{}  {}",
            d.seq,
            d.statement_id,
            rfc3339(d.at),
            d.status,
            if d.replay { "  (to be sent again)" } else { "" },
            d.answer.replace(['\r', '\n'], " ")
        );
    }
}

fn rfc3339(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}
