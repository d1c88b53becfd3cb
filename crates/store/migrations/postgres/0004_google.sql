-- Google accounts and two-way People sync (issue 6). PostgreSQL dialect.

-- A workspace's connected third-party account. Tokens are encrypted with the server's key
-- (XChaCha20-Poly1305, nonce || ciphertext, the row id as associated data): a copied database is useless
-- without the key, and a ciphertext moved to another row does not decrypt.
CREATE TABLE connected_accounts (
    id                       UUID PRIMARY KEY,
    workspace_id             UUID NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    provider                 TEXT NOT NULL,
    account_email            TEXT NOT NULL,
    -- Space-separated scopes Google granted (may be fewer than requested).
    scopes                   TEXT NOT NULL,
    refresh_token_enc        BYTEA,
    access_token_enc         BYTEA,
    access_token_expires_at  TIMESTAMPTZ,
    -- active | reauth_required | revoked
    status                   TEXT NOT NULL,
    last_error               TEXT,
    -- What syncs: {"push": "all" | "label", "label": …, "writes_per_minute": …, "interval_seconds": …}.
    settings                 JSONB NOT NULL,
    connected_by             UUID,
    created_at               TIMESTAMPTZ NOT NULL,
    updated_at               TIMESTAMPTZ NOT NULL,
    UNIQUE (workspace_id, provider, account_email)
);

-- One row per account and synced resource (`people`): the sync token, the run in progress, the lease that
-- lets one instance sync an account at a time, and what the status endpoints report.
CREATE TABLE sync_states (
    account_id                UUID NOT NULL REFERENCES connected_accounts (id) ON DELETE CASCADE,
    resource                  TEXT NOT NULL,
    workspace_id              UUID NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    sync_token                TEXT,
    -- idle | syncing | error
    status                    TEXT NOT NULL,
    -- The run in progress: its id, whether it is a full sync, and the page it resumes from.
    run_id                    UUID,
    run_full                  BOOLEAN NOT NULL DEFAULT FALSE,
    run_page_token            TEXT,
    run_started_at            TIMESTAMPTZ,
    full_requested            BOOLEAN NOT NULL DEFAULT FALSE,
    -- The change-feed version the outbound worker has handled.
    outbound_version          BIGINT NOT NULL DEFAULT 0,
    last_full_sync_at         TIMESTAMPTZ,
    last_incremental_sync_at  TIMESTAMPTZ,
    -- {"in": {"created": n, "updated": n, "deleted": n}, "out": {...}} since the account was connected.
    counts                    JSONB NOT NULL,
    last_error                TEXT,
    next_run_at               TIMESTAMPTZ,
    locked_by                 UUID,
    locked_until              TIMESTAMPTZ,
    updated_at                TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (account_id, resource)
);
CREATE INDEX sync_states_due ON sync_states (next_run_at);

-- How a local entity maps to a remote one (a contact to `people/c123`). `synced` is the remote's fields as
-- last exchanged (either direction): the base that tells which side changed which field.
CREATE TABLE external_links (
    account_id    UUID NOT NULL REFERENCES connected_accounts (id) ON DELETE CASCADE,
    entity_id     UUID NOT NULL,
    workspace_id  UUID NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    entity_type   TEXT NOT NULL,
    remote_id     TEXT,
    remote_etag   TEXT,
    synced        JSONB,
    -- The full sync that last saw the remote (reconcile tombstones links no full sync saw).
    seen_run      UUID,
    last_synced_at TIMESTAMPTZ,
    -- A permanent failure pushing this entity; the others carry on.
    error         TEXT,
    error_at      TIMESTAMPTZ,
    PRIMARY KEY (account_id, entity_id)
);
CREATE UNIQUE INDEX external_links_remote ON external_links (account_id, remote_id) WHERE remote_id IS NOT NULL;
