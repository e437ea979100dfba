-- Capture (the browser extension): enrolment codes, each store's capture policy, and
-- credentials bound to one learner.

-- One-time codes a learner exchanges for a credential (`POST /capture/enrol`). Only a
-- SHA-256 hash of the code is kept. A code is used once: redeeming it locks its row,
-- so two redemptions at once cannot both succeed.
CREATE TABLE capture_codes (
    id         bigserial   PRIMARY KEY,
    store_id   bigint      NOT NULL REFERENCES stores (id),
    -- The learner's IFI as the LRS writes it (`mbox:mailto:…`).
    learner    text        NOT NULL,
    code_hash  bytea       NOT NULL UNIQUE,
    created    timestamptz NOT NULL DEFAULT now(),
    expires    timestamptz NOT NULL,
    used       timestamptz,
    revoked    timestamptz,
    -- The credential the code was exchanged for.
    credential text        REFERENCES credentials (key)
);

CREATE INDEX capture_codes_store ON capture_codes (store_id, created);

-- What the extension respects (`commonplace capture policy`); a store without a row
-- has the defaults.
CREATE TABLE capture_policies (
    store_id              bigint  PRIMARY KEY REFERENCES stores (id),
    minimum_dwell_seconds integer NOT NULL DEFAULT 30 CHECK (minimum_dwell_seconds >= 0),
    site_only             boolean NOT NULL DEFAULT false
);

-- The learner a credential is bound to (an enrolled extension): it may write only as
-- them, and read and keep documents only of them.
ALTER TABLE credentials ADD COLUMN learner text;
