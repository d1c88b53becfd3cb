-- The last foreign keys on the write path of contacts, the feed and Google links (docs/adr/0007-foreign-keys.md);
-- the same three as in PostgreSQL, so both databases keep the same constraints. SQLite cannot drop a
-- constraint: each table is rebuilt (columns, rows and indexes as before).
--
-- A contact or a feed row is written only in a transaction that has first locked its workspace's row to take
-- versions (`UPDATE workspaces … RETURNING version` fails when the workspace does not exist).
CREATE TABLE contacts_new (
    id            BLOB PRIMARY KEY NOT NULL,
    workspace_id  BLOB NOT NULL,
    given_name    TEXT,
    family_name   TEXT,
    nickname      TEXT,
    company       TEXT,
    job_title     TEXT,
    department    TEXT,
    notes         TEXT,
    labels        TEXT NOT NULL,
    -- Read copies of contact_phones / contact_emails (kept in the same transaction), so reading a contact
    -- is one row: delta sync and lists never join. The child tables serve lookups by number and address.
    phones        TEXT NOT NULL,
    emails        TEXT NOT NULL,
    source        TEXT NOT NULL,
    created_by    TEXT NOT NULL,
    version       INTEGER NOT NULL,
    deleted_at    TEXT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    -- Folded keys for the directory (0003_directory.sql).
    sort_key      TEXT,
    given_key     TEXT,
    family_key    TEXT,
    display_key   TEXT
);
INSERT INTO contacts_new (id, workspace_id, given_name, family_name, nickname, company, job_title, department, notes,
                          labels, phones, emails, source, created_by, version, deleted_at, created_at, updated_at,
                          sort_key, given_key, family_key, display_key)
    SELECT id, workspace_id, given_name, family_name, nickname, company, job_title, department, notes,
           labels, phones, emails, source, created_by, version, deleted_at, created_at, updated_at,
           sort_key, given_key, family_key, display_key FROM contacts;
DROP TABLE contacts;
ALTER TABLE contacts_new RENAME TO contacts;
CREATE UNIQUE INDEX contacts_workspace_version ON contacts (workspace_id, version);
CREATE INDEX contacts_workspace_id ON contacts (workspace_id, id);
CREATE INDEX contacts_tombstones ON contacts (workspace_id, deleted_at) WHERE deleted_at IS NOT NULL;
CREATE INDEX contacts_directory ON contacts (workspace_id, sort_key, id) WHERE deleted_at IS NULL;
CREATE INDEX contacts_given_key ON contacts (workspace_id, given_key, sort_key, id) WHERE deleted_at IS NULL;
CREATE INDEX contacts_family_key ON contacts (workspace_id, family_key, sort_key, id) WHERE deleted_at IS NULL;
CREATE INDEX contacts_display_key ON contacts (workspace_id, display_key, sort_key, id)
    WHERE deleted_at IS NULL AND display_key IS NOT NULL;
CREATE INDEX contacts_unkeyed ON contacts (id) WHERE sort_key IS NULL;

-- One row per change of a synced entity, numbered by the workspace version (ARCHITECTURE §4).
-- This is also the audit log; retention never deletes it.
CREATE TABLE changes_new (
    workspace_id  BLOB NOT NULL,
    version       INTEGER NOT NULL,
    entity_type   TEXT NOT NULL,
    entity_id     BLOB NOT NULL,
    op            TEXT NOT NULL,
    actor_kind    TEXT NOT NULL,
    actor_id      BLOB,
    actor_label   TEXT NOT NULL,
    device_id     TEXT,
    mutation_id   TEXT,
    origin        TEXT NOT NULL,
    fields        TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    PRIMARY KEY (workspace_id, version)
);
INSERT INTO changes_new (workspace_id, version, entity_type, entity_id, op, actor_kind, actor_id, actor_label,
                         device_id, mutation_id, origin, fields, created_at)
    SELECT workspace_id, version, entity_type, entity_id, op, actor_kind, actor_id, actor_label,
           device_id, mutation_id, origin, fields, created_at FROM changes;
DROP TABLE changes;
ALTER TABLE changes_new RENAME TO changes;
CREATE INDEX changes_entity ON changes (workspace_id, entity_id, version);

-- A link is written only after its account's row has been read in the writing transaction (`links::apply`);
-- disconnecting deletes the account first, then its links.
CREATE TABLE external_links_new (
    account_id    BLOB NOT NULL,
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
