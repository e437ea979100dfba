//! `commonplace export` and `import`: a store as NDJSON, and back through the same
//! validation and the same all-or-nothing batch writes as the API.
//!
//! The file: a header line `{"commonplace_export":1,"store":NAME}`, then one line per
//! attachment `{"attachment":{"sha2","contentType","content":BASE64}}`, then one line
//! per Statement in stored order `{"statement":BODY,"credential":KEY}`. Import is
//! idempotent (a Statement already stored identically is skipped) and resumable: after
//! each committed batch the byte offset reached is written to `FILE.progress`, and a
//! later run starts there.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use base64::Engine;
use deadpool_postgres::Pool;
use serde_json::{json, Value};

use crate::modes::{Ruleset, Writer};
use crate::store::statements::{self, LrsProperties, NewStatement};
use crate::store::transfer;
use crate::xapi::agent::parse_agent_object;
use crate::xapi::{parse_statement, Ifi, Version};

const PAGE: i64 = 500;
const BATCH: usize = 500;

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

/// Writes store `store` to `out`; returns the number of Statements written.
pub async fn export(pool: &Pool, store: &str, out: &mut dyn Write) -> Result<u64, String> {
    let store_id = transfer::store_id(pool, store)
        .await
        .map_err(|e| e.to_string())?;
    let io = |e: std::io::Error| e.to_string();
    writeln!(out, "{}", json!({"commonplace_export": 1, "store": store})).map_err(io)?;
    let mut after = String::new();
    loop {
        let page = transfer::attachments_after(pool, store_id, &after, PAGE)
            .await
            .map_err(|e| e.to_string())?;
        let Some(last) = page.last() else { break };
        after = last.0.clone();
        for (sha2, content_type, content) in &page {
            let line = json!({"attachment": {"sha2": sha2, "contentType": content_type,
                                             "content": b64().encode(content)}});
            writeln!(out, "{line}").map_err(io)?;
        }
    }
    let mut seq = 0;
    let mut count = 0;
    loop {
        let page = transfer::statements_after(pool, store_id, seq, PAGE)
            .await
            .map_err(|e| e.to_string())?;
        let Some(last) = page.last() else { break };
        seq = last.0;
        for (_, credential, body) in &page {
            writeln!(
                out,
                "{}",
                json!({"statement": body, "credential": credential})
            )
            .map_err(io)?;
            count += 1;
        }
    }
    out.flush().map_err(io)?;
    Ok(count)
}

#[derive(Debug, Default)]
pub struct Imported {
    pub statements: u64,
    pub attachments: u64,
    pub resumed_at: u64,
}

pub fn progress_path(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".progress");
    PathBuf::from(name)
}

fn version_of(body: &Value) -> Version {
    match body.get("version").and_then(Value::as_str) {
        Some(v) if v.starts_with("2.") => Version::V2_0_0,
        _ => Version::V1_0_3,
    }
}

/// A batch of Statements, and the offset the file has been read to once it is committed.
struct Pending {
    statements: Vec<NewStatement>,
    end: u64,
}

