-- The term dictionary (issue 18): `statement_index` spelled out every IRI and IFI in
-- full on every row, in two B-trees, about 2.2 KB per Statement. Each term a Statement
-- is filed under (IFI, IRI, verb id, registration, agent+verb pair) is now stored once
-- per store, keyed by a 128-bit digest of its text, and the index rows hold its integer
-- id.
--
-- Keys are digests, not the texts: fixed-width, and computed alike by the server
-- (xapi::terms) and SQL, which looks ids up by key in the statement that needs them.
-- A digest can still be tested against a candidate address, so erasure deletes the
-- person's rows; the server keeps no ids between writes (store::terms says why).
CREATE TABLE terms (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    store_id bigint NOT NULL,
    key      uuid   NOT NULL,
    UNIQUE (store_id, key)
);

-- The key of a term text: the first 16 bytes of SHA-256 of its UTF-8 bytes, as uuid
-- (xapi::terms::term_key).
CREATE FUNCTION commonplace_term_key(term text) RETURNS uuid
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT encode(substring(sha256(convert_to(term, 'UTF8')) FROM 1 FOR 16), 'hex')::uuid
$$;

-- The key of an agent+verb pair (kind 203): the first 16 bytes of SHA-256 of the verb's
-- key bytes followed by the agent's (xapi::terms::pair_key). A pair is keyed from the
-- two keys rather than a text, so a Statement that inherits an agent or a verb through
-- a StatementRef can be paired from the ids it holds.
CREATE FUNCTION commonplace_pair_key(verb uuid, agent uuid) RETURNS uuid
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT encode(substring(sha256(uuid_send(verb) || uuid_send(agent)) FROM 1 FOR 16), 'hex')::uuid
$$;

-- One row per (Statement, term, kind), as `statement_index` had, with the term's id:
-- agents by IFI with their role, activities by IRI with their role, the verb, the
-- registration and the agent+verb pairs; a Statement whose object is a StatementRef
-- also carries its target's rows (Communication §2.1.3). One B-tree only: what needs a
-- Statement's own rows by seq reads `statements.terms` instead. No `store_id`: a term id
-- belongs to one store.
CREATE TABLE statement_terms (
    seq  bigint   NOT NULL,
    term bigint   NOT NULL,
    kind smallint NOT NULL
);

CREATE INDEX statement_terms_term ON statement_terms (term, seq) INCLUDE (kind);

-- Each Statement's own index rows, packed as term * 256 + kind, for StatementRef
-- inheritance and erasure, which need a Statement's rows by its seq or id, without a
-- second B-tree on every row. NULL only until the conversion of a store written
-- before this migration has filled it; the conversion then makes it NOT NULL.
ALTER TABLE statements ADD COLUMN terms bigint[];

-- Updating `terms` (a StatementRef's inherited rows, erasure of a referrer's inherited
-- rows, the conversion) changes nothing the learning feed folds, so unlike voiding and
-- relabelling it does not make the feed redo those Statements. No update changes
-- `terms` and a column the feed reads together. (A trigger with transition tables
-- cannot name its columns, hence the comparison.)
CREATE FUNCTION learning_feed_redo_updated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO learning_feed_redo (store_id, seq)
    SELECT o.store_id, o.seq
      FROM old_rows o JOIN new_rows n ON n.store_id = o.store_id AND n.seq = o.seq
     WHERE o.terms IS NOT DISTINCT FROM n.terms;
    RETURN NULL;
END
$$;
DROP TRIGGER learning_feed_redo_update ON statements;
CREATE TRIGGER learning_feed_redo_update AFTER UPDATE ON statements
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION learning_feed_redo_updated();

-- How far the conversion of a store written before this migration has got
-- (store::conversion, run right after the migrations, before any server serves): every
-- Statement with a seq up to `converted_through` has its `statement_terms` rows and its
-- `terms`, committed batch by batch together with this row, so a conversion that is
-- stopped resumes where it stopped. `converted` counts those Statements, for progress
-- across resumes; `finished` once `statement_index` is gone and `terms` is NOT NULL.
-- The conversion drops this table once it has reclaimed the space of the rewritten rows.
CREATE TABLE storage_conversion (
    singleton         boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    converted_through bigint  NOT NULL DEFAULT 0,
    converted         bigint  NOT NULL DEFAULT 0,
    finished          boolean NOT NULL DEFAULT false
);
INSERT INTO storage_conversion DEFAULT VALUES;

-- `since` and `until` are read as seq bounds (store::statement_reads: the last seq
-- stored at or before `since`, the first stored after `until`), which is right only if
-- `stored` never decreases as `seq` grows. `stored` was the clock at reservation, and
-- the clock goes back when it is stepped or after a failover to a host whose clock is
-- behind: a Statement stored then would lie below the bound of a `since` it is newer
-- than, and be missed for good. So a reservation now takes the later of the clock and
-- the last `stored` handed out, kept as milliseconds since the epoch in a sequence and
-- raised with setval under the reservation lock (which orders reservations). setval is
-- not transactional, and that is what is wanted: a writer that rolls back may leave the
-- mark above every committed `stored`, which only skips a value, never reuses one below.
-- Its WAL record precedes the writer's commit record, so a replica that has a Statement
-- has its mark too. The mark is only moved when the clock is ahead of it.
--
-- While the clock is behind the mark, every reservation takes the mark's millisecond,
-- so `stored` stays there and seq order stays stored order. The consistency time
-- (commonplace_statement_watermark) is still a millisecond before the clock, which a
-- later writer may still take (its `stored` is at least that clock), so it stays below
-- those Statements and covers them once the clock has passed the mark; nothing is
-- skipped, they appear late. Until then insert_batch, which returns a millisecond after
-- the reservation because it counts on the clock being at `stored`, answers before
-- queries cover the batch (GET by statementId finds it all the same).
CREATE SEQUENCE commonplace_last_stored AS bigint MINVALUE 0 START 0;
SELECT setval('commonplace_last_stored',
              coalesce((SELECT (extract(epoch FROM max(last.stored)) * 1000)::bigint
                          FROM stores st,
                               LATERAL (SELECT max(stored) AS stored FROM statements s
                                         WHERE s.store_id = st.id) last), 0),
              true);

CREATE OR REPLACE FUNCTION commonplace_reserve_statements(n integer, OUT first_seq bigint,
                                                          OUT stored timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
    clock_ms bigint;
    last_ms bigint;
BEGIN
    PERFORM pg_advisory_lock(1398033748, 1);
    BEGIN
        first_seq := nextval('statements_seq_seq');
        IF n > 1 THEN
            PERFORM setval('statements_seq_seq', first_seq + n - 1);
        END IF;
        PERFORM pg_advisory_xact_lock_shared(first_seq);
        -- `stored` is returned with millisecond precision, so it is kept at that
        -- precision: `since`/`until` given a returned `stored` must compare equal.
        clock_ms := (extract(epoch FROM date_trunc('milliseconds', clock_timestamp())) * 1000)::bigint;
        SELECT last_value INTO last_ms FROM commonplace_last_stored;
        IF clock_ms > last_ms THEN
            PERFORM setval('commonplace_last_stored', clock_ms);
            last_ms := clock_ms;
        END IF;
        stored := 'epoch'::timestamptz + last_ms * interval '1 millisecond';
        PERFORM pg_advisory_xact_lock_shared(4611686018427387904 + last_ms);
    EXCEPTION WHEN OTHERS THEN
        PERFORM pg_advisory_unlock(1398033748, 1);
        RAISE;
    END;
    PERFORM pg_advisory_unlock(1398033748, 1);
END;
$$;
