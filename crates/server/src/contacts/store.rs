//! The SQL of contacts. Every function takes a [`Conn`], so the writer calls them inside its transaction
//! and readers on a pooled connection; every query is scoped by workspace.

use super::Contact;
use super::agent::FlatContact;
use chrono::{DateTime, Utc};
use sqlx::postgres::PgBindIterExt;
use sqlx::types::Json;
use switchboard_domain::{ContactFields, EmailEntry, PhoneEntry, WorkspaceId};
use switchboard_store::{Backend, Conn, Script, conn_run, statement};
use uuid::Uuid;

/// A bind parameter of a dynamically built query (filters, `IN` lists).
#[derive(Debug, Clone)]
pub enum Param {
    Uuid(Uuid),
    Int(i64),
    Text(String),
    Time(DateTime<Utc>),
}

/// Binds `params` in order onto a query of either backend.
macro_rules! bind_params_impl {
    ($query:expr, $params:expr) => {{
        let mut q = $query;
        for p in $params {
            q = match p {
                Param::Uuid(v) => q.bind(*v),
                Param::Int(v) => q.bind(*v),
                Param::Text(v) => q.bind(v.clone()),
                Param::Time(v) => q.bind(*v),
            };
        }
        q
    }};
}
pub(crate) use bind_params_impl as bind_params;

