//! Statement reads: one by id, filtered pages in `stored` order, and what a page needs
//! beside the statements (attachments, canonical definitions, consistency time).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use deadpool_postgres::{Client, Pool};
use serde_json::Value;
use tokio_postgres::types::{PgLsn, ToSql};
use tokio_postgres::Row;
use uuid::Uuid;

use super::replicas::WAL_POSITION;
use super::Error;
use crate::xapi::ingest::kind_classes;

/// One stored Statement as the client will see it.
#[derive(Debug, Clone)]
pub struct StoredStatement {
    pub seq: i64,
    /// The JSON text exactly as stored.
    pub body: String,
    pub stored: DateTime<Utc>,
}

/// The filters of GET /statements, already resolved to index terms.
#[derive(Debug, Clone, Default)]
pub struct StatementFilter {
    /// Every entry must match: a term's dictionary key (`xapi::terms`) and the index
    /// kinds it may appear under.
    pub terms: Vec<(Uuid, Vec<i16>)>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// `statements/read/mine`: only what this credential wrote.
    pub credential: Option<String>,
    pub ascending: bool,
}

/// Where a page starts: the last seq already returned, and what bounds the whole result
/// set (taken by the first page so later pages see the same set): the highest seq and
/// the consistency time, the latest `stored` it may contain.
#[derive(Debug, Clone, Copy)]
pub struct PagePosition {
    pub after: Option<i64>,
    pub pin: i64,
    pub consistent_through: DateTime<Utc>,
}

pub struct Page {
    pub statements: Vec<StoredStatement>,
    /// Whether more statements follow this page.
    pub more: bool,
}

/// The store's consistency time and watermark: every Statement stored at or before
/// `consistent_through` is committed with a seq at or below `pin`, so no such Statement
/// is still to appear, and the time never goes back. A result set is exactly the
/// Statements stored at or before it, which is what lets a client poll with `since` =
/// X-Experience-API-Consistent-Through and see each Statement once.
///
/// Writers mark their first seq and their `stored` with shared advisory locks (bigint
/// keys) from reservation to commit. `commonplace_statement_watermark` (migration 0014)
/// reads the clock and the `stored` marks under the reservation lock, then the committed
/// seqs: that order is what makes the promises hold. It holds the reservation lock (in
/// share mode) to the end of its transaction, so it is called outside one.
///
/// With replicas (`wal_position`), the primary's WAL position is read in the same round
/// trip, after the watermark: a replica that has replayed it holds every Statement the
/// watermark covers, so its pages keep the same promises (`store::replicas`). Without,
/// nothing beyond the watermark is asked of the database.
pub async fn snapshot(pool: &Pool, store_id: i64, wal_position: bool) -> Result<Watermark, Error> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(if wal_position {
            SNAPSHOT_WITH_POSITION
        } else {
            SNAPSHOT
        })
        .await?;
    let row = client.query_one(&statement, &[&store_id]).await?;
    Ok(Watermark {
        pin: row.get(0),
        consistent_through: row.get(1),
        position: if wal_position {
            row.get(2)
        } else {
            PgLsn::from(0)
        },
    })
}

const SNAPSHOT: &str = "SELECT pin, consistent_through FROM commonplace_statement_watermark($1)";
// The position as `store::replicas::WAL_POSITION` reads it.
const SNAPSHOT_WITH_POSITION: &str = "SELECT pin, consistent_through,
        CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END
   FROM commonplace_statement_watermark($1)";

/// The primary's WAL position alone, as [`snapshot`] reads it.
pub async fn wal_position(pool: &Pool) -> Result<PgLsn, Error> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(&format!("SELECT {WAL_POSITION}"))
        .await?;
    Ok(client.query_one(&statement, &[]).await?.get(0))
}

