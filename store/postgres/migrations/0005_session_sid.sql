-- Migration 5: find a session by its OIDC "sid" (issue 9, item 6).
-- PostgreSQL's own version of store/sqlite's migration 5. The sid an ID
-- token carries is the first store.SIDLength characters of the session's
-- ID, so an RP-initiated logout that arrives without the session cookie
-- (a cross-site POST) can still end the session its id_token_hint names.

CREATE INDEX sessions_sid ON sessions (substr(id, 1, 32));
