-- Foreign keys whose checks cost more than they protect (docs/adr/0007-foreign-keys.md). PostgreSQL checks a
-- foreign key with one query per inserted row; these three were a fifth of the database's CPU in a full Google
-- sync (25,000 people: 150,000 checks).
--
-- A contact's numbers and addresses are written only by the contact store, in the transaction that writes
-- the contact, and deleted with it (`purge_tombstones` deletes them explicitly, as CASCADE did).
ALTER TABLE contact_phones DROP CONSTRAINT contact_phones_contact_id_fkey;
ALTER TABLE contact_emails DROP CONSTRAINT contact_emails_contact_id_fkey;
-- A link belongs to its account (kept: disconnecting deletes the account's links), and the account to its
-- workspace: the link's own workspace key was a second check of the same fact.
ALTER TABLE external_links DROP CONSTRAINT external_links_workspace_id_fkey;
