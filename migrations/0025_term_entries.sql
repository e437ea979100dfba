-- One index entry per Statement and term, seq and kinds in one bigint (issue 18).
--
-- `statement_terms` held (seq, term, kind), its B-tree keyed (term, seq) with the kind
-- included: about 52 bytes a row in the table and 65 in the B-tree, whose leaf pages
-- stayed 56 % full. Each term's entries are appended in seq order inside the term's
-- range, in the middle of the tree, and PostgreSQL splits such a page in the middle
-- unless its tuples are at most two bigints wide (nbtsplitloc.c, "split after new
-- item"): with the kind they were not. Now a row is (term, entry), entry = seq * 256 +
-- the OR of the classes of the term's kinds in that Statement, so the tuple is two
-- bigints and pages fill up, entries stay in seq order within a term, and a term
-- appears once per Statement, so a walk needs no DISTINCT.
--
-- A query filter only asks which class of kind a term holds (xapi::ingest::kind_class):
-- an agent the plain `agent` filter matches (actor, object, or a member of either), an
-- agent only `related_agents` matches, the object Activity, an Activity only
-- `related_activities` matches, the verb, the registration, an agent+verb pair.
-- `statements.terms` keeps every (term, kind) row, as before.
CREATE FUNCTION commonplace_term_class(kind integer) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE
        WHEN kind IN (1, 2, 8, 9) THEN 1
        WHEN kind < 100 THEN 2
        WHEN kind = 101 THEN 4
        WHEN kind < 200 THEN 8
        WHEN kind = 201 THEN 16
        WHEN kind = 202 THEN 32
        ELSE 64
    END::bigint
$$;

CREATE TABLE statement_entries (
    term  bigint NOT NULL,
    entry bigint NOT NULL
);

-- A store still being converted from before 0019 has `terms` NULL on the Statements
-- not yet converted: they get their entries when the conversion reaches them.
INSERT INTO statement_entries (term, entry)
SELECT x >> 8, s.seq * 256 + bit_or(commonplace_term_class((x & 255)::integer))
  FROM statements s, unnest(s.terms) AS x
 GROUP BY s.seq, x >> 8;

DROP TABLE statement_terms;
ALTER TABLE statement_entries RENAME TO statement_terms;
CREATE INDEX statement_terms_term ON statement_terms (term, entry);