#[derive(sqlx::FromRow)]
pub(crate) struct ContactRow {
    pub(crate) id: Uuid,
    given_name: Option<String>,
    family_name: Option<String>,
    nickname: Option<String>,
    company: Option<String>,
    job_title: Option<String>,
    department: Option<String>,
    notes: Option<String>,
    labels: sqlx::types::Json<Vec<String>>,
    phones: sqlx::types::Json<Vec<PhoneEntry>>,
    emails: sqlx::types::Json<Vec<EmailEntry>>,
    source: String,
    created_by: String,
    version: i64,
    deleted_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<ContactRow> for Contact {
    fn from(r: ContactRow) -> Self {
        let fields = ContactFields {
            given_name: r.given_name,
            family_name: r.family_name,
            nickname: r.nickname,
            company: r.company,
            job_title: r.job_title,
            department: r.department,
            notes: r.notes,
            labels: r.labels.0,
            phones: r.phones.0,
            emails: r.emails.0,
        };
        Contact {
            id: r.id,
            display_name: fields.display_name(),
            fields,
            source: r.source,
            created_by: r.created_by,
            version: r.version,
            deleted: r.deleted_at.is_some(),
            deleted_at: r.deleted_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// The contact columns over alias `c`.
pub const COLUMNS: &str = "c.id, c.given_name, c.family_name, c.nickname, c.company, c.job_title, c.department, \
     c.notes, c.labels, c.phones, c.emails, c.source, c.created_by, c.version, c.deleted_at, c.created_at, c.updated_at";

/// Contacts of `ws` matching `condition` (SQL over alias `c`, using parameters from `$2`), in the order
/// and limit `tail` gives (e.g. `ORDER BY c.version LIMIT $3`). One statement: phones and emails come
/// from the row's read copies.
pub async fn select(
    conn: &mut Conn<'_>,
    ws: WorkspaceId,
    condition: &str,
    tail: &str,
    params: &[Param],
) -> Result<Vec<Contact>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM contacts c WHERE c.workspace_id = $1 AND ({condition}) {tail}");
    let rows: Vec<ContactRow> = conn_run!(conn, c => {
        let q = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(ws.0);
        bind_params!(q, params).fetch_all(&mut **c).await
    })?;
    Ok(rows.into_iter().map(Contact::from).collect())
}

/// A row of the delta statement: the workspace columns, and a contact unless the workspace has none to send.
struct DeltaRow {
    ws_version: i64,
    ws_purged: i64,
    contact: Option<ContactRow>,
}

impl<'r, R: sqlx::Row> sqlx::FromRow<'r, R> for DeltaRow
where
    ContactRow: sqlx::FromRow<'r, R>,
    &'r str: sqlx::ColumnIndex<R>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Option<Uuid>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    fn from_row(row: &'r R) -> Result<Self, sqlx::Error> {
        let id: Option<Uuid> = row.try_get("id")?;
        Ok(Self {
            ws_version: row.try_get("ws_version")?,
            ws_purged: row.try_get("ws_purged")?,
            contact: if id.is_some() { Some(ContactRow::from_row(row)?) } else { None },
        })
    }
}

/// A delta page read in one statement: the workspace's version and purge line, and its contacts changed
/// after `after` in version order (at most `limit`). One statement means one snapshot: every change up to
/// the returned version is visible in the returned rows. `None` when the workspace does not exist.
pub async fn delta(
    conn: &mut Conn<'_>,
    ws: WorkspaceId,
    after: i64,
    limit: i64,
) -> Result<Option<(i64, i64, Vec<Contact>)>, sqlx::Error> {
    // The page is limited inside the subquery, so the index on (workspace_id, version) stops at `limit`
    // rows instead of joining and sorting everything after the cursor.
    let sql = format!(
        "SELECT w.version AS ws_version, w.purged_through_version AS ws_purged, {COLUMNS} \
         FROM workspaces w LEFT JOIN (SELECT * FROM contacts WHERE workspace_id = $1 AND version > $2 \
         ORDER BY version LIMIT $3) c ON c.workspace_id = w.id WHERE w.id = $1 ORDER BY c.version"
    );
    let rows: Vec<DeltaRow> = conn_run!(conn, c => sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(ws.0).bind(after).bind(limit).fetch_all(&mut **c).await)?;
    let Some(first) = rows.first() else { return Ok(None) };
    let (version, purged) = (first.ws_version, first.ws_purged);
    let contacts = rows.into_iter().filter_map(|r| r.contact).map(Contact::from).collect();
    Ok(Some((version, purged, contacts)))
}

/// The delta page in the agent API's flat shape: the workspace's version and purge line, and its contacts
/// changed after `after` in version order (at most `limit`), from one statement (one snapshot) that
/// returns **one row**: the page as a JSON array of [`FlatContact`]s, each a JSON array in the struct's
/// field order (serde reads a struct from a sequence). Why not rows: on SQLite every row is a hand-off
/// from sqlx's worker thread plus a copy of every column, which made a 1,000-contact page cost ~13 ms;
/// the flat shape needs ten columns, built by the database in one pass. `None` when the workspace does
/// not exist. The equivalence with [`delta`] + [`FlatContact::from`] is tested on both databases.
pub async fn flat_delta(
    conn: &mut Conn<'_>,
    ws: WorkspaceId,
    after: i64,
    limit: i64,
) -> Result<Option<(i64, i64, Vec<FlatContact>)>, sqlx::Error> {
    const PAGE: &str = "SELECT id, given_name, family_name, phones, created_by, created_at, updated_at, version, \
         deleted_at FROM contacts WHERE workspace_id = $1 AND version > $2 ORDER BY version LIMIT $3";
    let sql = match conn.backend() {
        // Ids are 16-byte blobs on SQLite (JSON has no blobs): hex, which `Uuid` parses.
        Backend::Sqlite => format!(
            "SELECT w.version, w.purged_through_version, (SELECT json_group_array(json_array(\
             lower(hex(c.id)), c.given_name, c.family_name, json_extract(c.phones, '$[0].raw'), \
             json_extract(c.phones, '$[1].raw'), c.created_by, c.created_at, c.updated_at, c.version, \
             json(CASE WHEN c.deleted_at IS NULL THEN 'false' ELSE 'true' END)) ORDER BY c.version) \
             FROM ({PAGE}) c) FROM workspaces w WHERE w.id = $1"
        ),
        Backend::Postgres => format!(
            "SELECT w.version, w.purged_through_version, COALESCE((SELECT json_agg(json_build_array(\
             c.id, c.given_name, c.family_name, c.phones->0->>'raw', c.phones->1->>'raw', c.created_by, \
             c.created_at, c.updated_at, c.version, c.deleted_at IS NOT NULL) ORDER BY c.version) \
             FROM ({PAGE}) c), '[]')::text FROM workspaces w WHERE w.id = $1"
        ),
    };
    let row: Option<(i64, i64, String)> = conn_run!(conn, c => sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(ws.0).bind(after).bind(limit).fetch_optional(&mut **c).await)?;
    let Some((version, purged, page)) = row else { return Ok(None) };
    let contacts = serde_json::from_str(&page).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    Ok(Some((version, purged, contacts)))
}

/// One contact of `ws`, tombstones included.
pub async fn get(conn: &mut Conn<'_>, ws: WorkspaceId, id: Uuid) -> Result<Option<Contact>, sqlx::Error> {
    Ok(select(conn, ws, "c.id = $2", "", &[Param::Uuid(id)]).await?.pop())
}

/// Contacts with these ids in any workspace, with the workspace each belongs to (the writer must refuse a
/// client-chosen id that another workspace uses, without showing that contact).
pub async fn load_any(conn: &mut Conn<'_>, ids: &[Uuid]) -> Result<Vec<(WorkspaceId, Contact)>, sqlx::Error> {
    let mut out = Vec::with_capacity(ids.len());
    if let Conn::Postgres(c) = conn {
        // One array: the same statement text for any number of ids (prepared once per connection).
        let sql = format!("SELECT c.workspace_id AS owner, {COLUMNS} FROM contacts c WHERE c.id = ANY($1::uuid[])");
        let rows: Vec<OwnedRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(ids).fetch_all(&mut **c).await?;
        out.extend(rows.into_iter().map(|r| (WorkspaceId(r.owner), Contact::from(r.contact))));
        return Ok(out);
    }
    for chunk in ids.chunks(1_000) {
        let sql = format!(
            "SELECT c.workspace_id AS owner, {COLUMNS} FROM contacts c WHERE c.id IN ({})",
            switchboard_store::placeholders(conn.backend(), 1, chunk.len())
        );
        let rows: Vec<OwnedRow> = conn_run!(conn, c => {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                q = q.bind(*id);
            }
            q.fetch_all(&mut **c).await
        })?;
        out.extend(rows.into_iter().map(|r| (WorkspaceId(r.owner), Contact::from(r.contact))));
    }
    Ok(out)
}

