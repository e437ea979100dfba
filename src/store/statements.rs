//! Statement persistence: the all-or-nothing write of a batch, and reads.

use std::collections::HashMap;

use chrono::{DateTime, SecondsFormat, Utc};
use deadpool_postgres::{Pool, Transaction};
use serde_json::Value;
use uuid::Uuid;

use super::Error;

/// The advisory-lock class of statement writers; the store id is the lock's object.
pub(super) const WRITER_LOCK_CLASS: i32 = 0x5354_4d54;

/// A Statement ready to be stored: validated, its index terms computed.
#[derive(Debug, Clone)]
pub struct NewStatement {
    pub id: Uuid,
    /// The body without `stored`, `authority`-as-set or a defaulted `timestamp`: those
    /// are filled in once the write holds the store's lock and knows `stored`.
    pub body: Value,
    pub registration: Option<Uuid>,
    pub voids: Option<Uuid>,
    pub statement_ref: Option<Uuid>,
    pub terms: Vec<(i16, String)>,
    pub definitions: Vec<(String, Value)>,
    pub agent_names: Vec<(String, Option<String>)>,
    /// The learning mode and the rule that chose it (`None`: no rule matched).
    pub mode: &'static str,
    pub mode_rule: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewAttachment {
    pub sha2: String,
    pub content_type: String,
    pub content: Vec<u8>,
}

/// How a write learns whether a Statement already stored under an id is "the same".
pub type SameStatement<'a> = &'a (dyn Fn(&Value, &Value) -> bool + Sync);

/// What the LRS writes into each Statement as it stores it.
pub struct LrsProperties<'a> {
    pub authority: &'a Value,
    /// `version` for Statements that arrived without one.
    pub default_version: &'a str,
    pub credential: &'a str,
}

