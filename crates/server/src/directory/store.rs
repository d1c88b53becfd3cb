//! The SQL of phone directories: live contacts with at least one number, optionally restricted to a
//! token's labels, read by keyset in a listing's order, forwards or backwards, never by OFFSET.
//!
//! A listing is one or more *branches*, each an ordered walk of one index with no sort step: the whole
//! directory and its letter groups walk `(sort_key, id)`; a name search walks the given, family and
//! display name indexes by `(key, sort_key, id)`, and each contact is listed once, under the smallest of its
//! names that matches; a number search walks the numbers that start with the digits (read nationally and
//! internationally: [`DialSettings::search_prefixes`]) by `(digits, contact, position)`, then those that
//! end with them by the reversed digits. Every branch reads at most the rows a page needs, and the
//! branches are merged by [`Position`], so a page costs the same at the end of a million contacts as at
//! the start, and a rare search term is as fast as a common one. Keys compare byte-wise on both databases
//! (SQLite's BINARY, PostgreSQL's `COLLATE "C"`), and so does [`Position`]'s `Ord`.

use crate::contacts::Contact;
use crate::contacts::store::{COLUMNS, ContactRow, Param, bind_params, prefix_end};
use switchboard_domain::WorkspaceId;
use switchboard_domain::directory::DialSettings;
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
    /// Numbers starting (nationally or internationally) or ending with these digits; one row per number.
    Number(String),
}

impl Search {
    /// Whether the listing's rows are numbers (one entry each) rather than contacts (one entry per number).
    pub fn lists_numbers(&self) -> bool {
        matches!(self, Self::Number(_))
    }
}

/// Where a row stands in its listing: the tuple every branch is ordered by, compared field by field.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    /// The branch group: a number search lists numbers that start with the digits (0) before those that
    /// only end with them (1); 0 everywhere else.
    pub rank: u8,
    /// The sort key (directory), the matching folded name (name search), or the digits (reversed for
    /// "ends with").
    pub key: String,
    /// The sort key after a matching name; empty in other listings.
    pub sort_key: String,
    /// The contact.
    pub id: Uuid,
    /// The number's position in the contact's list (number search); 0 in other listings.
    pub phone: i32,
}

/// A contact as a listing returns it, with where it stands.
#[derive(Debug, Clone)]
pub struct Row {
    /// The contact.
    pub contact: Contact,
    /// Its place in the listing; for a number search, `phone` is the number listed.
    pub at: Position,
}

/// Which way a read goes from its start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// In listing order.
    Forward,
    /// Against it, nearest first.
    Backward,
}

/// Where a read starts: at a position (including the row there or not).
#[derive(Debug, Clone)]
pub struct Start {
    pub at: Position,
    pub inclusive: bool,
}

/// The columns a branch is ordered by after its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Order {
    /// `(c.sort_key, c.id)`: the key is the sort key.
    Directory,
    /// `(key, c.sort_key, c.id)`.
    Name,
    /// `(key, p.contact_id, p.position)` over the numbers `p`.
    Number,
}

/// One ordered index walk of a listing.
#[derive(Debug, Clone)]
struct Branch {
    rank: u8,
    order: Order,
    /// The key column.
    key: &'static str,
    /// The branch's own condition (key ranges, exclusions), with its parameters.
    condition: String,
    params: Vec<Param>,
}

/// Builds SQL text with numbered parameters: `$1` is the workspace, the rest are pushed in order.
struct Sql {
    params: Vec<Param>,
}

impl Sql {
    fn param(&mut self, p: Param) -> String {
        self.params.push(p);
        format!("${}", self.params.len() + 1)
    }

    /// `column` starts with `prefix`: a range an index serves.
    fn starts_with(&mut self, column: &str, prefix: &str) -> String {
        let from = self.param(Param::Text(prefix.to_owned()));
        let to = self.param(Param::Text(prefix_end(prefix)));
        format!("({column} >= {from} AND {column} < {to})")
    }
}

