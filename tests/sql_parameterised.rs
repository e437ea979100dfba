//! Every value reaches PostgreSQL as a bind parameter. SQL text is only built by
//! `format!` from reviewed fragments: parameter numbers (`${}`), the documents
//! module's static column names and the filter made of them, the read path's own
//! query for EXPLAIN, its sort direction (`ASC`/`DESC`) and the column it orders by
//! (`m.entry`/`s.seq`), the values of its seq bounds (the pin `$2`, a keyset `?`, the
//! seq bounds of `since`/`until`: constant SQL around parameter numbers), the classes of
//! a filter's kinds (an integer the server computes from its own constants) and its
//! term-id subquery, the reports' grouping expressions chosen from an enum and their shared
//! constant subqueries (timed events, activity names, the self-directed modes), and the
//! embedded database's constant name, the replicas' WAL position expression, and the forwarders' column list. Any other interpolation into SQL text fails this
//! test until it is reviewed and listed. The insight reports (`store/insight/`) and the
//! dashboard's Statement lists build their queries from constant CTEs and joins (the
//! active learners and their teams, a listed learner's identity columns and opt-out
//! test on a named column, the asked-about sources, a learner or team subquery),
//! values all passed as parameters.

const REVIEWED: &[(&str, &str)] = &[
    ("documents.rs", "{name}"),
    ("documents.rs", "{filter}"),
    ("statement_reads.rs", "EXPLAIN (ANALYZE, BUFFERS) {}"),
    ("statement_reads.rs", "{order}"),
    ("statement_reads.rs", "{order_by}"),
    ("statement_reads.rs", "{value}"),
    ("statement_reads.rs", "{classes}"),
    ("statement_reads.rs", "{TERM_ID}"),
    ("statement_reads.rs", "{WAL_POSITION}"),
    ("reports.rs", "{group}"),
    ("reports.rs", "{learner_filter}"),
    ("reports.rs", "{activity_rollup}"),
    ("reports.rs", "{activity_group}"),
    ("reports.rs", "{bucket_of}"),
    ("reports.rs", "{activity_rows}"),
    ("reports.rs", "{learner_rows}"),
    ("learning.rs", "{period}"),
    ("learning.rs", "{name}"),
    ("learning.rs", "{goal_name}"),
    ("learning.rs", "{activity_name}"),
    ("learning.rs", "{SELF_MODES}"),
    ("mod.rs", "CREATE DATABASE {}"),
    ("mod.rs", "{WAL_POSITION}"),
    ("forwarding.rs", "{FORWARDER_COLUMNS}"),
    ("dashboard_reads.rs", "{learners}"),
    ("concierge.rs", "{with_teams}"),
    ("concierge.rs", "{identity}"),
    ("concierge.rs", "{joins}"),
    ("concierge.rs", "{listed}"),
    ("concierge.rs", "{goal_name}"),
    ("concierge.rs", "{course_name}"),
    ("concierge.rs", "{sources}"),
    ("concierge.rs", "{SELF_MODES}"),
    ("concierge.rs", "{SOURCE_ACTIVITIES}"),
    ("mod.rs", "{SELF_MODES}"),
    ("mod.rs", "{teams}"),
    ("mod.rs", "{learners}"),
    ("mod.rs", "{learner}"),
    ("mod.rs", "{with_teams}"),
    ("mod.rs", "{name}"),
];

const SQL_WORDS: &[&str] = &[
    "SELECT", "INSERT", "UPDATE", "DELETE", "WHERE", " AND ", "CREATE", "EXPLAIN", "IS NULL",
];

/// The first string literal after each `format!(` in `source`.
fn format_templates(source: &str) -> Vec<String> {
    let mut templates = Vec::new();
    let mut rest = source;
    while let Some(at) = rest.find("format!(") {
        rest = &rest[at + "format!(".len()..];
        let Some(open) = rest.find('"') else { break };
        let body = &rest[open + 1..];
        let mut end = 0;
        let bytes = body.as_bytes();
        while end < bytes.len() && !(bytes[end] == b'"' && (end == 0 || bytes[end - 1] != b'\\')) {
            end += 1;
        }
        templates.push(body[..end].to_string());
    }
    templates
}

#[test]
fn sql_text_interpolates_only_reviewed_fragments() {
    let mut checked = 0;
    for path in rust_files(concat!(env!("CARGO_MANIFEST_DIR"), "/src/store").as_ref()) {
        let file = path.file_name().unwrap().to_string_lossy().to_string();
        let source = std::fs::read_to_string(&path).unwrap();
        for template in format_templates(&source) {
            if !SQL_WORDS.iter().any(|w| template.contains(w)) {
                continue;
            }
            checked += 1;
            let reviewed_whole = REVIEWED.iter().any(|(f, t)| *f == file && template == *t);
            let chars: Vec<char> = template.chars().collect();
            let mut i = 0;
            while i < chars.len() {
                if chars[i] == '{' && chars.get(i + 1) != Some(&'{') {
                    let close = chars[i..].iter().position(|c| *c == '}').unwrap() + i;
                    let placeholder: String = chars[i..=close].iter().collect();
                    let parameter_number = i > 0 && chars[i - 1] == '$';
                    let reviewed = REVIEWED
                        .iter()
                        .any(|(f, p)| *f == file && *p == placeholder);
                    assert!(
                        parameter_number || reviewed || reviewed_whole,
                        "{file}: {placeholder} is interpolated into SQL text: {template:?}"
                    );
                    i = close;
                }
                i += 1;
            }
        }
    }
    assert!(checked >= 8, "the scan found the SQL templates ({checked})");
}

/// Every `.rs` file under `dir`, its folders (`store/replicas/`) included.
fn rust_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}
