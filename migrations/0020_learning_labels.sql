-- Slimmer learning events (issue 18): every event spelled out its learner's IFI, verb,
-- Activity, type, host, course, team and goal in full, and two indexes repeated the IFI
-- and the Activity IRI, about 0.98 KB per counted Statement. Each text is now stored
-- once per store as a label, and the events and their indexes hold its integer id.
--
-- Unlike the term dictionary (0019), a label holds its text (the reports show it), so
-- it must not outlive the events that use it: an erased learner's IFI is personal data.
-- It counts its uses (one per event column naming it), kept by the feed's fold, the
-- only writer of events, one pass at a time under the feed's row lock; the fold deletes
-- a label whose uses fall to zero, as it deletes an emptied rollup row. Labels are
-- found by a digest of their text (`commonplace_term_key`), so the unique index stays
-- small and a long goal text cannot exceed a B-tree entry.
CREATE TABLE learning_labels (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    store_id bigint NOT NULL,
    key      uuid   NOT NULL,
    label    text   NOT NULL,
    uses     bigint NOT NULL,
    UNIQUE (store_id, key)
);

INSERT INTO learning_labels (store_id, key, label, uses)
SELECT e.store_id, commonplace_term_key(x.label), x.label, count(*)
  FROM learning_events e,
       unnest(ARRAY[e.learner, e.verb, e.activity, e.activity_type, e.host, e.course, e.team,
                    e.goal]) AS x(label)
 WHERE x.label IS NOT NULL
 GROUP BY e.store_id, x.label;
-- Statistics for the rewrite below: without them the planner takes the new table for
-- empty and probes it row by row.
ANALYZE learning_labels;

-- The events rewritten with label ids. With the labels above and the indexes below,
-- about 2.5 s per 100,000 events on the 2-core development machine (25-30 s per
-- million). Fixed-width columns first, so no row pads.
ALTER TABLE learning_events RENAME TO learning_events_texts;
ALTER INDEX learning_events_pkey RENAME TO learning_events_texts_pkey;
DROP INDEX learning_events_learner, learning_events_activity, learning_events_day,
           learning_events_goals;

CREATE TABLE learning_events (
    store_id       bigint           NOT NULL,
    seq            bigint           NOT NULL,
    at             timestamptz      NOT NULL,
    learner        bigint           NOT NULL,
    verb           bigint           NOT NULL,
    activity       bigint,
    activity_type  bigint,
    host           bigint,
    course         bigint,
    team           bigint,
    goal           bigint,
    seconds        double precision,
    estimated      double precision NOT NULL DEFAULT 0,
    day            date             NOT NULL,
    -- The object is a goal-typed Activity: the learner documented a goal. Its own
    -- column because the team report's index of goal setters needs a constant to
    -- select on, and a type's label id differs from store to store.
    documents_goal boolean          NOT NULL,
    mode           text             NOT NULL,
    registration   uuid,
    PRIMARY KEY (store_id, seq)
);

INSERT INTO learning_events
SELECT o.store_id, o.seq, o.at, ll.id, lv.id, la.id, lt.id, lh.id, lc.id, lm.id, lg.id,
       o.seconds, o.estimated, o.day,
       o.activity_type IS NOT DISTINCT FROM 'https://commonplace.dev/xapi/activity-types/goal',
       o.mode, o.registration
  FROM learning_events_texts o
  JOIN learning_labels ll ON ll.store_id = o.store_id AND ll.label = o.learner
  JOIN learning_labels lv ON lv.store_id = o.store_id AND lv.label = o.verb
  LEFT JOIN learning_labels la ON la.store_id = o.store_id AND la.label = o.activity
  LEFT JOIN learning_labels lt ON lt.store_id = o.store_id AND lt.label = o.activity_type
  LEFT JOIN learning_labels lh ON lh.store_id = o.store_id AND lh.label = o.host
  LEFT JOIN learning_labels lc ON lc.store_id = o.store_id AND lc.label = o.course
  LEFT JOIN learning_labels lm ON lm.store_id = o.store_id AND lm.label = o.team
  LEFT JOIN learning_labels lg ON lg.store_id = o.store_id AND lg.label = o.goal
 ORDER BY o.store_id, o.seq;

DROP TABLE learning_events_texts;

