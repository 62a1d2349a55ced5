-- Migration 3: per (client, audience) access-token issuance counts (issue
-- 6, `gatehouse audit --usage`). Servers count in memory and add their
-- counts here periodically, so this table sees one upsert per pair per
-- flush, never a write per token. Rows are never deleted: an audit of
-- "granted but never requested" needs the last time a pair was used.
--
-- As in migrations 1 and 2, times are Unix milliseconds UTC.

CREATE TABLE token_usage (
    client_id   TEXT    NOT NULL CHECK (client_id <> ''),
    audience    TEXT    NOT NULL CHECK (audience <> ''),
    count       INTEGER NOT NULL CHECK (count >= 0),
    last_issued INTEGER NOT NULL,
    PRIMARY KEY (client_id, audience)
) STRICT, WITHOUT ROWID;