/// The branches of a listing. Parameters of each branch are numbered from `$2` by [`read`].
fn branches(search: &Search, dial: &DialSettings) -> Vec<Branch> {
    let branch = |order, key, build: &dyn Fn(&mut Sql) -> String| {
        let mut sql = Sql { params: Vec::new() };
        let condition = build(&mut sql);
        Branch { rank: 0, order, key, condition, params: sql.params }
    };
    match search {
        Search::All => vec![branch(Order::Directory, "c.sort_key", &|_| "TRUE".into())],
        Search::Letter(letter) if letter.is_ascii_lowercase() => {
            vec![branch(Order::Directory, "c.sort_key", &|sql| sql.starts_with("c.sort_key", &letter.to_string()))]
        }
        // Two ranges, so neither walk passes through the letters.
        Search::Letter(_) => vec![
            branch(Order::Directory, "c.sort_key", &|_| "c.sort_key < 'a'".into()),
            branch(Order::Directory, "c.sort_key", &|_| "c.sort_key >= '{'".into()),
        ],
        Search::Name(prefix) => {
            // A contact is listed under the smallest of its names that match (given before family before
            // display name on a tie), so each branch leaves out the contacts another branch lists.
            let names = [("c.given_key", 0), ("c.family_key", 1), (display_column(prefix), 2)];
            names
                .iter()
                .map(|&(column, rank)| {
                    branch(Order::Name, column, &|sql| {
                        let mut parts = vec![sql.starts_with(column, prefix)];
                        for &(other, other_rank) in names.iter().filter(|(o, _)| *o != column) {
                            let wins = if other_rank < rank { "<=" } else { "<" };
                            let matches = sql.starts_with(&format!("COALESCE({other}, '')"), prefix);
                            parts.push(format!("NOT ({matches} AND COALESCE({other}, '') {wins} {column})"));
                        }
                        parts.join(" AND ")
                    })
                })
                .collect()
        }
        Search::Number(digits) => {
            let prefixes = dial.search_prefixes(digits);
            let mut out: Vec<Branch> = prefixes
                .iter()
                .map(|prefix| branch(Order::Number, "p.digits", &|sql| sql.starts_with("p.digits", prefix)))
                .collect();
            let reversed = crate::contacts::store::reversed(digits);
            let mut suffix = branch(Order::Number, "p.digits_rev", &|sql| {
                let mut parts = vec![sql.starts_with("p.digits_rev", &reversed)];
                // Numbers listed by a prefix branch already: those whose reversed digits end with a reversed
                // prefix. Read from `digits_rev`, so the walk needs nothing but its index (no row of
                // `contact_phones` per number: on PostgreSQL those were half the pages a search read). Prefixes are
                // digits only, so the pattern has no wildcard but its leading `%`.
                for prefix in &prefixes {
                    let pattern = sql.param(Param::Text(format!("%{}", crate::contacts::store::reversed(prefix))));
                    parts.push(format!("p.digits_rev NOT LIKE {pattern}"));
                }
                parts.join(" AND ")
            });
            suffix.rank = 1;
            out.push(suffix);
            out
        }
    }
}

/// The display-name key a name search reads: a search without a space only needs the display names not
/// made of given and family names (`display_key`); one with a space ("ann l") reads every display name.
fn display_column(prefix: &str) -> &'static str {
    if prefix.contains(' ') { "c.sort_key" } else { "c.display_key" }
}

/// The row-value comparison of a keyset over a branch's order columns.
fn keyset(order: Order, key: &str, op: &str, at: &Position, sql: &mut Sql) -> String {
    let k = sql.param(Param::Text(at.key.clone()));
    match order {
        Order::Directory => {
            let id = sql.param(Param::Uuid(at.id));
            format!("({key}, c.id) {op} ({k}, {id})")
        }
        Order::Name => {
            let s = sql.param(Param::Text(at.sort_key.clone()));
            let id = sql.param(Param::Uuid(at.id));
            format!("({key}, c.sort_key, c.id) {op} ({k}, {s}, {id})")
        }
        Order::Number => {
            let id = sql.param(Param::Uuid(at.id));
            let phone = sql.param(Param::Int(at.phone.into()));
            format!("({key}, p.contact_id, p.position) {op} ({k}, {id}, {phone})")
        }
    }
}

/// A listing row as the database returns it.
#[derive(sqlx::FromRow)]
struct ListingRow {
    #[sqlx(flatten)]
    contact: ContactRow,
    order_rank: i32,
    order_key: String,
    order_sort: String,
    order_phone: i32,
}

