//! The SQL of contacts. Every function takes a [`Conn`], so the writer calls them inside its transaction
//! and readers on a pooled connection; every query is scoped by workspace.

use super::Contact;
use chrono::{DateTime, Utc};
use std::collections::{BTreeSet, HashMap};
use switchboard_domain::{ContactFields, EmailEntry, Field, PhoneEntry, WorkspaceId};
use switchboard_store::{Conn, conn_run};
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
macro_rules! bind_params {
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

#[derive(sqlx::FromRow)]
struct ContactRow {
    id: Uuid,
    given_name: Option<String>,
    family_name: Option<String>,
    nickname: Option<String>,
    company: Option<String>,
    job_title: Option<String>,
    department: Option<String>,
    notes: Option<String>,
    labels: sqlx::types::Json<Vec<String>>,
    source: String,
    created_by: String,
    version: i64,
    deleted_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct PhoneRow {
    contact_id: Uuid,
    raw: String,
    e164: Option<String>,
    extension: Option<String>,
    digits: String,
    kind: String,
}

#[derive(sqlx::FromRow)]
struct EmailRow {
    contact_id: Uuid,
    address: String,
    kind: String,
}

const COLUMNS: &str = "c.id, c.given_name, c.family_name, c.nickname, c.company, c.job_title, c.department, \
     c.notes, c.labels, c.source, c.created_by, c.version, c.deleted_at, c.created_at, c.updated_at";

/// `$first, $first+1, …` for `n` parameters.
pub fn placeholders(first: usize, n: usize) -> String {
    (first..first + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// Contacts of `ws` matching `condition` (SQL over alias `c`, using parameters from `$2`), in the order
/// and limit `tail` gives (e.g. `ORDER BY c.version LIMIT $3`), with their phones and emails.
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
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Param> = rows.iter().map(|r| Param::Uuid(r.id)).collect();
    let list = placeholders(1, ids.len());
    let phones_sql = format!(
        "SELECT contact_id, raw, e164, extension, digits, kind FROM contact_phones \
         WHERE contact_id IN ({list}) ORDER BY contact_id, position"
    );
    let emails_sql = format!(
        "SELECT contact_id, address, kind FROM contact_emails WHERE contact_id IN ({list}) ORDER BY contact_id, position"
    );
    let phones: Vec<PhoneRow> = conn_run!(conn, c => {
        bind_params!(sqlx::query_as(sqlx::AssertSqlSafe(phones_sql)), &ids).fetch_all(&mut **c).await
    })?;
    let emails: Vec<EmailRow> = conn_run!(conn, c => {
        bind_params!(sqlx::query_as(sqlx::AssertSqlSafe(emails_sql)), &ids).fetch_all(&mut **c).await
    })?;
    let mut phones_of: HashMap<Uuid, Vec<PhoneEntry>> = HashMap::new();
    for p in phones {
        phones_of.entry(p.contact_id).or_default().push(PhoneEntry {
            raw: p.raw,
            e164: p.e164,
            extension: p.extension,
            digits: p.digits,
            kind: p.kind,
        });
    }
    let mut emails_of: HashMap<Uuid, Vec<EmailEntry>> = HashMap::new();
    for e in emails {
        emails_of.entry(e.contact_id).or_default().push(EmailEntry { address: e.address, kind: e.kind });
    }
    Ok(rows
        .into_iter()
        .map(|r| {
            let fields = ContactFields {
                given_name: r.given_name,
                family_name: r.family_name,
                nickname: r.nickname,
                company: r.company,
                job_title: r.job_title,
                department: r.department,
                notes: r.notes,
                labels: r.labels.0,
                phones: phones_of.remove(&r.id).unwrap_or_default(),
                emails: emails_of.remove(&r.id).unwrap_or_default(),
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
        })
        .collect())
}

/// One contact of `ws`, tombstones included.
pub async fn get(conn: &mut Conn<'_>, ws: WorkspaceId, id: Uuid) -> Result<Option<Contact>, sqlx::Error> {
    Ok(select(conn, ws, "c.id = $2", "", &[Param::Uuid(id)]).await?.pop())
}

/// Whether a contact with this id exists in any workspace (client-chosen ids must not collide).
pub async fn id_taken(conn: &mut Conn<'_>, id: Uuid) -> Result<bool, sqlx::Error> {
    let n: i64 = conn_run!(conn, c => sqlx::query_scalar("SELECT COUNT(*) FROM contacts WHERE id = $1")
        .bind(id).fetch_one(&mut **c).await)?;
    Ok(n > 0)
}

/// Contacts changed after `after`, in version order, at most `limit`.
pub async fn changed_since(
    conn: &mut Conn<'_>,
    ws: WorkspaceId,
    after: i64,
    limit: i64,
) -> Result<Vec<Contact>, sqlx::Error> {
    select(conn, ws, "c.version > $2", "ORDER BY c.version LIMIT $3", &[Param::Int(after), Param::Int(limit)]).await
}

/// Inserts a new contact row and its children.
pub async fn insert(conn: &mut Conn<'_>, ws: WorkspaceId, contact: &Contact) -> Result<(), sqlx::Error> {
    let f = &contact.fields;
    let labels = sqlx::types::Json(&f.labels);
    conn_run!(conn, c => sqlx::query(
        "INSERT INTO contacts (id, workspace_id, given_name, family_name, nickname, company, job_title, department, \
         notes, labels, source, created_by, version, deleted_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, NULL, $14, $14)",
    )
    .bind(contact.id).bind(ws.0).bind(&f.given_name).bind(&f.family_name).bind(&f.nickname).bind(&f.company)
    .bind(&f.job_title).bind(&f.department).bind(&f.notes).bind(labels).bind(&contact.source)
    .bind(&contact.created_by).bind(contact.version).bind(contact.created_at)
    .execute(&mut **c).await.map(|r| r.rows_affected()))?;
    replace_phones(conn, ws, contact.id, &f.phones).await?;
    replace_emails(conn, ws, contact.id, &f.emails).await
}

/// Writes the new field values of an existing contact with its new version.
pub async fn update(
    conn: &mut Conn<'_>,
    ws: WorkspaceId,
    id: Uuid,
    fields: &ContactFields,
    changed: &BTreeSet<Field>,
    version: i64,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let labels = sqlx::types::Json(&fields.labels);
    conn_run!(conn, c => sqlx::query(
        "UPDATE contacts SET given_name = $3, family_name = $4, nickname = $5, company = $6, job_title = $7, \
         department = $8, notes = $9, labels = $10, version = $11, updated_at = $12 \
         WHERE workspace_id = $1 AND id = $2",
    )
    .bind(ws.0).bind(id).bind(&fields.given_name).bind(&fields.family_name).bind(&fields.nickname)
    .bind(&fields.company).bind(&fields.job_title).bind(&fields.department).bind(&fields.notes).bind(labels)
    .bind(version).bind(now)
    .execute(&mut **c).await.map(|r| r.rows_affected()))?;
    if changed.contains(&Field::Phones) {
        replace_phones(conn, ws, id, &fields.phones).await?;
    }
    if changed.contains(&Field::Emails) {
        replace_emails(conn, ws, id, &fields.emails).await?;
    }
    Ok(())
}

/// Marks a contact deleted (the row stays as a tombstone until retention purges it).
pub async fn tombstone(
    conn: &mut Conn<'_>,
    ws: WorkspaceId,
    id: Uuid,
    version: i64,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    conn_run!(conn, c => sqlx::query(
        "UPDATE contacts SET deleted_at = $3, version = $4, updated_at = $3 WHERE workspace_id = $1 AND id = $2",
    ).bind(ws.0).bind(id).bind(now).bind(version).execute(&mut **c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

async fn replace_phones(
    conn: &mut Conn<'_>,
    ws: WorkspaceId,
    id: Uuid,
    phones: &[PhoneEntry],
) -> Result<(), sqlx::Error> {
    conn_run!(conn, c => {
        sqlx::query("DELETE FROM contact_phones WHERE contact_id = $1").bind(id).execute(&mut **c).await?;
        for (i, p) in phones.iter().enumerate() {
            sqlx::query(
                "INSERT INTO contact_phones (contact_id, position, workspace_id, raw, e164, extension, digits, kind) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(id).bind(i as i32).bind(ws.0).bind(&p.raw).bind(&p.e164).bind(&p.extension).bind(&p.digits)
            .bind(&p.kind).execute(&mut **c).await?;
        }
        Ok::<(), sqlx::Error>(())
    })
}

async fn replace_emails(
    conn: &mut Conn<'_>,
    ws: WorkspaceId,
    id: Uuid,
    emails: &[EmailEntry],
) -> Result<(), sqlx::Error> {
    conn_run!(conn, c => {
        sqlx::query("DELETE FROM contact_emails WHERE contact_id = $1").bind(id).execute(&mut **c).await?;
        for (i, e) in emails.iter().enumerate() {
            sqlx::query(
                "INSERT INTO contact_emails (contact_id, position, workspace_id, address, kind) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(id).bind(i as i32).bind(ws.0).bind(&e.address).bind(&e.kind).execute(&mut **c).await?;
        }
        Ok::<(), sqlx::Error>(())
    })
}

/// Active (not deleted) contacts of a workspace.
pub async fn count_active(conn: &mut Conn<'_>, ws: WorkspaceId) -> Result<i64, sqlx::Error> {
    conn_run!(conn, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM contacts WHERE workspace_id = $1 AND deleted_at IS NULL",
    ).bind(ws.0).fetch_one(&mut **c).await)
}