#[derive(sqlx::FromRow)]
struct OwnedRow {
    owner: Uuid,
    #[sqlx(flatten)]
    contact: ContactRow,
}

/// Every column of a contact row, in the order [`contact_rows`] binds them.
const CONTACT_COLUMNS: &str = "id, workspace_id, given_name, family_name, nickname, company, job_title, department, \
     notes, labels, phones, emails, source, created_by, version, deleted_at, created_at, updated_at, sort_key, \
     given_key, family_key, display_key";
/// Parameters of one contact row.
pub const CONTACT_COLUMN_COUNT: usize = 22;

/// Statements inserting new contacts, many rows each: ids that exist in no workspace (fresh server-made ids, or
/// client ids the caller looked up in this transaction). An id that exists after all fails the statement.
pub fn insert_statements(script: &mut Script, ws: WorkspaceId, contacts: &[&Contact]) {
    contact_rows(script, ws, contacts, "")
}

/// Inserts or updates contacts in multi-row statements (a row of another workspace is left alone).
pub async fn upsert_many(conn: &mut Conn<'_>, ws: WorkspaceId, contacts: &[&Contact]) -> Result<(), sqlx::Error> {
    let mut script = Script::separate(conn.backend());
    upsert_statements(&mut script, ws, contacts);
    script.run(conn).await
}

