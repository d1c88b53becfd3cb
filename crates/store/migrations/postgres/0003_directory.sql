-- Desk-phone directories and caller lookup (issue 5). PostgreSQL dialect.

-- Folded keys (lower case, accents removed: switchboard_domain::fold) written with every contact, compared
-- byte-wise (COLLATE "C"; SQLite's default BINARY collation) so both databases sort and page identically.
-- NULL until the server has computed them (it fills older rows at startup).
ALTER TABLE contacts
    ADD COLUMN sort_key TEXT COLLATE "C",
    ADD COLUMN given_key TEXT COLLATE "C",
    ADD COLUMN family_key TEXT COLLATE "C";
-- Directory pages: keyset pagination on (sort_key, id) over live contacts; name search by prefix.
CREATE INDEX contacts_directory ON contacts (workspace_id, sort_key, id) WHERE deleted_at IS NULL;
CREATE INDEX contacts_given_key ON contacts (workspace_id, given_key) WHERE deleted_at IS NULL;
CREATE INDEX contacts_family_key ON contacts (workspace_id, family_key) WHERE deleted_at IS NULL;

-- Caller lookup's trailing-digits match: the last 7 digits of a number (NULL when it has fewer), so
-- "ends with these ≥ 7 digits" is an index lookup followed by a check of the longer suffix.
ALTER TABLE contact_phones ADD COLUMN tail7 TEXT;
UPDATE contact_phones SET tail7 = right(digits, 7) WHERE length(digits) >= 7;
CREATE INDEX contact_phones_tail7 ON contact_phones (workspace_id, tail7) WHERE tail7 IS NOT NULL;

-- Read-only credentials for desk phones and PBXs, which cannot send headers: the token goes in the URL
-- path (/d/{token}/…) or HTTP Basic. Only its SHA-256 is stored; the token is shown once.
CREATE TABLE directory_tokens (
    id            UUID PRIMARY KEY,
    workspace_id  UUID NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    token_hash    TEXT NOT NULL UNIQUE,
    -- The token's first characters, to tell tokens apart in lists.
    token_hint    TEXT NOT NULL,
    -- Labels; empty: every contact.
    labels        JSONB NOT NULL,
    -- Vendor -> most entries served; a vendor not listed gets its default.
    caps          JSONB NOT NULL,
    created_by    TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    last_used_at  TIMESTAMPTZ,
    revoked_at    TIMESTAMPTZ
);
CREATE INDEX directory_tokens_workspace ON directory_tokens (workspace_id, created_at);