/// What [`snapshot`] read: the highest seq and the consistency time of a result set,
/// and the primary WAL position that holds them.
#[derive(Debug, Clone, Copy)]
pub struct Watermark {
    pub pin: i64,
    pub consistent_through: DateTime<Utc>,
    pub position: PgLsn,
}

/// A Statement by id. `voided` selects which kind is wanted: a voided Statement is
/// only returned for `voidedStatementId`, any other only for `statementId`.
pub async fn by_id(
    pool: &Pool,
    store_id: i64,
    id: Uuid,
    voided: bool,
    credential: Option<&str>,
) -> Result<Option<StoredStatement>, Error> {
    let client = pool.get().await?;
    let row = client
        .query_opt(
            "SELECT seq, body::text, stored FROM statements
              WHERE store_id = $1 AND id = $2 AND voided = $3
                AND ($4::text IS NULL OR credential = $4)",
            &[&store_id, &id, &voided, &credential],
        )
        .await?;
    Ok(row.map(|r| StoredStatement {
        seq: r.get(0),
        body: r.get(1),
        stored: r.get(2),
    }))
}

/// The SQL of one page and its parameters (the filter, the position, `fetch` rows).
struct PageQuery<'a> {
    sql: String,
    params: Vec<&'a (dyn ToSql + Sync)>,
    /// Whether it reads the walk's first entries together (`gather`, with terms).
    gathered: bool,
}