/// The statements of [`upsert_many`].
pub fn upsert_statements(script: &mut Script, ws: WorkspaceId, contacts: &[&Contact]) {
    const ON_CONFLICT: &str = "ON CONFLICT (id) DO UPDATE SET given_name = excluded.given_name, \
         family_name = excluded.family_name, nickname = excluded.nickname, company = excluded.company, \
         job_title = excluded.job_title, department = excluded.department, notes = excluded.notes, \
         labels = excluded.labels, phones = excluded.phones, emails = excluded.emails, \
         version = excluded.version, deleted_at = excluded.deleted_at, updated_at = excluded.updated_at, \
         sort_key = excluded.sort_key, given_key = excluded.given_key, family_key = excluded.family_key, \
         display_key = excluded.display_key \
         WHERE contacts.workspace_id = excluded.workspace_id";
    contact_rows(script, ws, contacts, ON_CONFLICT)
}

fn contact_rows(script: &mut Script, ws: WorkspaceId, contacts: &[&Contact], on_conflict: &str) {
    let backend = script.backend();
    if backend == Backend::Postgres {
        return contact_arrays(script, ws, contacts, on_conflict);
    }
    for chunk in contacts.chunks(500) {
        let rows = switchboard_store::value_rows(backend, chunk.len(), CONTACT_COLUMN_COUNT);
        let sql = format!("INSERT INTO contacts ({CONTACT_COLUMNS}) VALUES {rows} {on_conflict}");
        statement!(script, sql, q => {
            for contact in chunk {
                let f = &contact.fields;
                let keys = SortKeys::of(contact);
                let display = keys.display();
                q = q.bind(contact.id).bind(ws.0).bind(&f.given_name).bind(&f.family_name)
                    .bind(&f.nickname).bind(&f.company).bind(&f.job_title)
                    .bind(&f.department).bind(&f.notes).bind(Json(&f.labels))
                    .bind(Json(&f.phones)).bind(Json(&f.emails)).bind(&contact.source)
                    .bind(&contact.created_by).bind(contact.version).bind(contact.deleted_at)
                    .bind(contact.created_at).bind(contact.updated_at)
                    .bind(keys.sort).bind(keys.given).bind(keys.family).bind(display);
            }
            q
        });
    }
}