-- The indexes of 0007 and 0012, on ids.
-- A learner's events of one day in time order: sessions, neighbours, the learner report.
CREATE INDEX learning_events_learner ON learning_events (store_id, learner, day, at, seq)
    INCLUDE (seconds, estimated);
-- An Activity's learners: the sources report counts them for its top Activities.
CREATE INDEX learning_events_activity ON learning_events (store_id, activity, day)
    INCLUDE (mode, learner);
CREATE INDEX learning_events_day ON learning_events (store_id, day);
-- Who documented a goal: the team report's goal coverage.
CREATE INDEX learning_events_goals ON learning_events (store_id, learner) WHERE documents_goal;

-- The fold of 0012, with labels: the server still passes texts, and the rollups are
-- still keyed by text (every report reads them), so the pass's changes are gathered by
-- text as before (`learning_text_delta`); removed and re-estimated events get their
-- texts back from their labels. Otherwise the function is that of 0012.
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

    -- Fold the deltas into each rollup. Statements count with their sign; an estimate
    -- change counts only its difference.
    INSERT INTO learning_days AS t
    SELECT store_id, day, learner, mode, sum(sign), coalesce(sum(sign * seconds), 0),
           count(seconds) FILTER (WHERE sign = 1) - count(seconds) FILTER (WHERE sign = -1),
           sum(d_estimated),
           coalesce(sum(sign) FILTER (WHERE verb = ANY(share_verbs)), 0),
           coalesce(sum(sign) FILTER (WHERE goal IS NOT NULL), 0)
      FROM learning_text_delta GROUP BY 1, 2, 3, 4
    ON CONFLICT (store_id, day, learner, mode) DO UPDATE
       SET statements = t.statements + EXCLUDED.statements, seconds = t.seconds + EXCLUDED.seconds,
           timed = t.timed + EXCLUDED.timed, estimated = t.estimated + EXCLUDED.estimated,
           shares = t.shares + EXCLUDED.shares, goal_linked = t.goal_linked + EXCLUDED.goal_linked;

    INSERT INTO learning_activity_days AS t
    SELECT d.store_id, d.day, coalesce(r.team, '(no team)'), d.mode, d.activity, sum(d.sign),
           coalesce(sum(d.sign * d.seconds), 0), sum(d.d_estimated)
      FROM learning_text_delta d
      LEFT JOIN roster r ON r.store_id = d.store_id AND r.learner = d.learner
     WHERE d.activity IS NOT NULL GROUP BY 1, 2, 3, 4, 5
    ON CONFLICT (store_id, day, team, mode, activity) DO UPDATE
       SET statements = t.statements + EXCLUDED.statements, seconds = t.seconds + EXCLUDED.seconds,
           estimated = t.estimated + EXCLUDED.estimated;

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

    INSERT INTO learning_context_teams AS t
    SELECT store_id, learner, team, sum(sign)
      FROM learning_text_delta WHERE team IS NOT NULL AND sign <> 0 GROUP BY 1, 2, 3
    ON CONFLICT (store_id, learner, team) DO UPDATE
       SET statements = t.statements + EXCLUDED.statements;

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

-- The regrouping of 0008, reading the events' labels.
CREATE OR REPLACE FUNCTION learning_regroup_teams(store bigint) RETURNS void
LANGUAGE sql AS $$
    DELETE FROM learning_activity_days WHERE store_id = store;
    INSERT INTO learning_activity_days
    SELECT e.store_id, e.day, coalesce(r.team, '(no team)'), e.mode, a.label, count(*),
           coalesce(sum(e.seconds), 0), sum(e.estimated)
      FROM learning_events e
      JOIN learning_labels a ON a.id = e.activity
      JOIN learning_labels l ON l.id = e.learner
      LEFT JOIN roster r ON r.store_id = e.store_id AND r.learner = l.label
     WHERE e.store_id = store
     GROUP BY 1, 2, 3, 4, 5;
$$;

-- The restart of 0008: the labels go with the events that count their uses.
CREATE OR REPLACE FUNCTION learning_feed_restart(session_gap double precision, estimate_cap double precision)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE learning_events, learning_labels, learning_days, learning_activity_days,
             learning_day_hosts, learning_day_courses, learning_context_teams, learning_feed_redo;
    UPDATE learning_feed SET last_seq = 0, session_gap = $1, estimate_cap = $2;
END
$$;
