-- Migration 1: the signing key ring (store.KeyStore). PostgreSQL's own
-- version of store/sqlite's migration 1: same tables, same meaning, same
-- version number, so `gatehouse migrate` reports the same schema version
-- on either backend.
--
-- The ring is replaced as a whole by compare-and-swap on key_ring.version,
-- so key_ring holds exactly one row. Times are timestamptz, written in UTC
-- and truncated to the millisecond (the store contract's precision); NULL
-- stands for the zero time. Identifiers use COLLATE "C": they are compared
-- byte for byte, never by a locale.

CREATE TABLE key_ring (
    id      integer PRIMARY KEY CHECK (id = 1),
    version bigint  NOT NULL CHECK (version >= 0)
);

INSERT INTO key_ring (id, version) VALUES (1, 0);

CREATE TABLE keys (
    kid           text COLLATE "C" PRIMARY KEY,
    -- position keeps the order SwapKeyRing was given, which KeyRing returns.
    position      integer NOT NULL,
    alg           text    NOT NULL,
    state         text    NOT NULL CHECK (state IN ('next', 'active', 'retired')),
    private       bytea   NOT NULL,
    public        bytea   NOT NULL,
    created_at    timestamptz,
    activated_at  timestamptz,
    retired_at    timestamptz,
    publish_until timestamptz
);