/// [`contact_rows`] on PostgreSQL: one statement of column arrays, whose text is the same for any number of
/// rows, so it is prepared once per connection (multi-row `VALUES` would be a new statement, parsed and
/// described in an extra round trip, for each batch size).
fn contact_arrays(script: &mut Script, ws: WorkspaceId, contacts: &[&Contact], on_conflict: &str) {
    if contacts.is_empty() {
        return;
    }
    let sql = format!(
        "INSERT INTO contacts ({CONTACT_COLUMNS}) SELECT r.id, $1::uuid, r.given_name, r.family_name, r.nickname, \
         r.company, r.job_title, r.department, r.notes, r.labels, r.phones, r.emails, r.source, r.created_by, \
         r.version, r.deleted_at, r.created_at, r.updated_at, r.sort_key, r.given_key, r.family_key, r.display_key \
         FROM UNNEST($2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], \
         $9::text[], $10::jsonb[], $11::jsonb[], $12::jsonb[], $13::text[], $14::text[], $15::int8[], \
         $16::timestamptz[], $17::timestamptz[], $18::timestamptz[], $19::text[], $20::text[], $21::text[], \
         $22::text[]) AS r(id, given_name, family_name, nickname, company, job_title, department, notes, labels, \
         phones, emails, source, created_by, version, deleted_at, created_at, updated_at, sort_key, given_key, \
         family_key, display_key) {on_conflict}"
    );
    let keys: Vec<SortKeys> = contacts.iter().map(|c| SortKeys::of(c)).collect();
    let column = |get: fn(&ContactFields) -> &Option<String>| contacts.iter().map(move |c| get(&c.fields).as_deref());
    script.postgres_statement(sql, |q| {
        q.bind(ws.0)
            .bind(contacts.iter().map(|c| c.id).bind_iter())
            .bind(column(|f| &f.given_name).bind_iter())
            .bind(column(|f| &f.family_name).bind_iter())
            .bind(column(|f| &f.nickname).bind_iter())
            .bind(column(|f| &f.company).bind_iter())
            .bind(column(|f| &f.job_title).bind_iter())
            .bind(column(|f| &f.department).bind_iter())
            .bind(column(|f| &f.notes).bind_iter())
            .bind(contacts.iter().map(|c| Json(&c.fields.labels)).bind_iter())
            .bind(contacts.iter().map(|c| Json(&c.fields.phones)).bind_iter())
            .bind(contacts.iter().map(|c| Json(&c.fields.emails)).bind_iter())
            .bind(contacts.iter().map(|c| c.source.as_str()).bind_iter())
            .bind(contacts.iter().map(|c| c.created_by.as_str()).bind_iter())
            .bind(contacts.iter().map(|c| c.version).bind_iter())
            .bind(contacts.iter().map(|c| c.deleted_at).bind_iter())
            .bind(contacts.iter().map(|c| c.created_at).bind_iter())
            .bind(contacts.iter().map(|c| c.updated_at).bind_iter())
            .bind(keys.iter().map(|k| k.sort.as_str()).bind_iter())
            .bind(keys.iter().map(|k| k.given.as_deref()).bind_iter())
            .bind(keys.iter().map(|k| k.family.as_deref()).bind_iter())
            .bind(keys.iter().map(SortKeys::display).bind_iter())
    });
}

/// The folded keys a contact is sorted and searched by in phone directories (`switchboard_domain::fold`):
/// its display name, given name and family name.
pub struct SortKeys {
    /// Folded display name: the directory order.
    pub sort: String,
    /// Folded given name, for prefix search.
    pub given: Option<String>,
    /// Folded family name, for prefix search.
    pub family: Option<String>,
}

impl SortKeys {
    /// The folded display name of a contact without a given or family name (a company, nickname, address
    /// or number), for prefix search: every other display name is made of those names
    /// ([`switchboard_domain::ContactFields::display_name`]), so a search without a space that matches it
    /// matches one of them.
    pub fn display(&self) -> Option<String> {
        (self.given.is_none() && self.family.is_none()).then(|| self.sort.clone())
    }
}

impl SortKeys {
    /// The keys of `contact`.
    pub fn of(contact: &Contact) -> Self {
        let fold = |v: &Option<String>| v.as_deref().map(switchboard_domain::fold).filter(|k| !k.is_empty());
        Self {
            sort: switchboard_domain::fold(&contact.display_name),
            given: fold(&contact.fields.given_name),
            family: fold(&contact.fields.family_name),
        }
    }
}

/// Computes the directory keys of contacts and numbers written before they existed (migration 0003 adds
/// the columns; folding and reversing are Rust, not SQL). Derived columns: no version change, no feed row.
/// Returns rows filled.
pub async fn backfill_directory_keys(db: &switchboard_store::Db) -> Result<u64, sqlx::Error> {
    let mut filled = 0;
    loop {
        let mut tx = db.begin().await?;
        let mut conn = tx.conn();
        let sql = format!("SELECT {COLUMNS} FROM contacts c WHERE c.sort_key IS NULL LIMIT 1000");
        let rows: Vec<ContactRow> =
            conn_run!(&mut conn, c => sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(&mut **c).await)?;
        let phones: Vec<(Uuid, i32, String)> = conn_run!(&mut conn, c => sqlx::query_as(
            "SELECT contact_id, position, digits FROM contact_phones WHERE digits_rev IS NULL LIMIT 1000",
        ).fetch_all(&mut **c).await)?;
        if rows.is_empty() && phones.is_empty() {
            return Ok(filled);
        }
        for contact in rows.into_iter().map(Contact::from) {
            let keys = SortKeys::of(&contact);
            conn_run!(&mut conn, c => sqlx::query(
                "UPDATE contacts SET display_key = $2, sort_key = $3, given_key = $4, family_key = $5 WHERE id = $1",
            ).bind(contact.id).bind(keys.display()).bind(keys.sort).bind(keys.given).bind(keys.family)
                .execute(&mut **c).await
                .map(|r| r.rows_affected()))?;
            filled += 1;
        }
        for (id, position, digits) in phones {
            conn_run!(&mut conn, c => sqlx::query(
                "UPDATE contact_phones SET digits_rev = $3 WHERE contact_id = $1 AND position = $2",
            ).bind(id).bind(position).bind(reversed(&digits)).execute(&mut **c).await.map(|r| r.rows_affected()))?;
            filled += 1;
        }
        tx.commit().await?;
    }
}

