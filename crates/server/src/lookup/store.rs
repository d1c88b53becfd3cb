//! The SQL of caller lookup: one statement that finds the live contacts of a workspace with a number that
//! can match a key, through the `contact_phones` indexes only (no scan, whatever the workspace's size):
//! `(workspace_id, e164)` for the exact match, `(workspace_id, digits_rev)` for national and trailing
//! matches (a prefix range of the reversed last seven digits; the longer suffix is checked in Rust), `(workspace_id, digits)` for internal extensions. The contacts
//! come by primary key, with their phone lists, which the ranking reads.

use crate::contacts::Contact;
use crate::contacts::store::{self, Param, prefix_end, reversed};
use switchboard_domain::{LookupKey, WorkspaceId};
use switchboard_store::Conn;

/// Most candidate contacts read for one lookup: far more than any real number has (a company's main line
/// on every employee's card), small enough that a pathological workspace cannot make a lookup slow.
pub const MAX_CANDIDATES: i64 = 1_000;

/// Live contacts of `ws` with a number that can match `key`: the same E.164 number, ending with the same
/// seven digits, or the same internal extension. A superset of the matches; [`switchboard_domain::lookup::rank`]
/// decides.
pub async fn candidates(conn: &mut Conn<'_>, ws: WorkspaceId, key: &LookupKey) -> Result<Vec<Contact>, sqlx::Error> {
    const EXACT: &str = "SELECT p.contact_id FROM contact_phones p WHERE p.workspace_id = $1 AND p.e164 = ";
    // `digits_rev` starts with the reversed tail: a range `>= tail AND < prefix_end(tail)`.
    const TAIL: &str = "SELECT p.contact_id FROM contact_phones p WHERE p.workspace_id = $1 AND p.digits_rev >= ";
    let tail_range = |tail: &str| {
        let start = reversed(tail);
        let end = prefix_end(&start);
        (Param::Text(start), Param::Text(end))
    };
    let (ids, params) = if let Some(internal) = &key.internal {
        // Only the digits: with `e164 IS NULL` too, PostgreSQL may walk every NULL of the e164 index
        // instead (a public number never has as few digits; the ranking checks anyway).
        let sql = "SELECT p.contact_id FROM contact_phones p WHERE p.workspace_id = $1 AND p.digits = $2";
        (sql.to_owned(), vec![Param::Text(internal.clone())])
    } else {
        match (&key.e164, key.tail7()) {
            (Some(e164), Some(tail)) => {
                let (start, end) = tail_range(tail);
                (format!("{EXACT}$2 UNION {TAIL}$3 AND p.digits_rev < $4"), vec![Param::Text(e164.clone()), start, end])
            }
            (Some(e164), None) => (format!("{EXACT}$2"), vec![Param::Text(e164.clone())]),
            (None, Some(tail)) => {
                let (start, end) = tail_range(tail);
                (format!("{TAIL}$2 AND p.digits_rev < $3"), vec![start, end])
            }
            (None, None) => return Ok(Vec::new()),
        }
    };
    store::select(
        conn,
        ws,
        &format!("c.deleted_at IS NULL AND c.id IN ({ids})"),
        &format!("LIMIT {MAX_CANDIDATES}"),
        &params,
    )
    .await
}
