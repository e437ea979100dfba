//! Statement persistence: the all-or-nothing write of a batch.
//!
//! Writers of different Statements run in parallel. What must not interleave is
//! serialised precisely: Statements sharing an id, and a Statement with those that
//! target it (voiding, StatementRef terms), take the same transaction-level advisory
//! lock; seqs come from `commonplace_reserve_statements`, which marks them in flight
//! until commit so readers never page past an uncommitted writer.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use deadpool_postgres::{ClientWrapper, Object, Pool};
use serde_json::Value;
use tokio::time::Instant;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Row, Statement};
use uuid::Uuid;

use super::statement_sql::WriteSql;
use super::terms::{self, TermIds};
use super::Error;
use crate::modes::Label;
use crate::xapi::compare::equivalent;
use crate::xapi::ingest::{agent_kinds, AGENT_VERB_KIND, VERB_KIND};
use crate::xapi::statement::ParsedStatement;
use crate::xapi::{definition, ingest, Ifi};

/// The advisory-lock class (first int4 key) of per-Statement-id write locks.
const STATEMENT_LOCK_CLASS: i32 = 0x5354_4d54;
/// `stored` is kept in milliseconds (it is returned so).
const STORED_PRECISION: Duration = Duration::from_millis(1);

/// A Statement ready to be stored: validated, its index terms computed.
#[derive(Debug, Clone)]
pub struct NewStatement {
    pub id: Uuid,
    /// The body as stored, but for `id`, `stored` and a defaulted `timestamp`: those are
    /// filled in once the write knows `stored`.
    pub body: Value,
    /// The credential that wrote it (its authority), for statements/read/mine.
    pub credential: String,
    pub voids: Option<Uuid>,
    pub statement_ref: Option<Uuid>,
    /// Every (kind, term key) it is filed under (`ingest::index_terms`).
    pub terms: Vec<(i16, Uuid)>,
    pub definitions: Vec<(String, Value)>,
    pub agent_names: Vec<(String, Option<String>)>,
    /// The learning mode and the rule that chose it (`None`: no rule matched).
    pub mode: &'static str,
    pub mode_rule: Option<String>,
}

