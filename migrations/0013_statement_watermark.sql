-- The watermark and consistency time of a store's Statements, for GET /statements
-- (`store::statement_reads::snapshot`). Computed in one statement before, whose
-- snapshot came first: a writer that reserved after that snapshot but before the clock
-- was read, and committed before the in-flight marks were read, was neither marked nor
-- visible, yet its `stored` lay before the consistency time, so a client polling with
-- `since` = X-Experience-API-Consistent-Through skipped it for good.
--
-- Here the order is fixed by separate statements, each with a fresh snapshot (the
-- function is volatile): the clock first, then the in-flight marks, then the committed
-- Statements. A writer that reserved before the clock was read is then either still
-- marked at the second step (everything from its seq on is held back) or committed
-- before the third (and is read); one that reserves later has a `stored` after the
-- clock.
CREATE FUNCTION commonplace_statement_watermark(store bigint, OUT pin bigint,
                                                OUT consistent_through timestamptz)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    checked timestamptz;
    in_flight bigint;
BEGIN
    checked := date_trunc('milliseconds', clock_timestamp()) - interval '1 millisecond';
    SELECT min((l.classid::int8 << 32) | l.objid::int8) INTO in_flight
      FROM pg_locks l
     WHERE l.locktype = 'advisory' AND l.objsubid = 1 AND l.granted
       AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database());
    SELECT coalesce(max(seq), 0) INTO pin FROM statements WHERE store_id = store;
    IF in_flight IS NULL THEN
        consistent_through := checked;
    ELSE
        pin := least(pin, in_flight - 1);
        consistent_through := coalesce(
            (SELECT stored - interval '1 millisecond' FROM statements
              WHERE store_id = store AND seq < in_flight
              ORDER BY seq DESC LIMIT 1),
            'epoch');
    END IF;
END $$;
