-- Web hosts a store refuses to record from browser capture (credentials tagged
-- `source=browser`), managed with `commonplace hosts deny|allow|list`. A denied host
-- covers its subdomains too: `example.org` also denies `www.example.org`.
CREATE TABLE denied_hosts (
    store_id bigint      NOT NULL REFERENCES stores (id),
    host     text        NOT NULL,
    added    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (store_id, host)
);
