-- Reports over a period asked which learners were active in a directed course, or on a
-- web host, by reading every learner × day row of the rollups (550,000 course rows at a
-- million Statements). These tables keep, per learner and course and per learner, mode
-- and host, the first and last day with activity (and a course's first completion), so
-- a report reads one row per pair: a pair was active in [since, until) when its first
-- or last day falls there, and only a pair spanning the whole period needs its days
-- looked up. Statement-level triggers on the day rollups keep them: rows added or
-- grown widen a span, rows removed (or a completion voided) recompute their pairs.

CREATE TABLE learning_courses (
    store_id         bigint NOT NULL,
    learner          text   NOT NULL,
    course           text   NOT NULL,
    first_day        date,
    last_day         date,
    first_completion date,
    PRIMARY KEY (store_id, learner, course)
);

CREATE TABLE learning_host_learners (
    store_id  bigint NOT NULL,
    mode      text   NOT NULL,
    host      text   NOT NULL,
    learner   text   NOT NULL,
    first_day date,
    last_day  date,
    PRIMARY KEY (store_id, mode, host, learner)
);

-- The day rollups' own indexes by pair, for the spanning-pair lookups and recomputes.
DROP INDEX learning_day_courses_learner;
CREATE INDEX learning_day_courses_learner ON learning_day_courses (store_id, learner, course, day);
CREATE INDEX learning_day_hosts_pair ON learning_day_hosts (store_id, mode, host, learner, day);
-- And by learner, for one learner's report (its top hosts).
CREATE INDEX learning_day_hosts_learner ON learning_day_hosts (store_id, learner, day);

-- Rows added or changed widen their pair's span; rows removed recompute it (a span
-- left empty is a pair without activity: its row goes); a changed row that lost its
-- completions recomputes the pair's first completion.
CREATE FUNCTION learning_courses_follow() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO learning_courses AS c
        SELECT store_id, learner, course, min(day), max(day),
               min(day) FILTER (WHERE completions > 0)
          FROM grown WHERE statements > 0 GROUP BY 1, 2, 3
        ON CONFLICT (store_id, learner, course) DO UPDATE
           SET first_day = least(c.first_day, EXCLUDED.first_day),
               last_day = greatest(c.last_day, EXCLUDED.last_day),
               first_completion = least(c.first_completion, EXCLUDED.first_completion)
         -- Most days fall inside the span already: leave those rows unwritten.
         WHERE EXCLUDED.first_day < c.first_day OR EXCLUDED.last_day > c.last_day
            OR EXCLUDED.first_completion < c.first_completion
            OR (c.first_completion IS NULL AND EXCLUDED.first_completion IS NOT NULL);
    END IF;
    IF TG_OP = 'UPDATE' THEN
        UPDATE learning_courses c
           SET first_completion = (
               SELECT min(d.day) FROM learning_day_courses d
                WHERE d.store_id = c.store_id AND d.learner = c.learner AND d.course = c.course
                  AND d.completions > 0)
          FROM (SELECT DISTINCT n.store_id, n.learner, n.course
                  FROM grown n JOIN shrunk o USING (store_id, day, learner, course)
                 WHERE o.completions > 0 AND n.completions <= 0) p
         WHERE c.store_id = p.store_id AND c.learner = p.learner AND c.course = p.course;
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE learning_courses c
           SET (first_day, last_day, first_completion) = (
               SELECT min(d.day), max(d.day), min(d.day) FILTER (WHERE d.completions > 0)
                 FROM learning_day_courses d
                WHERE d.store_id = c.store_id AND d.learner = c.learner AND d.course = c.course
                  AND d.statements > 0)
          FROM (SELECT DISTINCT store_id, learner, course FROM shrunk) p
         WHERE c.store_id = p.store_id AND c.learner = p.learner AND c.course = p.course;
        DELETE FROM learning_courses c USING (SELECT DISTINCT store_id, learner, course FROM shrunk) p
         WHERE c.store_id = p.store_id AND c.learner = p.learner AND c.course = p.course
           AND c.first_day IS NULL;
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION learning_host_learners_follow() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO learning_host_learners AS h
        SELECT store_id, mode, host, learner, min(day), max(day)
          FROM grown WHERE statements > 0 GROUP BY 1, 2, 3, 4
        ON CONFLICT (store_id, mode, host, learner) DO UPDATE
           SET first_day = least(h.first_day, EXCLUDED.first_day),
               last_day = greatest(h.last_day, EXCLUDED.last_day)
         WHERE EXCLUDED.first_day < h.first_day OR EXCLUDED.last_day > h.last_day;
    ELSE
        UPDATE learning_host_learners h
           SET (first_day, last_day) = (
               SELECT min(d.day), max(d.day) FROM learning_day_hosts d
                WHERE d.store_id = h.store_id AND d.mode = h.mode AND d.host = h.host
                  AND d.learner = h.learner AND d.statements > 0)
          FROM (SELECT DISTINCT store_id, mode, host, learner FROM shrunk) p
         WHERE h.store_id = p.store_id AND h.mode = p.mode AND h.host = p.host
           AND h.learner = p.learner;
        DELETE FROM learning_host_learners h
         USING (SELECT DISTINCT store_id, mode, host, learner FROM shrunk) p
         WHERE h.store_id = p.store_id AND h.mode = p.mode AND h.host = p.host
           AND h.learner = p.learner AND h.first_day IS NULL;
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION learning_spans_clear() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'learning_day_courses' THEN
        TRUNCATE learning_courses;
    ELSE
        TRUNCATE learning_host_learners;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER learning_courses_added AFTER INSERT ON learning_day_courses
    REFERENCING NEW TABLE AS grown FOR EACH STATEMENT EXECUTE FUNCTION learning_courses_follow();
