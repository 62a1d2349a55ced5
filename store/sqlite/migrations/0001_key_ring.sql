-- Migration 1: the signing key ring (store.KeyStore).
--
-- The ring is replaced as a whole by compare-and-swap on key_ring.version,
-- so key_ring holds exactly one row. Times are Unix milliseconds UTC; NULL
-- stands for the zero time.

CREATE TABLE key_ring (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL CHECK (version >= 0)
);

INSERT INTO key_ring (id, version) VALUES (1, 0);

CREATE TABLE keys (
    kid           TEXT    PRIMARY KEY NOT NULL,
    -- position keeps the order SwapKeyRing was given, which KeyRing returns.
    position      INTEGER NOT NULL,
    alg           TEXT    NOT NULL,
    state         TEXT    NOT NULL CHECK (state IN ('next', 'active', 'retired')),
    private       BLOB    NOT NULL,
    public        BLOB    NOT NULL,
    created_at    INTEGER,
    activated_at  INTEGER,
    retired_at    INTEGER,
    publish_until INTEGER
) STRICT;
