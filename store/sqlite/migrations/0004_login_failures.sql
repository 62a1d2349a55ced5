-- Migration 4: failed sign-ins, one row per failure, so the per-user login
-- lockout holds across every instance sharing the database (issue 5, item
-- 2). The key is the server's hash of the username, never the username.
-- Rows older than store.LoginFailureRetention are removed by
-- DeleteExpired.
--
-- As in migrations 1 to 3, times are Unix milliseconds UTC.
--
-- The table keeps its rowid (two failures of one key at one millisecond
-- are two rows), which DeleteExpired's batches delete by.

CREATE TABLE login_failures (
    key TEXT    NOT NULL CHECK (key <> ''),
    at  INTEGER NOT NULL
) STRICT;

-- LoginFailures counts a key's failures since a time, and
-- ClearLoginFailures deletes a key's rows: both a range of this index.
CREATE INDEX login_failures_key_at ON login_failures (key, at);
-- DeleteExpired's sweep by age.
CREATE INDEX login_failures_at ON login_failures (at);