/// Stores a batch in one transaction: either every Statement is stored (or was already
/// stored identically) or nothing is. A stored Statement with the same id but other
/// content is a conflict.
pub async fn insert_batch(
    pool: &Pool,
    store_id: i64,
    batch: Vec<NewStatement>,
    attachments: Vec<NewAttachment>,
    lrs: LrsProperties<'_>,
    same: SameStatement<'_>,
) -> Result<(), Error> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let stored: DateTime<Utc> = tx
        .query_one(
            // `stored` is returned with millisecond precision, so it is kept at that
            // precision: `since`/`until` given a returned `stored` must compare equal.
            "SELECT greatest(date_trunc('milliseconds', clock_timestamp()),
                             (SELECT max(stored) FROM statements WHERE store_id = $2))
               FROM (SELECT pg_advisory_xact_lock($1, ($2::bigint)::int4)) AS writer_lock",
            &[&WRITER_LOCK_CLASS, &store_id],
        )
        .await?
        .get(0);
    let ids: Vec<Uuid> = batch.iter().map(|s| s.id).collect();
    let existing = existing_bodies(&tx, store_id, &ids).await?;
    let mut fresh = Vec::with_capacity(batch.len());
    for statement in batch {
        match existing.get(&statement.id) {
            Some(stored_body) if same(stored_body, &statement.body) => {}
            Some(_) => {
                return Err(Error::Conflict(format!(
                    "statement {} already exists with different content",
                    statement.id
                )))
            }
            None => fresh.push(statement),
        }
    }
    if !fresh.is_empty() {
        write_statements(&tx, store_id, stored, &mut fresh, &lrs).await?;
    }
    if !attachments.is_empty() {
        write_attachments(&tx, store_id, &attachments).await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn existing_bodies(
    tx: &Transaction<'_>,
    store_id: i64,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, Value>, Error> {
    let rows = tx
        .query(
            "SELECT id, body FROM statements WHERE store_id = $1 AND id = ANY($2)",
            &[&store_id, &ids],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

fn timestamp_text(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

async fn write_statements(
    tx: &Transaction<'_>,
    store_id: i64,
    stored: DateTime<Utc>,
    fresh: &mut [NewStatement],
    lrs: &LrsProperties<'_>,
) -> Result<(), Error> {
    let stored_text = Value::String(timestamp_text(stored));
    for statement in fresh.iter_mut() {
        if let Some(body) = statement.body.as_object_mut() {
            body.insert("id".into(), Value::String(statement.id.to_string()));
            body.insert("stored".into(), stored_text.clone());
            body.insert("authority".into(), lrs.authority.clone());
            body.entry("version")
                .or_insert_with(|| Value::String(lrs.default_version.to_string()));
            body.entry("timestamp")
                .or_insert_with(|| stored_text.clone());
        }
    }
    let ids: Vec<Uuid> = fresh.iter().map(|s| s.id).collect();
    // A Statement is voided when a voiding Statement for it is stored (before or in
    // this batch) and it is not itself a voiding Statement (Data §2.3.2).
    let mut voided_targets: Vec<Uuid> = tx
        .query(
            "SELECT voids FROM statements WHERE store_id = $1 AND voids = ANY($2)",
            &[&store_id, &ids],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    voided_targets.extend(fresh.iter().filter_map(|s| s.voids));
    let voided: Vec<bool> = fresh
        .iter()
        .map(|s| s.voids.is_none() && voided_targets.contains(&s.id))
        .collect();
    let registrations: Vec<Option<Uuid>> = fresh.iter().map(|s| s.registration).collect();
    let voids: Vec<Option<Uuid>> = fresh.iter().map(|s| s.voids).collect();
    let refs: Vec<Option<Uuid>> = fresh.iter().map(|s| s.statement_ref).collect();
    let bodies: Vec<&Value> = fresh.iter().map(|s| &s.body).collect();
    let modes: Vec<&str> = fresh.iter().map(|s| s.mode).collect();
    let mode_rules: Vec<Option<&str>> = fresh.iter().map(|s| s.mode_rule.as_deref()).collect();
    let rows = tx
        .query(
            "INSERT INTO statements
                 (store_id, id, stored, registration, voided, voids, statement_ref, credential, body,
                  mode, mode_rule)
             SELECT $1, u.id, $2, u.registration, u.voided, u.voids, u.ref, $3, u.body,
                    u.mode, u.mode_rule
               FROM UNNEST($4::uuid[], $5::uuid[], $6::bool[], $7::uuid[], $8::uuid[], $9::jsonb[],
                           $10::text[], $11::text[])
                    WITH ORDINALITY AS u(id, registration, voided, voids, ref, body, mode, mode_rule, position)
              ORDER BY u.position
             RETURNING id, seq",
            &[
                &store_id,
                &stored,
                &lrs.credential,
                &ids,
                &registrations,
                &voided,
                &voids,
                &refs,
                &bodies,
                &modes,
                &mode_rules,
            ],
        )
        .await?;
    let seq_of: HashMap<Uuid, i64> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();

    let mut term_seqs = Vec::new();
    let mut term_kinds = Vec::new();
    let mut term_texts = Vec::new();
    for statement in fresh.iter() {
        let seq = seq_of[&statement.id];
        for (kind, term) in &statement.terms {
            term_seqs.push(seq);
            term_kinds.push(*kind);
            term_texts.push(term.as_str());
        }
    }
    tx.execute(
        "INSERT INTO statement_index (store_id, seq, kind, term)
         SELECT $1, * FROM UNNEST($2::int8[], $3::int2[], $4::text[])",
        &[&store_id, &term_seqs, &term_kinds, &term_texts],
    )
    .await?;
    inherit_referenced_terms(tx, store_id, fresh, &seq_of).await?;

    let targets: Vec<Uuid> = fresh.iter().filter_map(|s| s.voids).collect();
    if !targets.is_empty() {
        tx.execute(
            "UPDATE statements SET voided = true
              WHERE store_id = $1 AND id = ANY($2) AND voids IS NULL AND NOT voided",
            &[&store_id, &targets],
        )
        .await?;
    }
    upsert_definitions(tx, store_id, fresh).await?;
    upsert_agents(tx, store_id, fresh).await
}

/// The StatementRef filter rule: a Statement targeting another matches whatever its
/// target matches, recursively. New referring Statements copy their target's terms;
/// Statements already stored that refer to a new one (they arrived first) get its terms.
async fn inherit_referenced_terms(
    tx: &Transaction<'_>,
    store_id: i64,
    fresh: &[NewStatement],
    seq_of: &HashMap<Uuid, i64>,
) -> Result<(), Error> {
    for statement in targets_first(fresh) {
        tx.execute(
            "INSERT INTO statement_index (store_id, seq, kind, term)
             SELECT $1, $2, i.kind, i.term
               FROM statements t JOIN statement_index i ON i.store_id = t.store_id AND i.seq = t.seq
              WHERE t.store_id = $1 AND t.id = $3",
            &[&store_id, &seq_of[&statement.id], &statement.statement_ref],
        )
        .await?;
    }
    let ids: Vec<Uuid> = fresh.iter().map(|s| s.id).collect();
    tx.execute(
        "WITH RECURSIVE referrers (seq, id, origin) AS (
             SELECT s.seq, s.id, t.seq
               FROM statements s JOIN statements t ON t.store_id = s.store_id AND t.id = s.statement_ref
              WHERE s.store_id = $1 AND s.statement_ref = ANY($2) AND NOT (s.id = ANY($2))
             UNION
             SELECT s.seq, s.id, r.origin
               FROM statements s JOIN referrers r ON s.statement_ref = r.id
              WHERE s.store_id = $1
         )
         INSERT INTO statement_index (store_id, seq, kind, term)
         SELECT $1, r.seq, i.kind, i.term
           FROM referrers r JOIN statement_index i ON i.store_id = $1 AND i.seq = r.origin",
        &[&store_id, &ids],
    )
    .await?;
    Ok(())
}

/// The referring Statements of a batch, each after any Statement of the batch it
/// refers to, so a chain sent in any order inherits its terms all the way down. A
/// cycle (only possible inside one batch) is broken arbitrarily.
fn targets_first(fresh: &[NewStatement]) -> Vec<&NewStatement> {
    let mut pending: Vec<&NewStatement> =
        fresh.iter().filter(|s| s.statement_ref.is_some()).collect();
    let mut ordered = Vec::with_capacity(pending.len());
    while !pending.is_empty() {
        let waits = |s: &NewStatement| {
            pending
                .iter()
                .any(|p| Some(p.id) == s.statement_ref && p.id != s.id)
        };
        let ready = pending.iter().position(|s| !waits(s)).unwrap_or(0);
        ordered.push(pending.remove(ready));
    }
    ordered
}

async fn upsert_definitions(
    tx: &Transaction<'_>,
    store_id: i64,
    fresh: &[NewStatement],
) -> Result<(), Error> {
    let mut merged: HashMap<&str, Value> = HashMap::new();
    let iris: Vec<&str> = fresh
        .iter()
        .flat_map(|s| s.definitions.iter().map(|(iri, _)| iri.as_str()))
        .collect();
    if iris.is_empty() {
        return Ok(());
    }
    for row in tx
        .query(
            "SELECT iri, definition FROM activities WHERE store_id = $1 AND iri = ANY($2)",
            &[&store_id, &iris],
        )
        .await?
    {
        let iri: String = row.get(0);
        if let Some(key) = iris.iter().find(|i| **i == iri) {
            merged.insert(key, row.get(1));
        }
    }
    for (iri, definition) in fresh.iter().flat_map(|s| s.definitions.iter()) {
        let next = crate::xapi::definition::merge(merged.get(iri.as_str()), definition);
        merged.insert(iri.as_str(), next);
    }
    let (keys, values): (Vec<&str>, Vec<Value>) = merged.into_iter().unzip();
    tx.execute(
        "INSERT INTO activities (store_id, iri, definition)
         SELECT $1, * FROM UNNEST($2::text[], $3::jsonb[])
         ON CONFLICT (store_id, iri) DO UPDATE SET definition = EXCLUDED.definition, updated = now()",
        &[&store_id, &keys, &values],
    )
    .await?;
    Ok(())
}

async fn upsert_agents(
    tx: &Transaction<'_>,
    store_id: i64,
    fresh: &[NewStatement],
) -> Result<(), Error> {
    let mut names: HashMap<&str, Vec<&str>> = HashMap::new();
    for (ifi, name) in fresh.iter().flat_map(|s| s.agent_names.iter()) {
        let entry = names.entry(ifi.as_str()).or_default();
        if let Some(name) = name {
            if !entry.contains(&name.as_str()) {
                entry.push(name);
            }
        }
    }
    if names.is_empty() {
        return Ok(());
    }
    let ifis: Vec<&str> = names.keys().copied().collect();
    let lists: Vec<String> = ifis
        .iter()
        .map(|ifi| serde_json::to_string(&names[ifi]).expect("strings serialise"))
        .collect();
    tx.execute(
        "INSERT INTO agents (store_id, ifi, names)
         SELECT $1, u.ifi, ARRAY(SELECT jsonb_array_elements_text(u.names::jsonb))
           FROM UNNEST($2::text[], $3::text[]) AS u(ifi, names)
         ON CONFLICT (store_id, ifi) DO UPDATE
            SET names = ARRAY(SELECT DISTINCT unnest(agents.names || EXCLUDED.names))
          WHERE NOT (EXCLUDED.names <@ agents.names)",
        &[&store_id, &ifis, &lists],
    )
    .await?;
    Ok(())
}

async fn write_attachments(
    tx: &Transaction<'_>,
    store_id: i64,
    attachments: &[NewAttachment],
) -> Result<(), Error> {
    let hashes: Vec<&str> = attachments.iter().map(|a| a.sha2.as_str()).collect();
    let types: Vec<&str> = attachments
        .iter()
        .map(|a| a.content_type.as_str())
        .collect();
    let contents: Vec<&[u8]> = attachments.iter().map(|a| a.content.as_slice()).collect();
    tx.execute(
        "INSERT INTO attachments (store_id, sha2, content_type, content)
         SELECT $1, * FROM UNNEST($2::text[], $3::text[], $4::bytea[])
         ON CONFLICT (store_id, sha2) DO NOTHING",
        &[&store_id, &hashes, &types, &contents],
    )
    .await?;
    Ok(())
}
