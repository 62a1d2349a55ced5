-- Migration 3: per (client, audience) access-token issuance counts (issue
-- 6, `gatehouse audit --usage`). PostgreSQL's own version of store/sqlite's
-- migration 3. Servers count in memory and add their counts here
-- periodically, so this table sees one upsert per pair per flush, never a
-- write per token. Rows are never deleted: an audit of "granted but never
-- requested" needs the last time a pair was used.
--
-- As in migrations 1 and 2, times are timestamptz in UTC truncated to the
-- millisecond and keys are COLLATE "C" (byte order, case-sensitive).

CREATE TABLE token_usage (
    client_id   text COLLATE "C" NOT NULL CHECK (client_id <> ''),
    audience    text COLLATE "C" NOT NULL CHECK (audience <> ''),
    count       bigint      NOT NULL CHECK (count >= 0),
    last_issued timestamptz NOT NULL,
    PRIMARY KEY (client_id, audience)
);