/// A number's digits reversed (`contact_phones.digits_rev`): "ends with" as a prefix range on an index.
pub fn reversed(digits: &str) -> String {
    digits.chars().rev().collect()
}

/// The upper bound of "starts with `prefix`" for a range over a byte-wise key (`>= prefix AND <` this): no
/// valid character sorts after U+10FFFF.
pub fn prefix_end(prefix: &str) -> String {
    format!("{prefix}\u{10FFFF}")
}

/// Deletes the `contact_phones` rows of `old` and inserts the current lists of `contacts`.
pub async fn replace_phones(
    conn: &mut Conn<'_>,
    ws: WorkspaceId,
    old: &[&Contact],
    contacts: &[&Contact],
) -> Result<(), sqlx::Error> {
    let mut script = Script::separate(conn.backend());
    delete_children(&mut script, "contact_phones", old);
    phone_rows(&mut script, ws, contacts);
    script.run(conn).await
}

/// Inserts the `contact_phones` rows of `contacts` (whose old rows are gone: new contacts, or deleted with
/// [`delete_children`]).
pub fn phone_rows(script: &mut Script, ws: WorkspaceId, contacts: &[&Contact]) {
    let rows: Vec<(Uuid, usize, &PhoneEntry)> =
        contacts.iter().flat_map(|c| c.fields.phones.iter().enumerate().map(|(i, p)| (c.id, i, p))).collect();
    if script.backend() == Backend::Postgres {
        // Column arrays, one statement text for any number of rows (see `contact_arrays`).
        if !rows.is_empty() {
            let sql = "INSERT INTO contact_phones (contact_id, position, workspace_id, raw, e164, extension, digits, \
                       kind, digits_rev) SELECT r.contact_id, r.position, $1::uuid, r.raw, r.e164, r.extension, \
                       r.digits, r.kind, r.digits_rev FROM UNNEST($2::uuid[], $3::int4[], $4::text[], $5::text[], \
                       $6::text[], $7::text[], $8::text[], $9::text[]) \
                       AS r(contact_id, position, raw, e164, extension, digits, kind, digits_rev)";
            script.postgres_statement(sql.to_owned(), |q| {
                q.bind(ws.0)
                    .bind(rows.iter().map(|(id, _, _)| *id).bind_iter())
                    .bind(rows.iter().map(|(_, i, _)| *i as i32).bind_iter())
                    .bind(rows.iter().map(|(_, _, p)| p.raw.as_str()).bind_iter())
                    .bind(rows.iter().map(|(_, _, p)| p.e164.as_deref()).bind_iter())
                    .bind(rows.iter().map(|(_, _, p)| p.extension.as_deref()).bind_iter())
                    .bind(rows.iter().map(|(_, _, p)| p.digits.as_str()).bind_iter())
                    .bind(rows.iter().map(|(_, _, p)| p.kind.as_str()).bind_iter())
                    .bind(rows.iter().map(|(_, _, p)| reversed(&p.digits)).bind_iter())
            });
        }
        return;
    }
    for chunk in rows.chunks(1_000) {
        let sql = format!(
            "INSERT INTO contact_phones (contact_id, position, workspace_id, raw, e164, extension, digits, kind, digits_rev) \
             VALUES {}",
            switchboard_store::value_rows(script.backend(), chunk.len(), 9)
        );
        statement!(script, sql, q => {
            for (id, i, p) in chunk {
                q = q.bind(*id).bind(*i as i32).bind(ws.0).bind(&p.raw).bind(&p.e164)
                    .bind(&p.extension).bind(&p.digits).bind(&p.kind)
                    .bind(reversed(&p.digits));
            }
            q
        });
    }
}

