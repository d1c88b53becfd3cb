-- Google accounts and two-way People sync (issue 6). SQLite dialect (types as in 0001).

-- A workspace's connected third-party account. Tokens are encrypted with the server's key
-- (XChaCha20-Poly1305, nonce || ciphertext, the row id as associated data): a copied database is useless
-- without the key, and a ciphertext moved to another row does not decrypt.
CREATE TABLE connected_accounts (
    id                       BLOB PRIMARY KEY NOT NULL,
    workspace_id             BLOB NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    provider                 TEXT NOT NULL,
    account_email            TEXT NOT NULL,
    -- Space-separated scopes Google granted (may be fewer than requested).
    scopes                   TEXT NOT NULL,
    refresh_token_enc        BLOB,
    access_token_enc         BLOB,
    access_token_expires_at  TEXT,
    -- active | reauth_required | revoked
    status                   TEXT NOT NULL,
    last_error               TEXT,
    -- What syncs: {"push": "all" | "label", "label": …, "writes_per_minute": …, "interval_seconds": …}.
    settings                 TEXT NOT NULL,
    connected_by             BLOB,
    created_at               TEXT NOT NULL,
    updated_at               TEXT NOT NULL,
    UNIQUE (workspace_id, provider, account_email)
);

-- One row per account and synced resource (`people`): the sync token, the run in progress, the lease that
-- lets one instance sync an account at a time, and what the status endpoints report.
CREATE TABLE sync_states (
    account_id                BLOB NOT NULL REFERENCES connected_accounts (id) ON DELETE CASCADE,
    resource                  TEXT NOT NULL,
    workspace_id              BLOB NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    sync_token                TEXT,
    -- idle | syncing | error
    status                    TEXT NOT NULL,
    -- The run in progress: its id, whether it is a full sync, and the page it resumes from.
    run_id                    BLOB,
    run_full                  INTEGER NOT NULL DEFAULT 0,
    run_page_token            TEXT,
    run_started_at            TEXT,
    full_requested            INTEGER NOT NULL DEFAULT 0,
    -- The change-feed version the outbound worker has handled.
    outbound_version          INTEGER NOT NULL DEFAULT 0,
    last_full_sync_at         TEXT,
    last_incremental_sync_at  TEXT,
    -- {"in": {"created": n, "updated": n, "deleted": n}, "out": {...}} since the account was connected.
    counts                    TEXT NOT NULL,
    last_error                TEXT,
    next_run_at               TEXT,
    locked_by                 BLOB,
    locked_until              TEXT,
    updated_at                TEXT NOT NULL,
    PRIMARY KEY (account_id, resource)
);
CREATE INDEX sync_states_due ON sync_states (next_run_at);

-- How a local entity maps to a remote one (a contact to `people/c123`). `synced` is the remote's fields as
-- last exchanged (either direction): the base that tells which side changed which field.
CREATE TABLE external_links (
    account_id    BLOB NOT NULL REFERENCES connected_accounts (id) ON DELETE CASCADE,
    entity_id     BLOB NOT NULL,
    workspace_id  BLOB NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
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
CREATE UNIQUE INDEX external_links_remote ON external_links (account_id, remote_id) WHERE remote_id IS NOT NULL;
