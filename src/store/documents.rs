//! Documents of the State, Activity Profile and Agent Profile resources.
//!
//! Every change goes through [`change`]: the current row is locked (`SELECT … FOR
//! UPDATE`) and the caller decides what becomes of it while the lock is held, so
//! preconditions and merges never race with another writer. Creation uses `INSERT …
//! ON CONFLICT DO NOTHING`; losing that race re-runs the decision against the row
//! the winner wrote.

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use sha1::{Digest, Sha1};
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;
use uuid::Uuid;

use super::Error;

/// Which resource a document belongs to; the numbers are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    State = 1,
    ActivityProfile = 2,
    AgentProfile = 3,
}

/// Everything that addresses a document except its id. A field a kind does not
/// use is `None`.
#[derive(Debug, Clone)]
pub struct Context {
    pub store_id: i64,
    pub kind: Kind,
    pub activity_id: Option<String>,
    /// The canonical IFI text of the agent.
    pub agent: Option<String>,
    pub registration: Option<Uuid>,
}

#[derive(Debug, Clone)]
pub struct Document {
    pub content_type: String,
    pub content: Vec<u8>,
    /// SHA-1 of the content, lowercase hex, unquoted.
    pub etag: String,
    pub updated: DateTime<Utc>,
}

/// Content to store, as the client sent it (or as a merge produced it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewContent {
    pub content_type: String,
    pub content: Vec<u8>,
}

/// What a caller of [`change`] decided, having seen the current document.
#[derive(Debug)]
pub enum Change {
    Write(NewContent),
    Delete,
}

/// The lowercase hex SHA-1 of `content`: the document's entity tag.
pub fn etag_of(content: &[u8]) -> String {
    hex::encode(Sha1::digest(content))
}

/// How a context narrows the registration column.
#[derive(Clone, Copy)]
enum RegistrationMatch {
    /// The document's own key: no registration means the NULL registration.
    Exact,
    /// Lists and bulk deletes: no registration means any registration.
    AnyWhenAbsent,
}

/// The WHERE clause and parameters that select `context`: `=` for given fields and
/// `IS NULL` for absent ones (rather than `IS NOT DISTINCT FROM`, which no index
/// serves). A column mapped to `None` is not filtered at all.
fn context_filter(
    context: &Context,
    registration: RegistrationMatch,
) -> (String, Vec<&(dyn ToSql + Sync)>) {
    let mut clause = String::from("store_id = $1 AND kind = $2");
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&context.store_id, kind_param(context.kind)];
    let registration_param = match (&context.registration, registration) {
        (Some(r), _) => Some(Some(r as &(dyn ToSql + Sync))),
        (None, RegistrationMatch::Exact) => Some(None),
        (None, RegistrationMatch::AnyWhenAbsent) => None,
    };
    let columns = [
        (
            "activity_id",
            Some(
                context
                    .activity_id
                    .as_ref()
                    .map(|v| v as &(dyn ToSql + Sync)),
            ),
        ),
        (
            "agent",
            Some(context.agent.as_ref().map(|v| v as &(dyn ToSql + Sync))),
        ),
        ("registration", registration_param),
    ];
    for (name, value) in columns {
        match value {
            Some(Some(param)) => {
                params.push(param);
                clause.push_str(&format!(" AND {name} = ${}", params.len()));
            }
            Some(None) => clause.push_str(&format!(" AND {name} IS NULL")),
            None => {}
        }
    }
    (clause, params)
}

fn kind_param(kind: Kind) -> &'static (dyn ToSql + Sync) {
    const STATE: i16 = Kind::State as i16;
    const ACTIVITY_PROFILE: i16 = Kind::ActivityProfile as i16;
    const AGENT_PROFILE: i16 = Kind::AgentProfile as i16;
    match kind {
        Kind::State => &STATE,
        Kind::ActivityProfile => &ACTIVITY_PROFILE,
        Kind::AgentProfile => &AGENT_PROFILE,
    }
}

fn document_of(row: &Row) -> Document {
    Document {
        content_type: row.get("content_type"),
        content: row.get("content"),
        etag: row.get("etag"),
        updated: row.get("updated"),
    }
}

