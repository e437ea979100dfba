-- Statements, stored as the JSON they are returned as, plus one narrow index table
-- that answers every filter of GET /statements.

-- `seq` is the order of `stored`. Writers take their seqs through
-- commonplace_reserve_statements, which also marks them as in flight until commit, so
-- a reader can page by `seq` up to a watermark below every uncommitted writer and
-- never skip a Statement that commits late.
CREATE TABLE statements (
    store_id      bigint      NOT NULL REFERENCES stores (id),
    seq           bigserial   NOT NULL,
    id            uuid        NOT NULL,
    stored        timestamptz NOT NULL,
    registration  uuid,
    -- Set when a voiding Statement targets this one (and this one is not voiding).
    voided        boolean     NOT NULL DEFAULT false,
    -- The Statement this one voids, when it is a voiding Statement.
    voids         uuid,
    -- The object's id when the object is a StatementRef.
    statement_ref uuid,
    -- The credential that wrote it (its authority), for statements/read/mine.
    credential    text        NOT NULL,
    body          jsonb       NOT NULL,
    PRIMARY KEY (store_id, id)
);

CREATE UNIQUE INDEX statements_store_seq ON statements (store_id, seq);
CREATE INDEX statements_store_stored ON statements (store_id, stored);
CREATE INDEX statements_voids ON statements (store_id, voids) WHERE voids IS NOT NULL;
CREATE INDEX statements_ref ON statements (store_id, statement_ref) WHERE statement_ref IS NOT NULL;
CREATE INDEX statements_credential ON statements (store_id, credential, seq);

-- One row per (statement, term, kind): agents by IFI with their role, activities by
-- IRI with their role, the verb and the registration. A Statement whose object is a
-- StatementRef also carries its target's rows, so the StatementRef filter rule
-- (Communication §2.1.3) is an ordinary lookup.
CREATE TABLE statement_index (
    store_id bigint   NOT NULL,
    seq      bigint   NOT NULL,
    kind     smallint NOT NULL,
    term     text     NOT NULL
);

CREATE INDEX statement_index_term ON statement_index (store_id, term, seq) INCLUDE (kind);
CREATE INDEX statement_index_seq ON statement_index (store_id, seq);

-- The canonical definition of every Activity seen (Activities resource, format=canonical).
CREATE TABLE activities (
    store_id   bigint      NOT NULL REFERENCES stores (id),
    iri        text        NOT NULL,
    definition jsonb       NOT NULL,
    updated    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (store_id, iri)
);

-- Every Agent IFI seen, with the names it was given (Agents resource).
CREATE TABLE agents (
    store_id bigint NOT NULL REFERENCES stores (id),
    ifi      text   NOT NULL,
    names    text[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (store_id, ifi)
);

-- Attachment content, once per hash per store.
CREATE TABLE attachments (
    store_id     bigint NOT NULL REFERENCES stores (id),
    sha2         text   NOT NULL,
    content_type text   NOT NULL,
    content      bytea  NOT NULL,
    PRIMARY KEY (store_id, sha2)
);

-- Reserves `n` consecutive seqs for one writer, and the `stored` time they share.
-- A short session lock makes "take the seqs, mark them in flight, read the clock" one
-- step, so seq order is stored order, and the shared transaction-level advisory lock
-- keyed by the first seq (released at commit or rollback) tells readers the oldest
-- seq still in flight.
CREATE FUNCTION commonplace_reserve_statements(n integer, OUT first_seq bigint, OUT stored timestamptz)
LANGUAGE plpgsql AS $$
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
        stored := date_trunc('milliseconds', clock_timestamp());
    EXCEPTION WHEN OTHERS THEN
        PERFORM pg_advisory_unlock(1398033748, 1);
        RAISE;
    END;
    PERFORM pg_advisory_unlock(1398033748, 1);
END;
$$;

-- How a stored canonical Activity definition absorbs an incoming one: the rule of
-- xapi::definition::merge, applied here so concurrent writers merge atomically under
-- the row lock of their upsert.
CREATE FUNCTION commonplace_merge_definition(existing jsonb, incoming jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT existing || incoming || coalesce((
        SELECT jsonb_object_agg(k, (existing -> k) || (incoming -> k))
          FROM unnest(ARRAY['name', 'description', 'extensions']) AS k
         WHERE jsonb_typeof(existing -> k) = 'object' AND jsonb_typeof(incoming -> k) = 'object'
    ), '{}'::jsonb)
$$;