/// A page walks `seq`, in either order, between bounds that make it cost its own rows
/// wherever it starts: the result set's pin, the last seq already returned, and
/// `since`/`until` translated into seqs inside the same SQL (no extra round trip), one
/// probe of `statements_store_stored` each. `stored` follows `seq`
/// (commonplace_reserve_statements takes both under one lock), so the Statements stored
/// after a time are exactly those after the last one stored at or before it. The probe
/// finds one Statement of that last millisecond, not necessarily its last (a batch
/// shares one `stored`), so the walk may pass the rest of that millisecond, which the
/// `stored` conditions drop. Reading the window by `stored` and sorting it instead
/// would cost every Statement in it.
///
/// With `gather`, a page with term filters takes that many entries of the walk first
/// and reads their Statements together (`commonplace_statements_at`, migration 0028),
/// in one bitmap heap scan that prefetches its blocks; each row then also carries how
/// many entries the walk took (one row of nulls but that when none is left). Without
/// `gather` or terms, it reads each Statement as the walk reaches it.
fn page_query<'a>(
    store_id: &'a i64,
    filter: &'a StatementFilter,
    position: &'a PagePosition,
    fetch: &'a i64,
    gather: Option<&'a i64>,
) -> PageQuery<'a> {
    let mut params: Vec<&(dyn ToSql + Sync)> =
        vec![store_id, &position.pin, fetch, &position.consistent_through];
    let since = filter.since.as_ref().map(|since| {
        params.push(since);
        params.len()
    });
    let until = filter.until.as_ref().map(|until| {
        params.push(until);
        params.len()
    });
    let (order, after) = if filter.ascending {
        ("ASC", SeqBound::Above)
    } else {
        ("DESC", SeqBound::Below)
    };
    let walk = |sql: &mut String, params: &mut Vec<&'a (dyn ToSql + Sync)>, walked: Walked| {
        sql.push_str(&walked.bound(SeqBound::AtMost, "$2"));
        if let Some(since) = since {
            sql.push_str(&walked.bound(SeqBound::Above, &last_stored_at_or_before(since)));
        }
        if let Some(until) = until {
            sql.push_str(&walked.bound(SeqBound::Below, &first_stored_after(until)));
        }
        if let Some(position) = &position.after {
            next(sql, &walked.bound(after, "?"), params, position);
        }
    };
    let mut terms: Vec<&(Uuid, Vec<i16>)> = filter.terms.iter().collect();
    terms.sort_by_key(|(_, kinds)| selectivity_rank(kinds));
    let gathered = gather.filter(|_| !terms.is_empty());
    let mut sql = String::from(if gathered.is_some() {
        "WITH c AS MATERIALIZED "
    } else {
        "SELECT s.seq, s.body::text, s.stored FROM "
    });
    let order_by = if let Some(((term, kinds), others)) = terms.split_first() {
        // Walk the rarest term's entries in seq order, keep those every other term also
        // indexes (index-only probes), and only then read the Statements: a page costs
        // its own rows, not every row of its terms. Each key is looked up in the
        // dictionary by the same SQL; a key it lacks matches nothing. An entry is
        // seq * 256 + the classes of the term's kinds (migration 0025); the classes a
        // filter accepts are constants of the server, written into the SQL.
        sql.push_str("(SELECT i.entry FROM statement_terms i WHERE");
        next(&mut sql, &format!(" i.term = {TERM_ID}"), &mut params, term);
        let classes = kind_classes(kinds);
        sql.push_str(&format!(" AND i.entry & {classes} <> 0"));
        walk(&mut sql, &mut params, Walked::Entries);
        // Each other term is one index probe per walked entry: OFFSET 0 keeps the
        // EXISTS a per-row probe. A term id comes out of the dictionary inside the
        // SQL, so the planner cannot tell a term with a hundred entries from one with
        // a million, and pulled up into a join it may scan every entry of the other
        // term to meet the page's few.
        for (term, kinds) in others {
            next(
                &mut sql,
                &format!(" AND EXISTS (SELECT 1 FROM statement_terms j WHERE j.term = {TERM_ID}"),
                &mut params,
                term,
            );
            let classes = kind_classes(kinds);
            sql.push_str(&format!(
                " AND j.entry >= (i.entry >> 8) * 256 AND j.entry < ((i.entry >> 8) + 1) * 256 \
                 AND j.entry & {classes} <> 0 OFFSET 0)"
            ));
        }
        if let Some(gather) = gathered {
            next(
                &mut sql,
                &format!(" ORDER BY i.entry {order} LIMIT ?) "),
                &mut params,
                gather,
            );
            sql.push_str(
                "SELECT s.seq, s.body, s.stored, w.walked \
                   FROM (SELECT count(*) AS walked FROM c) w \
                   LEFT JOIN LATERAL (SELECT s.seq, s.body, s.stored \
                   FROM commonplace_statements_at($1, ARRAY(SELECT entry >> 8 FROM c)) s \
                  WHERE NOT s.voided",
            );
            "s.seq"
        } else {
            // OFFSET 0 keeps the walk a subquery in entry order, which the join keeps
            // and the page's ORDER BY names: the planner cannot see that `entry >> 8`
            // (the Statement's seq) is in the same order.
            sql.push_str(&format!(
                " ORDER BY i.entry {order} OFFSET 0) AS m \
                 JOIN statements s ON s.store_id = $1 AND s.seq = m.entry >> 8 WHERE NOT s.voided"
            ));
            "m.entry"
        }
    } else {
        sql.push_str("statements s WHERE s.store_id = $1 AND NOT s.voided");
        walk(&mut sql, &mut params, Walked::Statements);
        "s.seq"
    };
    // The seq bounds choose the rows; the times only check them, written so that no
    // index on `stored` can serve them and tempt the planner into sorting the window
    // (as it did for the consistency time with the statistics of a store just loaded).
    sql.push_str(" AND s.stored + interval '0' <= $4");
    if let Some(since) = since {
        sql.push_str(&format!(" AND s.stored + interval '0' > ${since}"));
    }
    if let Some(until) = until {
        sql.push_str(&format!(" AND s.stored + interval '0' <= ${until}"));
    }
    if let Some(credential) = &filter.credential {
        next(&mut sql, " AND s.credential = ?", &mut params, credential);
    }
    sql.push_str(&format!(" ORDER BY {order_by} {order} LIMIT $3"));
    if gathered.is_some() {
        sql.push_str(&format!(") s ON true ORDER BY s.seq {order}"));
    }
    PageQuery {
        sql,
        params,
        gathered: gathered.is_some(),
    }
}

