-- Tenants. Every stored row belongs to exactly one store.
CREATE TABLE stores (
    id      bigserial   PRIMARY KEY,
    name    text        NOT NULL UNIQUE,
    created timestamptz NOT NULL DEFAULT now()
);

INSERT INTO stores (name) VALUES ('default');

-- HTTP Basic credentials. Only a hash of the secret is kept.
CREATE TABLE credentials (
    key         text        PRIMARY KEY,
    store_id    bigint      NOT NULL REFERENCES stores (id),
    name        text        NOT NULL,
    secret_hash bytea       NOT NULL,
    scopes      text[]      NOT NULL,
    tags        jsonb       NOT NULL DEFAULT '{}'::jsonb,
    created     timestamptz NOT NULL DEFAULT now(),
    revoked     timestamptz
);

CREATE INDEX credentials_store ON credentials (store_id);
