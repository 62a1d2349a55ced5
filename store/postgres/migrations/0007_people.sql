-- Migration 7: people and single-use values (issue 12), and how a sign-in
-- authenticated (RFC 8176 "amr"), carried from the session to the code and
-- the refresh family, so an ID token issued at the code's redemption or at
-- a refresh says it. PostgreSQL's own version of store/sqlite's migration
-- 7.
--
-- As in migrations 1 to 6, times are timestamptz in UTC truncated to the
-- millisecond, NULL standing for the zero time, keys are COLLATE "C", and
-- lists are text[] ('{}' when empty, never NULL).

ALTER TABLE sessions ADD COLUMN amr text[] NOT NULL DEFAULT '{}';
ALTER TABLE auth_codes ADD COLUMN amr text[] NOT NULL DEFAULT '{}';
ALTER TABLE refresh_families ADD COLUMN amr text[] NOT NULL DEFAULT '{}';

-- Local users (source '', managed with `gatehouse users`) and the people
-- identity sources vouched for (source is the source's ID, subject
-- "source:sub"). claims is the JSON object of user claims as given (bytea,
-- not jsonb, which would rewrite it), NULL for none; password_hash is an
-- argon2id PHC string, '' when the person has no password here.
CREATE TABLE people (
    subject       text COLLATE "C" PRIMARY KEY CHECK (subject <> ''),
    source        text COLLATE "C" NOT NULL,
    username      text COLLATE "C" NOT NULL CHECK (username <> ''),
    password_hash text    NOT NULL,
    claims        bytea,
    groups_list   text[]  NOT NULL,
    disabled      boolean NOT NULL DEFAULT false,
    created_at    timestamptz,
    updated_at    timestamptz,
    last_sign_in  timestamptz
);

-- LocalUser finds a local user by username, which is unique among them;
-- people from sources may share a username with anyone.
CREATE UNIQUE INDEX people_local_username ON people (username) WHERE source = '';

-- Single-use values (an upstream sign-in's state, a DPoP proof's jti),
-- remembered until expires_at; DeleteExpired removes them after that.
CREATE TABLE once (
    key        text COLLATE "C" PRIMARY KEY CHECK (key <> ''),
    expires_at timestamptz NOT NULL
);

CREATE INDEX once_expires_at ON once (expires_at);
