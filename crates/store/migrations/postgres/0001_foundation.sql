-- Foundation: tenants, people, credentials, devices. PostgreSQL dialect.

CREATE TABLE app_meta (
    key         TEXT PRIMARY KEY NOT NULL,
    value       TEXT NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE workspaces (
    id                      UUID PRIMARY KEY NOT NULL,
    name                    TEXT NOT NULL,
    slug                    TEXT NOT NULL UNIQUE,
    timezone                TEXT NOT NULL,
    version                 BIGINT NOT NULL DEFAULT 0,
    purged_through_version  BIGINT NOT NULL DEFAULT 0,
    settings                JSONB NOT NULL,
    created_at              TIMESTAMPTZ NOT NULL,
    updated_at              TIMESTAMPTZ NOT NULL
);

CREATE TABLE users (
    id               UUID PRIMARY KEY NOT NULL,
    email            TEXT NOT NULL UNIQUE,
    password_hash    TEXT NOT NULL,
    name             TEXT NOT NULL,
    last_sign_in_at  TIMESTAMPTZ,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL
);

CREATE TABLE memberships (
    workspace_id  UUID NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    user_id       UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role          TEXT NOT NULL,
    is_active     BOOLEAN NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (workspace_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);

CREATE TABLE agents (
    id            UUID PRIMARY KEY NOT NULL,
    workspace_id  UUID NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    code          TEXT NOT NULL,
    name          TEXT NOT NULL,
    is_active     BOOLEAN NOT NULL,
    last_seen_at  TIMESTAMPTZ,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    UNIQUE (workspace_id, code)
);

CREATE TABLE api_keys (
    id                  UUID PRIMARY KEY NOT NULL,
    workspace_id        UUID NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name                TEXT NOT NULL,
    prefix              TEXT NOT NULL UNIQUE,
    secret_hash         TEXT NOT NULL,
    scopes              TEXT NOT NULL,
    agent_id            UUID REFERENCES agents (id) ON DELETE CASCADE,
    created_by_user_id  UUID REFERENCES users (id) ON DELETE SET NULL,
    created_at          TIMESTAMPTZ NOT NULL,
    last_used_at        TIMESTAMPTZ,
    revoked_at          TIMESTAMPTZ
);
CREATE INDEX api_keys_workspace ON api_keys (workspace_id);

CREATE TABLE devices (
    id                 UUID PRIMARY KEY NOT NULL,
    workspace_id       UUID NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    agent_id           UUID NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    device_id          TEXT NOT NULL,
    platform           TEXT,
    app_version        TEXT,
    last_seen_at       TIMESTAMPTZ NOT NULL,
    last_sync_version  BIGINT NOT NULL DEFAULT 0,
    last_sync_at       TIMESTAMPTZ,
    sync_status        TEXT,
    changes_count      BIGINT NOT NULL DEFAULT 0,
    created_at         TIMESTAMPTZ NOT NULL,
    UNIQUE (workspace_id, agent_id, device_id)
);

CREATE TABLE refresh_tokens (
    id                 UUID PRIMARY KEY NOT NULL,
    workspace_id       UUID NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    user_id            UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family_id          UUID NOT NULL,
    token_hash         TEXT NOT NULL UNIQUE,
    created_at         TIMESTAMPTZ NOT NULL,
    expires_at         TIMESTAMPTZ NOT NULL,
    family_expires_at  TIMESTAMPTZ NOT NULL,
    rotated_at         TIMESTAMPTZ,
    revoked_at         TIMESTAMPTZ
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);
