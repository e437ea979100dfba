-- `/reports/modes` by week counted each week's distinct Activities from the daily
-- team rollup (123,000 rows at a million Statements, one per Activity per day) and
-- summed the daily learner rollup (56,000 rows), and `/reports/sources` summed the
-- daily Activity and per-learner host rollups (213,000 host rows). Weekly copies hold
-- one row per week (per learner and mode; per team, mode and Activity; per mode and
-- host, without learners): a report reads them for the weeks wholly inside its period
-- and the daily rows only for the partial weeks at its ends. Statement-
-- level triggers on the daily rollups keep them: whatever is added, changed or removed
-- there is added to or taken from its week, and a week's row goes when nothing is
-- left of it.

-- The Monday of a day's ISO week (2000-01-03 was a Monday).
CREATE FUNCTION learning_week(day date) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT day - ((day - DATE '2000-01-03') % 7 + 7) % 7
$$;

CREATE TABLE learning_learner_weeks (
    store_id    bigint           NOT NULL,
    week        date             NOT NULL,
    learner     text             NOT NULL,
    mode        text             NOT NULL,
    statements  bigint           NOT NULL,
    seconds     double precision NOT NULL,
    timed       bigint           NOT NULL,
    estimated   double precision NOT NULL,
    shares      bigint           NOT NULL,
    goal_linked bigint           NOT NULL,
    PRIMARY KEY (store_id, week, learner, mode)
);

CREATE TABLE learning_activity_weeks (
    store_id   bigint           NOT NULL,
    week       date             NOT NULL,
    team       text             NOT NULL,
    mode       text             NOT NULL,
    activity   text             NOT NULL,
    statements bigint           NOT NULL,
    seconds    double precision NOT NULL,
    estimated  double precision NOT NULL,
    PRIMARY KEY (store_id, week, team, mode, activity)
);

CREATE TABLE learning_host_weeks (
    store_id   bigint           NOT NULL,
    week       date             NOT NULL,
    mode       text             NOT NULL,
    host       text             NOT NULL,
    statements bigint           NOT NULL,
    seconds    double precision NOT NULL,
    estimated  double precision NOT NULL,
    PRIMARY KEY (store_id, week, mode, host)
);

