-- Revoked certificates no longer keep their sealed private keys, and a deleted device no longer
-- leaves its readings, status (with its home network's addresses), commands and errors behind. Erase
-- what earlier versions kept.
UPDATE device_certificates SET sealed_key = NULL WHERE revoked_at_ms IS NOT NULL;
DELETE FROM telemetry WHERE device_id NOT IN (SELECT id FROM devices);
DELETE FROM device_status WHERE device_id NOT IN (SELECT id FROM devices);
DELETE FROM commands WHERE device_id NOT IN (SELECT id FROM devices);
DELETE FROM device_errors WHERE device_id NOT IN (SELECT id FROM devices);
