-- Devices and their certificates.
CREATE TABLE devices (
    id TEXT PRIMARY KEY,                     -- also the certificate CN and the MQTT client id
    owner_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    model TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);
CREATE INDEX devices_owner ON devices (owner_id, id);

-- Every certificate ever issued; rows outlive their device so the revocation list stays complete.
CREATE TABLE device_certificates (
    serial TEXT PRIMARY KEY,                 -- lower-case hex, no leading zeros
    device_id TEXT NOT NULL,
    cert_pem TEXT NOT NULL,
    sealed_key TEXT,                         -- the private key, sealed, when the server made it
    issued_at_ms BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL,
    revoked_at_ms BIGINT
);
CREATE INDEX device_certificates_device ON device_certificates (device_id, issued_at_ms);
CREATE INDEX device_certificates_revoked ON device_certificates (revoked_at_ms);
