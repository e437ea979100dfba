-- Forwarding (issue 20): each forwarder sends the Statements of one store that match
-- its filter on to another LRS or a webhook, in seq order, from its own position.
--
-- Every server instance runs the delivery engine (src/forwarding). An instance delivers
-- for a forwarder only while it holds the forwarder's row lease: `lease_owner` is a
-- token minted at each claim and `lease_until` its expiry, renewed while it runs. Every
-- write of delivery (a batch recorded or finished, the position moved, a dead letter,
-- the counters) first locks the row where `lease_owner` is still its token, so an owner
-- whose lease was taken over or revoked can never move anything. Row leases rather than
-- session advisory locks, as a connection pooler in transaction mode (PgBouncer) does
-- not keep a session's locks. Instances spread the forwarders by counting the live
-- leases of each other (`lease_instance`): one claims only while it holds no more than
-- the others (forwarding::claim_room).
--
-- Management (`commonplace forwarders …`) writes the row too: pausing, resuming,
-- deleting and `replay --since` clear `lease_owner` and `lease_until` in the same
-- transaction (replay also deletes the forwarder's `forwarder_batches`), so the instance
-- delivering stops within a second and the next claim starts from the row as it now is.
CREATE TABLE forwarders (
    id                bigserial   PRIMARY KEY,
    name              text        NOT NULL UNIQUE,
    store_id          bigint      NOT NULL REFERENCES stores (id),
    kind              text        NOT NULL CHECK (kind IN ('xapi', 'webhook')),
    -- The xAPI endpoint base (Statements are POSTed to `{url}/statements`) or the
    -- webhook URL.
    url               text        NOT NULL,
    -- Secrets, never printed nor logged: {"username", "password"} (xAPI Basic),
    -- {"token_url", "client_id", "client_secret", "scope"} (xAPI OAuth 2.0 client
    -- credentials; scope optional), {"secret"} (webhook HMAC key), {} (no auth).
    auth              jsonb       NOT NULL DEFAULT '{}'::jsonb,
    -- X-Experience-API-Version sent to an xAPI target.
    xapi_version      text        NOT NULL DEFAULT '1.0.3' CHECK (xapi_version IN ('1.0.3', '2.0.0')),
    -- Which Statements go (see forwarding::filter): every key optional.
    filter            jsonb       NOT NULL DEFAULT '{}'::jsonb,
    batch_size        integer     NOT NULL DEFAULT 100 CHECK (batch_size BETWEEN 1 AND 5000),
    -- How long a batch that is not full waits for more Statements before it goes.
    linger_ms         integer     NOT NULL DEFAULT 100 CHECK (linger_ms BETWEEN 0 AND 60000),
    max_in_flight     integer     NOT NULL DEFAULT 4 CHECK (max_in_flight BETWEEN 1 AND 64),
    state             text        NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'paused')),
    -- Every Statement of the store with seq <= position that matches the filter is
    -- delivered or dead-lettered. A new forwarder starts at the newest settled seq
    -- (commonplace_settled_seq()), or at 0 to send what is already stored.
    position          bigint      NOT NULL DEFAULT 0,
    -- Statements the target accepted (or already held), failed attempts (requests
    -- that went wrong and are retried), Statements dead-lettered.
    delivered         bigint      NOT NULL DEFAULT 0,
    failed            bigint      NOT NULL DEFAULT 0,
    dead_lettered     bigint      NOT NULL DEFAULT 0,
    last_error        text,
    last_error_at     timestamptz,
    last_delivered_at timestamptz,
    lease_owner       uuid,
    lease_until       timestamptz,
    -- The engine instance (a random id per server process) holding the lease, while
    -- `lease_owner` is set: instances count each other's leases to share the work.
    lease_instance    uuid,
    created           timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX forwarders_store ON forwarders (store_id);

-- The batches a forwarder has formed beyond its position and not yet passed: each
-- covers the seqs (after_seq, upto_seq] of its store and carries the matching ones.
-- A batch is recorded before it is first sent, so one re-sent after a crash or a
-- takeover has the same delivery id and Statements. The position moves over the
-- contiguous prefix of `done` batches (seqs between batches matched nothing), and the
-- batches it passes are deleted. A batch the target rejects (4xx) is split in two
-- halves, each recorded with its own delivery id, until the one bad Statement is
-- dead-lettered.
CREATE TABLE forwarder_batches (
    forwarder_id bigint      NOT NULL REFERENCES forwarders (id) ON DELETE CASCADE,
    after_seq    bigint      NOT NULL,
    upto_seq     bigint      NOT NULL,
    delivery     uuid        NOT NULL,
    seqs         bigint[]    NOT NULL,
    done         boolean     NOT NULL DEFAULT false,
    PRIMARY KEY (forwarder_id, after_seq),
    CHECK (upto_seq > after_seq)
);

-- Statements a target rejected for themselves (a 4xx for that Statement alone), with
-- the target's status and answer. `replay` asks the engine to send it again
-- (`forwarders replay --dead-letters`); the row is removed once it is delivered, and
-- keeps its `delivery` id across attempts.
CREATE TABLE forwarder_dead_letters (
    forwarder_id bigint      NOT NULL REFERENCES forwarders (id) ON DELETE CASCADE,
    seq          bigint      NOT NULL,
    statement_id uuid        NOT NULL,
    status       integer     NOT NULL,
    answer       text        NOT NULL,
    at           timestamptz NOT NULL DEFAULT now(),
    replay       boolean     NOT NULL DEFAULT false,
    delivery     uuid        NOT NULL DEFAULT gen_random_uuid(),
    PRIMARY KEY (forwarder_id, seq)
);

CREATE INDEX forwarder_dead_letters_replay ON forwarder_dead_letters (forwarder_id) WHERE replay;
