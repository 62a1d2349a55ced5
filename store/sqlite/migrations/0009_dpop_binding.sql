-- Migration 9: DPoP key binding (RFC 9449, issue 15). An authorization code
-- may be bound to a key (dpop_jkt at the authorization endpoint, §10), and a
-- public client's refresh family to the key of its first token request
-- (§5). The value is the key's RFC 7638 thumbprint; '' when unbound.

ALTER TABLE auth_codes ADD COLUMN dpop_jkt TEXT NOT NULL DEFAULT '';
ALTER TABLE refresh_families ADD COLUMN dpop_jkt TEXT NOT NULL DEFAULT '';
