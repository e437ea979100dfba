-- One row per `commonplace erase` run: when, who asked, whom (as a SHA-256 of the
-- IFI, so the audit keeps no personal data), where, and what was removed.
CREATE TABLE erasure_audit (
    id             bigserial   PRIMARY KEY,
    at             timestamptz NOT NULL DEFAULT now(),
    requested_by   text        NOT NULL,
    ifi_sha256     text        NOT NULL,
    store          text,
    statements     bigint      NOT NULL,
    documents      bigint      NOT NULL,
    attachments    bigint      NOT NULL,
    agents         bigint      NOT NULL
);
