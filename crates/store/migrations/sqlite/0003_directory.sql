-- Desk-phone directories and caller lookup (issue 5). SQLite dialect.

-- Folded keys (lower case, accents removed: switchboard_domain::fold) written with every contact, compared
-- byte-wise (SQLite's default BINARY collation; COLLATE "C" on PostgreSQL) so both databases sort and page
-- identically. NULL until the server has computed them (it fills older rows at startup).
ALTER TABLE contacts ADD COLUMN sort_key TEXT;
ALTER TABLE contacts ADD COLUMN given_key TEXT;
ALTER TABLE contacts ADD COLUMN family_key TEXT;
-- Directory pages: keyset pagination on (sort_key, id) over live contacts; name search by prefix.
CREATE INDEX contacts_directory ON contacts (workspace_id, sort_key, id) WHERE deleted_at IS NULL;
CREATE INDEX contacts_given_key ON contacts (workspace_id, given_key) WHERE deleted_at IS NULL;
CREATE INDEX contacts_family_key ON contacts (workspace_id, family_key) WHERE deleted_at IS NULL;

-- Caller lookup's trailing-digits match: the last 7 digits of a number (NULL when it has fewer), so
-- "ends with these ≥ 7 digits" is an index lookup followed by a check of the longer suffix.
ALTER TABLE contact_phones ADD COLUMN tail7 TEXT;
UPDATE contact_phones SET tail7 = substr(digits, -7) WHERE length(digits) >= 7;
CREATE INDEX contact_phones_tail7 ON contact_phones (workspace_id, tail7) WHERE tail7 IS NOT NULL;

-- Read-only credentials for desk phones and PBXs, which cannot send headers: the token goes in the URL
-- path (/d/{token}/…) or HTTP Basic. Only its SHA-256 is stored; the token is shown once.
CREATE TABLE directory_tokens (
    id            BLOB PRIMARY KEY NOT NULL,
    workspace_id  BLOB NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    token_hash    TEXT NOT NULL UNIQUE,
    -- The token's first characters, to tell tokens apart in lists.
    token_hint    TEXT NOT NULL,
    -- JSON array of labels; empty: every contact.
    labels        TEXT NOT NULL,
    -- JSON object vendor -> most entries served; a vendor not listed gets its default.
    caps          TEXT NOT NULL,
    created_by    TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    last_used_at  TEXT,
    revoked_at    TEXT
);
CREATE INDEX directory_tokens_workspace ON directory_tokens (workspace_id, created_at);
