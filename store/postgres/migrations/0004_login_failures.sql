-- Migration 4: failed sign-ins, one row per failure, so the per-user login
-- lockout holds across every instance sharing the database (issue 5, item
-- 2). PostgreSQL's own version of store/sqlite's migration 4. The key is
-- the server's hash of the username, never the username. Rows older than
-- store.LoginFailureRetention are removed by DeleteExpired.
--
-- As in migrations 1 to 3, times are timestamptz in UTC truncated to the
-- millisecond and keys are COLLATE "C" (byte order, exact comparison).
--
-- Two failures of one key at one millisecond are two rows, so the primary
-- key is a generated id, which DeleteExpired's batches delete by.

CREATE TABLE login_failures (
    id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key text COLLATE "C" NOT NULL CHECK (key <> ''),
    at  timestamptz NOT NULL
);

-- LoginFailures counts a key's failures since a time, and
-- ClearLoginFailures deletes a key's rows: both a range of this index.
CREATE INDEX login_failures_key_at ON login_failures (key, at);
-- DeleteExpired's sweep by age.
CREATE INDEX login_failures_at ON login_failures (at);
