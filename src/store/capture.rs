//! Capture: enrolment codes, the per-store capture policy, and what a credential bound
//! to a learner may touch (`crate::capture`).

use std::time::Duration;

use chrono::{DateTime, Utc};
use deadpool_postgres::{Pool, Transaction};
use serde::Serialize;
use uuid::Uuid;

use super::{agents, Error};
use crate::auth::{hash_secret, NewSecret};
use crate::capture::binding::Binding;
use crate::capture::enrolment::{self, Refusal, CREDENTIAL_SCOPES};
use crate::capture::policy::Settings;

/// An enrolment code as `capture codes list` shows it (never the code itself).
#[derive(Debug, Clone, Serialize)]
pub struct CodeInfo {
    pub id: i64,
    pub learner: String,
    pub store: String,
    pub created: DateTime<Utc>,
    pub expires: DateTime<Utc>,
    pub used: Option<DateTime<Utc>>,
    pub revoked: Option<DateTime<Utc>>,
}

/// Records a code (by its hash) for `learner`, valid for `valid_for`; returns its id.
pub async fn create_code(
    pool: &Pool,
    store_id: i64,
    learner: &str,
    code_hash: &[u8],
    valid_for: Duration,
) -> Result<i64, Error> {
    let client = pool.get().await?;
    let seconds = valid_for.as_secs_f64();
    let row = client
        .query_one(
            "INSERT INTO capture_codes (store_id, learner, code_hash, expires)
             VALUES ($1, $2, $3, now() + make_interval(secs => $4))
             RETURNING id",
            &[&store_id, &learner, &code_hash, &seconds],
        )
        .await?;
    Ok(row.get(0))
}

/// Every code, or those of one store, oldest first.
pub async fn list_codes(pool: &Pool, store_id: Option<i64>) -> Result<Vec<CodeInfo>, Error> {
    let client = pool.get().await?;
    let rows = client
        .query(
            "SELECT c.id, c.learner, s.name, c.created, c.expires, c.used, c.revoked
               FROM capture_codes c JOIN stores s ON s.id = c.store_id
              WHERE $1::int8 IS NULL OR c.store_id = $1
              ORDER BY c.created, c.id",
            &[&store_id],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| CodeInfo {
            id: r.get(0),
            learner: r.get(1),
            store: r.get(2),
            created: r.get(3),
            expires: r.get(4),
            used: r.get(5),
            revoked: r.get(6),
        })
        .collect())
}

/// Revokes a code that was not used yet; false when there is no such code.
pub async fn revoke_code(pool: &Pool, id: i64) -> Result<bool, Error> {
    let client = pool.get().await?;
    let n = client
        .execute(
            "UPDATE capture_codes SET revoked = now()
              WHERE id = $1 AND used IS NULL AND revoked IS NULL",
            &[&id],
        )
        .await?;
    Ok(n > 0)
}

/// What a redeemed code gave.
#[derive(Debug, Clone)]
pub struct Enrolled {
    pub learner: String,
    /// The learner's name in the roster, if any.
    pub name: Option<String>,
    pub credential: NewSecret,
}

/// Exchanges a code for a new bound credential, or says why it cannot be. The code's
/// row is locked for the exchange: of two redemptions at once, the second waits and
/// then finds the code used.
pub async fn redeem(pool: &Pool, code_hash: &[u8]) -> Result<Result<Enrolled, Refusal>, Error> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let Some(row) = tx
        .query_opt(
            "SELECT id, store_id, learner, used IS NOT NULL, revoked IS NOT NULL,
                    expires <= now()
               FROM capture_codes WHERE code_hash = $1 FOR UPDATE",
            &[&code_hash],
        )
        .await?
    else {
        return Ok(Err(Refusal::Unknown));
    };
    let (id, store_id, learner): (i64, i64, String) = (row.get(0), row.get(1), row.get(2));
    let refusal = [
        (row.get::<_, bool>(4), Refusal::Revoked),
        (row.get::<_, bool>(3), Refusal::Used),
        (row.get::<_, bool>(5), Refusal::Expired),
    ]
    .into_iter()
    .find_map(|(applies, refusal)| applies.then_some(refusal));
    if let Some(refusal) = refusal {
        return Ok(Err(refusal));
    }
    let credential = NewSecret::generate();
    let scopes: Vec<&str> = CREDENTIAL_SCOPES.iter().map(|s| s.as_str()).collect();
    let tags =
        serde_json::to_value(enrolment::credential_tags(&learner)).expect("string map serialises");
    tx.execute(
        "INSERT INTO credentials (key, store_id, name, secret_hash, scopes, tags, learner)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            &credential.key,
            &store_id,
            &enrolment::credential_name(&learner),
            &hash_secret(&credential.secret),
            &scopes,
            &tags,
            &learner,
        ],
    )
    .await?;
    tx.execute(
        "UPDATE capture_codes SET used = now(), credential = $2 WHERE id = $1",
        &[&id, &credential.key],
    )
    .await?;
    // Read before the commit: once the code is spent, the answer must not fail.
    let name = tx
        .query_opt(
            "SELECT name FROM roster
              WHERE store_id = $1 AND name <> ''
                AND learner = coalesce((SELECT learner FROM learner_aliases
                                         WHERE store_id = $1 AND alias = $2), $2)",
            &[&store_id, &learner],
        )
        .await?
        .map(|r| r.get(0));
    tx.commit().await?;
    Ok(Ok(Enrolled {
        learner,
        name,
        credential,
    }))
}

