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
