//! The SQL of the Statement write path (`statements.rs`), prepared together.

use deadpool_postgres::ClientWrapper;
use tokio_postgres::Statement;

use super::terms;

/// Every statement of the write path, prepared (once per connection) before the
/// pipelines are sent: a statement prepared inside a pipeline would reorder it.
pub(super) struct WriteSql {
    pub(super) lock: Statement,
    pub(super) intern: Statement,
    pub(super) term_ids: Statement,
    pub(super) existing: Statement,
    pub(super) voiders: Statement,
    pub(super) referred: Statement,
    pub(super) reserve: Statement,
    pub(super) activities: Statement,
    pub(super) agents: Statement,
    pub(super) insert_statements: Statement,
    pub(super) insert_terms: Statement,
    pub(super) copy_from_target: Statement,
    pub(super) copy_to_referrers: Statement,
    pub(super) intern_pairs: Statement,
    pub(super) add_pairs: Statement,
    pub(super) void_targets: Statement,
    pub(super) upsert_activities: Statement,
    pub(super) upsert_agents: Statement,
    pub(super) insert_attachments: Statement,
}

impl WriteSql {
    pub(super) async fn prepare(db: &ClientWrapper) -> Result<WriteSql, tokio_postgres::Error> {
        let (
            (lock, intern, term_ids, existing, voiders, referred, reserve, activities, agents),
            (
                insert_statements,
                insert_terms,
                copy_from_target,
                copy_to_referrers,
                intern_pairs,
                add_pairs,
            ),
            (void_targets, upsert_activities, upsert_agents, insert_attachments),
        ) = tokio::try_join!(
            async {
                tokio::try_join!(
                    db.prepare_cached(LOCK),
                    db.prepare_cached(terms::INTERN),
                    db.prepare_cached(terms::IDS),
                    db.prepare_cached(EXISTING),
                    db.prepare_cached(VOIDERS),
                    db.prepare_cached(REFERRED),
                    db.prepare_cached(RESERVE),
                    db.prepare_cached(ACTIVITIES),
                    db.prepare_cached(AGENTS),
                )
            },
            async {
                tokio::try_join!(
                    db.prepare_cached(INSERT_STATEMENTS),
                    db.prepare_cached(INSERT_TERMS),
                    db.prepare_cached(COPY_FROM_TARGET),
                    db.prepare_cached(COPY_TO_REFERRERS),
                    db.prepare_cached(INTERN_PAIRS),
                    db.prepare_cached(ADD_PAIRS),
                )
            },
            async {
                tokio::try_join!(
                    db.prepare_cached(VOID_TARGETS),
                    db.prepare_cached(UPSERT_ACTIVITIES),
                    db.prepare_cached(UPSERT_AGENTS),
                    db.prepare_cached(INSERT_ATTACHMENTS),
                )
            },
        )?;
        Ok(WriteSql {
            lock,
            intern,
            term_ids,
            existing,
            voiders,
            referred,
            reserve,
            activities,
            agents,
            insert_statements,
            insert_terms,
            copy_from_target,
            copy_to_referrers,
            intern_pairs,
            add_pairs,
            void_targets,
            upsert_activities,
            upsert_agents,
            insert_attachments,
        })
    }
}

const LOCK: &str = "SELECT count(pg_advisory_xact_lock($1, k)) FROM unnest($2::int4[]) AS k";
const EXISTING: &str = "SELECT id, body FROM statements WHERE store_id = $1 AND id = ANY($2)";
// Which of the batch's Statements a stored voiding Statement voids already.
const VOIDERS: &str = "SELECT voids FROM statements WHERE store_id = $1 AND voids = ANY($2)";
// Whether a stored StatementRef targets one of the batch's Statements (it then
// inherits their terms). Apart from VOIDERS: one OR of both planned slower than two.
const REFERRED: &str = "SELECT EXISTS (SELECT FROM statements
                                        WHERE store_id = $1 AND statement_ref = ANY($2))";
const RESERVE: &str = "SELECT first_seq, stored FROM commonplace_reserve_statements($1)";
const ACTIVITIES: &str =
    "SELECT iri, definition FROM activities WHERE store_id = $1 AND iri = ANY($2)";