/// What a page walks in seq order: the Statements, or one term's entries.
#[derive(Clone, Copy)]
enum Walked {
    Statements,
    Entries,
}

/// A bound on the walked seq.
#[derive(Clone, Copy)]
enum SeqBound {
    AtMost,
    Above,
    Below,
}

impl Walked {
    /// `AND seq <op> value`: on an entry (seq * 256 + classes) as a bound of the entry
    /// itself, so that its index serves it.
    fn bound(self, bound: SeqBound, value: &str) -> String {
        match (self, bound) {
            (Walked::Statements, SeqBound::AtMost) => format!(" AND s.seq <= {value}"),
            (Walked::Statements, SeqBound::Above) => format!(" AND s.seq > {value}"),
            (Walked::Statements, SeqBound::Below) => format!(" AND s.seq < {value}"),
            (Walked::Entries, SeqBound::AtMost) => {
                format!(" AND i.entry < (({value})::int8 + 1) * 256")
            }
            (Walked::Entries, SeqBound::Above) => {
                format!(" AND i.entry >= (({value})::int8 + 1) * 256")
            }
            (Walked::Entries, SeqBound::Below) => format!(" AND i.entry < ({value})::int8 * 256"),
        }
    }
}

/// The seq of a Statement of the last millisecond of `stored` at or before the time
/// parameter `$n`, or 0 when none is that old.
fn last_stored_at_or_before(n: usize) -> String {
    format!(
        "coalesce((SELECT seq FROM statements WHERE store_id = $1 AND stored <= ${n} \
         ORDER BY stored DESC LIMIT 1), 0)"
    )
}

/// The seq of a Statement of the first millisecond of `stored` after the time
/// parameter `$n`; past the pin when none is that new.
fn first_stored_after(n: usize) -> String {
    format!(
        "coalesce((SELECT seq FROM statements WHERE store_id = $1 AND stored > ${n} \
         ORDER BY stored LIMIT 1), $2 + 1)"
    )
}

/// The dictionary id of the term whose key is the `?` parameter, in the store `$1`.
const TERM_ID: &str = "(SELECT id FROM terms WHERE store_id = $1 AND key = ?)";

/// Which term to walk first: registrations are rarest, then agents (alone or with
/// their verb), activities, verbs.
fn selectivity_rank(kinds: &[i16]) -> u8 {
    use crate::xapi::ingest::{AGENT_VERB_KIND, REGISTRATION_KIND, VERB_KIND};
    match kinds.first() {
        Some(&REGISTRATION_KIND) => 0,
        Some(&AGENT_VERB_KIND) => 1,
        Some(&VERB_KIND) => 3,
        Some(kind) if *kind > 100 => 2,
        _ => 1,
    }
}

pub async fn page(
    pool: &Pool,
    store_id: i64,
    filter: &StatementFilter,
    position: PagePosition,
    limit: usize,
) -> Result<Page, Error> {
    let fetch = limit as i64 + 1;
    let gather = gathered_entries(filter, fetch);
    let client = pool.get().await?;
    let query = page_query(&store_id, filter, &position, &fetch, gather.as_ref());
    let rows = page_rows(&client, &query).await?;
    let statements = statements_of(&rows);
    // The entries taken are the walk's first: the page is exact when it filled from
    // them, or when they were all the walk had. Otherwise more of them were voided (or
    // past the page's times) than the extra ones cover, and the walk reads on, row by
    // row.
    let read_on = query.gathered
        && statements.len() < fetch as usize
        && rows
            .first()
            .is_some_and(|r| Some(r.get::<_, i64>(3)) == gather);
    let statements = if read_on {
        let query = page_query(&store_id, filter, &position, &fetch, None);
        statements_of(&page_rows(&client, &query).await?)
    } else {
        statements
    };
    Ok(Page::of(statements, limit))
}

