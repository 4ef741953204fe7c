-- Errors grouped by kind for the admin site: server errors and device-side problems.
CREATE TABLE error_groups (
    kind TEXT PRIMARY KEY,                   -- e.g. device.undecodable, device.acl_denied, server.http_5xx
    count BIGINT NOT NULL,
    first_seen_ms BIGINT NOT NULL,
    last_seen_ms BIGINT NOT NULL,
    subject TEXT NOT NULL DEFAULT '',        -- what the latest one was about (device:<id>, a route)
    example TEXT NOT NULL DEFAULT ''         -- the latest one, described without secrets
);