/// Deletes the `contact_emails` rows of `old` and inserts the current lists of `contacts`.
pub async fn replace_emails(
    conn: &mut Conn<'_>,
    ws: WorkspaceId,
    old: &[&Contact],
    contacts: &[&Contact],
) -> Result<(), sqlx::Error> {
    let mut script = Script::separate(conn.backend());
    delete_children(&mut script, "contact_emails", old);
    email_rows(&mut script, ws, contacts);
    script.run(conn).await
}

/// Inserts the `contact_emails` rows of `contacts` (see [`phone_rows`]).
pub fn email_rows(script: &mut Script, ws: WorkspaceId, contacts: &[&Contact]) {
    let rows: Vec<(Uuid, usize, &EmailEntry)> =
        contacts.iter().flat_map(|c| c.fields.emails.iter().enumerate().map(|(i, e)| (c.id, i, e))).collect();
    if script.backend() == Backend::Postgres {
        if !rows.is_empty() {
            let sql = "INSERT INTO contact_emails (contact_id, position, workspace_id, address, kind) \
                       SELECT r.contact_id, r.position, $1::uuid, r.address, r.kind \
                       FROM UNNEST($2::uuid[], $3::int4[], $4::text[], $5::text[]) AS r(contact_id, position, address, kind)";
            script.postgres_statement(sql.to_owned(), |q| {
                q.bind(ws.0)
                    .bind(rows.iter().map(|(id, _, _)| *id).bind_iter())
                    .bind(rows.iter().map(|(_, i, _)| *i as i32).bind_iter())
                    .bind(rows.iter().map(|(_, _, e)| e.address.as_str()).bind_iter())
                    .bind(rows.iter().map(|(_, _, e)| e.kind.as_str()).bind_iter())
            });
        }
        return;
    }
    for chunk in rows.chunks(1_000) {
        let sql = format!(
            "INSERT INTO contact_emails (contact_id, position, workspace_id, address, kind) VALUES {}",
            switchboard_store::value_rows(script.backend(), chunk.len(), 5)
        );
        statement!(script, sql, q => {
            for (id, i, e) in chunk {
                q = q.bind(*id).bind(*i as i32).bind(ws.0).bind(&e.address).bind(&e.kind);
            }
            q
        });
    }
}

/// Deletes the rows of `table` (`contact_phones` or `contact_emails`) of `contacts`.
pub fn delete_children(script: &mut Script, table: &'static str, contacts: &[&Contact]) {
    if script.backend() == Backend::Postgres {
        if !contacts.is_empty() {
            let sql = format!("DELETE FROM {table} WHERE contact_id = ANY($1::uuid[])");
            script.postgres_statement(sql, |q| q.bind(contacts.iter().map(|c| c.id).bind_iter()));
        }
        return;
    }
    for chunk in contacts.chunks(1_000) {
        let list = switchboard_store::placeholders(script.backend(), 1, chunk.len());
        let sql = format!("DELETE FROM {table} WHERE contact_id IN ({list})");
        statement!(script, sql, q => {
            for contact in chunk {
                q = q.bind(contact.id);
            }
            q
        });
    }
}
