-- The settled seq is read under the reservation lock.
--
-- A writer reserves its seqs and marks the first of them in flight under the
-- reservation lock (commonplace_reserve_statements): between its `nextval` and its mark
-- the sequence already says the seq is taken, and no mark says it is not committed.
-- commonplace_settled_seq read the sequence and the marks without that lock, so a read
-- falling in that moment took the writer's seq as settled, and the learning feed or a
-- forwarder that moved its position there passed the Statement for good once it
-- committed: a forwarding test under load lost Statements this way. Readers now take
-- the lock shared, so each writer is either marked or not yet reserved when they read,
-- and release it at once: the feed reads this inside its pass's transaction, and a
-- transaction-long lock would hold every writer's reservation for the pass.
CREATE OR REPLACE FUNCTION commonplace_settled_seq() RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    settled bigint;
BEGIN
    PERFORM pg_advisory_lock_shared(1398033748, 1);
    BEGIN
        SELECT least(
            (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM statements_seq_seq),
            (SELECT min(k.key) - 1
               FROM pg_locks l, LATERAL (SELECT (l.classid::int8 << 32) | l.objid::int8 AS key) k
              WHERE l.locktype = 'advisory' AND l.objsubid = 1 AND l.granted
                AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                AND k.key < 4611686018427387904))
          INTO settled;
    EXCEPTION WHEN OTHERS THEN
        PERFORM pg_advisory_unlock_shared(1398033748, 1);
        RAISE;
    END;
    PERFORM pg_advisory_unlock_shared(1398033748, 1);
    RETURN settled;
END
$$;
