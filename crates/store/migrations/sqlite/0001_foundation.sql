-- Foundation: tenants, people, credentials, devices. SQLite dialect.
-- Type mapping shared with the PostgreSQL migration (docs/adr/0001-storage.md):
--   UUID -> BLOB (16 bytes), TIMESTAMPTZ -> TEXT (RFC 3339, always written by the application),
--   BOOLEAN -> INTEGER 0/1, JSONB -> TEXT.

CREATE TABLE app_meta (
    key         TEXT PRIMARY KEY NOT NULL,
    value       TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

CREATE TABLE workspaces (
    id                      BLOB PRIMARY KEY NOT NULL,
    name                    TEXT NOT NULL,
    slug                    TEXT NOT NULL UNIQUE,
    timezone                TEXT NOT NULL,
    version                 INTEGER NOT NULL DEFAULT 0,
    purged_through_version  INTEGER NOT NULL DEFAULT 0,
    settings                TEXT NOT NULL,
    created_at              TEXT NOT NULL,
    updated_at              TEXT NOT NULL
);

CREATE TABLE users (
    id               BLOB PRIMARY KEY NOT NULL,
    email            TEXT NOT NULL UNIQUE,
    password_hash    TEXT NOT NULL,
    name             TEXT NOT NULL,
    last_sign_in_at  TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);

CREATE TABLE memberships (
    workspace_id  BLOB NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    user_id       BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role          TEXT NOT NULL,
    is_active     INTEGER NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    PRIMARY KEY (workspace_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);

CREATE TABLE agents (
    id            BLOB PRIMARY KEY NOT NULL,
    workspace_id  BLOB NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    code          TEXT NOT NULL,
    name          TEXT NOT NULL,
    is_active     INTEGER NOT NULL,
    last_seen_at  TEXT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    UNIQUE (workspace_id, code)
);

CREATE TABLE api_keys (
    id                  BLOB PRIMARY KEY NOT NULL,
    workspace_id        BLOB NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name                TEXT NOT NULL,
    prefix              TEXT NOT NULL UNIQUE,
    secret_hash         TEXT NOT NULL,
    scopes              TEXT NOT NULL,
    agent_id            BLOB REFERENCES agents (id) ON DELETE CASCADE,
    created_by_user_id  BLOB REFERENCES users (id) ON DELETE SET NULL,
    created_at          TEXT NOT NULL,
    last_used_at        TEXT,
    revoked_at          TEXT
);
CREATE INDEX api_keys_workspace ON api_keys (workspace_id);

CREATE TABLE devices (
    id                 BLOB PRIMARY KEY NOT NULL,
    workspace_id       BLOB NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    agent_id           BLOB NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    device_id          TEXT NOT NULL,
    platform           TEXT,
    app_version        TEXT,
    last_seen_at       TEXT NOT NULL,
    last_sync_version  INTEGER NOT NULL DEFAULT 0,
    last_sync_at       TEXT,
    sync_status        TEXT,
    changes_count      INTEGER NOT NULL DEFAULT 0,
    created_at         TEXT NOT NULL,
    UNIQUE (workspace_id, agent_id, device_id)
);

CREATE TABLE refresh_tokens (
    id                 BLOB PRIMARY KEY NOT NULL,
    workspace_id       BLOB NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    user_id            BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family_id          BLOB NOT NULL,
    token_hash         TEXT NOT NULL UNIQUE,
    created_at         TEXT NOT NULL,
    expires_at         TEXT NOT NULL,
    family_expires_at  TEXT NOT NULL,
    rotated_at         TEXT,
    revoked_at         TEXT
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);
