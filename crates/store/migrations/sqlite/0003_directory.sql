-- Desk-phone directories and caller lookup (issue 5). SQLite dialect.

-- Folded keys (lower case, accents removed: switchboard_domain::fold) written with every contact, compared
-- byte-wise (SQLite's default BINARY collation; COLLATE "C" on PostgreSQL) so both databases sort and page
-- identically. NULL until the server has computed them (it fills older rows at startup).
ALTER TABLE contacts ADD COLUMN sort_key TEXT;
ALTER TABLE contacts ADD COLUMN given_key TEXT;
ALTER TABLE contacts ADD COLUMN family_key TEXT;
-- The sort key again, only for contacts without a given or family name (companies, nicknames, …): the
-- display name of every other contact is made of those names, which name search reads already.
ALTER TABLE contacts ADD COLUMN display_key TEXT;
-- Directory pages: keyset pagination on (sort_key, id) over live contacts. Name search reads the given,
-- family and display name indexes in order, each by (key, sort_key, id), and merges them (directory::store);
-- a search with a space ("ann l") reads the directory index itself.
CREATE INDEX contacts_directory ON contacts (workspace_id, sort_key, id) WHERE deleted_at IS NULL;
CREATE INDEX contacts_given_key ON contacts (workspace_id, given_key, sort_key, id) WHERE deleted_at IS NULL;
CREATE INDEX contacts_family_key ON contacts (workspace_id, family_key, sort_key, id) WHERE deleted_at IS NULL;
CREATE INDEX contacts_display_key ON contacts (workspace_id, display_key, sort_key, id)
    WHERE deleted_at IS NULL AND display_key IS NOT NULL;
-- Rows whose keys the server has yet to fill (written before this migration): empty once it has, so the
-- check it makes at every start is an index probe, not a scan of every contact and number.
CREATE INDEX contacts_unkeyed ON contacts (id) WHERE sort_key IS NULL;

-- A number's digits reversed: "ends with these digits" becomes a prefix range on an index, for caller
-- lookup's trailing-digits match and the directory's number search. Rust reverses (SQLite has no
-- reverse()); NULL until the server has filled older rows at startup. The digits index gains the contact
-- and position so number search pages by keyset in index order.
ALTER TABLE contact_phones ADD COLUMN digits_rev TEXT;
CREATE INDEX contact_phones_digits_rev ON contact_phones (workspace_id, digits_rev, contact_id, position);
CREATE INDEX contact_phones_unkeyed ON contact_phones (contact_id, position) WHERE digits_rev IS NULL;
DROP INDEX contact_phones_digits;
CREATE INDEX contact_phones_digits ON contact_phones (workspace_id, digits, contact_id, position);

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
