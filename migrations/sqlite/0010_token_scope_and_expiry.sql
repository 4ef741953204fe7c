-- API tokens get a scope (what they may do) and an optional expiry. Tokens made before could do
-- everything their account could, so they keep the widest scope; new tokens always name theirs.
ALTER TABLE api_tokens ADD COLUMN scope TEXT NOT NULL DEFAULT 'admin';
ALTER TABLE api_tokens ADD COLUMN expires_at_ms BIGINT;
