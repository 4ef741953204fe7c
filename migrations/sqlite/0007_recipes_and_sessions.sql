-- Recipes, brew sessions (a recipe run on a device), their progress events and the brewer's notes.
ALTER TABLE users ADD COLUMN units TEXT NOT NULL DEFAULT 'metric';  -- 'metric' or 'imperial'

CREATE TABLE recipes (
    id TEXT PRIMARY KEY,
    owner_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,                  -- lower-cased name and style, for search
    body TEXT NOT NULL,                      -- JSON: the recipe as the brewer wrote it (metric)
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);
CREATE INDEX recipes_owner ON recipes (owner_id, id);

CREATE TABLE brew_sessions (
    id TEXT PRIMARY KEY,                     -- also the device program's id
    owner_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    device_id TEXT NOT NULL,
    recipe_id TEXT,                          -- the recipe it came from (it may be deleted since)
    recipe TEXT NOT NULL,                    -- JSON: the recipe as it was when the session started
    steps TEXT NOT NULL,                     -- JSON: the compiled program with expected durations
    state TEXT NOT NULL,                     -- running, paused, completed, aborted
    reason TEXT NOT NULL DEFAULT '',         -- why it was aborted
    measured_og DOUBLE PRECISION,
    measured_fg DOUBLE PRECISION,
    started_at_ms BIGINT NOT NULL,
    ended_at_ms BIGINT
);
CREATE INDEX brew_sessions_owner ON brew_sessions (owner_id, id);
CREATE INDEX brew_sessions_device ON brew_sessions (device_id, id);

CREATE TABLE brew_session_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL REFERENCES brew_sessions (id) ON DELETE CASCADE,
    at_ms BIGINT NOT NULL,
    kind TEXT NOT NULL,                      -- step_started, step_holding, step_finished, alert, paused, ...
    step_index BIGINT NOT NULL,
    remaining_s BIGINT NOT NULL,
    message TEXT NOT NULL DEFAULT ''
);
CREATE INDEX brew_session_events_session ON brew_session_events (session_id, id);

CREATE TABLE brew_session_notes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL REFERENCES brew_sessions (id) ON DELETE CASCADE,
    at_ms BIGINT NOT NULL,
    step_index BIGINT,                       -- the step running when the note was written
    text TEXT NOT NULL
);
CREATE INDEX brew_session_notes_session ON brew_session_notes (session_id, id);
