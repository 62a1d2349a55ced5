-- Migration 7: people and single-use values (issue 12), and how a sign-in
-- authenticated (RFC 8176 "amr"), carried from the session to the code and
-- the refresh family, so an ID token issued at the code's redemption or at
-- a refresh says it.
--
-- As in migrations 1 to 6, times are Unix milliseconds UTC, NULL standing
-- for the zero time, and lists are JSON arrays of strings.

ALTER TABLE sessions ADD COLUMN amr TEXT NOT NULL DEFAULT '[]';
ALTER TABLE auth_codes ADD COLUMN amr TEXT NOT NULL DEFAULT '[]';
ALTER TABLE refresh_families ADD COLUMN amr TEXT NOT NULL DEFAULT '[]';

-- Local users (source '', managed with `gatehouse users`) and the people
-- identity sources vouched for (source is the source's ID, subject
-- "source:sub"). claims is the JSON object of user claims as given, NULL
-- for none; password_hash is an argon2id PHC string, '' when the person
-- has no password here.
CREATE TABLE people (
    subject       TEXT    PRIMARY KEY NOT NULL CHECK (subject <> ''),
    source        TEXT    NOT NULL,
    username      TEXT    NOT NULL CHECK (username <> ''),
    password_hash TEXT    NOT NULL,
    claims        BLOB,
    groups_list   TEXT    NOT NULL,
    disabled      INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    created_at    INTEGER,
    updated_at    INTEGER,
    last_sign_in  INTEGER
) STRICT;

-- LocalUser finds a local user by username, which is unique among them;
-- people from sources may share a username with anyone.
CREATE UNIQUE INDEX people_local_username ON people (username) WHERE source = '';

-- Single-use values (an upstream sign-in's state, a DPoP proof's jti),
-- remembered until expires_at; DeleteExpired removes them after that.
CREATE TABLE once (
    key        TEXT    PRIMARY KEY NOT NULL CHECK (key <> ''),
    expires_at INTEGER NOT NULL
) STRICT;

CREATE INDEX once_expires_at ON once (expires_at);
