//! Stores (tenants) and credentials.

use std::collections::BTreeMap;

use deadpool_postgres::Pool;
use serde::Serialize;

use super::Error;
use crate::auth::{hash_secret, NewSecret, Scope};

#[derive(Debug, Clone, Serialize)]
pub struct StoreInfo {
    pub id: i64,
    pub name: String,
    pub credentials: i64,
}

/// A credential as the database holds it (the secret only as a hash).
#[derive(Debug, Clone)]
pub struct CredentialRecord {
    pub key: String,
    pub name: String,
    pub store_id: i64,
    pub store: String,
    pub secret_hash: Vec<u8>,
    pub scopes: Vec<Scope>,
    pub tags: BTreeMap<String, String>,
    /// The learner a capture credential is bound to.
    pub learner: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CredentialInfo {
    pub key: String,
    pub name: String,
    pub store: String,
    pub scopes: Vec<String>,
    pub tags: BTreeMap<String, String>,
    pub created: chrono::DateTime<chrono::Utc>,
    pub revoked: Option<chrono::DateTime<chrono::Utc>>,
}

pub struct NewCredential<'a> {
    pub name: &'a str,
    pub store: &'a str,
    pub scopes: &'a [Scope],
    pub tags: &'a BTreeMap<String, String>,
    /// A chosen key and secret (bootstrap from the environment); random when absent.
    pub fixed: Option<NewSecret>,
}

pub async fn create_store(pool: &Pool, name: &str) -> Result<i64, Error> {
    let client = pool.get().await?;
    let row = client
        .query_opt(
            "INSERT INTO stores (name) VALUES ($1) ON CONFLICT (name) DO NOTHING RETURNING id",
            &[&name],
        )
        .await?;
    row.map(|r| r.get(0))
        .ok_or_else(|| Error::Conflict(format!("a store named '{name}' already exists")))
}

/// The id of the store called `name`, if there is one.
pub async fn store_id_by_name(pool: &Pool, name: &str) -> Result<Option<i64>, Error> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached("SELECT id FROM stores WHERE name = $1")
        .await?;
    let row = client.query_opt(&statement, &[&name]).await?;
    Ok(row.map(|r| r.get(0)))
}

pub async fn list_stores(pool: &Pool) -> Result<Vec<StoreInfo>, Error> {
    let client = pool.get().await?;
    let rows = client
        .query(
            "SELECT s.id, s.name, count(c.key) FILTER (WHERE c.revoked IS NULL)
               FROM stores s LEFT JOIN credentials c ON c.store_id = s.id
              GROUP BY s.id ORDER BY s.id",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| StoreInfo {
            id: r.get(0),
            name: r.get(1),
            credentials: r.get(2),
        })
        .collect())
}

/// Creates a credential and returns the key and secret: the only time the secret exists.
pub async fn create(pool: &Pool, new: NewCredential<'_>) -> Result<NewSecret, Error> {
    let client = pool.get().await?;
    let store_id: i64 = client
        .query_opt("SELECT id FROM stores WHERE name = $1", &[&new.store])
        .await?
        .map(|r| r.get(0))
        .ok_or_else(|| Error::NotFound(format!("no store named '{}'", new.store)))?;
    let secret = new.fixed.unwrap_or_else(NewSecret::generate);
    let scopes: Vec<&str> = new.scopes.iter().map(|s| s.as_str()).collect();
    let tags = serde_json::to_value(new.tags).expect("string map serialises");
    let inserted = client
        .execute(
            "INSERT INTO credentials (key, store_id, name, secret_hash, scopes, tags)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (key) DO NOTHING",
            &[
                &secret.key,
                &store_id,
                &new.name,
                &hash_secret(&secret.secret),
                &scopes,
                &tags,
            ],
        )
        .await?;
    if inserted == 0 {
        return Err(Error::Conflict(format!(
            "a credential with key '{}' already exists",
            secret.key
        )));
    }
    Ok(secret)
}

pub async fn list(pool: &Pool) -> Result<Vec<CredentialInfo>, Error> {
    let client = pool.get().await?;
    let rows = client
        .query(
            "SELECT c.key, c.name, s.name, c.scopes, c.tags, c.created, c.revoked
               FROM credentials c JOIN stores s ON s.id = c.store_id
              ORDER BY c.created, c.key",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| CredentialInfo {
            key: r.get(0),
            name: r.get(1),
            store: r.get(2),
            scopes: r.get(3),
            tags: serde_json::from_value(r.get(4)).unwrap_or_default(),
            created: r.get(5),
            revoked: r.get(6),
        })
        .collect())
}

/// Revokes a credential; false when no active credential has that key.
pub async fn revoke(pool: &Pool, key: &str) -> Result<bool, Error> {
    let client = pool.get().await?;
    let n = client
        .execute(
            "UPDATE credentials SET revoked = now() WHERE key = $1 AND revoked IS NULL",
            &[&key],
        )
        .await?;
    Ok(n > 0)
}

/// The active credential with this key, if any.
pub async fn find_active(pool: &Pool, key: &str) -> Result<Option<CredentialRecord>, Error> {
    let client = pool.get().await?;
    let row = client
        .query_opt(
            "SELECT c.key, c.name, c.store_id, c.secret_hash, c.scopes, c.tags, s.name, c.learner
               FROM credentials c JOIN stores s ON s.id = c.store_id
              WHERE c.key = $1 AND c.revoked IS NULL",
            &[&key],
        )
        .await?;
    Ok(row.map(|r| {
        let scopes: Vec<String> = r.get(4);
        CredentialRecord {
            key: r.get(0),
            name: r.get(1),
            store_id: r.get(2),
            store: r.get(6),
            secret_hash: r.get(3),
            scopes: scopes.iter().filter_map(|s| s.parse().ok()).collect(),
            tags: serde_json::from_value(r.get(5)).unwrap_or_default(),
            learner: r.get(7),
        }
    }))
}

/// Whether any credential has ever been created (bootstrap runs only on an empty database).
pub async fn any_exist(pool: &Pool) -> Result<bool, Error> {
    let client = pool.get().await?;
    let row = client
        .query_one("SELECT EXISTS (SELECT 1 FROM credentials)", &[])
        .await?;
    Ok(row.get(0))
}
