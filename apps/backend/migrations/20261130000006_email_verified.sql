-- When an account's email address was proven (by an identity provider's verified
-- claim). NULL: the address was typed at sign-up and never proven, so it grants nothing
-- (no administrator role from ADMIN_EMAILS) and a later proof by its real owner takes
-- the account over (see auth/oidc.rs).
ALTER TABLE users ADD COLUMN email_verified_at BIGINT;
