-- What the insight reports of issue 19 (store::insight) read that no rollup holds,
-- kept small (issue 18 is about bytes per Statement).
--
-- Goal links: the goal report's goal-linked time, the stale goals' last linked day per
-- learner and goal, and the colleagues of a goal read the Statements linked to a goal.
-- `learning_events` has no index on its goal, so each read every event of the period
-- (a million at a million Statements). This partial index holds only linked events
-- (one in six in the demo), with what those reads need, so they are index-only: one
-- descent per learner and goal for a last linked day. About 22 bytes per Statement
-- (22 MB at 1.03 million demo Statements).
CREATE INDEX learning_events_goal_links ON learning_events (store_id, goal, learner, day)
    INCLUDE (activity, mode, seconds, estimated) WHERE goal IS NOT NULL;

-- Shares: the most shared items count the sharing Statements per Activity. The day
-- rollups count shares per learner only, and an event's verb is a label id that
-- differs from store to store, so no partial index can select them. One narrow row per
-- sharing Statement with an Activity object (one in fifteen in the demo; 12 bytes per
-- Statement with its index), kept by statement-level triggers on `learning_events` as
-- the rollups of 0010 and 0011 are kept on the day rollups: the fold adds and removes
-- events, and its restart truncates them.
CREATE TABLE learning_shares (
    store_id bigint NOT NULL,
    day      date   NOT NULL,
    seq      bigint NOT NULL,
    learner  bigint NOT NULL,
    activity bigint NOT NULL,
    PRIMARY KEY (store_id, day, seq) INCLUDE (activity, learner)
);

-- The verbs that share a find: `store::learning::SHARE_VERBS`, which the fold also
-- counts shares by.
CREATE FUNCTION learning_share_verb_keys() RETURNS uuid[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ARRAY[commonplace_term_key('http://adlnet.gov/expapi/verbs/shared'),
                 commonplace_term_key('http://activitystrea.ms/schema/1.0/share')]
$$;

CREATE FUNCTION learning_shares_follow() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO learning_shares
        SELECT n.store_id, n.day, n.seq, n.learner, n.activity
          FROM added n
         WHERE n.activity IS NOT NULL
           AND n.verb IN (SELECT v.id FROM learning_labels v
                           WHERE (v.store_id, v.key) IN (
                                 SELECT s.store_id, k
                                   FROM (SELECT DISTINCT store_id FROM added) s,
                                        unnest(learning_share_verb_keys()) AS k));
    ELSIF TG_OP = 'DELETE' THEN
        DELETE FROM learning_shares s USING removed o
         WHERE s.store_id = o.store_id AND s.day = o.day AND s.seq = o.seq;
    ELSE
        TRUNCATE learning_shares;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER learning_shares_added AFTER INSERT ON learning_events
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION learning_shares_follow();
CREATE TRIGGER learning_shares_removed AFTER DELETE ON learning_events
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION learning_shares_follow();
CREATE TRIGGER learning_shares_cleared AFTER TRUNCATE ON learning_events
    FOR EACH STATEMENT EXECUTE FUNCTION learning_shares_follow();

INSERT INTO learning_shares
SELECT e.store_id, e.day, e.seq, e.learner, e.activity
  FROM learning_events e JOIN learning_labels v ON v.id = e.verb
 WHERE e.activity IS NOT NULL AND v.key = ANY(learning_share_verb_keys());