impl NewStatement {
    /// What a validated Statement is stored as, with the authority it is filed under
    /// and its learning-mode label; the id is minted here when the client sent none, so
    /// writing the same `NewStatement` again is idempotent.
    pub fn from_parsed(
        statement: ParsedStatement,
        authority_ifi: &Ifi,
        label: Label,
        lrs: &LrsProperties<'_>,
    ) -> Self {
        let terms = ingest::index_terms(&statement, authority_ifi);
        let agent_names = ingest::agent_names(&statement);
        let mut body = statement.body;
        if let Some(map) = body.as_object_mut() {
            map.insert("authority".into(), lrs.authority.clone());
            map.entry("version")
                .or_insert_with(|| Value::String(lrs.default_version.to_string()));
        }
        NewStatement {
            id: statement.id.unwrap_or_else(Uuid::new_v4),
            terms,
            agent_names,
            voids: statement.voids,
            statement_ref: statement.statement_ref,
            definitions: statement.activity_definitions,
            body,
            credential: lrs.credential.to_string(),
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
///
/// Round trips are what a write costs most (each is a wake-up and system calls on both
/// sides), so the transaction takes two: BEGIN with every read (under the id locks,
/// which it takes first), then every write with COMMIT.
///
/// Returns when every query will cover the batch: once the millisecond of its `stored`
/// has passed on the database's clock, as a consistency time
/// (`statement_reads::snapshot`) lies a millisecond before that clock. It is measured
/// from when the reservation arrived, so it needs no agreement between the clocks. A
/// writer that answers its client before then would let a query sent after the answer
/// miss the Statement.
pub async fn insert_batch(
    pool: &Pool,
    store_id: i64,
    batch: Vec<NewStatement>,
    attachments: Vec<NewAttachment>,
) -> Result<Instant, Error> {
    let client = pool.get().await?;
    let sql = WriteSql::prepare(&client).await?;
    let mut tx = PipelinedTransaction(Some(client));
    let db = tx.client();
    let keys = terms::sorted_keys(batch.iter().flat_map(|s| s.terms.iter().map(|(_, k)| k)));
    let outcome = async {
        let known = read_before_write(db, &sql, store_id, &batch, &keys).await?;
        let mut fresh = Vec::with_capacity(batch.len());
        for statement in batch {
            match known.bodies.get(&statement.id) {
                Some(stored_body) if equivalent(stored_body, &statement.body) => {}
                Some(_) => {
                    return Err(Error::Conflict(format!(
                        "statement {} already exists with different content",
                        statement.id
                    )))
                }
                None => fresh.push(statement),
            }
        }
        write(db, &sql, store_id, fresh, &known, &attachments).await?;
        Ok(known.reserved + STORED_PRECISION)
    }
    .await;
    match outcome {
        Ok(covered) => {
            tx.finished();
            Ok(covered)
        }
        Err(e) => {
            tx.roll_back().await;
            Err(e)
        }
    }
}

/// A transaction whose BEGIN travels in the pipeline of its first statements and whose
/// COMMIT in that of its last ones. Unlike tokio-postgres' `Transaction` it cannot roll
/// back when dropped unfinished (a request abandoned mid-write), as that needs an
/// await: it then takes its connection out of the pool instead, and closing the
/// connection rolls the transaction back.
struct PipelinedTransaction(Option<Object>);

impl PipelinedTransaction {
    fn client(&self) -> &ClientWrapper {
        self.0
            .as_ref()
            .expect("the connection is held until the transaction ends")
    }

    /// Committed (or rolled back in a pipeline): the connection goes back to the pool.
    fn finished(&mut self) {
        self.0.take();
    }

    async fn roll_back(&mut self) {
        // After a failure inside a pipeline the server may have ended the transaction
        // already; a ROLLBACK outside one only warns.
        if self.client().batch_execute("ROLLBACK").await.is_ok() {
            self.finished();
        }
    }
}

impl Drop for PipelinedTransaction {
    fn drop(&mut self) {
        if let Some(connection) = self.0.take() {
            drop(Object::take(connection));
        }
    }
}

/// What the database holds that the write depends on, read under the id locks.
struct Known {
    /// Bodies already stored under the batch's ids.
    bodies: HashMap<Uuid, Value>,
    /// Batch ids a stored voiding Statement targets.
    voided: HashSet<Uuid>,
    /// Whether a stored StatementRef targets a batch id (it then inherits terms).
    referred: bool,
    /// The dictionary id of every term of the batch.
    term_ids: TermIds,
    /// Seqs reserved for the whole batch (from `first_seq`) and the `stored` they share.
    first_seq: i64,
    stored: DateTime<Utc>,
    /// When the reservation had arrived (so had `stored` on the database's clock).
    reserved: Instant,
    definitions: HashMap<String, Value>,
    names: HashMap<String, Vec<String>>,
}

/// The lock key of a Statement id: writers of the same id, and of a Statement and the
/// Statements that target it, take the same key. A hash collision only serialises.
fn lock_key(id: &Uuid) -> i32 {
    let bytes = id.as_bytes();
    i32::from_le_bytes([bytes[0], bytes[5], bytes[10], bytes[15]])
}

/// The advisory lock (both int4 keys) a write of Statement `id` takes: holding it holds
/// that write, as a test or an operator investigating one may need.
pub fn statement_write_lock(id: &Uuid) -> (i32, i32) {
    (STATEMENT_LOCK_CLASS, lock_key(id))
}

/// One pipeline: exclusive transaction locks on the batch's ids and the ids it targets
/// (taken in key order, so two writers never wait on each other for them in a cycle),
/// the batch's term keys (`keys`, sorted) interned (before the seqs are reserved: a
/// writer waiting for another's new term holds back no reader), then
/// everything the write needs to know. Each read runs after the locks are granted, so
/// it sees every write to these ids that committed before. Seqs are reserved for the
/// whole batch; those of Statements that turn out to be stored already stay unused.
async fn read_before_write(
    db: &ClientWrapper,
    sql: &WriteSql,
    store_id: i64,
    batch: &[NewStatement],
    keys: &[Uuid],
) -> Result<Known, Error> {
    let mut locks: Vec<i32> = batch
        .iter()
        .flat_map(|s| [Some(s.id), s.voids, s.statement_ref])
        .flatten()
        .map(|id| lock_key(&id))
        .collect();
    locks.sort_unstable();
    locks.dedup();
    let ids: Vec<Uuid> = batch.iter().map(|s| s.id).collect();
    let count = batch.len() as i32;
    let mut iris: Vec<&str> = batch
        .iter()
        .flat_map(|s| s.definitions.iter().map(|(iri, _)| iri.as_str()))
        .collect();
    iris.sort_unstable();
    iris.dedup();
    let mut ifis: Vec<&str> = batch
        .iter()
        .flat_map(|s| s.agent_names.iter().map(|(ifi, _)| ifi.as_str()))
        .collect();
    ifis.sort_unstable();
    ifis.dedup();
    let lock_params: [&(dyn ToSql + Sync); 2] = [&STATEMENT_LOCK_CLASS, &locks];
    let term_params: [&(dyn ToSql + Sync); 2] = [&store_id, &keys];
    let id_params: [&(dyn ToSql + Sync); 2] = [&store_id, &ids];
    let reserve_params: [&(dyn ToSql + Sync); 1] = [&count];
    let iri_params: [&(dyn ToSql + Sync); 2] = [&store_id, &iris];
    let ifi_params: [&(dyn ToSql + Sync); 2] = [&store_id, &ifis];
    // The session plans every query for its parameters (skewed read filters need it);
    // the write path's lookups by key do not, and re-planning them was about a fifth
    // of PostgreSQL's work per single-Statement POST, so they may reuse a plan.
    // Every statement's answer is awaited and the first failure in pipeline order is
    // the one returned: after it the server answers every later statement "transaction
    // aborted" (25P02), and `try_join!`, which starts polling at a different future
    // each time, could return one of those instead of the cause (a 25006 outage).
    let (begin, lock, intern, fetched, bodies, voiders, referred, reservation, definitions, names) = tokio::join!(
        db.batch_execute("BEGIN; SET LOCAL plan_cache_mode = auto"),
        db.query_one(&sql.lock, &lock_params),
        execute_unless_empty(db, &sql.intern, &term_params, keys.is_empty()),
        query_unless_empty(db, &sql.term_ids, &term_params, keys.is_empty()),
        db.query(&sql.existing, &id_params),
        db.query(&sql.voiders, &id_params),
        db.query_one(&sql.referred, &id_params),
        db.query_one(&sql.reserve, &reserve_params),
        query_unless_empty(db, &sql.activities, &iri_params, iris.is_empty()),
        query_unless_empty(db, &sql.agents, &ifi_params, ifis.is_empty()),
    );
    begin?;
    lock?;
    intern?;
    let (fetched, bodies, voiders, referred) = (fetched?, bodies?, voiders?, referred?);
    let (reservation, definitions, names) = (reservation?, definitions?, names?);
    let reserved = Instant::now();
    Ok(Known {
        bodies: bodies.iter().map(|r| (r.get(0), r.get(1))).collect(),
        voided: voiders.iter().map(|r| r.get(0)).collect(),
        referred: referred.get(0),
        term_ids: TermIds::from_rows(&fetched, keys)?,
        first_seq: reservation.get(0),
        stored: reservation.get(1),
        reserved,
        definitions: definitions.iter().map(|r| (r.get(0), r.get(1))).collect(),
        names: names.iter().map(|r| (r.get(0), r.get(1))).collect(),
    })
}

async fn query_unless_empty(
    db: &ClientWrapper,
    statement: &Statement,
    params: &[&(dyn ToSql + Sync)],
    empty: bool,
) -> Result<Vec<Row>, tokio_postgres::Error> {
    if empty {
        Ok(Vec::new())
    } else {
        db.query(statement, params).await
    }
}

async fn execute_unless_empty(
    db: &ClientWrapper,
    statement: &Statement,
    params: &[&(dyn ToSql + Sync)],
    empty: bool,
) -> Result<u64, tokio_postgres::Error> {
    if empty {
        Ok(0)
    } else {
        db.execute(statement, params).await
    }
}

fn timestamp_text(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// One pipeline of every write and the COMMIT; the server runs them in the order they
/// are sent.
async fn write(
    db: &ClientWrapper,
    sql: &WriteSql,
    store_id: i64,
    fresh: Vec<NewStatement>,
    known: &Known,
    attachments: &[NewAttachment],
) -> Result<(), Error> {
    // Targets first, so a StatementRef chain sent in one batch in any order inherits
    // its terms all the way down (terms are copied in seq order below).
    let mut fresh = targets_first(fresh);
    let stored_text = Value::String(timestamp_text(known.stored));
    for statement in fresh.iter_mut() {
        if let Some(body) = statement.body.as_object_mut() {
            body.insert("id".into(), Value::String(statement.id.to_string()));
            body.insert("stored".into(), stored_text.clone());
            body.entry("timestamp")
                .or_insert_with(|| stored_text.clone());
        }
    }
    // A Statement is voided when a voiding Statement for it is stored (before or in
    // this batch) and it is not itself a voiding Statement (Data §2.3.2).
    let mut voided_targets: HashSet<Uuid> = known.voided.clone();
    voided_targets.extend(fresh.iter().filter_map(|s| s.voids));
    let ids: Vec<Uuid> = fresh.iter().map(|s| s.id).collect();
    let seqs: Vec<i64> = (known.first_seq..known.first_seq + fresh.len() as i64).collect();
    let voided: Vec<bool> = fresh
        .iter()
        .map(|s| s.voids.is_none() && voided_targets.contains(&s.id))
        .collect();
    let voids: Vec<Option<Uuid>> = fresh.iter().map(|s| s.voids).collect();
    let refs: Vec<Option<Uuid>> = fresh.iter().map(|s| s.statement_ref).collect();
    let bodies: Vec<&Value> = fresh.iter().map(|s| &s.body).collect();
    let credentials: Vec<&str> = fresh.iter().map(|s| s.credential.as_str()).collect();
    let modes: Vec<&str> = fresh.iter().map(|s| s.mode).collect();
    let mode_rules: Vec<Option<&str>> = fresh.iter().map(|s| s.mode_rule.as_deref()).collect();

    // Each Statement's rows, packed and sorted, one slice of `packed` per Statement
    // (1-based bounds, as SQL slices), and its entries for `statement_terms`.
    let mut packed: Vec<i64> = Vec::new();
    let mut entry_terms: Vec<i64> = Vec::new();
    let mut entries: Vec<i64> = Vec::new();
    let mut firsts: Vec<i32> = Vec::with_capacity(fresh.len());
    let mut lasts: Vec<i32> = Vec::with_capacity(fresh.len());
    for (statement, seq) in fresh.iter().zip(&seqs) {
        let first = packed.len();
        packed.extend(
            statement
                .terms
                .iter()
                .map(|(kind, key)| terms::pack(known.term_ids.id(key), *kind)),
        );
        packed[first..].sort_unstable();
        for (term, entry) in terms::entries(*seq, &packed[first..]) {
            entry_terms.push(term);
            entries.push(entry);
        }
        firsts.push(first as i32 + 1);
        lasts.push(packed.len() as i32);
    }
    let targets: Vec<Uuid> = fresh.iter().filter_map(|s| s.voids).collect();
    // Row locks are taken in one order by every writer — activities, then agents, each
    // sorted — and the server runs the pipeline in order, so upserts cannot deadlock.
    let (definition_keys, definition_values) = changed_definitions(&fresh, &known.definitions);
    let (agent_keys, agent_names) = changed_agents(&fresh, &known.names);
    let hashes: Vec<&str> = attachments.iter().map(|a| a.sha2.as_str()).collect();
    let types: Vec<&str> = attachments
        .iter()
        .map(|a| a.content_type.as_str())
        .collect();
    let contents: Vec<&[u8]> = attachments.iter().map(|a| a.content.as_slice()).collect();

    let statement_params: [&(dyn ToSql + Sync); 14] = [
        &store_id,
        &known.stored,
        &credentials,
        &seqs,
        &ids,
        &voided,
        &voids,
        &refs,
        &bodies,
        &modes,
        &mode_rules,
        &packed,
        &firsts,
        &lasts,
    ];
    let term_params: [&(dyn ToSql + Sync); 2] = [&entry_terms, &entries];
    let void_params: [&(dyn ToSql + Sync); 2] = [&store_id, &targets];
    let definition_params: [&(dyn ToSql + Sync); 3] =
        [&store_id, &definition_keys, &definition_values];
    let agent_params: [&(dyn ToSql + Sync); 3] = [&store_id, &agent_keys, &agent_names];
    let attachment_params: [&(dyn ToSql + Sync); 4] = [&store_id, &hashes, &types, &contents];
    // COMMIT joins the pipeline unless terms are inherited: those statements are sent
    // one after another, and COMMIT must follow them. Should any statement before it
    // fail, the server has aborted the transaction and turns the COMMIT into a ROLLBACK.
    let inherits = known.referred || fresh.iter().any(|s| s.statement_ref.is_some());
    // As in `read_before_write`: the first failure in pipeline order is the cause.
    let (statements, terms, inherited, voided, activities, agents, attachments, commit) = tokio::join!(
        execute_unless_empty(
            db,
            &sql.insert_statements,
            &statement_params,
            ids.is_empty()
        ),
        execute_unless_empty(db, &sql.insert_terms, &term_params, entries.is_empty()),
        inherit_referenced_terms(db, sql, store_id, &fresh, &seqs, known.referred),
        execute_unless_empty(db, &sql.void_targets, &void_params, targets.is_empty()),
        execute_unless_empty(
            db,
            &sql.upsert_activities,
            &definition_params,
            definition_keys.is_empty()
        ),
        execute_unless_empty(db, &sql.upsert_agents, &agent_params, agent_keys.is_empty()),
        execute_unless_empty(
            db,
            &sql.insert_attachments,
            &attachment_params,
            hashes.is_empty()
        ),
        async {
            if inherits {
                Ok(())
            } else {
                db.batch_execute("COMMIT").await
            }
        },
    );
    statements?;
    terms?;
    inherited?;
    voided?;
    activities?;
    agents?;
    attachments?;
    commit?;
    if inherits {
        db.batch_execute("COMMIT").await?;
    }
    Ok(())
}

/// The StatementRef filter rule: a Statement targeting another matches whatever its
/// target matches, recursively. New referring Statements copy their target's terms;
/// Statements already stored that refer to a new one (they arrived first) get its terms.
async fn inherit_referenced_terms(
    db: &ClientWrapper,
    sql: &WriteSql,
    store_id: i64,
    fresh: &[NewStatement],
    seqs: &[i64],
    referred: bool,
) -> Result<(), tokio_postgres::Error> {
    let mut inheritors = Vec::new();
    // One statement per referring Statement, in batch order: a chain inside the batch
    // sees the terms its earlier links just received.
    for (statement, seq) in fresh.iter().zip(seqs) {
        if let Some(target) = statement.statement_ref {
            db.execute(&sql.copy_from_target, &[&store_id, seq, &target])
                .await?;
            inheritors.push(*seq);
        }
    }
    // Rare (a StatementRef stored before its target), and only then worth a query.
    if referred && !fresh.is_empty() {
        let ids: Vec<Uuid> = fresh.iter().map(|s| s.id).collect();
        for row in db.query(&sql.copy_to_referrers, &[&store_id, &ids]).await? {
            inheritors.push(row.get(0));
        }
    }
    inheritors.sort_unstable();
    inheritors.dedup();
    if !inheritors.is_empty() {
        let agent_kinds = agent_kinds(false);
        db.execute(
            &sql.intern_pairs,
            &[&store_id, &inheritors, &agent_kinds, &VERB_KIND],
        )
        .await?;
        db.execute(
            &sql.add_pairs,
            &[
                &store_id,
                &inheritors,
                &agent_kinds,
                &VERB_KIND,
                &AGENT_VERB_KIND,
            ],
        )
        .await?;
    }
    Ok(())
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

/// Merges the fresh Statements' definitions per Activity and keeps those that would
/// change the stored one, sorted (one lock order for every writer): the common case,
/// the same definition again, takes no row lock. The upsert merges atomically.
fn changed_definitions(
    fresh: &[NewStatement],
    stored: &HashMap<String, Value>,
) -> (Vec<String>, Vec<Value>) {
    let mut incoming: HashMap<&str, Value> = HashMap::new();
    for (iri, value) in fresh.iter().flat_map(|s| s.definitions.iter()) {
        let merged = definition::merge(incoming.get(iri.as_str()), value);
        incoming.insert(iri.as_str(), merged);
    }
    let mut changed: Vec<(String, Value)> = incoming
        .into_iter()
        .filter(|(iri, value)| match stored.get(*iri) {
            Some(current) => definition::merge(Some(current), value) != *current,
            None => true,
        })
        .map(|(iri, value)| (iri.to_string(), value))
        .collect();
    changed.sort_by(|a, b| a.0.cmp(&b.0));
    changed.into_iter().unzip()
}

/// Every IFI of the fresh Statements with the names it was given; only IFIs that are
/// new or bring a new name, sorted (one lock order), each with its names as JSON.
fn changed_agents(
    fresh: &[NewStatement],
    known: &HashMap<String, Vec<String>>,
) -> (Vec<String>, Vec<String>) {
    let mut names: HashMap<&str, Vec<&str>> = HashMap::new();
    for (ifi, name) in fresh.iter().flat_map(|s| s.agent_names.iter()) {
        let entry = names.entry(ifi.as_str()).or_default();
        if let Some(name) = name {
            if !entry.contains(&name.as_str()) {
                entry.push(name);
            }
        }
    }
    let mut changed: Vec<(String, String)> = names
        .into_iter()
        .filter(|(ifi, new)| match known.get(*ifi) {
            Some(old) => new.iter().any(|n| !old.iter().any(|o| o == n)),
            None => true,
        })
        .map(|(ifi, new)| {
            let list = serde_json::to_string(&new).expect("strings serialise");
            (ifi.to_string(), list)
        })
        .collect();
    changed.sort();
    changed.into_iter().unzip()
}