/// The store's capture settings (the defaults until `capture policy` sets them).
pub async fn policy(pool: &Pool, store_id: i64) -> Result<Settings, Error> {
    let client = pool.get().await?;
    let row = client
        .query_opt(
            "SELECT minimum_dwell_seconds, site_only FROM capture_policies WHERE store_id = $1",
            &[&store_id],
        )
        .await?;
    Ok(row.map_or_else(Settings::default, |r| Settings {
        minimum_dwell_seconds: r.get(0),
        site_only: r.get(1),
    }))
}

/// Changes what is given of the store's capture settings; returns them all.
pub async fn set_policy(
    pool: &Pool,
    store_id: i64,
    minimum_dwell_seconds: Option<i32>,
    site_only: Option<bool>,
) -> Result<Settings, Error> {
    let defaults = Settings::default();
    let client = pool.get().await?;
    let row = client
        .query_one(
            "INSERT INTO capture_policies AS p (store_id, minimum_dwell_seconds, site_only)
             VALUES ($1, coalesce($2::int4, $4::int4), coalesce($3::bool, $5::bool))
             ON CONFLICT (store_id) DO UPDATE
                SET minimum_dwell_seconds = coalesce($2::int4, p.minimum_dwell_seconds),
                    site_only = coalesce($3::bool, p.site_only)
             RETURNING minimum_dwell_seconds, site_only",
            &[
                &store_id,
                &minimum_dwell_seconds,
                &site_only,
                &defaults.minimum_dwell_seconds,
                &defaults.site_only,
            ],
        )
        .await?;
    Ok(Settings {
        minimum_dwell_seconds: row.get(0),
        site_only: row.get(1),
    })
}

/// The person a bound credential writes as: its IFI, and every other IFI the roster
/// gives the same person (the learner's, when it is an alias, and their aliases).
pub async fn binding(pool: &Pool, store_id: i64, bound: &str) -> Result<Binding, Error> {
    let aliases = agents::person(pool, store_id, bound)
        .await?
        .into_iter()
        .map(|(ifi, _names)| ifi)
        .filter(|ifi| ifi != bound)
        .collect();
    Ok(Binding {
        learner: bound.to_string(),
        aliases,
    })
}

/// Those of `targets` (Statement ids to void) that `credential` may not void: stored by
/// another credential, or neither stored nor among `batch` (the ids the same request
/// stores). A Statement already stored by someone else stays theirs even when the
/// request sends it again, which the store accepts as a no-op.
pub async fn not_voidable_by(
    pool: &Pool,
    store_id: i64,
    credential: &str,
    targets: &[Uuid],
    batch: &[Uuid],
) -> Result<Vec<Uuid>, Error> {
    if targets.is_empty() {
        return Ok(Vec::new());
    }
    let client = pool.get().await?;
    let rows = client
        .query(
            "SELECT t FROM unnest($2::uuid[]) AS t
               LEFT JOIN statements s ON s.store_id = $1 AND s.id = t
              WHERE CASE WHEN s.id IS NULL THEN t <> ALL ($4::uuid[])
                         ELSE s.credential IS DISTINCT FROM $3 END",
            &[&store_id, &targets, &credential, &batch],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Part of erasing a learner (`super::erasure`): their enrolment codes go, and every
/// credential bound to them is revoked and no longer names them, so their browser
/// records nothing more about them.
pub async fn erase_learner(tx: &Transaction<'_>, store_id: i64, ifi: &str) -> Result<(), Error> {
    tx.execute(
        "DELETE FROM capture_codes WHERE store_id = $1 AND learner = $2",
        &[&store_id, &ifi],
    )
    .await?;
    tx.execute(
        "UPDATE credentials
            SET revoked = coalesce(revoked, now()), learner = NULL,
                name = 'capture: erased learner', tags = tags - 'learner'
          WHERE store_id = $1 AND learner = $2",
        &[&store_id, &ifi],
    )
    .await?;
    Ok(())
}

/// The roster's learners who have not opted out, with their names, in roster order
/// of IFI: those `capture invite --roster` invites.
pub async fn roster_invitees(pool: &Pool, store_id: i64) -> Result<Vec<(String, String)>, Error> {
    let client = pool.get().await?;
    let rows = client
        .query(
            "SELECT learner, name FROM roster
              WHERE store_id = $1 AND NOT opted_out ORDER BY learner",
            &[&store_id],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}
