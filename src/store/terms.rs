//! The term dictionary (migration 0019): every term a Statement is filed under is kept
//! once per store, under its key (`xapi::terms`), with the integer id that the index
//! rows (`statement_terms`) and each Statement's `terms` hold.
//!
//! Every write interns all its keys in its first pipeline, after the id locks: it
//! inserts the keys the dictionary lacks, then reads every key's id. Keys are inserted
//! in key order, so two writers that add the same new terms wait on each other in one
//! order. The server keeps no ids between writes: a cache would outlive an
//! asynchronous failover (the promoted standby may reissue the ids of terms it never
//! received) and an erasure (which deletes the person's rows), and would then silently
//! file new Statements under wrong ids. Interning costs a couple of index probes per
//! key in a round trip the write makes anyway, and keeps every id right.

use std::collections::HashMap;

use tokio_postgres::Row;
use uuid::Uuid;

use super::Error;
use crate::xapi::ingest::kind_class;

/// Adds the keys `$2` of store `$1` that the dictionary lacks, in key order. Keys it
/// holds already are skipped before the insert, so they take no identity value.
pub(super) const INTERN: &str = "INSERT INTO terms (store_id, key)
     SELECT $1, k FROM unnest($2::uuid[]) AS k
      WHERE NOT EXISTS (SELECT FROM terms t WHERE t.store_id = $1 AND t.key = k)
      ORDER BY k
     ON CONFLICT DO NOTHING";
/// The ids of the keys `$2` of store `$1`. Run after [`INTERN`] as a statement of its
/// own, so it sees keys another writer inserted while this one waited for them.
pub(super) const IDS: &str = "SELECT key, id FROM terms WHERE store_id = $1 AND key = ANY($2)";

/// One index row as a Statement's `terms` holds it: the term id and the kind in one
/// bigint (kinds are below 256).
pub(super) fn pack(term: i64, kind: i16) -> i64 {
    term * 256 + i64::from(kind)
}

/// A Statement's `statement_terms` rows, (term, entry), from its packed rows, sorted:
/// one per term, the entry its seq * 256 + the OR of the classes of the term's kinds
/// (migration 0025).
pub(super) fn entries(seq: i64, packed: &[i64]) -> impl Iterator<Item = (i64, i64)> + '_ {
    packed.chunk_by(|a, b| a >> 8 == b >> 8).map(move |rows| {
        let classes = rows
            .iter()
            .fold(0, |classes, row| classes | kind_class((row & 255) as i16));
        (rows[0] >> 8, seq * 256 + classes)
    })
}

/// The keys of `terms`, sorted and without repeats: the order [`INTERN`] inserts in.
pub(super) fn sorted_keys<'a>(terms: impl Iterator<Item = &'a Uuid>) -> Vec<Uuid> {
    let mut keys: Vec<Uuid> = terms.copied().collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// The id of every term of a batch, by key.
pub(super) struct TermIds(HashMap<Uuid, i64>);

impl TermIds {
    /// The ids [`IDS`] returned for `keys`. A key can be missing only if an erasure
    /// deleted its row between the two statements; the write then fails whole, as a
    /// transient error, and interns the key afresh when it is sent again.
    pub(super) fn from_rows(rows: &[Row], keys: &[Uuid]) -> Result<TermIds, Error> {
        let ids: HashMap<Uuid, i64> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        if ids.len() < keys.len() {
            return Err(Error::Unavailable(
                "a term of the batch was erased while it was written; retry".into(),
            ));
        }
        Ok(TermIds(ids))
    }

    /// The id of a key the write interned.
    pub(super) fn id(&self, key: &Uuid) -> i64 {
        *self
            .0
            .get(key)
            .expect("every key of the batch was interned before its ids were read")
    }
}
