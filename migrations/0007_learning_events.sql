-- One narrow row per counted Statement (same rule as the learning rollups: it has a
-- mode, is not voided, is not voiding, and has a learner), with what the team,
-- learner and source reports need and the day rollups cannot hold: the instant (to
-- sessionise a learner's events for estimated time), the verb, the object's type and
-- host, the course, the team named in `context.team`, and the goal it is linked to.
-- Kept by the triggers below in the transaction that stores, voids or relabels.
CREATE TABLE learning_events (
    store_id      bigint           NOT NULL,
    seq           bigint           NOT NULL,
    learner       text             NOT NULL,
    day           date             NOT NULL,
    at            timestamptz      NOT NULL,
    mode          text             NOT NULL,
    verb          text             NOT NULL,
    activity      text,
    activity_type text,
    host          text,
    course        text,
    registration  uuid,
    team          text,
    goal          text,
    -- result.duration in seconds, NULL when the Statement carried none.
    seconds       double precision,
    PRIMARY KEY (store_id, seq)
);

CREATE INDEX learning_events_learner ON learning_events (store_id, learner, at);
CREATE INDEX learning_events_day ON learning_events (store_id, day);

-- The instant of a Statement: its timestamp, else when it was stored. A timestamp
-- PostgreSQL cannot read (the xAPI grammar is wider) falls back to `stored` rather than
-- failing the write.
CREATE FUNCTION learning_instant(ts text, stored timestamptz) RETURNS timestamptz
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
BEGIN
    IF ts IS NULL OR ts !~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+(Z|[+-][0-9]{2}(:?[0-9]{2})?)$' THEN
        RETURN stored;
    END IF;
    RETURN ts::timestamptz;
EXCEPTION WHEN others THEN
    RETURN stored;
END
$$;

-- The lower-cased host of an IRI (`https://www.example.org:8443/a` → `www.example.org`).
CREATE FUNCTION learning_host(iri text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT nullif(rtrim(lower(substring(iri FROM
        '^[A-Za-z][A-Za-z0-9+.-]*://(?:[^/?#@]*@)?([^/?#:\[\]]*)')), '.'), '')
$$;

-- The event row of one stored Statement (its learner NULL when the actor has no IFI).
-- The course is the object when it is typed course, else the first grouping, else the
-- first parent context Activity, else the object. The goal is the goal extension's
-- value (a string), else the id of a goal-typed context Activity.
CREATE FUNCTION learning_event_of(n statements) RETURNS learning_events
LANGUAGE sql STABLE AS $$
    SELECT n.store_id, n.seq, learning_learner(n.body -> 'actor'),
           learning_day(n.body, n.stored), learning_instant(n.body ->> 'timestamp', n.stored),
           n.mode, n.body -> 'verb' ->> 'id', o.activity, o.activity_type,
           learning_host(o.activity),
           CASE WHEN o.activity_type = 'http://adlnet.gov/expapi/activities/course'
                THEN o.activity
                ELSE coalesce(n.body #>> '{context,contextActivities,grouping,0,id}',
                              n.body #>> '{context,contextActivities,parent,0,id}',
                              o.activity) END,
           n.registration,
           coalesce(n.body #>> '{context,team,name}', learning_learner(n.body #> '{context,team}')),
           coalesce(
               CASE WHEN jsonb_typeof(n.body #> '{context,extensions,https://commonplace.dev/xapi/extensions/goal}') = 'string'
                    THEN n.body #>> '{context,extensions,https://commonplace.dev/xapi/extensions/goal}' END,
               jsonb_path_query_first(n.body,
                   '$.context.contextActivities.*[*] ? (@.definition.type == "https://commonplace.dev/xapi/activity-types/goal").id') #>> '{}'),
           learning_seconds(n.body -> 'result' ->> 'duration')
      FROM (SELECT CASE WHEN coalesce(n.body -> 'object' ->> 'objectType', 'Activity') = 'Activity'
                        THEN n.body -> 'object' ->> 'id' END AS activity,
                   CASE WHEN coalesce(n.body -> 'object' ->> 'objectType', 'Activity') = 'Activity'
                        THEN n.body -> 'object' -> 'definition' ->> 'type' END AS activity_type) o
$$;

CREATE FUNCTION learning_events_after_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO learning_events
    SELECT e.*
      FROM new_rows n CROSS JOIN LATERAL learning_event_of(n) e
     WHERE n.mode IS NOT NULL AND NOT n.voided AND n.voids IS NULL AND e.learner IS NOT NULL
     ORDER BY e.store_id, e.seq;
    RETURN NULL;
END
$$;

-- A relabelled or voided Statement: drop its old row and add the new one if it counts.
CREATE FUNCTION learning_events_after_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM learning_events e
     USING old_rows o
     WHERE e.store_id = o.store_id AND e.seq = o.seq;
    INSERT INTO learning_events
    SELECT e.*
      FROM new_rows n CROSS JOIN LATERAL learning_event_of(n) e
     WHERE n.mode IS NOT NULL AND NOT n.voided AND n.voids IS NULL AND e.learner IS NOT NULL
     ORDER BY e.store_id, e.seq;
    RETURN NULL;
END
$$;

CREATE TRIGGER learning_events_insert AFTER INSERT ON statements
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION learning_events_after_insert();

CREATE TRIGGER learning_events_update AFTER UPDATE ON statements
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION learning_events_after_update();

-- Statements stored before this migration.
INSERT INTO learning_events
SELECT e.*
  FROM statements n CROSS JOIN LATERAL learning_event_of(n) e
 WHERE n.mode IS NOT NULL AND NOT n.voided AND n.voids IS NULL AND e.learner IS NOT NULL;

-- Who documented a goal: the team report's goal coverage.
CREATE INDEX learning_events_goals ON learning_events (store_id, learner)
    WHERE activity_type = 'https://commonplace.dev/xapi/activity-types/goal';