const AGENTS: &str = "SELECT ifi, names FROM agents WHERE store_id = $1 AND ifi = ANY($2)";
// `terms` is the Statement's slice [$13, $14] of the packed rows in $12.
const INSERT_STATEMENTS: &str = "INSERT INTO statements
         (store_id, seq, id, stored, voided, voids, statement_ref, credential, body, mode,
          mode_rule, terms)
     SELECT $1, u.seq, u.id, $2, u.voided, u.voids, u.ref, u.credential, u.body, u.mode,
            u.mode_rule, ($12::int8[])[u.first:u.last]
       FROM UNNEST($4::int8[], $5::uuid[], $6::bool[], $7::uuid[], $8::uuid[], $3::text[],
                   $9::json[], $10::text[], $11::text[], $13::int4[], $14::int4[])
            AS u(seq, id, voided, voids, ref, credential, body, mode, mode_rule, first, last)";
const INSERT_TERMS: &str = "INSERT INTO statement_terms (term, entry)
     SELECT * FROM UNNEST($1::int8[], $2::int8[])";
// The entries of the Statements gaining the rows `added (seq, x)` (x = term * 256 +
// kind), for the terms gaining them: each such entry is replaced by one of all the
// term's rows, those the Statement held (`terms`, read before the UPDATE that follows)
// and the added ones (store::terms::entries).
macro_rules! reindexed {
    () => {
        ", gaining AS MATERIALIZED (
             SELECT DISTINCT seq, x >> 8 AS term FROM added
         ), unindexed AS (
             DELETE FROM statement_terms i USING gaining g
              WHERE i.term = g.term AND i.entry >= g.seq * 256 AND i.entry < (g.seq + 1) * 256
         ), indexed AS (
             INSERT INTO statement_terms (term, entry)
             SELECT g.term, g.seq * 256 + bit_or(commonplace_term_class((r.x & 255)::int4))
               FROM gaining g
               JOIN (SELECT seq, x FROM added
                     UNION ALL
                     SELECT s.seq, y FROM statements s, unnest(s.terms) AS y
                      WHERE s.store_id = $1 AND s.seq IN (SELECT seq FROM gaining)) r
                 ON r.seq = g.seq AND r.x >> 8 = g.term
              GROUP BY g.seq, g.term
         )"
    };
}
// A Statement's rows are its `terms` (term * 256 + kind, sorted): inheriting adds the
// rows it lacks to both, so `terms` stays the whole of its rows.
const COPY_FROM_TARGET: &str = concat!(
    "WITH added AS (
         SELECT $2::int8 AS seq, x FROM (
             SELECT x FROM statements t, unnest(t.terms) AS x WHERE t.store_id = $1 AND t.id = $3
             EXCEPT
             SELECT unnest(terms) FROM statements WHERE store_id = $1 AND seq = $2) new
     )",
    reindexed!(),
    "
     UPDATE statements s SET terms = ARRAY(SELECT unnest(s.terms) UNION SELECT x FROM added ORDER BY 1)
      WHERE s.store_id = $1 AND s.seq = $2 AND EXISTS (SELECT FROM added)"
);
// The referrers' rows are locked in seq order before any is updated: two writers that
// update some of the same ones take them in one order.
const COPY_TO_REFERRERS: &str = concat!(
    "WITH RECURSIVE referrers (seq, id, origin) AS (
         SELECT s.seq, s.id, t.seq
           FROM statements s JOIN statements t ON t.store_id = s.store_id AND t.id = s.statement_ref
          WHERE s.store_id = $1 AND s.statement_ref = ANY($2) AND NOT (s.id = ANY($2))
         UNION
         SELECT s.seq, s.id, r.origin
           FROM statements s JOIN referrers r ON s.statement_ref = r.id
          WHERE s.store_id = $1
     ), locked AS MATERIALIZED (
         SELECT s.seq FROM statements s
          WHERE s.store_id = $1 AND s.seq IN (SELECT seq FROM referrers)
          ORDER BY s.seq FOR UPDATE
     ), added AS (
         SELECT r.seq, x
           FROM referrers r JOIN locked l ON l.seq = r.seq
           JOIN statements o ON o.store_id = $1 AND o.seq = r.origin,
                unnest(o.terms) AS x
         EXCEPT
         SELECT s.seq, y
           FROM statements s, unnest(s.terms) AS y
          WHERE s.store_id = $1 AND s.seq IN (SELECT seq FROM referrers)
     )",
    reindexed!(),
    "
     UPDATE statements s
        SET terms = ARRAY(SELECT unnest(s.terms) UNION SELECT a.x FROM added a WHERE a.seq = s.seq
                          ORDER BY 1)
      WHERE s.store_id = $1 AND s.seq IN (SELECT seq FROM added)
     RETURNING s.seq"
);
// A referring Statement matches `agent` + `verb` when its own terms or its target's
// hold the agent and the verb, so once it has inherited terms its agent-verb pairs are
// every pair of agent and verb it now holds: for the Statements $2, each verb ($4 is
// VERB_KIND) with each agent of a kind that pairs ($3), keyed from the two terms' keys.
macro_rules! held_pairs {
    () => {
        "WITH held AS (
             SELECT s.seq, x >> 8 AS term, (x & 255)::int2 AS kind
               FROM statements s, unnest(s.terms) AS x
              WHERE s.store_id = $1 AND s.seq = ANY($2)
         ), pairs AS (
             SELECT DISTINCT hv.seq, commonplace_pair_key(v.key, a.key) AS key
               FROM held hv JOIN terms v ON v.id = hv.term
               JOIN held ha ON ha.seq = hv.seq AND ha.kind = ANY($3::int2[])
               JOIN terms a ON a.id = ha.term
              WHERE hv.kind = $4::int2
         )"
    };
}
// The pairs' terms are interned first, in key order as every writer interns, by a
// statement of their own: the next one then sees them whoever inserted them. Being a
// second interning in the transaction, it can wait on a writer that waits on this one
// (both adding the same new terms at once): PostgreSQL then fails one of them with a
// deadlock, a transient error (503) the client may retry, and nothing is stored.
const INTERN_PAIRS: &str = concat!(
    held_pairs!(),
    "
     INSERT INTO terms (store_id, key)
     SELECT DISTINCT $1::int8, p.key FROM pairs p
      WHERE NOT EXISTS (SELECT FROM terms t WHERE t.store_id = $1 AND t.key = p.key)
      ORDER BY 2
     ON CONFLICT DO NOTHING"
);
// Then each Statement gets the pair rows it lacks ($5 is AGENT_VERB_KIND).
const ADD_PAIRS: &str = concat!(
    held_pairs!(),
    ", added AS (
         SELECT p.seq, t.id * 256 + $5::int2 AS x
           FROM pairs p JOIN terms t ON t.store_id = $1 AND t.key = p.key
         EXCEPT
         SELECT seq, term * 256 + kind FROM held
     )",
    reindexed!(),
    "
     UPDATE statements s
        SET terms = ARRAY(SELECT unnest(s.terms) UNION SELECT a.x FROM added a WHERE a.seq = s.seq
                          ORDER BY 1)
      WHERE s.store_id = $1 AND s.seq IN (SELECT seq FROM added)"
);
const VOID_TARGETS: &str = "UPDATE statements SET voided = true
      WHERE store_id = $1 AND id = ANY($2) AND voids IS NULL AND NOT voided";
const UPSERT_ACTIVITIES: &str = "INSERT INTO activities (store_id, iri, definition)
     SELECT $1, * FROM UNNEST($2::text[], $3::jsonb[])
     ON CONFLICT (store_id, iri) DO UPDATE
        SET definition = commonplace_merge_definition(activities.definition, EXCLUDED.definition),
            updated = now()";
const UPSERT_AGENTS: &str = "INSERT INTO agents (store_id, ifi, names)
     SELECT $1, u.ifi, ARRAY(SELECT jsonb_array_elements_text(u.names::jsonb))
       FROM UNNEST($2::text[], $3::text[]) AS u(ifi, names)
     ON CONFLICT (store_id, ifi) DO UPDATE
        SET names = ARRAY(SELECT DISTINCT unnest(agents.names || EXCLUDED.names))
      WHERE NOT (EXCLUDED.names <@ agents.names)";
const INSERT_ATTACHMENTS: &str = "INSERT INTO attachments (store_id, sha2, content_type, content)
     SELECT $1, * FROM UNNEST($2::text[], $3::text[], $4::bytea[])
     ON CONFLICT (store_id, sha2) DO NOTHING";
