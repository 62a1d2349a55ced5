-- Migration 8: clients registered with RFC 7591 dynamic client
-- registration (issue 13). PostgreSQL's own version of store/sqlite's
-- migration 8: times timestamptz (NULL for the zero time), keys COLLATE
-- "C", lists text[]; jwks is the client's JWK Set as given (bytea), NULL
-- for none.

CREATE TABLE registered_clients (
    id            text COLLATE "C" PRIMARY KEY CHECK (id <> ''),
    name          text   NOT NULL,
    redirect_uris text[] NOT NULL,
    grant_types   text[] NOT NULL,
    auth_method   text   NOT NULL,
    jwks          bytea,
    jwks_uri      text   NOT NULL,
    created_at    timestamptz,
    last_used_at  timestamptz,
    expires_at    timestamptz NOT NULL
);

CREATE INDEX registered_clients_expires_at ON registered_clients (expires_at);
