-- Learning modes: the mode each Statement was placed in and the rule that chose it,
-- kept beside the Statement (its JSON never changes). NULL until classified: rows
-- stored before this migration get theirs from `commonplace modes reclassify`.
ALTER TABLE statements
    ADD COLUMN mode      text,
    ADD COLUMN mode_rule text;

-- Where `commonplace modes reclassify` got to in each store, so an interrupted run
-- resumes. A run for another ruleset (another fingerprint) starts over.
CREATE TABLE mode_reclassification (
    store_id    bigint      PRIMARY KEY REFERENCES stores (id),
    fingerprint text        NOT NULL,
    last_seq    bigint      NOT NULL,
    changed     bigint      NOT NULL DEFAULT 0,
    started     timestamptz NOT NULL DEFAULT now(),
    finished    timestamptz
);

-- The learner of a Statement: its actor's IFI, written as the rest of the LRS writes
-- IFIs (`mbox:mailto:…`, `account:homePage|name`, …). NULL for an anonymous Group.
CREATE FUNCTION learning_learner(actor jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN actor ? 'mbox' THEN 'mbox:' || (actor ->> 'mbox')
        WHEN actor ? 'mbox_sha1sum' THEN 'mbox_sha1sum:' || lower(actor ->> 'mbox_sha1sum')
        WHEN actor ? 'openid' THEN 'openid:' || (actor ->> 'openid')
        WHEN actor ? 'account' THEN
            'account:' || (actor -> 'account' ->> 'homePage') || '|' || (actor -> 'account' ->> 'name')
    END
$$;

-- The learning day of a Statement: the calendar date written in its timestamp (UTC
-- under xAPI 2.0, which stores timestamps in UTC; the sender's own day under 1.0.3),
-- else the day it was stored. Checked by pattern first so no input can make it fail.
CREATE FUNCTION learning_day(body jsonb, stored timestamptz) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN ts ~ '^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T' AND left(ts, 4) <> '0000' THEN
            -- Nested so the casts only ever see text the pattern admitted.
            CASE
                WHEN substr(ts, 9, 2)::int <= extract(day FROM
                         (left(ts, 7) || '-01')::date + interval '1 month - 1 day')
                THEN left(ts, 10)::date
                ELSE (stored AT TIME ZONE 'UTC')::date
            END
        ELSE (stored AT TIME ZONE 'UTC')::date
    END
      FROM (SELECT body ->> 'timestamp' AS ts) AS t
$$;

-- `result.duration` in seconds (years as 365 days, months as 30), or NULL when absent
-- or not in the designator form; only digits reach the casts.
CREATE FUNCTION learning_seconds(duration text) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN m IS NULL THEN NULL ELSE
           coalesce(replace(m[1], ',', '.')::float8, 0) * 31536000
         + coalesce(replace(m[2], ',', '.')::float8, 0) * 2592000
         + coalesce(replace(m[3], ',', '.')::float8, 0) * 604800
         + coalesce(replace(m[4], ',', '.')::float8, 0) * 86400
         + coalesce(replace(m[5], ',', '.')::float8, 0) * 3600
         + coalesce(replace(m[6], ',', '.')::float8, 0) * 60
         + coalesce(replace(m[7], ',', '.')::float8, 0)
           END
      FROM regexp_match(duration,
           '^P(?:([0-9]+(?:[.,][0-9]+)?)Y)?(?:([0-9]+(?:[.,][0-9]+)?)M)?(?:([0-9]+(?:[.,][0-9]+)?)W)?(?:([0-9]+(?:[.,][0-9]+)?)D)?(?:T(?:([0-9]+(?:[.,][0-9]+)?)H)?(?:([0-9]+(?:[.,][0-9]+)?)M)?(?:([0-9]+(?:[.,][0-9]+)?)S)?)?$') AS m
$$;

-- Rollups the reports read: per store, learning day, learner and mode. Maintained by
-- the triggers below in the transaction that stores, voids or relabels Statements, so
-- reports never lag. A Statement counts when it has a mode, is not voided, is not
-- itself a voiding Statement, and has a learner.
CREATE TABLE learning_days (
    store_id   bigint           NOT NULL,
    day        date             NOT NULL,
    learner    text             NOT NULL,
    mode       text             NOT NULL,
    statements bigint           NOT NULL,
    -- Sum of result.duration, and how many Statements carried one.
    seconds    double precision NOT NULL,
    timed      bigint           NOT NULL,
    PRIMARY KEY (store_id, day, learner, mode)
);

CREATE INDEX learning_days_learner ON learning_days (store_id, learner, day);

-- The same, per object Activity, for distinct-activity counts and top lists.
CREATE TABLE learning_day_activities (
    store_id   bigint NOT NULL,
    day        date   NOT NULL,
    learner    text   NOT NULL,
    mode       text   NOT NULL,
    activity   text   NOT NULL,
    statements bigint NOT NULL,
    PRIMARY KEY (store_id, day, learner, mode, activity)
);

-- The triggers fold what a change adds (+1) and removes (-1) into the rollups, each
-- key once and in key order, so concurrent transactions never wait on each other in a
-- cycle. Transition tables are only visible inside the trigger function itself, hence
-- two functions of the same shape.
CREATE FUNCTION learning_rollup_after_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    WITH delta AS (
            SELECT r.store_id, learning_day(r.body, r.stored) AS day,
                   learning_learner(r.body -> 'actor') AS learner, r.mode,
                   CASE WHEN coalesce(r.body -> 'object' ->> 'objectType', 'Activity') = 'Activity'
                        THEN r.body -> 'object' ->> 'id' END AS activity,
                   r.sign, learning_seconds(r.body -> 'result' ->> 'duration') AS seconds
              FROM (SELECT n.*, 1 AS sign FROM new_rows n) r
             WHERE r.mode IS NOT NULL AND NOT r.voided AND r.voids IS NULL
         )
    INSERT INTO learning_days AS d (store_id, day, learner, mode, statements, seconds, timed)
    SELECT store_id, day, learner, mode, sum(sign), coalesce(sum(sign * seconds), 0),
           coalesce(sum(sign) FILTER (WHERE seconds IS NOT NULL), 0)
      FROM delta
     WHERE learner IS NOT NULL
     GROUP BY store_id, day, learner, mode
    HAVING sum(sign) <> 0
     ORDER BY store_id, day, learner, mode
    ON CONFLICT (store_id, day, learner, mode) DO UPDATE
       SET statements = d.statements + EXCLUDED.statements,
           seconds = d.seconds + EXCLUDED.seconds,
           timed = d.timed + EXCLUDED.timed;

    WITH delta AS (
            SELECT r.store_id, learning_day(r.body, r.stored) AS day,
                   learning_learner(r.body -> 'actor') AS learner, r.mode,
                   CASE WHEN coalesce(r.body -> 'object' ->> 'objectType', 'Activity') = 'Activity'
                        THEN r.body -> 'object' ->> 'id' END AS activity,
                   r.sign, learning_seconds(r.body -> 'result' ->> 'duration') AS seconds
              FROM (SELECT n.*, 1 AS sign FROM new_rows n) r
             WHERE r.mode IS NOT NULL AND NOT r.voided AND r.voids IS NULL
         )
    INSERT INTO learning_day_activities AS a (store_id, day, learner, mode, activity, statements)
    SELECT store_id, day, learner, mode, activity, sum(sign)
      FROM delta
     WHERE learner IS NOT NULL AND activity IS NOT NULL
     GROUP BY store_id, day, learner, mode, activity
    HAVING sum(sign) <> 0
     ORDER BY store_id, day, learner, mode, activity
    ON CONFLICT (store_id, day, learner, mode, activity) DO UPDATE
       SET statements = a.statements + EXCLUDED.statements;
    RETURN NULL;
END
$$;

CREATE FUNCTION learning_rollup_after_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    WITH delta AS (
            SELECT r.store_id, learning_day(r.body, r.stored) AS day,
                   learning_learner(r.body -> 'actor') AS learner, r.mode,
                   CASE WHEN coalesce(r.body -> 'object' ->> 'objectType', 'Activity') = 'Activity'
                        THEN r.body -> 'object' ->> 'id' END AS activity,
                   r.sign, learning_seconds(r.body -> 'result' ->> 'duration') AS seconds
              FROM (SELECT o.*, -1 AS sign FROM old_rows o
                    UNION ALL
                    SELECT n.*, 1 AS sign FROM new_rows n) r
             WHERE r.mode IS NOT NULL AND NOT r.voided AND r.voids IS NULL
         )
    INSERT INTO learning_days AS d (store_id, day, learner, mode, statements, seconds, timed)
    SELECT store_id, day, learner, mode, sum(sign), coalesce(sum(sign * seconds), 0),
           coalesce(sum(sign) FILTER (WHERE seconds IS NOT NULL), 0)
      FROM delta
     WHERE learner IS NOT NULL
     GROUP BY store_id, day, learner, mode
    HAVING sum(sign) <> 0
     ORDER BY store_id, day, learner, mode
    ON CONFLICT (store_id, day, learner, mode) DO UPDATE
       SET statements = d.statements + EXCLUDED.statements,
           seconds = d.seconds + EXCLUDED.seconds,
           timed = d.timed + EXCLUDED.timed;

    WITH delta AS (
            SELECT r.store_id, learning_day(r.body, r.stored) AS day,
                   learning_learner(r.body -> 'actor') AS learner, r.mode,
                   CASE WHEN coalesce(r.body -> 'object' ->> 'objectType', 'Activity') = 'Activity'
                        THEN r.body -> 'object' ->> 'id' END AS activity,
                   r.sign, learning_seconds(r.body -> 'result' ->> 'duration') AS seconds
              FROM (SELECT o.*, -1 AS sign FROM old_rows o
                    UNION ALL
                    SELECT n.*, 1 AS sign FROM new_rows n) r
             WHERE r.mode IS NOT NULL AND NOT r.voided AND r.voids IS NULL
         )
    INSERT INTO learning_day_activities AS a (store_id, day, learner, mode, activity, statements)
    SELECT store_id, day, learner, mode, activity, sum(sign)
      FROM delta
     WHERE learner IS NOT NULL AND activity IS NOT NULL
     GROUP BY store_id, day, learner, mode, activity
    HAVING sum(sign) <> 0
     ORDER BY store_id, day, learner, mode, activity
    ON CONFLICT (store_id, day, learner, mode, activity) DO UPDATE
       SET statements = a.statements + EXCLUDED.statements;
    RETURN NULL;
END
$$;

CREATE TRIGGER learning_rollup_insert AFTER INSERT ON statements
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION learning_rollup_after_insert();

CREATE TRIGGER learning_rollup_update AFTER UPDATE ON statements
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION learning_rollup_after_update();

-- Who is in which team, imported with `commonplace roster import` (a re-import
-- replaces the store's roster). `opted_out` learners are left out of learner-level
-- reports but still counted in team figures.
CREATE TABLE roster (
    store_id  bigint  NOT NULL REFERENCES stores (id),
    learner   text    NOT NULL,
    name      text    NOT NULL,
    team      text    NOT NULL,
    manager   text    NOT NULL,
    opted_out boolean NOT NULL DEFAULT false,
    PRIMARY KEY (store_id, learner)
);