CREATE TRIGGER learning_courses_changed AFTER UPDATE ON learning_day_courses
    REFERENCING OLD TABLE AS shrunk NEW TABLE AS grown
    FOR EACH STATEMENT EXECUTE FUNCTION learning_courses_follow();
CREATE TRIGGER learning_courses_removed AFTER DELETE ON learning_day_courses
    REFERENCING OLD TABLE AS shrunk FOR EACH STATEMENT EXECUTE FUNCTION learning_courses_follow();
CREATE TRIGGER learning_courses_cleared AFTER TRUNCATE ON learning_day_courses
    FOR EACH STATEMENT EXECUTE FUNCTION learning_spans_clear();

CREATE TRIGGER learning_host_learners_added AFTER INSERT ON learning_day_hosts
    REFERENCING NEW TABLE AS grown FOR EACH STATEMENT EXECUTE FUNCTION learning_host_learners_follow();
CREATE TRIGGER learning_host_learners_changed AFTER UPDATE ON learning_day_hosts
    REFERENCING NEW TABLE AS grown FOR EACH STATEMENT EXECUTE FUNCTION learning_host_learners_follow();
CREATE TRIGGER learning_host_learners_removed AFTER DELETE ON learning_day_hosts
    REFERENCING OLD TABLE AS shrunk FOR EACH STATEMENT EXECUTE FUNCTION learning_host_learners_follow();
CREATE TRIGGER learning_host_learners_cleared AFTER TRUNCATE ON learning_day_hosts
    FOR EACH STATEMENT EXECUTE FUNCTION learning_spans_clear();

INSERT INTO learning_courses
SELECT store_id, learner, course, min(day), max(day), min(day) FILTER (WHERE completions > 0)
  FROM learning_day_courses WHERE statements > 0 GROUP BY 1, 2, 3;
INSERT INTO learning_host_learners
SELECT store_id, mode, host, learner, min(day), max(day)
  FROM learning_day_hosts WHERE statements > 0 GROUP BY 1, 2, 3, 4;
