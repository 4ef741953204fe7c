-- Session rows used to hold the serialized record, live session id included, next to the id's hash.
-- The server now stores only the session's values; the old rows are dropped (everyone signs in again)
-- so that no live id is left in the database.
DELETE FROM sessions;
