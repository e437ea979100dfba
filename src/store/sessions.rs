//! Dashboard sign-in (`crate::oauth::sign_in`): the sign-ins under way and the sessions
//! they open, each keyed by the SHA-256 of the random value the browser holds.

use std::time::Duration;

use deadpool_postgres::Pool;

use super::Error;

/// A sign-in under way, as its `state` finds it.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub nonce: String,
    pub verifier: String,
    pub return_to: String,
}

/// A session as the reports' gate needs it.
#[derive(Debug, Clone)]
pub struct Session {
    pub store_id: i64,
    pub store: String,
    pub issuer: String,
    pub subject: String,
    pub name: String,
    pub reports: bool,
}

fn seconds(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// Records a sign-in under way for `lifetime`; expired ones are dropped on the way.
pub async fn begin_attempt(
    pool: &Pool,
    state_hash: &[u8],
    attempt: &Attempt,
    lifetime: Duration,
) -> Result<(), Error> {
    let client = pool.get().await?;
    client
        .execute("DELETE FROM sign_in_attempts WHERE expires < now()", &[])
        .await?;
    client
        .execute(
            "INSERT INTO sign_in_attempts (state_hash, nonce, verifier, return_to, expires)
             VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))",
            &[
                &state_hash,
                &attempt.nonce,
                &attempt.verifier,
                &attempt.return_to,
                &seconds(lifetime),
            ],
        )
        .await?;
    Ok(())
}

/// The sign-in of `state_hash`, deleted as it is read: a state is good once.
pub async fn take_attempt(pool: &Pool, state_hash: &[u8]) -> Result<Option<Attempt>, Error> {
    let client = pool.get().await?;
    let row = client
        .query_opt(
            "DELETE FROM sign_in_attempts WHERE state_hash = $1 AND expires > now()
             RETURNING nonce, verifier, return_to",
            &[&state_hash],
        )
        .await?;
    Ok(row.map(|row| Attempt {
        nonce: row.get(0),
        verifier: row.get(1),
        return_to: row.get(2),
    }))
}

/// Opens `session` (its `store` is implied by `store_id`) for `lifetime`; expired
/// sessions are dropped on the way.
pub async fn open(
    pool: &Pool,
    id_hash: &[u8],
    session: &Session,
    lifetime: Duration,
) -> Result<(), Error> {
    let client = pool.get().await?;
    client
        .execute("DELETE FROM sessions WHERE expires < now()", &[])
        .await?;
    client
        .execute(
            "INSERT INTO sessions (id_hash, store_id, issuer, subject, name, reports, expires)
             VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7))",
            &[
                &id_hash,
                &session.store_id,
                &session.issuer,
                &session.subject,
                &session.name,
                &session.reports,
                &seconds(lifetime),
            ],
        )
        .await?;
    Ok(())
}

/// The unexpired session of `id_hash`.
pub async fn find(pool: &Pool, id_hash: &[u8]) -> Result<Option<Session>, Error> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(
            "SELECT s.store_id, st.name, s.issuer, s.subject, s.name, s.reports
               FROM sessions s JOIN stores st ON st.id = s.store_id
              WHERE s.id_hash = $1 AND s.expires > now()",
        )
        .await?;
    let row = client.query_opt(&statement, &[&id_hash]).await?;
    Ok(row.map(|row| Session {
        store_id: row.get(0),
        store: row.get(1),
        issuer: row.get(2),
        subject: row.get(3),
        name: row.get(4),
        reports: row.get(5),
    }))
}

/// Ends the session of `id_hash`, if there is one.
pub async fn close(pool: &Pool, id_hash: &[u8]) -> Result<(), Error> {
    let client = pool.get().await?;
    client
        .execute("DELETE FROM sessions WHERE id_hash = $1", &[&id_hash])
        .await?;
    Ok(())
}
