-- The keys that sign the LRS's own OAuth 2.0 access tokens (`POST /oauth/token`).
-- The newest key signs until it is older than the rotation period; a key stays
-- published (`/.well-known/jwks.json`) until every token it signed has expired. The
-- private key is kept here, in PKCS#8, so that every instance on this database signs
-- and verifies with the same keys: protect the database (and its backups) accordingly.
CREATE TABLE oauth_keys (
    kid         text        PRIMARY KEY,
    private_key bytea       NOT NULL,
    created     timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX oauth_keys_created ON oauth_keys (created);
