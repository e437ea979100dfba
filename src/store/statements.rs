//! Statement persistence: the all-or-nothing write of a batch.
//!
//! Writers of different Statements run in parallel. What must not interleave is
//! serialised precisely: Statements sharing an id, and a Statement with those that
//! target it (voiding, StatementRef terms), take the same transaction-level advisory
//! lock; seqs come from `commonplace_reserve_statements`, which marks them in flight
//! until commit so readers never page past an uncommitted writer.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, SecondsFormat, Utc};
use deadpool_postgres::{Pool, Transaction};
use serde_json::Value;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use super::Error;
use crate::modes::Label;
use crate::xapi::statement::ParsedStatement;
use crate::xapi::{definition, ingest, Ifi};

/// The advisory-lock class (first int4 key) of per-Statement-id write locks.
const STATEMENT_LOCK_CLASS: i32 = 0x5354_4d54;

/// A Statement ready to be stored: validated, its index terms computed.
#[derive(Debug, Clone)]
pub struct NewStatement {
    pub id: Uuid,
    /// The body without `stored`, `authority`-as-set or a defaulted `timestamp`: those
    /// are filled in once the write knows `stored`.
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

impl NewStatement {
    /// What a validated Statement is stored as, with the authority it is filed under
    /// and its learning-mode label; the id is minted here when the client sent none.
    pub fn from_parsed(statement: ParsedStatement, authority: &Ifi, label: Label) -> Self {
        NewStatement {
            id: statement.id.unwrap_or_else(Uuid::new_v4),
            terms: ingest::index_terms(&statement, authority),
            agent_names: ingest::agent_names(&statement),
            registration: statement.registration,
            voids: statement.voids,
            statement_ref: statement.statement_ref,
            definitions: statement.activity_definitions,
            body: statement.body,
            mode: label.mode.as_str(),
            mode_rule: label.rule,
        }
    }
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
    lock_statement_ids(&tx, &batch).await?;
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
        write_statements(&tx, store_id, &mut fresh, &lrs).await?;
    }
    if !attachments.is_empty() {
        write_attachments(&tx, store_id, &attachments).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The lock key of a Statement id: writers of the same id, and of a Statement and the
/// Statements that target it, take the same key. A hash collision only serialises.
fn lock_key(id: &Uuid) -> i32 {
    let bytes = id.as_bytes();
    i32::from_le_bytes([bytes[0], bytes[5], bytes[10], bytes[15]])
}

/// Exclusive transaction locks on the batch's ids and the ids it targets, taken in
/// key order so two writers can never wait on each other in a cycle.
async fn lock_statement_ids(tx: &Transaction<'_>, batch: &[NewStatement]) -> Result<(), Error> {
    let mut keys: Vec<i32> = batch
        .iter()
        .flat_map(|s| [Some(s.id), s.voids, s.statement_ref])
        .flatten()
        .map(|id| lock_key(&id))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    let statement = tx
        .prepare_cached("SELECT count(pg_advisory_xact_lock($1, k)) FROM unnest($2::int4[]) AS k")
        .await?;
    tx.query_one(&statement, &[&STATEMENT_LOCK_CLASS, &keys])
        .await?;
    Ok(())
}

async fn existing_bodies(
    tx: &Transaction<'_>,
    store_id: i64,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, Value>, Error> {
    let statement = tx
        .prepare_cached("SELECT id, body FROM statements WHERE store_id = $1 AND id = ANY($2)")
        .await?;
    let rows = tx.query(&statement, &[&store_id, &ids]).await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

fn timestamp_text(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

async fn write_statements(
    tx: &Transaction<'_>,
    store_id: i64,
    fresh: &mut Vec<NewStatement>,
    lrs: &LrsProperties<'_>,
) -> Result<(), Error> {
    // Targets first, so a StatementRef chain sent in one batch in any order inherits
    // its terms all the way down (terms are copied in seq order below).
    *fresh = targets_first(std::mem::take(fresh));
    let ids: Vec<Uuid> = fresh.iter().map(|s| s.id).collect();
    let (already_voided, reservation) = {
        let voiders = tx
            .prepare_cached("SELECT voids FROM statements WHERE store_id = $1 AND voids = ANY($2)")
            .await?;
        let reserve = tx
            .prepare_cached("SELECT first_seq, stored FROM commonplace_reserve_statements($1)")
            .await?;
        let count = fresh.len() as i32;
        let voiders_params: [&(dyn ToSql + Sync); 2] = [&store_id, &ids];
        let reserve_params: [&(dyn ToSql + Sync); 1] = [&count];
        tokio::try_join!(
            tx.query(&voiders, &voiders_params),
            tx.query_one(&reserve, &reserve_params)
        )?
    };
    let first_seq: i64 = reservation.get(0);
    let stored: DateTime<Utc> = reservation.get(1);
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
    // A Statement is voided when a voiding Statement for it is stored (before or in
    // this batch) and it is not itself a voiding Statement (Data §2.3.2).
    let mut voided_targets: HashSet<Uuid> = already_voided.iter().map(|r| r.get(0)).collect();
    voided_targets.extend(fresh.iter().filter_map(|s| s.voids));
    let seqs: Vec<i64> = (first_seq..first_seq + fresh.len() as i64).collect();
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

    let mut term_seqs = Vec::new();
    let mut term_kinds = Vec::new();
    let mut term_texts = Vec::new();
    for (statement, seq) in fresh.iter().zip(&seqs) {
        for (kind, term) in &statement.terms {
            term_seqs.push(*seq);
            term_kinds.push(*kind);
            term_texts.push(term.as_str());
        }
    }
    let targets: Vec<Uuid> = fresh.iter().filter_map(|s| s.voids).collect();

    let insert_statements = tx
        .prepare_cached(
            "INSERT INTO statements
                 (store_id, seq, id, stored, registration, voided, voids, statement_ref, credential, body,
                  mode, mode_rule)
             SELECT $1, u.seq, u.id, $2, u.registration, u.voided, u.voids, u.ref, $3, u.body,
                    u.mode, u.mode_rule
               FROM UNNEST($4::int8[], $5::uuid[], $6::uuid[], $7::bool[], $8::uuid[], $9::uuid[], $10::jsonb[],
                           $11::text[], $12::text[])
                    AS u(seq, id, registration, voided, voids, ref, body, mode, mode_rule)",
        )
        .await?;
    let insert_terms = tx
        .prepare_cached(
            "INSERT INTO statement_index (store_id, seq, kind, term)
             SELECT $1, * FROM UNNEST($2::int8[], $3::int2[], $4::text[])",
        )
        .await?;
    let void_targets = tx
        .prepare_cached(
            "UPDATE statements SET voided = true
              WHERE store_id = $1 AND id = ANY($2) AND voids IS NULL AND NOT voided",
        )
        .await?;
    let statement_params: [&(dyn ToSql + Sync); 12] = [
        &store_id,
        &stored,
        &lrs.credential,
        &seqs,
        &ids,
        &registrations,
        &voided,
        &voids,
        &refs,
        &bodies,
        &modes,
        &mode_rules,
    ];
    let term_params: [&(dyn ToSql + Sync); 4] = [&store_id, &term_seqs, &term_kinds, &term_texts];
    let void_params: [&(dyn ToSql + Sync); 2] = [&store_id, &targets];
    // Sent as one pipeline; the server runs them in this order.
    tokio::try_join!(
        tx.execute(&insert_statements, &statement_params),
        tx.execute(&insert_terms, &term_params),
        inherit_referenced_terms(tx, store_id, fresh, &seqs),
        async {
            if targets.is_empty() {
                Ok(0)
            } else {
                tx.execute(&void_targets, &void_params).await
            }
        },
    )?;
    // Row locks are taken in one order by every writer — activities, then agents, each
    // sorted — so these two run one after the other, never interleaved in a pipeline.
    upsert_definitions(tx, store_id, fresh).await?;
    upsert_agents(tx, store_id, fresh).await?;
    Ok(())
}

/// The StatementRef filter rule: a Statement targeting another matches whatever its
/// target matches, recursively. New referring Statements copy their target's terms;
/// Statements already stored that refer to a new one (they arrived first) get its terms.
async fn inherit_referenced_terms(
    tx: &Transaction<'_>,
    store_id: i64,
    fresh: &[NewStatement],
    seqs: &[i64],
) -> Result<u64, tokio_postgres::Error> {
    let (referring_seqs, referred): (Vec<i64>, Vec<Uuid>) = fresh
        .iter()
        .zip(seqs)
        .filter_map(|(s, seq)| s.statement_ref.map(|target| (*seq, target)))
        .unzip();
    let copy_from_targets = tx
        .prepare_cached(
            "INSERT INTO statement_index (store_id, seq, kind, term)
             SELECT $1, r.seq, i.kind, i.term
               FROM UNNEST($2::int8[], $3::uuid[]) WITH ORDINALITY AS r(seq, target, position)
               JOIN statements t ON t.store_id = $1 AND t.id = r.target
               JOIN statement_index i ON i.store_id = $1 AND i.seq = t.seq
              ORDER BY r.position",
        )
        .await?;
    let copy_to_referrers = tx
        .prepare_cached(
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
        )
        .await?;
    let ids: Vec<Uuid> = fresh.iter().map(|s| s.id).collect();
    let mut copied = 0;
    if !referring_seqs.is_empty() {
        // One statement per referring Statement, in batch order: a chain inside the
        // batch sees the terms its earlier links just received.
        for (seq, target) in referring_seqs.iter().zip(&referred) {
            copied += tx
                .execute(
                    &copy_from_targets,
                    &[&store_id, &vec![*seq], &vec![*target]],
                )
                .await?;
        }
    }
    copied += tx.execute(&copy_to_referrers, &[&store_id, &ids]).await?;
    Ok(copied)
}

/// The referring Statements of a batch after any Statement of the batch they refer
/// to; everything else keeps its order. A cycle (only possible inside one batch) is
/// broken arbitrarily.
fn targets_first(batch: Vec<NewStatement>) -> Vec<NewStatement> {
    let mut pending = batch;
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

/// Merges the batch's definitions per Activity, then merges each into the stored one
/// atomically — skipping Activities whose stored definition already says it all, so
/// the common case (the same definition again) takes no row lock.
async fn upsert_definitions(
    tx: &Transaction<'_>,
    store_id: i64,
    fresh: &[NewStatement],
) -> Result<u64, tokio_postgres::Error> {
    let mut incoming: HashMap<&str, Value> = HashMap::new();
    for (iri, value) in fresh.iter().flat_map(|s| s.definitions.iter()) {
        let merged = definition::merge(incoming.get(iri.as_str()), value);
        incoming.insert(iri.as_str(), merged);
    }
    if incoming.is_empty() {
        return Ok(0);
    }
    let iris: Vec<&str> = incoming.keys().copied().collect();
    let select = tx
        .prepare_cached(
            "SELECT iri, definition FROM activities WHERE store_id = $1 AND iri = ANY($2)",
        )
        .await?;
    let stored: HashMap<String, Value> = tx
        .query(&select, &[&store_id, &iris])
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let mut changed: Vec<(&str, Value)> = incoming
        .into_iter()
        .filter(|(iri, value)| match stored.get(*iri) {
            Some(current) => definition::merge(Some(current), value) != *current,
            None => true,
        })
        .collect();
    if changed.is_empty() {
        return Ok(0);
    }
    // One lock order for every writer: no deadlocks between concurrent upserts.
    changed.sort_by(|a, b| a.0.cmp(b.0));
    let (keys, values): (Vec<&str>, Vec<Value>) = changed.into_iter().unzip();
    let upsert = tx
        .prepare_cached(
            "INSERT INTO activities (store_id, iri, definition)
             SELECT $1, * FROM UNNEST($2::text[], $3::jsonb[])
             ON CONFLICT (store_id, iri) DO UPDATE
                SET definition = commonplace_merge_definition(activities.definition, EXCLUDED.definition),
                    updated = now()",
        )
        .await?;
    tx.execute(&upsert, &[&store_id, &keys, &values]).await
}

/// Records every IFI with the names it was given; only IFIs that are new or bring a
/// new name are written, in one lock order.
async fn upsert_agents(
    tx: &Transaction<'_>,
    store_id: i64,
    fresh: &[NewStatement],
) -> Result<u64, tokio_postgres::Error> {
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
        return Ok(0);
    }
    let ifis: Vec<&str> = names.keys().copied().collect();
    let select = tx
        .prepare_cached("SELECT ifi, names FROM agents WHERE store_id = $1 AND ifi = ANY($2)")
        .await?;
    let known: HashMap<String, Vec<String>> = tx
        .query(&select, &[&store_id, &ifis])
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let mut changed: Vec<(&str, String)> = names
        .into_iter()
        .filter(|(ifi, new)| match known.get(*ifi) {
            Some(old) => new.iter().any(|n| !old.iter().any(|o| o == n)),
            None => true,
        })
        .map(|(ifi, new)| (ifi, serde_json::to_string(&new).expect("strings serialise")))
        .collect();
    if changed.is_empty() {
        return Ok(0);
    }
    changed.sort();
    let (ifis, lists): (Vec<&str>, Vec<String>) = changed.into_iter().unzip();
    let upsert = tx
        .prepare_cached(
            "INSERT INTO agents (store_id, ifi, names)
             SELECT $1, u.ifi, ARRAY(SELECT jsonb_array_elements_text(u.names::jsonb))
               FROM UNNEST($2::text[], $3::text[]) AS u(ifi, names)
             ON CONFLICT (store_id, ifi) DO UPDATE
                SET names = ARRAY(SELECT DISTINCT unnest(agents.names || EXCLUDED.names))
              WHERE NOT (EXCLUDED.names <@ agents.names)",
        )
        .await?;
    tx.execute(&upsert, &[&store_id, &ifis, &lists]).await
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
    let insert = tx
        .prepare_cached(
            "INSERT INTO attachments (store_id, sha2, content_type, content)
             SELECT $1, * FROM UNNEST($2::text[], $3::text[], $4::bytea[])
             ON CONFLICT (store_id, sha2) DO NOTHING",
        )
        .await?;
    tx.execute(&insert, &[&store_id, &hashes, &types, &contents])
        .await?;
    Ok(())
}