/// Imports `file` into `store` (default: the store named in the file).
pub async fn import(
    pool: &Pool,
    file: &Path,
    store: Option<&str>,
    progress: &mut dyn Write,
) -> Result<Imported, String> {
    let total = std::fs::metadata(file).map_err(|e| e.to_string())?.len();
    let mut reader = BufReader::new(std::fs::File::open(file).map_err(|e| e.to_string())?);
    let mut header = String::new();
    reader.read_line(&mut header).map_err(|e| e.to_string())?;
    let header: Value = serde_json::from_str(&header)
        .map_err(|_| "line 1: not a commonplace export header".to_string())?;
    if header["commonplace_export"] != 1 {
        return Err("line 1: not a commonplace export (version 1) header".into());
    }
    let store = store
        .map(str::to_string)
        .or_else(|| header["store"].as_str().map(str::to_string))
        .ok_or("the file names no store; pass --store")?;
    let store_id = transfer::store_id(pool, &store)
        .await
        .map_err(|e| e.to_string())?;
    let rules = Ruleset::default_rules();
    let progress_file = progress_path(file);
    let mut offset = reader.stream_position().map_err(|e| e.to_string())?;
    let mut imported = Imported::default();
    if let Ok(text) = std::fs::read_to_string(&progress_file) {
        let resume: u64 = text
            .trim()
            .parse()
            .map_err(|_| format!("{} is not a byte offset", progress_file.display()))?;
        reader
            .seek(SeekFrom::Start(resume))
            .map_err(|e| e.to_string())?;
        offset = resume;
        imported.resumed_at = resume;
    }
    let mut pending: Option<Pending> = None;
    let mut line = String::new();
    let mut number = 0u64;
    loop {
        line.clear();
        let read = reader.read_line(&mut line).map_err(|e| e.to_string())?;
        if read == 0 {
            break;
        }
        number += 1;
        offset += read as u64;
        let at = || format!("byte {}", offset - read as u64);
        let entry: Value =
            serde_json::from_str(&line).map_err(|e| format!("{}: not JSON: {e}", at()))?;
        if let Some(attachment) = entry.get("attachment") {
            flush(pool, store_id, &mut pending, &mut imported, &progress_file).await?;
            let sha2 = attachment["sha2"]
                .as_str()
                .ok_or_else(|| format!("{}: sha2", at()))?;
            let content = attachment["content"]
                .as_str()
                .and_then(|c| b64().decode(c).ok())
                .ok_or_else(|| format!("{}: content is not base64", at()))?;
            let content_type = attachment["contentType"]
                .as_str()
                .unwrap_or("application/octet-stream");
            transfer::put_attachment(pool, store_id, sha2, content_type, &content)
                .await
                .map_err(|e| e.to_string())?;
            imported.attachments += 1;
            save_progress(&progress_file, offset)?;
            continue;
        }
        let body = entry
            .get("statement")
            .cloned()
            .ok_or_else(|| format!("{}: neither a statement nor an attachment", at()))?;
        let credential = entry["credential"].as_str().unwrap_or("import").to_string();
        let authority = body.get("authority").cloned().unwrap_or(Value::Null);
        let version = version_of(&body);
        let parsed =
            parse_statement(body, version, "statement").map_err(|e| format!("{}: {e}", at()))?;
        let authority_ifi = parse_agent_object(&authority, "authority", Version::V2_0_0)
            .ok()
            .and_then(|a| a.ifi.or_else(|| a.members.into_iter().next()))
            .unwrap_or_else(|| Ifi::account("urn:commonplace:import", &credential));
        // Imported Statements are labelled by the built-in rules as written by their
        // original credential; `commonplace modes reclassify` applies other rules.
        let label = rules.classify(
            &parsed.body,
            &Writer {
                store: &store,
                credential_key: &credential,
                credential_name: &credential,
                tags: &BTreeMap::new(),
            },
        );
        let statement = NewStatement::from_parsed(
            parsed,
            &authority_ifi,
            label,
            &LrsProperties {
                authority: &authority,
                default_version: "1.0.0",
                credential: &credential,
            },
        );
        if pending.as_ref().is_none_or(|p| p.statements.len() >= BATCH) {
            flush(pool, store_id, &mut pending, &mut imported, &progress_file).await?;
            pending = Some(Pending {
                statements: Vec::new(),
                end: offset,
            });
        }
        let batch = pending.as_mut().expect("just set");
        batch.statements.push(statement);
        batch.end = offset;
        if number.is_multiple_of(1000) {
            let _ = write!(
                progress,
                "\rimport: {offset} / {total} bytes ({:.1}%)",
                offset as f64 * 100.0 / total.max(1) as f64
            );
        }
    }
    flush(pool, store_id, &mut pending, &mut imported, &progress_file).await?;
    let _ = writeln!(progress, "\rimport: {total} / {total} bytes (100.0%)");
    let _ = std::fs::remove_file(&progress_file);
    Ok(imported)
}

async fn flush(
    pool: &Pool,
    store_id: i64,
    pending: &mut Option<Pending>,
    imported: &mut Imported,
    progress_file: &Path,
) -> Result<(), String> {
    let Some(batch) = pending.take() else {
        return Ok(());
    };
    let count = batch.statements.len() as u64;
    statements::insert_batch(pool, store_id, batch.statements, Vec::new())
        .await
        .map_err(|e| e.to_string())?;
    imported.statements += count;
    save_progress(progress_file, batch.end)
}

fn save_progress(path: &Path, offset: u64) -> Result<(), String> {
    let scratch = path.with_extension("progress.tmp");
    std::fs::write(&scratch, offset.to_string()).map_err(|e| e.to_string())?;
    std::fs::rename(&scratch, path).map_err(|e| e.to_string())
}