/// Up to `limit` rows of a listing from `start` (`None`: from its beginning, or end when reading
/// backwards), nearest first.
#[allow(clippy::too_many_arguments)] // the read's whole description; a struct would only rename them
pub async fn read(
    conn: &mut Conn<'_>,
    ws: WorkspaceId,
    labels: &[String],
    search: &Search,
    dial: &DialSettings,
    start: Option<&Start>,
    direction: Direction,
    limit: i64,
) -> Result<Vec<Row>, sqlx::Error> {
    // One statement for all branches (each its own ordered, limited subquery): one round trip per read,
    // however many branches the listing has.
    let backend = conn.backend();
    let mut arms = Vec::new();
    let mut params: Vec<Param> = Vec::new();
    for (i, branch) in branches(search, dial).iter().enumerate() {
        let Some((text, branch_params)) = branch_sql(backend, labels, branch, start, direction, limit) else {
            continue;
        };
        arms.push(format!("SELECT * FROM ({}) AS b{i}", shift_parameters(&text, params.len())));
        params.extend(branch_params);
    }
    if arms.is_empty() {
        return Ok(Vec::new());
    }
    let dir = if direction == Direction::Forward { "ASC" } else { "DESC" };
    let sql = format!(
        "SELECT * FROM ({}) AS u ORDER BY u.order_rank {dir}, u.order_key {dir}, u.order_sort {dir}, u.id {dir}, \
         u.order_phone {dir} LIMIT {limit}",
        arms.join(" UNION ALL "),
    );
    let found: Vec<ListingRow> = conn_run!(conn, c => {
        let q = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(ws.0);
        bind_params!(q, &params).fetch_all(&mut **c).await
    })?;
    let mut rows: Vec<Row> = found
        .into_iter()
        .map(|r| Row {
            at: Position {
                rank: u8::try_from(r.order_rank).unwrap_or(u8::MAX),
                key: r.order_key,
                sort_key: r.order_sort,
                id: r.contact.id,
                phone: r.order_phone,
            },
            contact: Contact::from(r.contact),
        })
        .collect();
    // The database sorted them already; the same order in Rust is what the keysets rely on, so it is
    // applied here too rather than trusted (it costs nothing on 33 rows).
    match direction {
        Direction::Forward => rows.sort_by(|a, b| a.at.cmp(&b.at)),
        Direction::Backward => rows.sort_by(|a, b| b.at.cmp(&a.at)),
    }
    Ok(rows)
}

/// `sql` with every parameter `$n` from `$2` on renumbered `$n + by` (`$1`, the workspace, is shared):
/// each branch numbers its own parameters from `$2`, and several branches make one statement.
fn shift_parameters(sql: &str, by: usize) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut rest = sql;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..=at]);
        rest = &rest[at + 1..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        match rest[..digits].parse::<usize>() {
            Ok(n) if n >= 2 => out.push_str(&(n + by).to_string()),
            _ => out.push_str(&rest[..digits]),
        }
        rest = &rest[digits..];
    }
    out.push_str(rest);
    out
}

/// One branch's statement and parameters, or `None` when the whole branch lies behind `start`.
fn branch_sql(
    backend: Backend,
    labels: &[String],
    branch: &Branch,
    start: Option<&Start>,
    direction: Direction,
    limit: i64,
) -> Option<(String, Vec<Param>)> {
    let mut sql = Sql { params: branch.params.clone() };
    let mut parts = vec!["c.deleted_at IS NULL".to_owned(), branch.condition.clone()];
    if branch.order != Order::Number {
        parts.push(match backend {
            Backend::Sqlite => "c.phones <> '[]'".to_owned(),
            Backend::Postgres => "c.phones <> '[]'::jsonb".to_owned(),
        });
    }
    if !labels.is_empty() {
        let list: Vec<String> = labels.iter().map(|l| sql.param(Param::Text(l.clone()))).collect();
        parts.push(match backend {
            Backend::Sqlite => {
                format!("EXISTS (SELECT 1 FROM json_each(c.labels) l WHERE l.value IN ({}))", list.join(", "))
            }
            Backend::Postgres => format!("c.labels ?| ARRAY[{}]::text[]", list.join(", ")),
        });
    }
    if let Some(start) = start {
        use std::cmp::Ordering::*;
        let (ahead, op) = match (direction, start.inclusive) {
            (Direction::Forward, true) => (Greater, ">="),
            (Direction::Forward, false) => (Greater, ">"),
            (Direction::Backward, true) => (Less, "<="),
            (Direction::Backward, false) => (Less, "<"),
        };
        match branch.rank.cmp(&start.at.rank) {
            // The whole branch is on the side being read: no keyset.
            o if o == ahead => {}
            Equal => parts.push(keyset(branch.order, branch.key, op, &start.at, &mut sql)),
            _ => return None,
        }
    }
    let dir = if direction == Direction::Forward { "ASC" } else { "DESC" };
    let key = branch.key;
    let (from, order, sort, phone) = match branch.order {
        Order::Directory => ("contacts c", format!("{key} {dir}, c.id {dir}"), "''", "0"),
        Order::Name => ("contacts c", format!("{key} {dir}, c.sort_key {dir}, c.id {dir}"), "c.sort_key", "0"),
        Order::Number => (
            "contact_phones p JOIN contacts c ON c.id = p.contact_id",
            format!("{key} {dir}, p.contact_id {dir}, p.position {dir}"),
            "''",
            "p.position",
        ),
    };
    let scope = if branch.order == Order::Number {
        "p.workspace_id = $1 AND c.workspace_id = $1"
    } else {
        "c.workspace_id = $1"
    };
    // Limits are written into the statement, not bound: PostgreSQL's generic plans (the lookup pool's,
    // ADR 0009) cannot see a bound LIMIT and would plan for every row. They are integers: page sizes and
    // entry caps.
    let rank = branch.rank;
    let text = format!(
        "SELECT {COLUMNS}, {rank} AS order_rank, {key} AS order_key, {sort} AS order_sort, {phone} AS order_phone \
         FROM {from} \
         WHERE {scope} AND {} ORDER BY {order} LIMIT {limit}",
        parts.join(" AND ")
    );
    Some((text, sql.params))
}

