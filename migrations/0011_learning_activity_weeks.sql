-- `/reports/modes` by week counted each week's distinct Activities from the daily
-- team rollup (123,000 rows at a million Statements, one per Activity per day). This
-- weekly copy holds one row per week, team, mode and Activity (about a fifth of the
-- rows); a report reads it for the weeks wholly inside its period and the daily rows
-- only for the partial weeks at its ends. A statement-level trigger on the daily
-- rollup keeps it: whatever is added, changed or removed there is added to or taken
-- from its week, and a week's row goes when nothing is left of it.

-- The Monday of a day's ISO week (2000-01-03 was a Monday).
CREATE FUNCTION learning_week(day date) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT day - ((day - DATE '2000-01-03') % 7 + 7) % 7
$$;

CREATE TABLE learning_activity_weeks (
    store_id   bigint NOT NULL,
    week       date   NOT NULL,
    team       text   NOT NULL,
    mode       text   NOT NULL,
    activity   text   NOT NULL,
    statements bigint NOT NULL,
    PRIMARY KEY (store_id, week, team, mode, activity)
);

CREATE FUNCTION learning_activity_weeks_follow() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO learning_activity_weeks AS w
        SELECT store_id, learning_week(day), team, mode, activity, sum(statements)
          FROM grown GROUP BY 1, 2, 3, 4, 5
        ON CONFLICT (store_id, week, team, mode, activity) DO UPDATE
           SET statements = w.statements + EXCLUDED.statements;
        RETURN NULL;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        INSERT INTO learning_activity_weeks AS w
        SELECT store_id, learning_week(day), team, mode, activity, sum(statements)
          FROM (SELECT store_id, day, team, mode, activity, statements FROM grown
                UNION ALL
                SELECT store_id, day, team, mode, activity, -statements FROM shrunk) c
         GROUP BY 1, 2, 3, 4, 5
        ON CONFLICT (store_id, week, team, mode, activity) DO UPDATE
           SET statements = w.statements + EXCLUDED.statements;
    ELSE
        UPDATE learning_activity_weeks w SET statements = w.statements - c.statements
          FROM (SELECT store_id, learning_week(day) AS week, team, mode, activity,
                       sum(statements) AS statements
                  FROM shrunk GROUP BY 1, 2, 3, 4, 5) c
         WHERE w.store_id = c.store_id AND w.week = c.week AND w.team = c.team
           AND w.mode = c.mode AND w.activity = c.activity;
    END IF;
    DELETE FROM learning_activity_weeks w
     USING (SELECT DISTINCT store_id, learning_week(day) AS week, team, mode, activity
              FROM shrunk) c
     WHERE w.store_id = c.store_id AND w.week = c.week AND w.team = c.team
       AND w.mode = c.mode AND w.activity = c.activity AND w.statements <= 0;
    RETURN NULL;
END
$$;

CREATE FUNCTION learning_activity_weeks_clear() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE learning_activity_weeks;
    RETURN NULL;
END
$$;

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
    FOR EACH STATEMENT EXECUTE FUNCTION learning_activity_weeks_clear();

INSERT INTO learning_activity_weeks
SELECT store_id, learning_week(day), team, mode, activity, sum(statements)
  FROM learning_activity_days GROUP BY 1, 2, 3, 4, 5;

ANALYZE learning_courses, learning_host_learners, learning_activity_weeks;
