//! Erasure of one person (a data-protection request): the one exception to Statement
//! immutability. Removes, in one transaction, every Statement in which the person
//! appears (actor, object, context, authority, SubStatements, group members — any
//! Agent object anywhere in the body), their documents, their Agents-resource entry,
//! the attachments no remaining Statement uses, their browser capture (codes and
//! bound credentials), the forwarders' dead letters of the erased Statements, the
//! last errors of the store's forwarders and the person's term-dictionary rows, and
//! records an audit row.

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{capture, Error};
use crate::xapi::agent::parse_agent_object;
use crate::xapi::ingest::VERB_KIND;
use crate::xapi::terms::term_key;
use crate::xapi::{Ifi, Version};

#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct Erased {
    pub statements: i64,
    pub documents: i64,
    pub attachments: i64,
    pub agents: i64,
}

const IFI_KEYS: [&str; 4] = ["mbox", "mbox_sha1sum", "openid", "account"];

/// Whether an Agent or Group identified by `ifi` appears anywhere in `value`.
pub fn appears_in(value: &Value, ifi: &Ifi) -> bool {
    match value {
        Value::Object(map) => {
            if IFI_KEYS.iter().any(|k| map.contains_key(*k)) {
                let found = parse_agent_object(value, "agent", Version::V2_0_0)
                    .ok()
                    .and_then(|agent| agent.ifi);
                if found.as_ref() == Some(ifi) {
                    return true;
                }
            }
            map.values().any(|v| appears_in(v, ifi))
        }
        Value::Array(items) => items.iter().any(|v| appears_in(v, ifi)),
        _ => false,
    }
}

fn attachment_hashes(body: &Value, into: &mut Vec<String>) {
    for holder in [body, &body["object"]] {
        if let Some(list) = holder.get("attachments").and_then(Value::as_array) {
            into.extend(
                list.iter()
                    .filter_map(|a| a.get("sha2").and_then(Value::as_str))
                    .map(str::to_ascii_lowercase),
            );
        }
    }
}

