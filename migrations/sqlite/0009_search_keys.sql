-- Lower-cased copies of the searched names, made by the server (Unicode-aware) rather than by SQL's
-- LOWER(), which is ASCII-only on SQLite and follows the database's locale on PostgreSQL. Rows written
-- before this migration get theirs when the server next migrates (NULL until then).
ALTER TABLE users ADD COLUMN name_key TEXT;
ALTER TABLE devices ADD COLUMN name_key TEXT;
ALTER TABLE devices ADD COLUMN model_key TEXT;
