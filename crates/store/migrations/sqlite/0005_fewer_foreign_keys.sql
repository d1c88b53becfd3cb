-- Foreign keys whose checks cost more than they protect (docs/adr/0007-foreign-keys.md); the same three as
-- in PostgreSQL, so both databases keep the same constraints. SQLite cannot drop a constraint: each table
-- is rebuilt (columns, rows and indexes as before).
--
-- A contact's numbers and addresses are written only by the contact store, in the transaction that writes
-- the contact, and deleted with it (`purge_tombstones` deletes them explicitly, as CASCADE did).
CREATE TABLE contact_phones_new (
    contact_id    BLOB NOT NULL,
    position      INTEGER NOT NULL,
    workspace_id  BLOB NOT NULL,
    raw           TEXT NOT NULL,
    e164          TEXT,
    extension     TEXT,
    digits        TEXT NOT NULL,
    kind          TEXT NOT NULL,
    digits_rev    TEXT,
    PRIMARY KEY (contact_id, position)
);
INSERT INTO contact_phones_new (contact_id, position, workspace_id, raw, e164, extension, digits, kind, digits_rev)
    SELECT contact_id, position, workspace_id, raw, e164, extension, digits, kind, digits_rev FROM contact_phones;
DROP TABLE contact_phones;
ALTER TABLE contact_phones_new RENAME TO contact_phones;
CREATE INDEX contact_phones_e164 ON contact_phones (workspace_id, e164);
CREATE INDEX contact_phones_digits ON contact_phones (workspace_id, digits, contact_id, position);
CREATE INDEX contact_phones_digits_rev ON contact_phones (workspace_id, digits_rev, contact_id, position);
CREATE INDEX contact_phones_unkeyed ON contact_phones (contact_id, position) WHERE digits_rev IS NULL;

CREATE TABLE contact_emails_new (
    contact_id    BLOB NOT NULL,
    position      INTEGER NOT NULL,
    workspace_id  BLOB NOT NULL,
    address       TEXT NOT NULL,
    kind          TEXT NOT NULL,
    PRIMARY KEY (contact_id, position)
);
INSERT INTO contact_emails_new (contact_id, position, workspace_id, address, kind)
    SELECT contact_id, position, workspace_id, address, kind FROM contact_emails;
DROP TABLE contact_emails;
ALTER TABLE contact_emails_new RENAME TO contact_emails;
CREATE INDEX contact_emails_address ON contact_emails (workspace_id, address);

-- A link belongs to its account (kept: disconnecting deletes the account's links), and the account to its
-- workspace: the link's own workspace key was a second check of the same fact.
CREATE TABLE external_links_new (
    account_id    BLOB NOT NULL REFERENCES connected_accounts (id) ON DELETE CASCADE,
    entity_id     BLOB NOT NULL,
    workspace_id  BLOB NOT NULL,
    entity_type   TEXT NOT NULL,
    remote_id     TEXT,
    remote_etag   TEXT,
    synced        TEXT,
    -- The full sync that last saw the remote (reconcile tombstones links no full sync saw).
    seen_run      BLOB,
    last_synced_at TEXT,
    -- A permanent failure pushing this entity; the others carry on.
    error         TEXT,
    error_at      TEXT,
    PRIMARY KEY (account_id, entity_id)
);
INSERT INTO external_links_new (account_id, entity_id, workspace_id, entity_type, remote_id, remote_etag, synced,
                                seen_run, last_synced_at, error, error_at)
    SELECT account_id, entity_id, workspace_id, entity_type, remote_id, remote_etag, synced, seen_run,
           last_synced_at, error, error_at FROM external_links;
DROP TABLE external_links;
ALTER TABLE external_links_new RENAME TO external_links;
CREATE UNIQUE INDEX external_links_remote ON external_links (account_id, remote_id) WHERE remote_id IS NOT NULL;