/// The document with this id, if any.
pub async fn fetch(
    pool: &Pool,
    context: &Context,
    doc_id: &str,
) -> Result<Option<Document>, Error> {
    let client = pool.get().await?;
    let (filter, mut params) = context_filter(context, RegistrationMatch::Exact);
    params.push(&doc_id);
    let sql = format!(
        "SELECT content_type, content, etag, updated FROM documents
          WHERE {filter} AND doc_id = ${}",
        params.len()
    );
    Ok(client
        .query_opt(&sql, &params)
        .await?
        .as_ref()
        .map(document_of))
}

/// The ids in `context` updated after `since` (exclusive), oldest first, and the
/// latest update among them.
pub async fn list_ids(
    pool: &Pool,
    context: &Context,
    since: Option<DateTime<Utc>>,
) -> Result<(Vec<String>, Option<DateTime<Utc>>), Error> {
    let client = pool.get().await?;
    let (filter, mut params) = context_filter(context, RegistrationMatch::AnyWhenAbsent);
    params.push(&since);
    let sql = format!(
        "SELECT doc_id, updated FROM documents
          WHERE {filter} AND (${n}::timestamptz IS NULL OR updated > ${n})
          ORDER BY updated, doc_id",
        n = params.len()
    );
    let rows = client.query(&sql, &params).await?;
    let latest = rows.iter().map(|r| r.get::<_, DateTime<Utc>>(1)).max();
    Ok((rows.iter().map(|r| r.get(0)).collect(), latest))
}

/// Deletes every document in `context` (any registration when none is given).
pub async fn delete_all(pool: &Pool, context: &Context) -> Result<u64, Error> {
    let client = pool.get().await?;
    let (filter, params) = context_filter(context, RegistrationMatch::AnyWhenAbsent);
    Ok(client
        .execute(&format!("DELETE FROM documents WHERE {filter}"), &params)
        .await?)
}

/// Locks the document (or its absence), lets `decide` choose what happens to it,
/// and applies the decision atomically. An `Err` from `decide` changes nothing.
pub async fn change<E: From<Error>>(
    pool: &Pool,
    context: &Context,
    doc_id: &str,
    decide: impl Fn(Option<&Document>) -> Result<Change, E>,
) -> Result<(), E> {
    let mut client = pool.get().await.map_err(Error::from)?;
    let (filter, mut key) = context_filter(context, RegistrationMatch::Exact);
    key.push(&doc_id);
    let select = format!(
        "SELECT content_type, content, etag, updated FROM documents
          WHERE {filter} AND doc_id = ${} FOR UPDATE",
        key.len()
    );
    let update = format!(
        "UPDATE documents SET content_type = ${a}, content = ${b}, etag = ${c},
                updated = clock_timestamp()
          WHERE {filter} AND doc_id = ${d}",
        a = key.len() + 1,
        b = key.len() + 2,
        c = key.len() + 3,
        d = key.len(),
    );
    let delete = format!(
        "DELETE FROM documents WHERE {filter} AND doc_id = ${}",
        key.len()
    );
    loop {
        let tx = client.transaction().await.map_err(Error::from)?;
        let current = tx
            .query_opt(&select, &key)
            .await
            .map_err(Error::from)?
            .as_ref()
            .map(document_of);
        match (decide(current.as_ref())?, current) {
            (Change::Delete, None) => return Ok(()),
            (Change::Delete, Some(_)) => {
                tx.execute(&delete, &key).await.map_err(Error::from)?;
            }
            (Change::Write(new), Some(_)) => {
                let etag = etag_of(&new.content);
                let mut params = key.clone();
                params.extend([
                    &new.content_type as &(dyn ToSql + Sync),
                    &new.content,
                    &etag,
                ]);
                tx.execute(&update, &params).await.map_err(Error::from)?;
            }
            (Change::Write(new), None) => {
                let etag = etag_of(&new.content);
                let created = tx
                    .execute(
                        "INSERT INTO documents (store_id, kind, activity_id, agent, registration,
                                                doc_id, content_type, content, etag, updated)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, clock_timestamp())
                         ON CONFLICT ON CONSTRAINT documents_key DO NOTHING",
                        &[
                            &context.store_id,
                            kind_param(context.kind),
                            &context.activity_id,
                            &context.agent,
                            &context.registration,
                            &doc_id,
                            &new.content_type,
                            &new.content,
                            &etag,
                        ],
                    )
                    .await
                    .map_err(Error::from)?;
                if created == 0 {
                    // Another writer created it since our SELECT: decide again
                    // against what it wrote.
                    tx.rollback().await.map_err(Error::from)?;
                    continue;
                }
            }
        }
        tx.commit().await.map_err(Error::from)?;
        return Ok(());
    }
}