/// The dictionary ids of the person's terms in a store: the IFI's (key `key`), and its
/// pairs with each verb that a Statement filed under it (`candidates`) holds (a pair's
/// key is the verb's and the IFI's keys combined). A pair is made only of an Agent and
/// the verb of one Statement, so every Statement holding one of these ids is a
/// candidate.
async fn person_terms(
    tx: &deadpool_postgres::Transaction<'_>,
    store_id: i64,
    candidates: &[i64],
    key: uuid::Uuid,
) -> Result<Vec<i64>, Error> {
    Ok(tx
        .query(
            "SELECT t.id FROM terms t WHERE t.store_id = $1 AND t.key = $3
             UNION
             SELECT p.id
               FROM statements s, unnest(s.terms) AS x
               JOIN terms v ON v.id = x >> 8
               JOIN terms p ON p.store_id = $1 AND p.key = commonplace_pair_key(v.key, $3)
              WHERE s.store_id = $1 AND s.seq = ANY($2) AND x & 255 = $4",
            &[&store_id, &candidates, &key, &i64::from(VERB_KIND)],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// Takes from the Statements `referrers`, which hold the person's terms (`gone`) only
/// through a StatementRef, the rows they inherited with them.
async fn erase_inherited(
    tx: &deadpool_postgres::Transaction<'_>,
    store_id: i64,
    referrers: &[i64],
    gone: &[i64],
) -> Result<(), Error> {
    tx.execute(
        "DELETE FROM statement_terms WHERE term = ANY($1) AND entry >> 8 = ANY($2)",
        &[&gone, &referrers],
    )
    .await?;
    tx.execute(
        "UPDATE statements
            SET terms = ARRAY(SELECT x FROM unnest(terms) AS x WHERE NOT x >> 8 = ANY($3) ORDER BY 1)
          WHERE store_id = $1 AND seq = ANY($2)",
        &[&store_id, &referrers, &gone],
    )
    .await?;
    Ok(())
}

/// Erases `ifi` from `store` (a store name), or from every store when `None`.
pub async fn erase(
    pool: &deadpool_postgres::Pool,
    ifi: &Ifi,
    store: Option<&str>,
    requested_by: &str,
) -> Result<Erased, Error> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let stores: Vec<i64> = tx
        .query(
            "SELECT id FROM stores WHERE $1::text IS NULL OR name = $1",
            &[&store],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if let Some(name) = store {
        if stores.is_empty() {
            return Err(Error::NotFound(format!("no store named '{name}'")));
        }
    }
    let term = ifi.as_str();
    let key = term_key(term);
    let mut erased = Erased::default();
    for store_id in stores {
        // Candidates: every Statement filed under the person's IFI. Some only inherited
        // the term through a StatementRef; those are kept, minus the inherited rows.
        let candidates = tx
            .query(
                "SELECT s.seq, s.body FROM statements s
                  WHERE s.store_id = $1 AND s.seq IN
                        (SELECT i.entry >> 8 FROM statement_terms i JOIN terms t ON t.id = i.term
                          WHERE t.store_id = $1 AND t.key = $2)",
                &[&store_id, &key],
            )
            .await?;
        let seqs: Vec<i64> = candidates.iter().map(|r| r.get(0)).collect();
        let gone = person_terms(&tx, store_id, &seqs, key).await?;
        let mut doomed: Vec<i64> = Vec::new();
        let mut referrers: Vec<i64> = Vec::new();
        let mut hashes = Vec::new();
        for row in &candidates {
            let (seq, body): (i64, Value) = (row.get(0), row.get(1));
            if appears_in(&body, ifi) {
                doomed.push(seq);
                attachment_hashes(&body, &mut hashes);
            } else {
                referrers.push(seq);
            }
        }
        if !doomed.is_empty() {
            // A forwarder's last error may quote a target's answer about any batch (a
            // dead letter's, a 5xx body): it goes; the next failure sets one again.
            // Before the Statements go: delivery locks a forwarder's row before it
            // dead-letters a Statement (`store::forwarding`), so rows in that order.
            tx.execute(
                "UPDATE forwarders SET last_error = NULL, last_error_at = NULL
                  WHERE store_id = $1 AND last_error IS NOT NULL",
                &[&store_id],
            )
            .await?;
        }
        // A Statement's `terms` are all its rows.
        tx.execute(
            "DELETE FROM statement_terms i
              USING statements s, unnest(s.terms) AS x
              WHERE s.store_id = $1 AND s.seq = ANY($2) AND i.term = x >> 8
                AND i.entry >= s.seq * 256 AND i.entry < (s.seq + 1) * 256",
            &[&store_id, &doomed],
        )
        .await?;
        if !referrers.is_empty() {
            erase_inherited(&tx, store_id, &referrers, &gone).await?;
        }
        erased.statements += tx
            .execute(
                "DELETE FROM statements WHERE store_id = $1 AND seq = ANY($2)",
                &[&store_id, &doomed],
            )
            .await? as i64;
        // Nothing is filed under the person's terms any more. Their dictionary rows
        // go too: a digest of the IFI, and of it with each verb, would let anyone with a
        // candidate address test whether, and with which verbs, it was ever stored. A
        // later Statement about the person interns them afresh, under new ids.
        tx.execute(
            "DELETE FROM terms WHERE store_id = $1 AND id = ANY($2)",
            &[&store_id, &gone],
        )
        .await?;
        // A forwarder's dead letter keeps the target's answer about the Statement.
        tx.execute(
            "DELETE FROM forwarder_dead_letters d USING forwarders f
              WHERE d.forwarder_id = f.id AND f.store_id = $1 AND d.seq = ANY($2)",
            &[&store_id, &doomed],
        )
        .await?;
        hashes.sort();
        hashes.dedup();
        erased.attachments += tx
            .execute(
                "DELETE FROM attachments a
                  WHERE a.store_id = $1 AND a.sha2 = ANY($2)
                    AND NOT EXISTS (
                        SELECT 1 FROM statements s
                         WHERE s.store_id = a.store_id
                           AND jsonb_path_exists(s.body::jsonb, '$.**.sha2 ? (@ == $h)',
                                                 jsonb_build_object('h', a.sha2)))",
                &[&store_id, &hashes],
            )
            .await? as i64;
        erased.documents += tx
            .execute(
                "DELETE FROM documents WHERE store_id = $1 AND agent = $2",
                &[&store_id, &term],
            )
            .await? as i64;
        erased.agents += tx
            .execute(
                "DELETE FROM agents WHERE store_id = $1 AND ifi = $2",
                &[&store_id, &term],
            )
            .await? as i64;
        capture::erase_learner(&tx, store_id, term).await?;
    }
    tx.execute(
        "INSERT INTO erasure_audit
             (requested_by, ifi_sha256, store, statements, documents, attachments, agents)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            &requested_by,
            &hex::encode(Sha256::digest(term.as_bytes())),
            &store,
            &erased.statements,
            &erased.documents,
            &erased.attachments,
            &erased.agents,
        ],
    )
    .await?;
    tx.commit().await?;
    Ok(erased)
}
