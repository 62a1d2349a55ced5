-- Migration 8: clients registered with RFC 7591 dynamic client
-- registration (issue 13). Times are Unix milliseconds UTC (NULL for the
-- zero time), lists JSON arrays of strings, as in migrations 1 to 7; jwks
-- is the client's JWK Set as given, NULL for none.

CREATE TABLE registered_clients (
    id            TEXT    PRIMARY KEY NOT NULL CHECK (id <> ''),
    name          TEXT    NOT NULL,
    redirect_uris TEXT    NOT NULL,
    grant_types   TEXT    NOT NULL,
    auth_method   TEXT    NOT NULL,
    jwks          BLOB,
    jwks_uri      TEXT    NOT NULL,
    created_at    INTEGER,
    last_used_at  INTEGER,
    expires_at    INTEGER NOT NULL
) STRICT;

CREATE INDEX registered_clients_expires_at ON registered_clients (expires_at);