async fn page_rows(client: &Client, query: &PageQuery<'_>) -> Result<Vec<Row>, Error> {
    let statement = client.prepare_cached(&query.sql).await?;
    Ok(client.query(&statement, &query.params).await?)
}

/// The Statements of a page's rows: a gathered page that found none is one row of
/// nulls beside its walk count.
fn statements_of(rows: &[Row]) -> Vec<StoredStatement> {
    rows.iter()
        .filter_map(|r| {
            Some(StoredStatement {
                seq: r.get::<_, Option<i64>>(0)?,
                body: r.get(1),
                stored: r.get(2),
            })
        })
        .collect()
}

/// How many entries a page with term filters takes from its walk before reading their
/// Statements together: an eighth more than the page needs (and 4), so that a few
/// voided Statements among them still leave a full page; each extra entry is a row
/// read for nothing when none is voided. `None` for `statements/read/mine`, whose
/// credential may have written few of them: it reads each as the walk reaches it.
fn gathered_entries(filter: &StatementFilter, fetch: i64) -> Option<i64> {
    filter.credential.is_none().then_some(fetch + fetch / 8 + 4)
}

impl Page {
    /// The first `limit` of `fetched` (up to `limit` + 1, the one past saying more follow).
    fn of(mut fetched: Vec<StoredStatement>, limit: usize) -> Page {
        let more = fetched.len() > limit;
        fetched.truncate(limit);
        Page {
            statements: fetched,
            more,
        }
    }
}

/// The executed plan of the query `page` runs first, for benchmarks and operators:
/// proof that each filter is served by an index.
pub async fn explain_page(
    pool: &Pool,
    store_id: i64,
    filter: &StatementFilter,
    position: PagePosition,
    limit: usize,
) -> Result<String, Error> {
    let fetch = limit as i64 + 1;
    let gather = gathered_entries(filter, fetch);
    let query = page_query(&store_id, filter, &position, &fetch, gather.as_ref());
    let client = pool.get().await?;
    let rows = client
        .query(
            &format!("EXPLAIN (ANALYZE, BUFFERS) {}", query.sql),
            &query.params,
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect::<Vec<_>>()
        .join("\n"))
}

/// Appends `clause` with its `?` replaced by the number of the parameter `value` gets.
fn next<'a>(
    sql: &mut String,
    clause: &str,
    params: &mut Vec<&'a (dyn ToSql + Sync)>,
    value: &'a (dyn ToSql + Sync),
) {
    params.push(value);
    sql.push_str(&clause.replace('?', &format!("${}", params.len())));
}

/// Attachment contents by hash: (content type, bytes).
pub async fn attachments(
    pool: &Pool,
    store_id: i64,
    hashes: &[String],
) -> Result<HashMap<String, (String, Vec<u8>)>, Error> {
    let client = pool.get().await?;
    let contents = attachment_contents(&client, store_id, hashes).await?;
    Ok(contents
        .into_iter()
        .map(|(sha2, content_type, content)| (sha2, (content_type, content)))
        .collect())
}

/// Attachment content the store holds, by hash: (sha2, content type, content).
pub async fn attachment_contents(
    client: &Client,
    store_id: i64,
    hashes: &[String],
) -> Result<Vec<(String, String, Vec<u8>)>, Error> {
    let rows = client
        .query(
            "SELECT sha2, content_type, content FROM attachments WHERE store_id = $1 AND sha2 = ANY($2)",
            &[&store_id, &hashes],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect())
}

/// Canonical Activity definitions by IRI.
pub async fn definitions(
    pool: &Pool,
    store_id: i64,
    iris: &[String],
) -> Result<HashMap<String, Value>, Error> {
    let client = pool.get().await?;
    let rows = client
        .query(
            "SELECT iri, definition FROM activities WHERE store_id = $1 AND iri = ANY($2)",
            &[&store_id, &iris],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}
