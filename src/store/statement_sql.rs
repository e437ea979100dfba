//! The SQL of the Statement write path (`statements.rs`), prepared together.

use deadpool_postgres::ClientWrapper;
use tokio_postgres::Statement;

/// Every statement of the write path, prepared (once per connection) before the
/// pipelines are sent: a statement prepared inside a pipeline would reorder it.
pub(super) struct WriteSql {
    pub(super) lock: Statement,
    pub(super) existing: Statement,
    pub(super) voiders: Statement,
    pub(super) referred: Statement,
    pub(super) reserve: Statement,
    pub(super) activities: Statement,
    pub(super) agents: Statement,
    pub(super) insert_statements: Statement,
    pub(super) insert_terms: Statement,
    pub(super) copy_from_targets: Statement,
    pub(super) copy_to_referrers: Statement,
    pub(super) combine_agent_verb: Statement,
    pub(super) void_targets: Statement,
    pub(super) upsert_activities: Statement,
    pub(super) upsert_agents: Statement,
    pub(super) insert_attachments: Statement,
}

impl WriteSql {
    pub(super) async fn prepare(db: &ClientWrapper) -> Result<WriteSql, tokio_postgres::Error> {
        let (
            (lock, existing, voiders, referred, reserve, activities, agents),
            (
                insert_statements,
                insert_terms,
                copy_from_targets,
                copy_to_referrers,
                combine_agent_verb,
            ),
            (void_targets, upsert_activities, upsert_agents, insert_attachments),
        ) = tokio::try_join!(
            async {
                tokio::try_join!(
                    db.prepare_cached(LOCK),
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
                    db.prepare_cached(COPY_FROM_TARGETS),
                    db.prepare_cached(COPY_TO_REFERRERS),
                    db.prepare_cached(COMBINE_AGENT_VERB),
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
            existing,
            voiders,
            referred,
            reserve,
            activities,
            agents,
            insert_statements,
            insert_terms,
            copy_from_targets,
            copy_to_referrers,
            combine_agent_verb,
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
const INSERT_STATEMENTS: &str = "INSERT INTO statements
         (store_id, seq, id, stored, registration, voided, voids, statement_ref, credential, body,
          mode, mode_rule)
     SELECT $1, u.seq, u.id, $2, u.registration, u.voided, u.voids, u.ref, u.credential,
            u.body, u.mode, u.mode_rule
       FROM UNNEST($4::int8[], $5::uuid[], $6::uuid[], $7::bool[], $8::uuid[], $9::uuid[],
                   $3::text[], $10::jsonb[], $11::text[], $12::text[])
            AS u(seq, id, registration, voided, voids, ref, credential, body, mode, mode_rule)";
const INSERT_TERMS: &str = "INSERT INTO statement_index (store_id, seq, kind, term)
     SELECT $1, * FROM UNNEST($2::int8[], $3::int2[], $4::text[])";
const COPY_FROM_TARGETS: &str = "INSERT INTO statement_index (store_id, seq, kind, term)
     SELECT $1, $2, i.kind, i.term
       FROM statements t JOIN statement_index i ON i.store_id = $1 AND i.seq = t.seq
      WHERE t.store_id = $1 AND t.id = $3";
const COPY_TO_REFERRERS: &str = "WITH RECURSIVE referrers (seq, id, origin) AS (
         SELECT s.seq, s.id, t.seq
           FROM statements s JOIN statements t ON t.store_id = s.store_id AND t.id = s.statement_ref
          WHERE s.store_id = $1 AND s.statement_ref = ANY($2) AND NOT (s.id = ANY($2))
         UNION
         SELECT s.seq, s.id, r.origin
           FROM statements s JOIN referrers r ON s.statement_ref = r.id
          WHERE s.store_id = $1
     )
     INSERT INTO statement_index (store_id, seq, kind, term)
     SELECT $1, r.seq, i.kind, i.term
       FROM referrers r JOIN statement_index i ON i.store_id = $1 AND i.seq = r.origin
     RETURNING seq";
// A referring Statement matches `agent` + `verb` when its own terms or its target's
// hold the agent and the verb, so once it has inherited terms its agent-verb pairs are
// every pair of agent and verb it now holds ($3 is AGENT_VERB_KIND, $4 the agent kinds
// that pair, $5 VERB_KIND).
const COMBINE_AGENT_VERB: &str = "INSERT INTO statement_index (store_id, seq, kind, term)
     SELECT DISTINCT $1, v.seq, $3::int2, v.term || ' ' || a.term
       FROM statement_index v
       JOIN statement_index a ON a.store_id = $1 AND a.seq = v.seq AND a.kind = ANY($4)
      WHERE v.store_id = $1 AND v.seq = ANY($2) AND v.kind = $5
        AND NOT EXISTS (SELECT FROM statement_index x
                         WHERE x.store_id = $1 AND x.term = v.term || ' ' || a.term
                           AND x.seq = v.seq AND x.kind = $3)";
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
