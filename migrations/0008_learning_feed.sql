-- The learning rollups move out of the write transaction: triggers on `statements`
-- made every ingest pay for them (about 4x the cost of the write itself). A feed
-- (store::learning_feed, driven by every server instance, one pass at a time) now
-- folds stored Statements into `learning_events` and the rollups in seq order, and
-- redoes Statements changed after it passed them (voided, relabelled, erased).
DROP TRIGGER learning_rollup_insert ON statements;
DROP TRIGGER learning_rollup_update ON statements;
DROP TRIGGER learning_events_insert ON statements;
DROP TRIGGER learning_events_update ON statements;
DROP FUNCTION learning_rollup_after_insert();
DROP FUNCTION learning_rollup_after_update();
DROP FUNCTION learning_events_after_insert();
DROP FUNCTION learning_events_after_update();
DROP TABLE learning_days;
DROP TABLE learning_day_activities;

-- Rebuilt by the feed from the first seq, with the estimated time each event is now
-- credited (the session rule runs once per event instead of in every report).
TRUNCATE learning_events;
ALTER TABLE learning_events ADD COLUMN estimated double precision NOT NULL DEFAULT 0;
DROP INDEX learning_events_learner;
-- A learner's events of one day in time order: sessions, neighbours, the learner report.
CREATE INDEX learning_events_learner ON learning_events (store_id, learner, day, at, seq);
-- An Activity's learners: the sources report counts them for its top Activities.
-- (Per-learner Activity figures read the events: a day rollup per learner and
-- Activity would be about as large, since a learner rarely repeats one on a day.)
CREATE INDEX learning_events_activity ON learning_events (store_id, activity, day) INCLUDE (mode, learner);

-- How far the feed got (every seq up to `last_seq` is folded in), and the estimate
-- rule the stored estimates follow: a server configured with another rule rebuilds.
CREATE TABLE learning_feed (
    singleton    boolean          PRIMARY KEY DEFAULT true CHECK (singleton),
    last_seq     bigint           NOT NULL,
    session_gap  double precision NOT NULL,
    estimate_cap double precision NOT NULL
);
INSERT INTO learning_feed VALUES (true, 0, 1800, 600);

-- Statements changed (voided, relabelled, erased) after they were stored: the feed
-- drops their events and folds them in again as they now are.
CREATE TABLE learning_feed_redo (
    store_id bigint NOT NULL,
    seq      bigint NOT NULL
);
CREATE INDEX learning_feed_redo_seq ON learning_feed_redo (seq);

CREATE FUNCTION learning_feed_redo_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO learning_feed_redo (store_id, seq) SELECT store_id, seq FROM old_rows;
    RETURN NULL;
END
$$;

CREATE TRIGGER learning_feed_redo_update AFTER UPDATE ON statements
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION learning_feed_redo_changed();

CREATE TRIGGER learning_feed_redo_delete AFTER DELETE ON statements
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION learning_feed_redo_changed();

-- The rollups the reports read, each keyed by day. Every figure is a sum, so the feed
-- folds changes in as signed deltas; a row whose statements fall to zero is removed.
-- Per learner and mode: the mix, team and period figures.
CREATE TABLE learning_days (
    store_id   bigint           NOT NULL,
    day        date             NOT NULL,
    learner    text             NOT NULL,
    mode       text             NOT NULL,
    statements bigint           NOT NULL,
    -- Sum of result.duration, and how many Statements carried one.
    seconds    double precision NOT NULL,
    timed      bigint           NOT NULL,
    estimated  double precision NOT NULL,
    shares     bigint           NOT NULL,
    -- Statements linked to a goal.
    goal_linked bigint          NOT NULL,
    PRIMARY KEY (store_id, day, learner, mode)
);
CREATE INDEX learning_days_learner ON learning_days (store_id, learner, day);

-- Per roster team, mode and object Activity, without learners: store and team
-- distinct-activity counts and the sources ranking read far fewer rows here. The team
-- is the learner's roster team ('(no team)' without one); a roster import regroups.
CREATE TABLE learning_activity_days (
    store_id   bigint           NOT NULL,
    day        date             NOT NULL,
    team       text             NOT NULL,
    mode       text             NOT NULL,
    activity   text             NOT NULL,
    statements bigint           NOT NULL,
    seconds    double precision NOT NULL,
    estimated  double precision NOT NULL,
    PRIMARY KEY (store_id, day, team, mode, activity)
);

