-- The version of everything the reports read, so the server can keep a report's answer
-- and give it again until something it was computed from changes (src/http/report_cache.rs).
--
-- The reports read the learning feed's events and rollups, the roster and the stores'
-- names. The events and rollups change only in the feed's passes, redos, regrouping and
-- restarts; the names the reports give learners and Activities are written with their
-- Statements, which a later pass folds in. So the version moves with the feed's position,
-- with every change to the events (a redo changes them without moving the position),
-- and with every change to the roster or a store. It lives in the feed's own row, which
-- only the feed (under its advisory lock) and these rare writers update: no writer of
-- Statements ever waits on it. A reader reads it from the same database (primary or
-- replica) in the same way as the figures, so a version always names one state of them.
ALTER TABLE learning_feed ADD COLUMN report_version bigint NOT NULL DEFAULT 0;

CREATE FUNCTION learning_feed_moved() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.last_seq IS DISTINCT FROM OLD.last_seq
       OR NEW.session_gap IS DISTINCT FROM OLD.session_gap
       OR NEW.estimate_cap IS DISTINCT FROM OLD.estimate_cap THEN
        NEW.report_version := OLD.report_version + 1;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER learning_feed_moved BEFORE UPDATE ON learning_feed
    FOR EACH ROW EXECUTE FUNCTION learning_feed_moved();

CREATE FUNCTION report_inputs_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE learning_feed SET report_version = report_version + 1;
    RETURN NULL;
END
$$;

-- The fold runs its statements on `learning_events` in every pass, most of them on no
-- row when there is nothing to redo: only a statement that changed a row moves the
-- version, so an idle feed leaves it where it is.
CREATE FUNCTION learning_events_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT FROM changed_rows) THEN
        UPDATE learning_feed SET report_version = report_version + 1;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER report_inputs_events_added AFTER INSERT ON learning_events
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION learning_events_changed();
CREATE TRIGGER report_inputs_events_changed AFTER UPDATE ON learning_events
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION learning_events_changed();
CREATE TRIGGER report_inputs_events_removed AFTER DELETE ON learning_events
    REFERENCING OLD TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION learning_events_changed();
CREATE TRIGGER report_inputs_events_cleared AFTER TRUNCATE ON learning_events
    FOR EACH STATEMENT EXECUTE FUNCTION report_inputs_changed();
CREATE TRIGGER report_inputs_roster AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON roster
    FOR EACH STATEMENT EXECUTE FUNCTION report_inputs_changed();
CREATE TRIGGER report_inputs_stores AFTER INSERT OR UPDATE OR DELETE ON stores
    FOR EACH STATEMENT EXECUTE FUNCTION report_inputs_changed();
