-- The seq of the latest sample, so a sample delivered again (or late) never replaces a newer one.
ALTER TABLE device_status ADD COLUMN latest_seq BIGINT;
