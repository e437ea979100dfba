-- The document resources (State, Activity Profile, Agent Profile): arbitrary content
-- addressed by the kind of resource, its context and the client's id.
--
-- kind: 1 = state (activity_id, agent, registration), 2 = activity profile
-- (activity_id), 3 = agent profile (agent). Columns outside a kind's context are NULL,
-- and NULLS NOT DISTINCT makes a NULL registration one key, not many.
CREATE TABLE documents (
    store_id     bigint      NOT NULL REFERENCES stores (id),
    kind         smallint    NOT NULL CHECK (kind IN (1, 2, 3)),
    activity_id  text,
    agent        text,
    registration uuid,
    doc_id       text        NOT NULL,
    content_type text        NOT NULL,
    content      bytea       NOT NULL,
    etag         text        NOT NULL,
    updated      timestamptz NOT NULL,
    CONSTRAINT documents_key UNIQUE NULLS NOT DISTINCT
        (store_id, kind, activity_id, agent, registration, doc_id)
);

-- Lists of ids by context, optionally since a time.
CREATE INDEX documents_by_context_updated
    ON documents (store_id, kind, activity_id, agent, updated);
