-- Migration 2: the runtime state of browser sign-in (issue 4): authorization
-- codes, refresh families and tokens, access records, sessions, consents.
-- PostgreSQL's own version of store/sqlite's migration 2.
--
-- As in migration 1, times are timestamptz in UTC truncated to the
-- millisecond, NULL standing for the zero time, and keys are COLLATE "C".
-- Lists (scopes, audience) are text[]: order and duplicates are kept, and
-- an empty list is '{}' (never NULL). Codes, refresh tokens and sessions
-- are keyed by the caller's hash of the secret; the secret itself never
-- reaches the database.
--
-- Every table that DeleteExpired sweeps has an index on expires_at, so each
-- bounded batch finds its rows without a scan; the other lookups go by
-- primary key or by the indexes named below.

CREATE TABLE auth_codes (
    hash                  text COLLATE "C" PRIMARY KEY CHECK (hash <> ''),
    client_id             text   NOT NULL,
    redirect_uri          text   NOT NULL,
    code_challenge        text   NOT NULL,
    code_challenge_method text   NOT NULL,
    nonce                 text   NOT NULL,
    subject               text   NOT NULL,
    scopes                text[] NOT NULL,
    audience              text[] NOT NULL,
    auth_time             timestamptz,
    session_id            text   NOT NULL,
    created_at            timestamptz,
    expires_at            timestamptz NOT NULL,
    -- Set by the redemption, together with what it issued.
    used_at               timestamptz,
    issued_family_id      text   NOT NULL DEFAULT '',
    issued_access_jti     text   NOT NULL DEFAULT '',
    issued_access_exp     timestamptz
);

CREATE INDEX auth_codes_expires_at ON auth_codes (expires_at);

CREATE TABLE refresh_families (
    id         text COLLATE "C" PRIMARY KEY CHECK (id <> ''),
    client_id  text   NOT NULL,
    subject    text   NOT NULL,
    scopes     text[] NOT NULL,
    audience   text[] NOT NULL,
    session_id text COLLATE "C" NOT NULL,
    auth_time  timestamptz,
    created_at timestamptz,
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz
);

-- Logout revokes the live families of a session; revoked ones never match
-- again, so the index keeps only live families.
CREATE INDEX refresh_families_session_id ON refresh_families (session_id) WHERE revoked_at IS NULL;
CREATE INDEX refresh_families_expires_at ON refresh_families (expires_at);

CREATE TABLE refresh_tokens (
    hash       text COLLATE "C" PRIMARY KEY CHECK (hash <> ''),
    -- CASCADE is a safety net: DeleteExpired removes a family's tokens
    -- explicitly before the family, so it can count them.
    family_id  text COLLATE "C" NOT NULL REFERENCES refresh_families (id) ON DELETE CASCADE,
    created_at timestamptz,
    expires_at timestamptz NOT NULL,
    rotated_at timestamptz
);

-- Needed by the foreign key (deleting a family) and by DeleteExpired.
CREATE INDEX refresh_tokens_family_id ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_expires_at ON refresh_tokens (expires_at);

-- One row per access token that is recorded (user flows) or revoked
-- directly (RFC 7009), whichever comes first. family_id has no foreign key
-- on purpose: a revocation may name a jti of no family, and DeleteExpired
-- keeps a family while any of its access records is unexpired instead.
CREATE TABLE access_tokens (
    jti        text COLLATE "C" PRIMARY KEY CHECK (jti <> ''),
    family_id  text COLLATE "C",
    expires_at timestamptz NOT NULL,
    revoked    boolean NOT NULL DEFAULT false
);

-- Used by DeleteExpired's "is any access record of this family still
-- live?" check.
CREATE INDEX access_tokens_family_id ON access_tokens (family_id);
CREATE INDEX access_tokens_expires_at ON access_tokens (expires_at);

CREATE TABLE sessions (
    id         text COLLATE "C" PRIMARY KEY CHECK (id <> ''),
    subject    text NOT NULL,
    auth_time  timestamptz,
    created_at timestamptz,
    expires_at timestamptz NOT NULL
);

CREATE INDEX sessions_expires_at ON sessions (expires_at);

CREATE TABLE consents (
    subject    text COLLATE "C" NOT NULL CHECK (subject <> ''),
    client_id  text COLLATE "C" NOT NULL CHECK (client_id <> ''),
    scopes     text[] NOT NULL,
    audience   text[] NOT NULL,
    granted_at timestamptz,
    PRIMARY KEY (subject, client_id)
);
