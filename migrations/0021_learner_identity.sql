-- One definition of a learner's team and name (issue 19), for every report, CSV and the
-- dashboard. The reports disagreed: the team-level rollup grouped by roster team only
-- (everyone was '(no team)' without a roster) while the team report also read the
-- teams Statements named in `context.team`, and learners showed as raw IFIs.
--
-- Team: the roster team, else the team the learner's Statements name most often in
-- `context.team` (ties go to the first name in sort order), else '(no team)'.
-- Name: the roster name (when not empty), else the first in sort order of the names
-- the learner's Statements gave (`agents.names`; those given to the learner's roster
-- aliases when the learner's own IFI has none), else the IFI.
--
-- Per row on small row sets (one call per learner or team in a result, not per
-- event); `learner` is an IFI as the LRS writes it (`mbox:mailto:…`).
CREATE FUNCTION commonplace_learner_team(store bigint, learner text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(
        (SELECT r.team FROM roster r WHERE r.store_id = $1 AND r.learner = $2),
        (SELECT c.team FROM learning_context_teams c
          WHERE c.store_id = $1 AND c.learner = $2 AND c.statements > 0
          ORDER BY c.statements DESC, c.team LIMIT 1),
        '(no team)')
$$;

CREATE FUNCTION commonplace_learner_name(store bigint, learner text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(
        (SELECT r.name FROM roster r WHERE r.store_id = $1 AND r.learner = $2 AND r.name <> ''),
        (SELECT min(n) FROM agents g, unnest(g.names) AS n
          WHERE g.store_id = $1 AND g.ifi = $2 AND n <> ''),
        (SELECT min(n) FROM learner_aliases a
           JOIN agents g ON g.store_id = a.store_id AND g.ifi = a.alias, unnest(g.names) AS n
          WHERE a.store_id = $1 AND a.learner = $2 AND n <> ''),
        $2)
$$;

-- The team-level rollup (`learning_activity_days` and its weekly copy) is grouped by
-- this team too. Everything that decides it is in the roster (a roster import regroups
-- the store) or in `learning_context_teams`, which only the fold changes: the fold files
-- a pass's changes under each learner's team as it was before the pass, then moves
-- every event of a learner whose team the pass changed (the top context team flipped,
-- or the last one went) from the old team to the new. Moves are rare (a learner's
-- first named team, a near tie), and read only that learner's events.
--
-- `/reports/modes?group=learner` counted each learner's distinct Activities per bucket
-- from the events of the whole period (about 2 s at a million Statements). Distinct
-- counts do not add up over days, so the daily learner rollup now says how many of a
-- day's Activities are new over each look-back: entry g (from 0, `learning_firsts_at`)
-- of `activity_firsts` is the number of Activities the learner touched that day (in
-- that mode) and not in the g days before. The distinct Activities of any run of days
-- from S, up to 31 days (a day, a week, a month, or the part of one inside the period),
-- is the sum over its days d of entry d - S: each Activity counts on the first day of
-- the run it was touched, and only then. The weekly learner rollup keeps that sum per
-- week (`activities`), a new monthly one per month. The fold keeps the arrays from the touch
-- days of the learner's changed Activities, found through the Activity index, which
-- now leads with the learner after the Activity (same columns, same size; the sources
-- report's per-Activity learner count reads the Activity's entries of every day).

-- The entry for look-back g of touches `gaps` days after the previous touch of their
-- Activity (31 for none within 31 days), each counted `weights` times: the cumulative
-- form `activity_firsts` holds.
--
-- The entries never grow with g, and often stop changing well before 31 (a learner's
-- Activities of the day are mostly new, or seen the day before): an array stops at its
-- last change, and a missing entry is the last one (less than half the bytes).

-- Entry g (from 0) of `activity_firsts`.
CREATE FUNCTION learning_firsts_at(firsts integer[], g integer) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(firsts[g + 1], firsts[cardinality(firsts)], 0)
$$;

-- The three below run a few thousand times a fold pass, so they are plpgsql loops:
-- as SQL functions with a FROM clause they cannot be inlined, and each call planned and
-- ran a join, a sort and an aggregate (half the time of a pass, measured).

-- `firsts` up to its last change; '{}' when it is all zeros.
CREATE FUNCTION learning_firsts_trim(firsts integer[]) RETURNS integer[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    last_change integer := 0;
BEGIN
    FOR i IN 1..coalesce(cardinality(firsts), 0) LOOP
        IF i = 1 OR firsts[i] <> firsts[i - 1] THEN
            last_change := i;
        END IF;
    END LOOP;
    IF last_change = 0 OR (last_change = 1 AND firsts[1] = 0) THEN
        RETURN '{}';
    END IF;
    RETURN firsts[1:last_change];
END
$$;

CREATE FUNCTION learning_firsts_of(gaps integer[], weights integer[]) RETURNS integer[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    firsts integer[] := array_fill(0, ARRAY[31]);
BEGIN
    FOR i IN 1..coalesce(cardinality(gaps), 0) LOOP
        -- A touch `gap` days after the last counts for every look-back shorter than it.
        FOR g IN 0..least(gaps[i], 31) - 1 LOOP
            firsts[g + 1] := firsts[g + 1] + weights[i];
        END LOOP;
    END LOOP;
    RETURN learning_firsts_trim(firsts);
END
$$;

-- Two `activity_firsts` added entry by entry.
CREATE FUNCTION learning_firsts_add(a integer[], b integer[]) RETURNS integer[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    total integer[] := '{}';
BEGIN
    IF b = '{}' THEN
        RETURN a;
    END IF;
    IF a = '{}' THEN
        RETURN b;
    END IF;
    FOR g IN 0..30 LOOP
        total[g + 1] := learning_firsts_at(a, g) + learning_firsts_at(b, g);
    END LOOP;
    RETURN learning_firsts_trim(total);
END
$$;

ALTER TABLE learning_days ADD COLUMN activity_firsts integer[] NOT NULL DEFAULT '{}';
ALTER TABLE learning_learner_weeks ADD COLUMN activities bigint NOT NULL DEFAULT 0;

DROP INDEX learning_events_activity;
-- An Activity's learners (the sources report), and one learner's touches of one
-- Activity (the fold's `activity_firsts`).
CREATE INDEX learning_events_activity ON learning_events (store_id, activity, learner, day)
    INCLUDE (mode);

-- The weekly learner rollup of 0011, with the week's distinct Activities.
CREATE OR REPLACE FUNCTION learning_learner_weeks_follow() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO learning_learner_weeks AS w
        SELECT store_id, learning_week(day), learner, mode, sum(statements), sum(seconds),
               sum(timed), sum(estimated), sum(shares), sum(goal_linked),
               coalesce(sum(learning_firsts_at(activity_firsts, day - learning_week(day))), 0)
          FROM grown GROUP BY 1, 2, 3, 4
        ON CONFLICT (store_id, week, learner, mode) DO UPDATE
           SET statements = w.statements + EXCLUDED.statements,
               seconds = w.seconds + EXCLUDED.seconds, timed = w.timed + EXCLUDED.timed,
               estimated = w.estimated + EXCLUDED.estimated,
               shares = w.shares + EXCLUDED.shares,
               goal_linked = w.goal_linked + EXCLUDED.goal_linked,
               activities = w.activities + EXCLUDED.activities;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE learning_learner_weeks w
           SET statements = w.statements - c.statements, seconds = w.seconds - c.seconds,
               timed = w.timed - c.timed, estimated = w.estimated - c.estimated,
               shares = w.shares - c.shares, goal_linked = w.goal_linked - c.goal_linked,
               activities = w.activities - c.activities
          FROM (SELECT store_id, learning_week(day) AS week, learner, mode,
                       sum(statements) AS statements, sum(seconds) AS seconds,
                       sum(timed) AS timed, sum(estimated) AS estimated,
                       sum(shares) AS shares, sum(goal_linked) AS goal_linked,
                       coalesce(sum(learning_firsts_at(activity_firsts, day - learning_week(day))), 0)
                           AS activities
                  FROM shrunk GROUP BY 1, 2, 3, 4) c
         WHERE w.store_id = c.store_id AND w.week = c.week AND w.learner = c.learner
           AND w.mode = c.mode;
        DELETE FROM learning_learner_weeks w
         USING (SELECT DISTINCT store_id, learning_week(day) AS week, learner, mode
                  FROM shrunk) c
         WHERE w.store_id = c.store_id AND w.week = c.week AND w.learner = c.learner
           AND w.mode = c.mode AND w.statements <= 0;
    END IF;
    RETURN NULL;
END
$$;

-- A monthly copy of the learner rollup, kept like the weekly one: a report by month
-- reads the months wholly inside its period from it, and the days only for the partial
-- months at its ends (the default 84 days hold two or three whole months).
CREATE TABLE learning_learner_months (
    store_id    bigint           NOT NULL,
    month       date             NOT NULL,
    learner     text             NOT NULL,
    mode        text             NOT NULL,
    statements  bigint           NOT NULL,
    seconds     double precision NOT NULL,
    timed       bigint           NOT NULL,
    estimated   double precision NOT NULL,
    activities  bigint           NOT NULL,
    PRIMARY KEY (store_id, month, learner, mode)
);

CREATE FUNCTION learning_learner_months_follow() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO learning_learner_months AS w
        SELECT store_id, date_trunc('month', day)::date, learner, mode, sum(statements),
               sum(seconds), sum(timed), sum(estimated),
               coalesce(sum(learning_firsts_at(activity_firsts, day - date_trunc('month', day)::date)), 0)
          FROM grown GROUP BY 1, 2, 3, 4
        ON CONFLICT (store_id, month, learner, mode) DO UPDATE
           SET statements = w.statements + EXCLUDED.statements,
               seconds = w.seconds + EXCLUDED.seconds, timed = w.timed + EXCLUDED.timed,
               estimated = w.estimated + EXCLUDED.estimated,
               activities = w.activities + EXCLUDED.activities;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE learning_learner_months w
           SET statements = w.statements - c.statements, seconds = w.seconds - c.seconds,
               timed = w.timed - c.timed, estimated = w.estimated - c.estimated,
               activities = w.activities - c.activities
          FROM (SELECT store_id, date_trunc('month', day)::date AS month, learner, mode,
                       sum(statements) AS statements, sum(seconds) AS seconds,
                       sum(timed) AS timed, sum(estimated) AS estimated,
                       coalesce(sum(learning_firsts_at(activity_firsts, day - date_trunc('month', day)::date)),
                                0) AS activities
                  FROM shrunk GROUP BY 1, 2, 3, 4) c
         WHERE w.store_id = c.store_id AND w.month = c.month AND w.learner = c.learner
           AND w.mode = c.mode;
        DELETE FROM learning_learner_months w
         USING (SELECT DISTINCT store_id, date_trunc('month', day)::date AS month, learner, mode
                  FROM shrunk) c
         WHERE w.store_id = c.store_id AND w.month = c.month AND w.learner = c.learner
           AND w.mode = c.mode AND w.statements <= 0;
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION learning_learner_months_clear() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE learning_learner_months;
    RETURN NULL;
END
$$;

CREATE TRIGGER learning_learner_months_added AFTER INSERT ON learning_days
    REFERENCING NEW TABLE AS grown
    FOR EACH STATEMENT EXECUTE FUNCTION learning_learner_months_follow();
CREATE TRIGGER learning_learner_months_changed AFTER UPDATE ON learning_days
    REFERENCING OLD TABLE AS shrunk NEW TABLE AS grown
    FOR EACH STATEMENT EXECUTE FUNCTION learning_learner_months_follow();
CREATE TRIGGER learning_learner_months_removed AFTER DELETE ON learning_days
    REFERENCING OLD TABLE AS shrunk
    FOR EACH STATEMENT EXECUTE FUNCTION learning_learner_months_follow();
CREATE TRIGGER learning_learner_months_cleared AFTER TRUNCATE ON learning_days
    FOR EACH STATEMENT EXECUTE FUNCTION learning_learner_months_clear();

INSERT INTO learning_learner_months
SELECT store_id, date_trunc('month', day)::date, learner, mode, sum(statements), sum(seconds),
       sum(timed), sum(estimated), 0
  FROM learning_days GROUP BY 1, 2, 3, 4;

-- Existing stores: every touch's gap from the events (the update carries the weekly
-- and monthly sums through the triggers above).
UPDATE learning_days t SET activity_firsts = f.firsts
  FROM (SELECT g.store_id, l.label AS learner, g.day, g.mode,
               learning_firsts_of(array_agg(g.gap), array_agg(1)) AS firsts
          FROM (SELECT store_id, learner, mode, day,
                       least(coalesce(day - lag(day) OVER (PARTITION BY store_id, learner, mode,
                                                                        activity
                                                           ORDER BY day), 31), 31) AS gap
                  FROM (SELECT DISTINCT store_id, learner, mode, activity, day
                          FROM learning_events WHERE activity IS NOT NULL) x) g
          JOIN learning_labels l ON l.id = g.learner
         GROUP BY 1, 2, 3, 4) f
 WHERE t.store_id = f.store_id AND t.day = f.day AND t.learner = f.learner AND t.mode = f.mode;

-- The fold of 0020, filing the team-level rollup under each learner's team as defined
-- above, and keeping `activity_firsts`; otherwise the function is that of 0020.
CREATE OR REPLACE FUNCTION learning_feed_fold(
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

    -- `learner_id` is the learner's label, for the neighbours in the learner index.
    CREATE TEMP TABLE IF NOT EXISTS learning_text_delta (
        store_id      bigint           NOT NULL,
        seq           bigint           NOT NULL,
        learner_id    bigint           NOT NULL,
        learner       text             NOT NULL,
        day           date             NOT NULL,
        at            timestamptz      NOT NULL,
        mode          text             NOT NULL,
        verb          text,
        activity      text,
        activity_type text,
        host          text,
        course        text,
        team          text,
        goal          text,
        seconds       double precision,
        estimated     double precision NOT NULL,
        sign          integer          NOT NULL,
        d_estimated   double precision NOT NULL
    ) ON COMMIT DELETE ROWS;

    WITH removed AS (
        DELETE FROM learning_events e
         USING unnest(redo_store, redo_seq) AS r(store_id, seq)
         WHERE e.store_id = r.store_id AND e.seq = r.seq
        RETURNING e.*
    ),
    unused AS (
        UPDATE learning_labels l SET uses = l.uses - c.n
          FROM (SELECT x.id, count(*) AS n
                  FROM removed r,
                       unnest(ARRAY[r.learner, r.verb, r.activity, r.activity_type, r.host,
                                    r.course, r.team, r.goal]) AS x(id)
                 WHERE x.id IS NOT NULL
                 GROUP BY x.id) c
         WHERE l.id = c.id
    )
    INSERT INTO learning_text_delta
    SELECT r.store_id, r.seq, r.learner, ll.label, r.day, r.at, r.mode, lv.label, la.label,
           lt.label, lh.label, lc.label, lm.label, lg.label, r.seconds, r.estimated, -1,
           -r.estimated
      FROM removed r
      JOIN learning_labels ll ON ll.id = r.learner
      JOIN learning_labels lv ON lv.id = r.verb
      LEFT JOIN learning_labels la ON la.id = r.activity
      LEFT JOIN learning_labels lt ON lt.id = r.activity_type
      LEFT JOIN learning_labels lh ON lh.id = r.host
      LEFT JOIN learning_labels lc ON lc.id = r.course
      LEFT JOIN learning_labels lm ON lm.id = r.team
      LEFT JOIN learning_labels lg ON lg.id = r.goal;

    WITH given AS (
        SELECT u.store_id, u.seq, coalesce(a.learner, u.learner) AS learner, u.day, u.at,
               u.mode, u.verb, u.activity, u.activity_type, u.host, u.course, u.registration,
               u.team, u.goal, u.seconds
          FROM unnest(e_store, e_seq, e_learner, e_day, e_at, e_mode, e_verb, e_activity,
                      e_activity_type, e_host, e_course, e_registration, e_team, e_goal, e_seconds)
               AS u(store_id, seq, learner, day, at, mode, verb, activity, activity_type, host,
                    course, registration, team, goal, seconds)
          LEFT JOIN learner_aliases a ON a.store_id = u.store_id AND a.alias = u.learner
    ),
    labelled AS (
        INSERT INTO learning_labels AS l (store_id, key, label, uses)
        SELECT g.store_id, commonplace_term_key(x.label), x.label, count(*)
          FROM given g,
               unnest(ARRAY[g.learner, g.verb, g.activity, g.activity_type, g.host, g.course,
                            g.team, g.goal]) AS x(label)
         WHERE x.label IS NOT NULL
         GROUP BY g.store_id, x.label
         ORDER BY 1, 2
        ON CONFLICT (store_id, key) DO UPDATE SET uses = l.uses + EXCLUDED.uses
        RETURNING l.store_id, l.label, l.id
    ),
    added AS (
        INSERT INTO learning_events (store_id, seq, at, learner, verb, activity, activity_type,
                                     host, course, team, goal, seconds, estimated, day,
                                     documents_goal, mode, registration)
        SELECT g.store_id, g.seq, g.at, ll.id, lv.id, la.id, lt.id, lh.id, lc.id, lm.id, lg.id,
               g.seconds, 0, g.day,
               g.activity_type IS NOT DISTINCT FROM 'https://commonplace.dev/xapi/activity-types/goal',
               g.mode, g.registration
          FROM given g
          JOIN labelled ll ON ll.store_id = g.store_id AND ll.label = g.learner
          JOIN labelled lv ON lv.store_id = g.store_id AND lv.label = g.verb
          LEFT JOIN labelled la ON la.store_id = g.store_id AND la.label = g.activity
          LEFT JOIN labelled lt ON lt.store_id = g.store_id AND lt.label = g.activity_type
          LEFT JOIN labelled lh ON lh.store_id = g.store_id AND lh.label = g.host
          LEFT JOIN labelled lc ON lc.store_id = g.store_id AND lc.label = g.course
          LEFT JOIN labelled lm ON lm.store_id = g.store_id AND lm.label = g.team
          LEFT JOIN labelled lg ON lg.store_id = g.store_id AND lg.label = g.goal
         ORDER BY 1, 2
        RETURNING store_id, seq, learner
    )
    INSERT INTO learning_text_delta
    SELECT g.store_id, g.seq, a.learner, g.learner, g.day, g.at, g.mode, g.verb, g.activity,
           g.activity_type, g.host, g.course, g.team, g.goal, g.seconds, 0, 1, 0
      FROM given g JOIN added a ON a.store_id = g.store_id AND a.seq = g.seq;

    -- Whose estimate may have changed: only an event without a duration is credited
    -- one, so every such added event, and the event before each added or removed one
    -- in its learner's day when it has none (the learner index holds both figures).
    WITH recheck AS (
        SELECT store_id, seq, learner_id AS learner, day, at, estimated FROM learning_text_delta
         WHERE sign = 1 AND seconds IS NULL
        UNION
        SELECT p.store_id, p.seq, p.learner, p.day, p.at, p.estimated
          FROM learning_text_delta d
          CROSS JOIN LATERAL (
              SELECT e.store_id, e.seq, e.learner, e.day, e.at, e.seconds, e.estimated
                FROM learning_events e
               WHERE e.store_id = d.store_id AND e.learner = d.learner_id AND e.day = d.day
                 AND (e.at, e.seq) < (d.at, d.seq)
               ORDER BY e.at DESC, e.seq DESC LIMIT 1) p
         WHERE p.seconds IS NULL
    ),
    estimate AS (
        SELECT c.store_id, c.seq, c.estimated AS old,
               CASE WHEN extract(epoch FROM nx.at - c.at) <= feed.session_gap
                    THEN least(extract(epoch FROM nx.at - c.at)::float8, feed.estimate_cap)
                    ELSE 0 END AS new
          FROM recheck c
          LEFT JOIN LATERAL (
              SELECT x.at FROM learning_events x
               WHERE x.store_id = c.store_id AND x.learner = c.learner AND x.day = c.day
                 AND (x.at, x.seq) > (c.at, c.seq)
               ORDER BY x.at, x.seq LIMIT 1) nx ON true
    ),
    updated AS (
        UPDATE learning_events e SET estimated = s.new
          FROM estimate s
         WHERE e.store_id = s.store_id AND e.seq = s.seq AND s.new <> s.old
        RETURNING e.*, s.new - s.old AS d
    )
    -- A re-estimate changes time sums only: the verb, team and goal serve Statement
    -- counts (sums of the sign, 0 here), so it needs no texts for them.
    INSERT INTO learning_text_delta
    SELECT u.store_id, u.seq, u.learner, ll.label, u.day, u.at, u.mode, NULL, la.label, NULL,
           lh.label, lc.label, NULL, NULL, u.seconds, u.estimated, 0, u.d
      FROM updated u
      JOIN learning_labels ll ON ll.id = u.learner
      LEFT JOIN learning_labels la ON la.id = u.activity
      LEFT JOIN learning_labels lh ON lh.id = u.host
      LEFT JOIN learning_labels lc ON lc.id = u.course;

    -- Each learner's team before the pass changes their context teams: the rollup holds
    -- their rows under it.
    CREATE TEMP TABLE IF NOT EXISTS learning_pass_teams (
        store_id   bigint NOT NULL,
        learner    text   NOT NULL,
        learner_id bigint NOT NULL,
        before     text   NOT NULL,
        after      text
    ) ON COMMIT DELETE ROWS;
    INSERT INTO learning_pass_teams (store_id, learner, learner_id, before)
    SELECT store_id, learner, min(learner_id), commonplace_learner_team(store_id, learner)
      FROM learning_text_delta GROUP BY store_id, learner;

    -- Fold the deltas into each rollup. Statements count with their sign; an estimate
    -- change counts only its difference.
    --
    -- `activity_firsts`: the touch days (days with events) of each learner's Activities
    -- the pass added or removed events of, from 31 days before the first change to 31
    -- after the last (a gap of 31 or more counts as 31), as they are now and as they
    -- were (now, less the events added, plus those removed); each touch day whose gap to
    -- the previous touch changed (or that appeared or went) takes out its old gap and
    -- puts in its new one.
    -- (An added event's Activity id is read from the event: hashing every text for its
    -- label costs more.)
    WITH changed AS (
        SELECT store_id, learner_id, mode, activity, day, sum(sign) AS net
          FROM (SELECT d.store_id, d.learner_id, d.mode, e.activity, d.day, d.sign
                  FROM learning_text_delta d
                  CROSS JOIN LATERAL (SELECT e.activity FROM learning_events e
                                       WHERE e.store_id = d.store_id AND e.seq = d.seq) e
                 WHERE d.sign = 1 AND e.activity IS NOT NULL
                UNION ALL
                SELECT d.store_id, d.learner_id, d.mode, a.id, d.day, d.sign
                  FROM learning_text_delta d
                  JOIN learning_labels a ON a.store_id = d.store_id
                                        AND a.key = commonplace_term_key(d.activity)
                 WHERE d.sign = -1 AND d.activity IS NOT NULL) x
         GROUP BY 1, 2, 3, 4, 5
    ),
    touched AS (
        SELECT k.store_id, k.learner_id, k.mode, k.activity, e.day, e.n
          FROM (SELECT store_id, learner_id, mode, activity, min(day) AS first,
                       max(day) AS last
                  FROM changed GROUP BY 1, 2, 3, 4) k
          CROSS JOIN LATERAL (
              SELECT e.day, count(*) AS n FROM learning_events e
               WHERE e.store_id = k.store_id AND e.activity = k.activity
                 AND e.learner = k.learner_id AND e.day >= k.first - 31
                 AND e.day <= k.last + 31 AND e.mode = k.mode
               GROUP BY e.day) e
    ),
    touch_days AS (
        SELECT store_id, learner_id, mode, activity, day, coalesce(t.n, 0) > 0 AS now,
               coalesce(t.n, 0) - coalesce(c.net, 0) > 0 AS before
          FROM touched t FULL JOIN changed c USING (store_id, learner_id, mode, activity, day)
    ),
    gaps AS (
        SELECT store_id, learner_id, mode, day, now, before,
               least(coalesce(day - max(day) FILTER (WHERE now) OVER w, 31), 31) AS gap_now,
               least(coalesce(day - max(day) FILTER (WHERE before) OVER w, 31), 31) AS gap_before
          FROM touch_days
        WINDOW w AS (PARTITION BY store_id, learner_id, mode, activity ORDER BY day
                     ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
    ),
    firsts AS (
        SELECT g.store_id, g.day, l.label AS learner, g.mode,
               learning_firsts_of(array_agg(x.gap), array_agg(x.weight)) AS activity_firsts
          FROM gaps g
          CROSS JOIN LATERAL (VALUES (CASE WHEN g.now THEN g.gap_now END, 1),
                                     (CASE WHEN g.before THEN g.gap_before END, -1))
                             AS x(gap, weight)
          JOIN learning_labels l ON l.id = g.learner_id
         WHERE x.gap IS NOT NULL
           AND NOT (g.now AND g.before AND g.gap_now = g.gap_before)
         GROUP BY 1, 2, 3, 4
    ),
    sums AS (
        SELECT store_id, day, learner, mode, sum(sign) AS statements,
               coalesce(sum(sign * seconds), 0) AS seconds,
               count(seconds) FILTER (WHERE sign = 1) - count(seconds) FILTER (WHERE sign = -1)
                   AS timed,
               sum(d_estimated) AS estimated,
               coalesce(sum(sign) FILTER (WHERE verb = ANY(share_verbs)), 0) AS shares,
               coalesce(sum(sign) FILTER (WHERE goal IS NOT NULL), 0) AS goal_linked
          FROM learning_text_delta GROUP BY 1, 2, 3, 4
    )
    INSERT INTO learning_days AS t (store_id, day, learner, mode, statements, seconds, timed,
                                    estimated, shares, goal_linked, activity_firsts)
    SELECT store_id, day, learner, mode, coalesce(s.statements, 0), coalesce(s.seconds, 0),
           coalesce(s.timed, 0), coalesce(s.estimated, 0), coalesce(s.shares, 0),
           coalesce(s.goal_linked, 0), coalesce(f.activity_firsts, '{}')
      FROM sums s FULL JOIN firsts f USING (store_id, day, learner, mode)
    ON CONFLICT (store_id, day, learner, mode) DO UPDATE
       SET statements = t.statements + EXCLUDED.statements, seconds = t.seconds + EXCLUDED.seconds,
           timed = t.timed + EXCLUDED.timed, estimated = t.estimated + EXCLUDED.estimated,
           shares = t.shares + EXCLUDED.shares, goal_linked = t.goal_linked + EXCLUDED.goal_linked,
           activity_firsts = learning_firsts_add(t.activity_firsts, EXCLUDED.activity_firsts);

    INSERT INTO learning_context_teams AS t
    SELECT store_id, learner, team, sum(sign)
      FROM learning_text_delta WHERE team IS NOT NULL AND sign <> 0 GROUP BY 1, 2, 3
    ON CONFLICT (store_id, learner, team) DO UPDATE
       SET statements = t.statements + EXCLUDED.statements;

    UPDATE learning_pass_teams SET after = commonplace_learner_team(store_id, learner);

    -- The pass's changes under the team before it; then, for a learner whose team it
    -- changed, all their events out of the old team and into the new.
    INSERT INTO learning_activity_days AS t
    SELECT store_id, day, team, mode, activity, sum(statements), sum(seconds), sum(estimated)
      FROM (SELECT d.store_id, d.day, p.before AS team, d.mode, d.activity,
                   d.sign AS statements, coalesce(d.sign * d.seconds, 0) AS seconds,
                   d.d_estimated AS estimated
              FROM learning_text_delta d
              JOIN learning_pass_teams p ON p.store_id = d.store_id AND p.learner = d.learner
             WHERE d.activity IS NOT NULL
            UNION ALL
            SELECT p.store_id, e.day, m.team, e.mode, e.activity, m.sign,
                   m.sign * coalesce(e.seconds, 0), m.sign * e.estimated
              FROM learning_pass_teams p
              CROSS JOIN LATERAL (VALUES (p.before, -1), (p.after, 1)) AS m(team, sign)
              CROSS JOIN LATERAL (
                  SELECT e.day, e.mode, a.label AS activity, e.seconds, e.estimated
                    FROM learning_events e JOIN learning_labels a ON a.id = e.activity
                   WHERE e.store_id = p.store_id AND e.learner = p.learner_id) e
             WHERE p.after <> p.before) x
     GROUP BY 1, 2, 3, 4, 5
    HAVING sum(statements) <> 0 OR sum(seconds) <> 0 OR sum(estimated) <> 0
    ON CONFLICT (store_id, day, team, mode, activity) DO UPDATE
       SET statements = t.statements + EXCLUDED.statements, seconds = t.seconds + EXCLUDED.seconds,
           estimated = t.estimated + EXCLUDED.estimated;

    IF EXISTS (SELECT 1 FROM learning_pass_teams WHERE after <> before) THEN
        DELETE FROM learning_activity_days t
         USING (SELECT DISTINCT p.store_id, p.before, e.day, e.mode, e.activity
                  FROM learning_pass_teams p
                  CROSS JOIN LATERAL (
                      SELECT e.day, e.mode, a.label AS activity
                        FROM learning_events e JOIN learning_labels a ON a.id = e.activity
                       WHERE e.store_id = p.store_id AND e.learner = p.learner_id) e
                 WHERE p.after <> p.before) m
         WHERE t.store_id = m.store_id AND t.day = m.day AND t.team = m.before
           AND t.mode = m.mode AND t.activity = m.activity AND t.statements <= 0;
    END IF;

    INSERT INTO learning_day_hosts AS t
    SELECT store_id, day, learner, mode, host, sum(sign), coalesce(sum(sign * seconds), 0),
           sum(d_estimated)
      FROM learning_text_delta WHERE host IS NOT NULL GROUP BY 1, 2, 3, 4, 5
    ON CONFLICT (store_id, day, learner, mode, host) DO UPDATE
       SET statements = t.statements + EXCLUDED.statements, seconds = t.seconds + EXCLUDED.seconds,
           estimated = t.estimated + EXCLUDED.estimated;

    INSERT INTO learning_day_courses AS t
    SELECT store_id, day, learner, course, sum(sign), coalesce(sum(sign * seconds), 0),
           sum(d_estimated),
           coalesce(sum(sign) FILTER (WHERE activity = course AND verb = ANY(completion_verbs)), 0)
      FROM learning_text_delta WHERE mode = 'directed' AND course IS NOT NULL GROUP BY 1, 2, 3, 4
    ON CONFLICT (store_id, day, learner, course) DO UPDATE
       SET statements = t.statements + EXCLUDED.statements, seconds = t.seconds + EXCLUDED.seconds,
           estimated = t.estimated + EXCLUDED.estimated,
           completions = t.completions + EXCLUDED.completions;

    -- Removals can empty a row; keep no trace of it (erasure depends on this), nor of
    -- a label no event uses any more.
    IF EXISTS (SELECT 1 FROM learning_text_delta WHERE sign = -1) THEN
        DELETE FROM learning_days t USING learning_text_delta d
         WHERE d.sign = -1 AND t.store_id = d.store_id AND t.day = d.day AND t.learner = d.learner
           AND t.statements <= 0;
        DELETE FROM learning_activity_days t USING learning_text_delta d
         WHERE d.sign = -1 AND t.store_id = d.store_id AND t.day = d.day AND t.activity = d.activity
           AND t.statements <= 0;
        DELETE FROM learning_day_hosts t USING learning_text_delta d
         WHERE d.sign = -1 AND t.store_id = d.store_id AND t.day = d.day AND t.learner = d.learner
           AND t.statements <= 0;
        DELETE FROM learning_day_courses t USING learning_text_delta d
         WHERE d.sign = -1 AND t.store_id = d.store_id AND t.day = d.day AND t.learner = d.learner
           AND t.statements <= 0;
        DELETE FROM learning_context_teams t USING learning_text_delta d
         WHERE d.sign = -1 AND t.store_id = d.store_id AND t.learner = d.learner
           AND t.statements <= 0;
        DELETE FROM learning_labels l
         USING (SELECT DISTINCT d.store_id, x.label
                  FROM learning_text_delta d,
                       unnest(ARRAY[d.learner, d.verb, d.activity, d.activity_type, d.host,
                                    d.course, d.team, d.goal]) AS x(label)
                 WHERE d.sign = -1 AND x.label IS NOT NULL) c
         WHERE l.store_id = c.store_id AND l.key = commonplace_term_key(c.label) AND l.uses <= 0;
    END IF;

    UPDATE learning_feed SET last_seq = greatest(last_seq, upto);
END
$$;

-- The regrouping of 0020, by each learner's team as defined above (the caller has just
-- changed the roster).
CREATE OR REPLACE FUNCTION learning_regroup_teams(store bigint) RETURNS void
LANGUAGE sql AS $$
    DELETE FROM learning_activity_days WHERE store_id = store;
    WITH teams AS MATERIALIZED (
        SELECT l.id, commonplace_learner_team(store, l.label) AS team
          FROM (SELECT DISTINCT learner FROM learning_days WHERE store_id = store) d
          JOIN learning_labels l ON l.store_id = store AND l.key = commonplace_term_key(d.learner)
    )
    INSERT INTO learning_activity_days
    SELECT e.store_id, e.day, t.team, e.mode, a.label, count(*), coalesce(sum(e.seconds), 0),
           sum(e.estimated)
      FROM learning_events e
      JOIN learning_labels a ON a.id = e.activity
      JOIN teams t ON t.id = e.learner
     WHERE e.store_id = store
     GROUP BY 1, 2, 3, 4, 5;
$$;

-- Existing stores: the team-level rollup by the teams defined above.
SELECT learning_regroup_teams(id) FROM stores;
ANALYZE learning_days, learning_learner_weeks, learning_learner_months, learning_activity_days,
        learning_activity_weeks;
