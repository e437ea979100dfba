//! The server needs each of its connections to be one PostgreSQL session from start to
//! end, so a pooler in front of the database must pool whole sessions (PgBouncer
//! `pool_mode = session`). Pooled per transaction or per statement, sessions are shared
//! between clients and these break:
//! - named prepared statements: tokio-postgres prepares every query under a name and
//!   `prepare_cached` keeps the hot ones for the connection's life; PgBouncer 1.18 does
//!   not carry them from one server connection to another ("prepared statement "s3"
//!   does not exist");
//! - the session settings each connection makes when it opens (`plan_cache_mode`,
//!   `work_mem`, `jit`) would apply to whichever session ran them;
//! - the migration lock, a session advisory lock taken and released in separate
//!   transactions, could be released on another session and stay held for good.
//!
//! So start-up checks, and refuses with a clear message, before anything else runs.

use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, Config, NoTls, SimpleQueryMessage};

use super::Error;

/// Refuses a database reached through a pooler that shares sessions between clients.
///
/// Two connections of our own: the first asks for its backend's pid; the second opens
/// a transaction and asks for its own, holding that backend; the first asks again. On
/// PostgreSQL itself, or behind session pooling, two open connections never share a
/// backend and a connection keeps its backend. Pooled per transaction, the first's
/// backend goes back to the pool after each statement: PgBouncer reuses the most
/// recently released server connection first, so the second is handed the first's
/// backend; and while the second holds a backend the first must be given another one.
/// Pooled per statement, the open transaction itself is refused.
///
/// Limits: a pooler that hands out server connections round robin
/// (`server_round_robin = 1`) with exactly two idle server connections may give each
/// client the same backend both times, and the check passes; the errors above then
/// come at the first requests. It cannot tell anything about a pooler in session mode
/// whose `server_reset_query` is empty: that is harmless to this server.
pub async fn refuse_shared_sessions(config: &Config) -> Result<(), Error> {
    let first = connect(config).await?;
    let second = connect(config).await?;
    let before = backend(&first, "SELECT pg_backend_pid()").await?;
    let held = match backend(&second, "BEGIN; SELECT pg_backend_pid()").await {
        Ok(pid) => pid,
        // PgBouncer's "transaction blocks not allowed in statement pooling mode", sent
        // as a protocol violation (08P01), as it sends all its own errors.
        Err(e) if e.code() == Some(&SqlState::PROTOCOL_VIOLATION) => {
            let why = e.as_db_error().map_or("", |db| db.message());
            return Err(refusal(&format!("a transaction was refused: {why}")));
        }
        Err(e) => return Err(e.into()),
    };
    let after = backend(&first, "SELECT pg_backend_pid()").await?;
    second.batch_execute("ROLLBACK").await?;
    if held == before {
        return Err(refusal(
            "a second connection was given the backend the first had just used",
        ));
    }
    if after != before {
        return Err(refusal("a connection moved from one backend to another"));
    }
    Ok(())
}

fn refusal(seen: &str) -> Error {
    Error::Misconfigured(format!(
        "the database URL leads to a connection pooler that shares PostgreSQL sessions \
         between connections ({seen}): PgBouncer in `pool_mode = transaction` or \
         `statement`, or the like. Commonplace keeps session state on each connection \
         (prepared statements, session settings, the migration lock), so it needs whole \
         sessions: set `pool_mode = session` for its database, or connect to PostgreSQL \
         directly"
    ))
}

async fn connect(config: &Config) -> Result<Client, Error> {
    let (client, connection) = config.connect(NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

/// The backend pid the last statement of `sql` (simple protocol: no prepared statement
/// to lose between server connections) ran on.
async fn backend(client: &Client, sql: &str) -> Result<Option<String>, tokio_postgres::Error> {
    let messages = client.simple_query(sql).await?;
    Ok(messages.into_iter().find_map(|message| match message {
        SimpleQueryMessage::Row(row) => row.get(0).map(str::to_string),
        _ => None,
    }))
}
