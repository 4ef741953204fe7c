-- Telemetry, last known status, commands, and device-side errors.
CREATE TABLE telemetry (
    device_id TEXT NOT NULL,
    seq BIGINT NOT NULL,                     -- the device's sample number: a resent sample is stored once
    time_ms BIGINT NOT NULL,                 -- sample time (device time when plausible, else arrival)
    received_at_ms BIGINT NOT NULL,
    mash_temp_c DOUBLE PRECISION,
    boil_temp_c DOUBLE PRECISION,
    fermenter_temp_c DOUBLE PRECISION,
    setpoint_c DOUBLE PRECISION,
    heater_pct DOUBLE PRECISION,
    pump_on BIGINT,                          -- 0 or 1
    gravity_sg DOUBLE PRECISION,
    pressure_kpa DOUBLE PRECISION,
    volume_l DOUBLE PRECISION,
    extra TEXT,                              -- JSON: valves and further readings
    PRIMARY KEY (device_id, seq)
);
CREATE INDEX telemetry_device_time ON telemetry (device_id, time_ms);

CREATE TABLE device_status (
    device_id TEXT PRIMARY KEY,
    online BIGINT NOT NULL DEFAULT 0,        -- what the device last said (birth 1, last will 0)
    firmware TEXT NOT NULL DEFAULT '',
    mac TEXT NOT NULL DEFAULT '',
    ip TEXT NOT NULL DEFAULT '',
    subnet TEXT NOT NULL DEFAULT '',
    gateway TEXT NOT NULL DEFAULT '',
    uptime_s BIGINT NOT NULL DEFAULT 0,
    report_interval_s BIGINT NOT NULL DEFAULT 0,
    capabilities TEXT NOT NULL DEFAULT '{}', -- JSON
    status_at_ms BIGINT,
    last_seen_ms BIGINT,
    latest TEXT                              -- JSON: the latest telemetry point
);

CREATE TABLE commands (
    id TEXT PRIMARY KEY,                     -- also the MQTT request id
    device_id TEXT NOT NULL,
    actor TEXT NOT NULL,
    kind TEXT NOT NULL,
    request TEXT NOT NULL,                   -- JSON
    outcome TEXT NOT NULL,                   -- ok, error, timeout, offline
    result TEXT,                             -- JSON
    latency_ms BIGINT,
    created_at_ms BIGINT NOT NULL
);
CREATE INDEX commands_device ON commands (device_id, id);

CREATE TABLE device_errors (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    device_id TEXT NOT NULL,
    kind TEXT NOT NULL,                      -- e.g. undecodable, out_of_range, oversize
    reason TEXT NOT NULL,
    topic TEXT NOT NULL,
    size BIGINT NOT NULL,
    at_ms BIGINT NOT NULL
);
CREATE INDEX device_errors_device ON device_errors (device_id, id);
CREATE INDEX device_errors_kind ON device_errors (kind, id);
