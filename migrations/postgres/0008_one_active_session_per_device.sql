-- A device runs one brew session at a time: two concurrent starts cannot both be recorded.
CREATE UNIQUE INDEX brew_sessions_one_active ON brew_sessions (device_id) WHERE state IN ('running', 'paused');
