-- Migration 6: the claims an authorization request asked for in its ID
-- token with the OIDC "claims" parameter (OIDC Core §5.5; issue 9, item
-- 12), carried from the authorization endpoint to the code's redemption.
-- A JSON array of claim names, like scopes.

ALTER TABLE auth_codes ADD COLUMN id_token_claims TEXT NOT NULL DEFAULT '[]';
