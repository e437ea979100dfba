-- X-Experience-API-Consistent-Through must cover every Statement of the response that
-- carries it, and no Statement may appear later at or before it, or a consumer that
-- polls with `since` = the header receives some Statements twice and misses others.
--
-- 0013 paged every committed seq below the oldest writer in flight but put the header a
-- millisecond before the `stored` of the last of them (or before the clock), because a
-- writer could still take that same millisecond: the response then held Statements
-- stored after its header. Statements sharing one `stored` millisecond cannot be split
-- by a header of millisecond precision, and `since` is exclusive, so the header and the
-- result now come from one time: the result is every Statement stored at or before it
-- (`store::statement_reads` adds `stored <= consistent_through` to every page).
--
-- That time must lie before the `stored` of every writer still in flight, which the
-- seq mark alone does not tell. So a writer also marks its `stored`: a second shared
-- advisory lock, keyed 2^62 + its `stored` in milliseconds since the epoch (far above
-- any seq, so the seq marks keep their meaning for commonplace_settled_seq).
CREATE OR REPLACE FUNCTION commonplace_reserve_statements(n integer, OUT first_seq bigint,
                                                          OUT stored timestamptz)
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
        PERFORM pg_advisory_xact_lock_shared(
            4611686018427387904 + (extract(epoch FROM stored) * 1000)::bigint);
    EXCEPTION WHEN OTHERS THEN
        PERFORM pg_advisory_unlock(1398033748, 1);
        RAISE;
    END;
    PERFORM pg_advisory_unlock(1398033748, 1);
END;
$$;

-- The consistency time and the highest committed seq of a store. The clock and the
-- `stored` marks are read under the reservation lock (shared among readers, held to
-- the end of the reader's statement), so no writer is between reading the clock and
-- marking its `stored`: each has its mark read here or reserves later, with a `stored`
-- no earlier than the clock read here. The time is a millisecond before both, as a
-- later writer may still take the current millisecond and one in flight holds the
-- oldest mark's. So every Statement stored at or before it has committed (or rolled
-- back) before the committed seqs are read, and the time never goes back: a writer in
-- flight at a later call was marked at this one or reserved after it.
CREATE OR REPLACE FUNCTION commonplace_statement_watermark(store bigint, OUT pin bigint,
                                                           OUT consistent_through timestamptz)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    checked timestamptz;
    oldest_in_flight bigint;
BEGIN
    PERFORM pg_advisory_xact_lock_shared(1398033748, 1);
    checked := date_trunc('milliseconds', clock_timestamp());
    SELECT min(k.key) - 4611686018427387904 INTO oldest_in_flight
      FROM pg_locks l, LATERAL (SELECT (l.classid::int8 << 32) | l.objid::int8 AS key) k
     WHERE l.locktype = 'advisory' AND l.objsubid = 1 AND l.granted
       AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
       AND k.key >= 4611686018427387904;
    consistent_through := least(checked,
                                'epoch'::timestamptz + oldest_in_flight * interval '1 millisecond')
                          - interval '1 millisecond';
    SELECT coalesce(max(seq), 0) INTO pin FROM statements WHERE store_id = store;
END $$;

-- Only the seq marks say which seqs are settled.
CREATE OR REPLACE FUNCTION commonplace_settled_seq() RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT least(
        (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM statements_seq_seq),
        (SELECT min(k.key) - 1
           FROM pg_locks l, LATERAL (SELECT (l.classid::int8 << 32) | l.objid::int8 AS key) k
          WHERE l.locktype = 'advisory' AND l.objsubid = 1 AND l.granted
            AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
            AND k.key < 4611686018427387904))
$$;
