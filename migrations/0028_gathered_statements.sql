-- The Statements of a filtered page, read in one bitmap heap scan that prefetches.
--
-- A page with term filters walks the terms' entries in seq order and reads each
-- Statement row as it goes: on a store larger than memory every row is a read from
-- disk, one after another (100 rows scattered over the table: about 9 ms cold on the
-- test machine, where a row cached takes microseconds). Asked for all the page's seqs
-- at once, a bitmap heap scan tells the kernel every block it will read before it reads
-- the first (`effective_io_concurrency`, posix_fadvise), so the reads overlap: about
-- 2.7 ms for the same pages cold, and about 0.3 ms more than the walk when they are
-- cached.
--
-- The planner picks a plain index scan for `seq = ANY (...)` (seqs follow the table's
-- physical order, so it expects adjacent rows), which never prefetches; plain index
-- scans are turned off inside this function only. Platforms without posix_fadvise
-- refuse a nonzero `effective_io_concurrency`, so there the function is made without
-- it and still reads the rows in block order.
DO $$
DECLARE
    prefetch text := ' SET effective_io_concurrency = 32';
BEGIN
    BEGIN
        SET LOCAL effective_io_concurrency = 32;
    EXCEPTION WHEN OTHERS THEN
        prefetch := '';
    END;
    EXECUTE format($f$
        CREATE OR REPLACE FUNCTION commonplace_statements_at(store bigint, seqs int8[])
        RETURNS TABLE (seq int8, body text, stored timestamptz, voided bool, credential text)
        LANGUAGE sql STABLE
        SET enable_indexscan = off%s
        AS 'SELECT s.seq, s.body::text, s.stored, s.voided, s.credential
              FROM statements s WHERE s.store_id = store AND s.seq = ANY (seqs)'
    $f$, prefetch);
END
$$;
