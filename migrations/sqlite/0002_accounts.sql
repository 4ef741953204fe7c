-- Accounts: users, their API tokens, web sessions and failed logins (for throttling).
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    email_key TEXT NOT NULL UNIQUE,          -- lower-cased email: unique without regard to case
    name TEXT NOT NULL DEFAULT '',
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL DEFAULT 'brewer',     -- 'brewer' or 'staff'
    disabled_at_ms BIGINT,                   -- set while the account is disabled
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);

CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    label TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,         -- SHA-256 of the token; the token itself is never stored
    prefix TEXT NOT NULL,                    -- first characters, to tell tokens apart in lists
    created_at_ms BIGINT NOT NULL,
    last_used_at_ms BIGINT
);
CREATE INDEX api_tokens_user ON api_tokens (user_id, created_at_ms);

CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    user_id TEXT REFERENCES users (id) ON DELETE CASCADE,
    data TEXT NOT NULL,
    expires_at_ms BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expiry ON sessions (expires_at_ms);

CREATE TABLE login_failures (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    throttle_key TEXT NOT NULL,              -- 'email:<lower-cased email>' or 'ip:<address>'
    at_ms BIGINT NOT NULL
);
CREATE INDEX login_failures_key ON login_failures (throttle_key, at_ms);