-- Per learner, mode and web host of the object.
CREATE TABLE learning_day_hosts (
    store_id   bigint           NOT NULL,
    day        date             NOT NULL,
    learner    text             NOT NULL,
    mode       text             NOT NULL,
    host       text             NOT NULL,
    statements bigint           NOT NULL,
    seconds    double precision NOT NULL,
    estimated  double precision NOT NULL,
    PRIMARY KEY (store_id, day, learner, mode, host)
);

-- Per learner and course, directed Statements only, with the completions (completed
-- or passed, of the course Activity itself).
CREATE TABLE learning_day_courses (
    store_id    bigint           NOT NULL,
    day         date             NOT NULL,
    learner     text             NOT NULL,
    course      text             NOT NULL,
    statements  bigint           NOT NULL,
    seconds     double precision NOT NULL,
    estimated   double precision NOT NULL,
    completions bigint           NOT NULL,
    PRIMARY KEY (store_id, day, learner, course)
);
CREATE INDEX learning_day_courses_learner ON learning_day_courses (store_id, learner, course);

-- Other IFIs of a roster learner (the roster's `also` column): the feed credits their
-- Statements to the learner, and the Agents resource answers one Person for all.
CREATE TABLE learner_aliases (
    store_id bigint NOT NULL REFERENCES stores (id),
    alias    text   NOT NULL,
    learner  text   NOT NULL,
    PRIMARY KEY (store_id, alias)
);
CREATE INDEX learner_aliases_learner ON learner_aliases (store_id, learner);

-- How often each learner named each team in `context.team`.
CREATE TABLE learning_context_teams (
    store_id   bigint NOT NULL,
    learner    text   NOT NULL,
    team       text   NOT NULL,
    statements bigint NOT NULL,
    PRIMARY KEY (store_id, learner, team)
);

-- What a Statement contributes is now computed by the feed itself (in the server:
-- modes::event), far faster than these per-row SQL functions were.
DROP FUNCTION learning_event_of(statements);
DROP FUNCTION learning_day(jsonb, timestamptz);
DROP FUNCTION learning_seconds(text);
DROP FUNCTION learning_instant(text, timestamptz);
DROP FUNCTION learning_host(text);
DROP FUNCTION learning_learner(jsonb);

-- One pass of the feed, given what the server read and computed: the events of the
-- Statements with seq in (last_seq, upto] and of the changed Statements it redoes
-- (`redo_*`: those the feed had already folded in, whose old events go first). Then
-- re-estimates the events whose successor changed: an event is credited the gap to
-- the learner's next event of the same learning day when it reported no duration and
-- the gap is at most `session_gap`, capped at `estimate_cap`.
CREATE FUNCTION learning_feed_fold(
    upto bigint, redo_store bigint[], redo_seq bigint[],
    e_store bigint[], e_seq bigint[], e_learner text[], e_day date[], e_at timestamptz[],
    e_mode text[], e_verb text[], e_activity text[], e_activity_type text[], e_host text[],
    e_course text[], e_registration uuid[], e_team text[], e_goal text[],
    e_seconds double precision[], share_verbs text[], completion_verbs text[])
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    feed learning_feed;
BEGIN
    SELECT * INTO feed FROM learning_feed FOR UPDATE;

    CREATE TEMP TABLE IF NOT EXISTS learning_delta (
        LIKE learning_events,
        sign        integer          NOT NULL,
        d_estimated double precision NOT NULL
    ) ON COMMIT DELETE ROWS;
    CREATE TEMP TABLE IF NOT EXISTS learning_recheck (store_id bigint, seq bigint) ON COMMIT DELETE ROWS;

    WITH removed AS (
        DELETE FROM learning_events e
         USING unnest(redo_store, redo_seq) AS r(store_id, seq)
         WHERE e.store_id = r.store_id AND e.seq = r.seq
        RETURNING e.*
    )
    INSERT INTO learning_delta SELECT r.*, -1, -r.estimated FROM removed r;

    WITH added AS (
        INSERT INTO learning_events
        SELECT u.store_id, u.seq, coalesce(a.learner, u.learner), u.day, u.at, u.mode, u.verb,
               u.activity, u.activity_type, u.host, u.course, u.registration, u.team, u.goal,
               u.seconds, 0
          FROM unnest(e_store, e_seq, e_learner, e_day, e_at, e_mode, e_verb, e_activity,
                      e_activity_type, e_host, e_course, e_registration, e_team, e_goal, e_seconds)
               AS u(store_id, seq, learner, day, at, mode, verb, activity, activity_type, host,
                    course, registration, team, goal, seconds)
          LEFT JOIN learner_aliases a ON a.store_id = u.store_id AND a.alias = u.learner
         ORDER BY 1, 2
        RETURNING *
    )
    INSERT INTO learning_delta SELECT a.*, 1, 0 FROM added a;

    -- Whose estimate may have changed: every added event, and the event before each
    -- added or removed one in its learner's day.
    INSERT INTO learning_recheck
    SELECT store_id, seq FROM learning_delta WHERE sign = 1
    UNION
    SELECT p.store_id, p.seq
      FROM learning_delta d
      CROSS JOIN LATERAL (
          SELECT e.store_id, e.seq FROM learning_events e
           WHERE e.store_id = d.store_id AND e.learner = d.learner AND e.day = d.day
             AND (e.at, e.seq) < (d.at, d.seq)
           ORDER BY e.at DESC, e.seq DESC LIMIT 1) p;

    WITH estimate AS (
        SELECT e.store_id, e.seq, e.estimated AS old,
               CASE WHEN e.seconds IS NULL AND extract(epoch FROM nx.at - e.at) <= feed.session_gap
                    THEN least(extract(epoch FROM nx.at - e.at)::float8, feed.estimate_cap)
                    ELSE 0 END AS new
          FROM learning_recheck c
          JOIN learning_events e ON e.store_id = c.store_id AND e.seq = c.seq
          LEFT JOIN LATERAL (
              SELECT x.at FROM learning_events x
               WHERE x.store_id = e.store_id AND x.learner = e.learner AND x.day = e.day
                 AND (x.at, x.seq) > (e.at, e.seq)
               ORDER BY x.at, x.seq LIMIT 1) nx ON true
    ),
    updated AS (
        UPDATE learning_events e SET estimated = s.new
          FROM estimate s
         WHERE e.store_id = s.store_id AND e.seq = s.seq AND s.new <> s.old
        RETURNING e.*, s.new - s.old AS d
    )
    INSERT INTO learning_delta
    SELECT u.store_id, u.seq, u.learner, u.day, u.at, u.mode, u.verb, u.activity, u.activity_type,
           u.host, u.course, u.registration, u.team, u.goal, u.seconds, u.estimated, 0, u.d
      FROM updated u;

    -- Fold the deltas into each rollup. Statements count with their sign; an estimate
    -- change counts only its difference.
    INSERT INTO learning_days AS t
    SELECT store_id, day, learner, mode, sum(sign), coalesce(sum(sign * seconds), 0),
           count(seconds) FILTER (WHERE sign = 1) - count(seconds) FILTER (WHERE sign = -1),
           sum(d_estimated),
           coalesce(sum(sign) FILTER (WHERE verb = ANY(share_verbs)), 0),
           coalesce(sum(sign) FILTER (WHERE goal IS NOT NULL), 0)
      FROM learning_delta GROUP BY 1, 2, 3, 4
    ON CONFLICT (store_id, day, learner, mode) DO UPDATE
       SET statements = t.statements + EXCLUDED.statements, seconds = t.seconds + EXCLUDED.seconds,
           timed = t.timed + EXCLUDED.timed, estimated = t.estimated + EXCLUDED.estimated,
           shares = t.shares + EXCLUDED.shares, goal_linked = t.goal_linked + EXCLUDED.goal_linked;

    INSERT INTO learning_activity_days AS t
    SELECT d.store_id, d.day, coalesce(r.team, '(no team)'), d.mode, d.activity, sum(d.sign),
           coalesce(sum(d.sign * d.seconds), 0), sum(d.d_estimated)
      FROM learning_delta d
      LEFT JOIN roster r ON r.store_id = d.store_id AND r.learner = d.learner
     WHERE d.activity IS NOT NULL GROUP BY 1, 2, 3, 4, 5
    ON CONFLICT (store_id, day, team, mode, activity) DO UPDATE
       SET statements = t.statements + EXCLUDED.statements, seconds = t.seconds + EXCLUDED.seconds,
           estimated = t.estimated + EXCLUDED.estimated;

    INSERT INTO learning_day_hosts AS t
    SELECT store_id, day, learner, mode, host, sum(sign), coalesce(sum(sign * seconds), 0),
           sum(d_estimated)
      FROM learning_delta WHERE host IS NOT NULL GROUP BY 1, 2, 3, 4, 5
    ON CONFLICT (store_id, day, learner, mode, host) DO UPDATE
       SET statements = t.statements + EXCLUDED.statements, seconds = t.seconds + EXCLUDED.seconds,
           estimated = t.estimated + EXCLUDED.estimated;

    INSERT INTO learning_day_courses AS t
    SELECT store_id, day, learner, course, sum(sign), coalesce(sum(sign * seconds), 0),
           sum(d_estimated),
           coalesce(sum(sign) FILTER (WHERE activity = course AND verb = ANY(completion_verbs)), 0)
      FROM learning_delta WHERE mode = 'directed' AND course IS NOT NULL GROUP BY 1, 2, 3, 4
    ON CONFLICT (store_id, day, learner, course) DO UPDATE
       SET statements = t.statements + EXCLUDED.statements, seconds = t.seconds + EXCLUDED.seconds,
           estimated = t.estimated + EXCLUDED.estimated,
           completions = t.completions + EXCLUDED.completions;

    INSERT INTO learning_context_teams AS t
    SELECT store_id, learner, team, sum(sign)
      FROM learning_delta WHERE team IS NOT NULL AND sign <> 0 GROUP BY 1, 2, 3
    ON CONFLICT (store_id, learner, team) DO UPDATE
       SET statements = t.statements + EXCLUDED.statements;

    -- Removals can empty a row; keep no trace of it (erasure depends on this).
    IF EXISTS (SELECT 1 FROM learning_delta WHERE sign = -1) THEN
        DELETE FROM learning_days t USING learning_delta d
         WHERE d.sign = -1 AND t.store_id = d.store_id AND t.day = d.day AND t.learner = d.learner
           AND t.statements <= 0;
        DELETE FROM learning_activity_days t USING learning_delta d
         WHERE d.sign = -1 AND t.store_id = d.store_id AND t.day = d.day AND t.activity = d.activity
           AND t.statements <= 0;
        DELETE FROM learning_day_hosts t USING learning_delta d
         WHERE d.sign = -1 AND t.store_id = d.store_id AND t.day = d.day AND t.learner = d.learner
           AND t.statements <= 0;
        DELETE FROM learning_day_courses t USING learning_delta d
         WHERE d.sign = -1 AND t.store_id = d.store_id AND t.day = d.day AND t.learner = d.learner
           AND t.statements <= 0;
        DELETE FROM learning_context_teams t USING learning_delta d
         WHERE d.sign = -1 AND t.store_id = d.store_id AND t.learner = d.learner
           AND t.statements <= 0;
    END IF;

    UPDATE learning_feed SET last_seq = greatest(last_seq, upto);
END
$$;

-- Regroups a store's team-level rollup after its roster changed (the caller holds the
-- feed lock, so no pass folds in with the old teams meanwhile).
CREATE FUNCTION learning_regroup_teams(store bigint) RETURNS void
LANGUAGE sql AS $$
    DELETE FROM learning_activity_days WHERE store_id = store;
    INSERT INTO learning_activity_days
    SELECT e.store_id, e.day, coalesce(r.team, '(no team)'), e.mode, e.activity, count(*),
           coalesce(sum(e.seconds), 0), sum(e.estimated)
      FROM learning_events e
      LEFT JOIN roster r ON r.store_id = e.store_id AND r.learner = e.learner
     WHERE e.store_id = store AND e.activity IS NOT NULL
     GROUP BY 1, 2, 3, 4, 5;
$$;

-- Empties the events and rollups so the feed rebuilds them from the first seq under
-- another estimate rule.
CREATE FUNCTION learning_feed_restart(session_gap double precision, estimate_cap double precision)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE learning_events, learning_days, learning_activity_days,
             learning_day_hosts, learning_day_courses, learning_context_teams, learning_feed_redo;
    UPDATE learning_feed SET last_seq = 0, session_gap = $1, estimate_cap = $2;
END
$$;

-- The highest seq at or below which every Statement is committed or abandoned: below
-- the oldest writer still in flight (see commonplace_reserve_statements).
CREATE FUNCTION commonplace_settled_seq() RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT least(
        (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM statements_seq_seq),
        (SELECT min((l.classid::int8 << 32) | l.objid::int8) - 1 FROM pg_locks l
          WHERE l.locktype = 'advisory' AND l.objsubid = 1 AND l.granted
            AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())))
$$;
