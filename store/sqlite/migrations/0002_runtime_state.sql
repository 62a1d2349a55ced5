-- Migration 2: the runtime state of browser sign-in (issue 4): authorization
-- codes, refresh families and tokens, access records, sessions, consents.
--
-- As in migration 1, times are Unix milliseconds UTC and NULL stands for
-- the zero time. Lists (scopes, audience) are JSON arrays of strings.
-- Codes, refresh tokens and sessions are keyed by the caller's hash of the
-- secret; the secret itself never reaches the database.
--
-- Every table that DeleteExpired sweeps has an index on expires_at, so each
-- bounded batch finds its rows without a scan. Tables keep their rowid
-- (no WITHOUT ROWID) because the batches delete by rowid.

CREATE TABLE auth_codes (
    hash                  TEXT    PRIMARY KEY NOT NULL CHECK (hash <> ''),
    client_id             TEXT    NOT NULL,
    redirect_uri          TEXT    NOT NULL,
    code_challenge        TEXT    NOT NULL,
    code_challenge_method TEXT    NOT NULL,
    nonce                 TEXT    NOT NULL,
    subject               TEXT    NOT NULL,
    scopes                TEXT    NOT NULL,
    audience              TEXT    NOT NULL,
    auth_time             INTEGER,
    session_id            TEXT    NOT NULL,
    created_at            INTEGER,
    expires_at            INTEGER NOT NULL,
    -- Set by the redemption, together with what it issued.
    used_at               INTEGER,
    issued_family_id      TEXT    NOT NULL DEFAULT '',
    issued_access_jti     TEXT    NOT NULL DEFAULT '',
    issued_access_exp     INTEGER
) STRICT;

CREATE INDEX auth_codes_expires_at ON auth_codes (expires_at);

CREATE TABLE refresh_families (
    id         TEXT    PRIMARY KEY NOT NULL CHECK (id <> ''),
    client_id  TEXT    NOT NULL,
    subject    TEXT    NOT NULL,
    scopes     TEXT    NOT NULL,
    audience   TEXT    NOT NULL,
    session_id TEXT    NOT NULL,
    auth_time  INTEGER,
    created_at INTEGER,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER
) STRICT;

-- Logout revokes by session.
CREATE INDEX refresh_families_session_id ON refresh_families (session_id);
CREATE INDEX refresh_families_expires_at ON refresh_families (expires_at);

CREATE TABLE refresh_tokens (
    hash       TEXT    PRIMARY KEY NOT NULL CHECK (hash <> ''),
    -- CASCADE is a safety net: DeleteExpired removes a family's tokens
    -- explicitly before the family, so it can count them.
    family_id  TEXT    NOT NULL REFERENCES refresh_families (id) ON DELETE CASCADE,
    created_at INTEGER,
    expires_at INTEGER NOT NULL,
    rotated_at INTEGER
) STRICT;

-- Needed by the foreign key (deleting a family) and by DeleteExpired.
CREATE INDEX refresh_tokens_family_id ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_expires_at ON refresh_tokens (expires_at);

-- One row per access token that is recorded (user flows) or revoked
-- directly (RFC 7009), whichever comes first. family_id has no foreign key
-- on purpose: a revocation may name a jti of no family, and DeleteExpired
-- keeps a family while any of its access records is unexpired instead.
CREATE TABLE access_tokens (
    jti        TEXT    PRIMARY KEY NOT NULL CHECK (jti <> ''),
    family_id  TEXT,
    expires_at INTEGER NOT NULL,
    revoked    INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1))
) STRICT;

CREATE INDEX access_tokens_family_id ON access_tokens (family_id);
CREATE INDEX access_tokens_expires_at ON access_tokens (expires_at);

CREATE TABLE sessions (
    id         TEXT    PRIMARY KEY NOT NULL CHECK (id <> ''),
    subject    TEXT    NOT NULL,
    auth_time  INTEGER,
    created_at INTEGER,
    expires_at INTEGER NOT NULL
) STRICT;

CREATE INDEX sessions_expires_at ON sessions (expires_at);

CREATE TABLE consents (
    subject    TEXT    NOT NULL CHECK (subject <> ''),
    client_id  TEXT    NOT NULL CHECK (client_id <> ''),
    scopes     TEXT    NOT NULL,
    audience   TEXT    NOT NULL,
    granted_at INTEGER,
    PRIMARY KEY (subject, client_id)
) STRICT;
