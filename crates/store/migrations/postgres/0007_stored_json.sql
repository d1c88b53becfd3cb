-- JSON that is only stored and read back is `json` (text, checked on input) rather than `jsonb` (parsed into
-- its binary form on every insert: ~18 % of the database's CPU in a 25,000-person first Google sync, one feed
-- row and one link per person). The server binds these with `switchboard_store::JsonText` (docs/adr/0001-storage.md).
-- Columns that queries look into (labels, settings, caps, a contact's phones and emails) stay `jsonb`.
-- SQLite stores all JSON as TEXT already: it has no counterpart to this migration.
ALTER TABLE changes ALTER COLUMN fields TYPE json USING fields::json;
ALTER TABLE external_links ALTER COLUMN synced TYPE json USING synced::json;
