-- Contacts, the change feed and idempotency records. SQLite dialect.

CREATE TABLE contacts (
    id            BLOB PRIMARY KEY NOT NULL,
    workspace_id  BLOB NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
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
    updated_at    TEXT NOT NULL
);
-- Delta sync reads "version > cursor" in version order; a version belongs to one change of one entity.
CREATE UNIQUE INDEX contacts_workspace_version ON contacts (workspace_id, version);
CREATE INDEX contacts_workspace_id ON contacts (workspace_id, id);
CREATE INDEX contacts_tombstones ON contacts (workspace_id, deleted_at) WHERE deleted_at IS NOT NULL;

CREATE TABLE contact_phones (
    contact_id    BLOB NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    position      INTEGER NOT NULL,
    workspace_id  BLOB NOT NULL,
    raw           TEXT NOT NULL,
    e164          TEXT,
    extension     TEXT,
    digits        TEXT NOT NULL,
    kind          TEXT NOT NULL,
    PRIMARY KEY (contact_id, position)
);
CREATE INDEX contact_phones_e164 ON contact_phones (workspace_id, e164);
CREATE INDEX contact_phones_digits ON contact_phones (workspace_id, digits);

CREATE TABLE contact_emails (
    contact_id    BLOB NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    position      INTEGER NOT NULL,
    workspace_id  BLOB NOT NULL,
    address       TEXT NOT NULL,
    kind          TEXT NOT NULL,
    PRIMARY KEY (contact_id, position)
);
CREATE INDEX contact_emails_address ON contact_emails (workspace_id, address);

-- One row per change of a synced entity, numbered by the workspace version (ARCHITECTURE §4).
-- This is also the audit log; retention never deletes it.
CREATE TABLE changes (
    workspace_id  BLOB NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
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
CREATE INDEX changes_entity ON changes (workspace_id, entity_id, version);

-- Results of idempotent writes: HTTP `Idempotency-Key`s and offline-push mutation ids, scoped to the
-- credential that sent them, kept until `expires_at`.
CREATE TABLE idempotency_records (
    workspace_id   BLOB NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    credential_id  BLOB NOT NULL,
    key            TEXT NOT NULL,
    request_hash   TEXT NOT NULL,
    status         INTEGER NOT NULL,
    response       TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    expires_at     TEXT NOT NULL,
    PRIMARY KEY (credential_id, key)
);
CREATE INDEX idempotency_records_expiry ON idempotency_records (expires_at);

-- Which instance holds sockets of which device, refreshed by a heartbeat so devices of a crashed
-- instance show disconnected once their rows expire (ARCHITECTURE §4).
CREATE TABLE device_connections (
    workspace_id  BLOB NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    agent_id      BLOB NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    device_id     TEXT NOT NULL,
    instance_id   BLOB NOT NULL,
    connections   INTEGER NOT NULL,
    expires_at    TEXT NOT NULL,
    PRIMARY KEY (agent_id, device_id, instance_id)
);

-- Syncs served per workspace and minute (GET /api/v1/sync/stats), written in batches.
CREATE TABLE sync_activity (
    workspace_id  BLOB NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    minute        TEXT NOT NULL,
    syncs         INTEGER NOT NULL,
    changes       INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, minute)
);
