-- Dashboard sign-in with an OpenID Provider (`--oidc-client-id`): sign-ins under way
-- (the `state` of an authorization request, with its nonce and PKCE verifier, used
-- once) and the sessions they open. Both are keyed by the SHA-256 of a random value
-- the browser holds, so the database alone cannot be used to take over a session.
CREATE TABLE sign_in_attempts (
    state_hash  bytea       PRIMARY KEY,
    nonce       text        NOT NULL,
    verifier    text        NOT NULL,
    return_to   text        NOT NULL,
    expires     timestamptz NOT NULL
);

CREATE TABLE sessions (
    id_hash     bytea       PRIMARY KEY,
    store_id    bigint      NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    issuer      text        NOT NULL,
    subject     text        NOT NULL,
    name        text        NOT NULL,
    reports     boolean     NOT NULL,
    created     timestamptz NOT NULL DEFAULT now(),
    expires     timestamptz NOT NULL
);

CREATE INDEX sessions_expires ON sessions (expires);
CREATE INDEX sign_in_attempts_expires ON sign_in_attempts (expires);