-- Added and changed rows add to their week; removed rows and the old side of changed
-- ones take from it.
CREATE FUNCTION learning_learner_weeks_follow() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO learning_learner_weeks AS w
        SELECT store_id, learning_week(day), learner, mode, sum(statements), sum(seconds),
               sum(timed), sum(estimated), sum(shares), sum(goal_linked)
          FROM grown GROUP BY 1, 2, 3, 4
        ON CONFLICT (store_id, week, learner, mode) DO UPDATE
           SET statements = w.statements + EXCLUDED.statements,
               seconds = w.seconds + EXCLUDED.seconds, timed = w.timed + EXCLUDED.timed,
               estimated = w.estimated + EXCLUDED.estimated,
               shares = w.shares + EXCLUDED.shares,
               goal_linked = w.goal_linked + EXCLUDED.goal_linked;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE learning_learner_weeks w
           SET statements = w.statements - c.statements, seconds = w.seconds - c.seconds,
               timed = w.timed - c.timed, estimated = w.estimated - c.estimated,
               shares = w.shares - c.shares, goal_linked = w.goal_linked - c.goal_linked
          FROM (SELECT store_id, learning_week(day) AS week, learner, mode,
                       sum(statements) AS statements, sum(seconds) AS seconds,
                       sum(timed) AS timed, sum(estimated) AS estimated,
                       sum(shares) AS shares, sum(goal_linked) AS goal_linked
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

CREATE FUNCTION learning_activity_weeks_follow() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO learning_activity_weeks AS w
        SELECT store_id, learning_week(day), team, mode, activity, sum(statements),
               sum(seconds), sum(estimated)
          FROM grown GROUP BY 1, 2, 3, 4, 5
        ON CONFLICT (store_id, week, team, mode, activity) DO UPDATE
           SET statements = w.statements + EXCLUDED.statements,
               seconds = w.seconds + EXCLUDED.seconds,
               estimated = w.estimated + EXCLUDED.estimated;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE learning_activity_weeks w
           SET statements = w.statements - c.statements, seconds = w.seconds - c.seconds,
               estimated = w.estimated - c.estimated
          FROM (SELECT store_id, learning_week(day) AS week, team, mode, activity,
                       sum(statements) AS statements, sum(seconds) AS seconds,
                       sum(estimated) AS estimated
                  FROM shrunk GROUP BY 1, 2, 3, 4, 5) c
         WHERE w.store_id = c.store_id AND w.week = c.week AND w.team = c.team
           AND w.mode = c.mode AND w.activity = c.activity;
        DELETE FROM learning_activity_weeks w
         USING (SELECT DISTINCT store_id, learning_week(day) AS week, team, mode, activity
                  FROM shrunk) c
         WHERE w.store_id = c.store_id AND w.week = c.week AND w.team = c.team
           AND w.mode = c.mode AND w.activity = c.activity AND w.statements <= 0;
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION learning_host_weeks_follow() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO learning_host_weeks AS w
        SELECT store_id, learning_week(day), mode, host, sum(statements), sum(seconds),
               sum(estimated)
          FROM grown GROUP BY 1, 2, 3, 4
        ON CONFLICT (store_id, week, mode, host) DO UPDATE
           SET statements = w.statements + EXCLUDED.statements,
               seconds = w.seconds + EXCLUDED.seconds,
               estimated = w.estimated + EXCLUDED.estimated;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE learning_host_weeks w
           SET statements = w.statements - c.statements, seconds = w.seconds - c.seconds,
               estimated = w.estimated - c.estimated
          FROM (SELECT store_id, learning_week(day) AS week, mode, host,
                       sum(statements) AS statements, sum(seconds) AS seconds,
                       sum(estimated) AS estimated
                  FROM shrunk GROUP BY 1, 2, 3, 4) c
         WHERE w.store_id = c.store_id AND w.week = c.week AND w.mode = c.mode
           AND w.host = c.host;
        DELETE FROM learning_host_weeks w
         USING (SELECT DISTINCT store_id, learning_week(day) AS week, mode, host FROM shrunk) c
         WHERE w.store_id = c.store_id AND w.week = c.week AND w.mode = c.mode
           AND w.host = c.host AND w.statements <= 0;
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION learning_weeks_clear() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'learning_days' THEN
        TRUNCATE learning_learner_weeks;
    ELSIF TG_TABLE_NAME = 'learning_activity_days' THEN
        TRUNCATE learning_activity_weeks;
    ELSE
        TRUNCATE learning_host_weeks;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER learning_learner_weeks_added AFTER INSERT ON learning_days
    REFERENCING NEW TABLE AS grown
    FOR EACH STATEMENT EXECUTE FUNCTION learning_learner_weeks_follow();
CREATE TRIGGER learning_learner_weeks_changed AFTER UPDATE ON learning_days
    REFERENCING OLD TABLE AS shrunk NEW TABLE AS grown
    FOR EACH STATEMENT EXECUTE FUNCTION learning_learner_weeks_follow();
CREATE TRIGGER learning_learner_weeks_removed AFTER DELETE ON learning_days
    REFERENCING OLD TABLE AS shrunk
    FOR EACH STATEMENT EXECUTE FUNCTION learning_learner_weeks_follow();
CREATE TRIGGER learning_learner_weeks_cleared AFTER TRUNCATE ON learning_days
    FOR EACH STATEMENT EXECUTE FUNCTION learning_weeks_clear();

CREATE TRIGGER learning_activity_weeks_added AFTER INSERT ON learning_activity_days
    REFERENCING NEW TABLE AS grown
    FOR EACH STATEMENT EXECUTE FUNCTION learning_activity_weeks_follow();
CREATE TRIGGER learning_activity_weeks_changed AFTER UPDATE ON learning_activity_days
    REFERENCING OLD TABLE AS shrunk NEW TABLE AS grown
    FOR EACH STATEMENT EXECUTE FUNCTION learning_activity_weeks_follow();
CREATE TRIGGER learning_activity_weeks_removed AFTER DELETE ON learning_activity_days
    REFERENCING OLD TABLE AS shrunk
    FOR EACH STATEMENT EXECUTE FUNCTION learning_activity_weeks_follow();
CREATE TRIGGER learning_activity_weeks_cleared AFTER TRUNCATE ON learning_activity_days
    FOR EACH STATEMENT EXECUTE FUNCTION learning_weeks_clear();

CREATE TRIGGER learning_host_weeks_added AFTER INSERT ON learning_day_hosts
    REFERENCING NEW TABLE AS grown
    FOR EACH STATEMENT EXECUTE FUNCTION learning_host_weeks_follow();
CREATE TRIGGER learning_host_weeks_changed AFTER UPDATE ON learning_day_hosts
    REFERENCING OLD TABLE AS shrunk NEW TABLE AS grown
    FOR EACH STATEMENT EXECUTE FUNCTION learning_host_weeks_follow();
CREATE TRIGGER learning_host_weeks_removed AFTER DELETE ON learning_day_hosts
    REFERENCING OLD TABLE AS shrunk
    FOR EACH STATEMENT EXECUTE FUNCTION learning_host_weeks_follow();
CREATE TRIGGER learning_host_weeks_cleared AFTER TRUNCATE ON learning_day_hosts
    FOR EACH STATEMENT EXECUTE FUNCTION learning_weeks_clear();

INSERT INTO learning_learner_weeks
SELECT store_id, learning_week(day), learner, mode, sum(statements), sum(seconds), sum(timed),
       sum(estimated), sum(shares), sum(goal_linked)
  FROM learning_days GROUP BY 1, 2, 3, 4;
INSERT INTO learning_activity_weeks
SELECT store_id, learning_week(day), team, mode, activity, sum(statements), sum(seconds),
       sum(estimated)
  FROM learning_activity_days GROUP BY 1, 2, 3, 4, 5;
INSERT INTO learning_host_weeks
SELECT store_id, learning_week(day), mode, host, sum(statements), sum(seconds), sum(estimated)
  FROM learning_day_hosts GROUP BY 1, 2, 3, 4;

ANALYZE learning_courses, learning_host_learners, learning_learner_weeks, learning_activity_weeks,
        learning_host_weeks;
