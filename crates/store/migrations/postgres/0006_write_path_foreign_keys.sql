-- The last foreign keys on the write path of contacts, the feed and Google links (docs/adr/0007-foreign-keys.md):
-- each was checked with one query per inserted row, three per synced person, a fifth of the database's CPU in a
-- full Google sync. The guarantees stay, checked once per transaction instead of once per row:
--
-- A contact or a feed row is written only in a transaction that has first locked its workspace's row to take
-- versions (`UPDATE workspaces … RETURNING version` fails when the workspace does not exist).
ALTER TABLE contacts DROP CONSTRAINT contacts_workspace_id_fkey;
ALTER TABLE changes DROP CONSTRAINT changes_workspace_id_fkey;
-- A link is written only after its account's row has been locked against deletion (`links::apply`, FOR KEY
-- SHARE as the foreign key did); disconnecting deletes the account first, then its links.
ALTER TABLE external_links DROP CONSTRAINT external_links_account_id_fkey;