/// The position of `contact` (and, for a number search, its number at `phone`) in a listing, to read
/// from a page cursor; `None` when the contact or number no longer exists.
pub async fn position_of(
    conn: &mut Conn<'_>,
    ws: WorkspaceId,
    search: &Search,
    dial: &DialSettings,
    contact: Uuid,
    phone: i32,
) -> Result<Option<Position>, sqlx::Error> {
    type Keys = (Option<String>, Option<String>, Option<String>, Option<String>, Option<String>);
    let keys: Option<Keys> = conn_run!(conn, c => sqlx::query_as(
        "SELECT c.sort_key, c.given_key, c.family_key, c.display_key, \
         (SELECT p.digits FROM contact_phones p WHERE p.contact_id = c.id AND p.position = $3) \
         FROM contacts c WHERE c.workspace_id = $1 AND c.id = $2",
    ).bind(ws.0).bind(contact).bind(phone).fetch_optional(&mut **c).await)?;
    let Some((sort, given, family, display, digits)) = keys else { return Ok(None) };
    let sort = sort.unwrap_or_default();
    let at = |rank, key: String, sort_key: String, phone| Position { rank, key, sort_key, id: contact, phone };
    Ok(match search {
        Search::All | Search::Letter(_) => Some(at(0, sort, String::new(), 0)),
        Search::Name(prefix) => {
            // The smallest matching name, as the branches list it; a contact that no longer matches stays
            // where its display name sorts.
            let display = if display_column(prefix) == "c.sort_key" { Some(sort.clone()) } else { display };
            let key = [given, family, display]
                .into_iter()
                .flatten()
                .filter(|k| k.starts_with(prefix.as_str()))
                .min()
                .unwrap_or_else(|| sort.clone());
            Some(at(0, key, sort, 0))
        }
        Search::Number(typed) => digits.map(|digits| {
            if dial.search_prefixes(typed).iter().any(|p| digits.starts_with(p.as_str())) {
                at(0, digits, String::new(), phone)
            } else {
                at(1, crate::contacts::store::reversed(&digits), String::new(), phone)
            }
        }),
    })
}

/// Whether the directory has more than `n` contacts (the top menu is shown for large directories); reads
/// at most `n + 1` index entries.
pub async fn more_than(conn: &mut Conn<'_>, ws: WorkspaceId, labels: &[String], n: i64) -> Result<bool, sqlx::Error> {
    let branch = branches(&Search::All, &DialSettings::default()).remove(0);
    let (sql, params) = branch_sql(conn.backend(), labels, &branch, None, Direction::Forward, n + 1)
        .expect("a read from the start has a statement");
    let sql = format!("SELECT COUNT(*) FROM ({sql}) x");
    let count: i64 = conn_run!(conn, c => {
        let q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).bind(ws.0);
        bind_params!(q, &params).fetch_one(&mut **c).await
    })?;
    Ok(count > n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_after_the_workspace_are_renumbered() {
        assert_eq!(
            shift_parameters("c.workspace_id = $1 AND (k >= $2 AND k < $3) LIMIT $12", 4),
            "c.workspace_id = $1 AND (k >= $6 AND k < $7) LIMIT $16"
        );
        assert_eq!(shift_parameters("no parameters, a lone $ sign", 3), "no parameters, a lone $ sign");
    }
}
