//! The SQL of phone directories: live contacts with at least one number, in directory order (the folded
//! `sort_key`, then id: byte-wise on both databases), read by keyset from a contact, optionally
//! restricted to a token's labels and filtered by letter group, name prefix or digits.

use crate::contacts::Contact;
use crate::contacts::store::{Param, bind_params, select};
use switchboard_domain::WorkspaceId;
use switchboard_store::{Backend, Conn, conn_run};
use uuid::Uuid;

/// Which contacts a directory shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Search {
    /// Every contact.
    All,
    /// Display names starting with this letter (`a`–`z`), or with anything else (`#`).
    Letter(char),
    /// Given, family or display name starting with this folded text.
    Name(String),
    /// A number containing these digits.
    Number(String),
}

/// The upper bound of "starts with `prefix`" in byte order: no valid character sorts after U+10FFFF.
fn prefix_end(prefix: &str) -> String {
    format!("{prefix}\u{10FFFF}")
}

/// The WHERE condition (over alias `c`, parameters from `$2`) for a token's labels and a search.
fn condition(backend: Backend, labels: &[String], search: &Search, params: &mut Vec<Param>) -> String {
    let next = |p: Param, params: &mut Vec<Param>| {
        params.push(p);
        format!("${}", params.len() + 1)
    };
    let mut parts = vec![
        "c.deleted_at IS NULL".to_owned(),
        match backend {
            Backend::Sqlite => "c.phones <> '[]'".to_owned(),
            Backend::Postgres => "c.phones <> '[]'::jsonb".to_owned(),
        },
    ];
    if !labels.is_empty() {
        let list: Vec<String> = labels.iter().map(|l| next(Param::Text(l.clone()), params)).collect();
        parts.push(match backend {
            Backend::Sqlite => {
                format!("EXISTS (SELECT 1 FROM json_each(c.labels) l WHERE l.value IN ({}))", list.join(", "))
            }
            Backend::Postgres => format!("c.labels ?| ARRAY[{}]::text[]", list.join(", ")),
        });
    }
    match search {
        Search::All => {}
        Search::Letter(letter) if letter.is_ascii_lowercase() => {
            let from = next(Param::Text(letter.to_string()), params);
            let to = next(Param::Text(((*letter as u8) + 1).escape_ascii().to_string()), params);
            parts.push(format!("c.sort_key >= {from} AND c.sort_key < {to}"));
        }
        Search::Letter(_) => parts.push("(c.sort_key < 'a' OR c.sort_key >= '{')".to_owned()),
        Search::Name(prefix) => {
            let from = next(Param::Text(prefix.clone()), params);
            let to = next(Param::Text(prefix_end(prefix)), params);
            parts.push(format!(
                "((c.given_key >= {from} AND c.given_key < {to}) OR (c.family_key >= {from} AND c.family_key < {to}) \
                 OR (c.sort_key >= {from} AND c.sort_key < {to}))"
            ));
        }
        Search::Number(digits) => {
            let pattern = next(Param::Text(format!("%{digits}%")), params);
            parts.push(format!(
                "EXISTS (SELECT 1 FROM contact_phones p WHERE p.contact_id = c.id AND p.digits LIKE {pattern})"
            ));
        }
    }
    parts.join(" AND ")
}

/// Up to `limit` contacts in directory order, from contact `start` (`(id, true)`: that contact first;
/// `(id, false)`: the ones after it; `None`: from the beginning).
pub async fn from(
    conn: &mut Conn<'_>,
    ws: WorkspaceId,
    labels: &[String],
    search: &Search,
    start: Option<(Uuid, bool)>,
    limit: i64,
) -> Result<Vec<Contact>, sqlx::Error> {
    let mut params = Vec::new();
    let mut cond = condition(conn.backend(), labels, search, &mut params);
    if let Some((start, inclusive)) = start {
        params.push(Param::Uuid(start));
        let n = params.len() + 1;
        let op = if inclusive { ">=" } else { ">" };
        cond.push_str(&format!(
            " AND (c.sort_key, c.id) {op} (SELECT s.sort_key, s.id FROM contacts s WHERE s.workspace_id = $1 AND s.id = ${n})"
        ));
    }
    params.push(Param::Int(limit));
    let tail = format!("ORDER BY c.sort_key, c.id LIMIT ${}", params.len() + 1);
    select(conn, ws, &cond, &tail, &params).await
}

/// Up to `limit` contacts before contact `before`, nearest first (for the Previous page).
pub async fn before(
    conn: &mut Conn<'_>,
    ws: WorkspaceId,
    labels: &[String],
    search: &Search,
    before: Uuid,
    limit: i64,
) -> Result<Vec<Contact>, sqlx::Error> {
    let mut params = Vec::new();
    let mut cond = condition(conn.backend(), labels, search, &mut params);
    params.push(Param::Uuid(before));
    let n = params.len() + 1;
    cond.push_str(&format!(
        " AND (c.sort_key, c.id) < (SELECT s.sort_key, s.id FROM contacts s WHERE s.workspace_id = $1 AND s.id = ${n})"
    ));
    params.push(Param::Int(limit));
    let tail = format!("ORDER BY c.sort_key DESC, c.id DESC LIMIT ${}", params.len() + 1);
    select(conn, ws, &cond, &tail, &params).await
}

/// Whether the directory has more than `n` contacts (the top menu is shown for large directories); reads
/// at most `n + 1` index entries.
pub async fn more_than(conn: &mut Conn<'_>, ws: WorkspaceId, labels: &[String], n: i64) -> Result<bool, sqlx::Error> {
    let mut params = Vec::new();
    let cond = condition(conn.backend(), labels, &Search::All, &mut params);
    params.push(Param::Int(n + 1));
    let sql = format!(
        "SELECT COUNT(*) FROM (SELECT 1 FROM contacts c WHERE c.workspace_id = $1 AND {cond} LIMIT ${}) x",
        params.len() + 1
    );
    let count: i64 = conn_run!(conn, c => {
        let q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).bind(ws.0);
        bind_params!(q, &params).fetch_one(&mut **c).await
    })?;
    Ok(count > n)
}
