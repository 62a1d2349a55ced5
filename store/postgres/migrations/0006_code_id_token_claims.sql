-- Migration 6: the claims an authorization request asked for in its ID
-- token with the OIDC "claims" parameter (OIDC Core §5.5; issue 9, item
-- 12), carried from the authorization endpoint to the code's redemption.
-- PostgreSQL's own version of store/sqlite's migration 6: text[], like
-- scopes.

ALTER TABLE auth_codes ADD COLUMN id_token_claims text[] NOT NULL DEFAULT '{}';
