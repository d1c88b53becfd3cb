//! Cursor pagination for canonical lists: `{next, previous, results}` with opaque cursors. Pages are
//! keyset pages on the (time-ordered UUIDv7) id, so they are stable while rows are added.

use crate::error::AppError;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use switchboard_domain::WorkspaceId;
use switchboard_store::{Db, db_run};
use uuid::Uuid;

/// Query parameters of every canonical list.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Page size, 1–200 (default 50).
    pub limit: Option<i64>,
    /// An opaque cursor from a previous page's `next` or `previous`.
    pub cursor: Option<String>,
}

/// A page of results.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    /// URL of the next page, or null.
    pub next: Option<String>,
    /// URL of the previous page, or null.
    pub previous: Option<String>,
    /// The items.
    pub results: Vec<T>,
}

/// A listed row's keyset id (its UUIDv7 primary key).
pub trait Keyed {
    /// The id the page cursor points at.
    fn key(&self) -> Uuid;
}

/// Which way a page reads from its cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    After,
    Before,
}

/// The opaque cursor for reading `dir` (`a`fter or `b`efore) row `id`.
fn cursor_token(dir: &str, id: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(format!("{dir}:{id}"))
}

/// A parsed page request.
#[derive(Debug, Clone, Copy)]
pub struct PageRequest {
    /// Rows wanted.
    pub limit: i64,
    direction: Direction,
    cursor: Option<Uuid>,
}

impl PageRequest {
    /// Parses `limit` and `cursor`, naming the bad parameter.
    pub fn parse(q: &ListQuery) -> Result<Self, AppError> {
        let bad = AppError::invalid_query;
        let limit = q.limit.unwrap_or(50);
        if !(1..=200).contains(&limit) {
            return Err(bad("limit", "must be between 1 and 200"));
        }
        let (direction, cursor) = match &q.cursor {
            None => (Direction::After, None),
            Some(c) => {
                let text = URL_SAFE_NO_PAD
                    .decode(c)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .ok_or_else(|| bad("cursor", "is not a cursor this server issued"))?;
                let (dir, id) =
                    text.split_once(':').ok_or_else(|| bad("cursor", "is not a cursor this server issued"))?;
                let id = id.parse().map_err(|_| bad("cursor", "is not a cursor this server issued"))?;
                match dir {
                    "a" => (Direction::After, Some(id)),
                    "b" => (Direction::Before, Some(id)),
                    _ => return Err(bad("cursor", "is not a cursor this server issued")),
                }
            }
        };
        Ok(Self { limit, direction, cursor })
    }

    /// The cursor's id, bound as the parameter [`PageRequest::clauses`] names.
    pub fn cursor(&self) -> Option<Uuid> {
        self.cursor
    }

    /// The cursor of the page after `page` (built by [`PageRequest::finish`]), for answers that carry a
    /// bare cursor instead of links; `None` on the last page.
    pub fn next_cursor<T: Keyed>(page: &Page<T>) -> Option<String> {
        page.next.as_ref().and(page.results.last()).map(|last| cursor_token("a", last.key()))
    }

    /// Fetches one page of a workspace's rows: `select` is a `SELECT … FROM …` without `WHERE`,
    /// `ws_col` and `id_col` name the workspace and (UUIDv7) id columns, `path` is the request path used
    /// in the `next`/`previous` links.
    pub async fn fetch<T>(
        &self,
        db: &Db,
        select: &str,
        ws_col: &str,
        id_col: &str,
        ws: WorkspaceId,
        path: &str,
    ) -> Result<Page<T>, AppError>
    where
        T: Keyed + for<'r> sqlx::FromRow<'r, SqliteRow> + for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin,
    {
        let (cond, order) = self.clauses(id_col, 3);
        let sql = format!("{select} WHERE {ws_col} = $1 AND {cond} ORDER BY {order} LIMIT $2");
        let rows: Vec<T> = db_run!(db, pool => {
            let q = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(ws.0).bind(self.fetch_limit());
            match self.cursor { Some(c) => q.bind(c), None => q }.fetch_all(pool).await
        })?;
        Ok(self.finish(rows, T::key, path))
    }

    /// The keyset condition (with the cursor as parameter `$n`, when there is one) and the ORDER BY clause,
    /// for a table alias's `id` column.
    pub fn clauses(&self, id_col: &str, n: usize) -> (String, String) {
        match (self.direction, self.cursor) {
            (Direction::After, None) => ("TRUE".into(), format!("{id_col} ASC")),
            (Direction::After, Some(_)) => (format!("{id_col} > ${n}"), format!("{id_col} ASC")),
            (Direction::Before, _) => (format!("{id_col} < ${n}"), format!("{id_col} DESC")),
        }
    }

    /// Rows to fetch: one more than the page, to know whether another page follows.
    pub fn fetch_limit(&self) -> i64 {
        self.limit + 1
    }

    /// Builds the page from fetched rows (in query order) and the request path.
    pub fn finish<T>(&self, mut rows: Vec<T>, id_of: impl Fn(&T) -> Uuid, path: &str) -> Page<T> {
        let more = rows.len() as i64 > self.limit;
        rows.truncate(self.limit as usize);
        if self.direction == Direction::Before {
            rows.reverse();
        }
        let link = |dir: &str, id: Uuid| {
            let cursor = cursor_token(dir, id);
            // `path` may carry the list's filters already (`/api/v1/contacts?q=ann`).
            let sep = if path.contains('?') { '&' } else { '?' };
            Some(format!("{path}{sep}limit={}&cursor={cursor}", self.limit))
        };
        let (has_next, has_previous) = match self.direction {
            Direction::After => (more, self.cursor.is_some()),
            Direction::Before => (true, more),
        };
        let next = if has_next { rows.last().and_then(|r| link("a", id_of(r))) } else { None };
        let previous = if has_previous { rows.first().and_then(|r| link("b", id_of(r))) } else { None };
        Page { next, previous, results: rows }
    }
}
