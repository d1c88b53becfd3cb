//! The phone-facing routes. Phones cannot send custom headers, so the token is in the path
//! (`/d/{token}/{file}`), or for a phone's first request in the query (`/directory.xml?token=…`,
//! `/directory/{vendor}.xml?token=…`, `/cnam?number=…&token=…`), or HTTP Basic (user `token`). Phones may
//! append query parameters of their own; unknown ones are ignored. Snom phones fetch with POST too.

use super::access::{PhoneAccess, PhoneError, authorize, presented_token};
use super::cisco::{self, Urls};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use switchboard_domain::directory::{self, Charset};
use utoipa_axum::router::OpenApiRouter;

/// The routes phones and PBXs call.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .route("/d/{token}/{file}", get(by_path).post(by_path))
        .route("/directory.xml", get(cisco_by_query))
        .route("/directory/{file}", get(by_query).post(by_query))
        .route("/cnam", get(cnam_by_query))
}

fn query_pairs(uri: &Uri) -> Vec<(String, String)> {
    form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes()).into_owned().collect()
}

fn query_token(query: &[(String, String)]) -> Option<&str> {
    query.iter().find(|(k, _)| k == "token").map(|(_, v)| v.as_str())
}

async fn by_path(
    State(state): State<AppState>,
    Path((token, file)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, PhoneError> {
    let query = query_pairs(&uri);
    let access = authorize(&state, presented_token(Some(&token), None, &headers)).await?;
    serve(&state, &access, &file, &query, &headers).await
}

async fn by_query(
    State(state): State<AppState>,
    Path(file): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, PhoneError> {
    let query = query_pairs(&uri);
    let access = authorize(&state, presented_token(None, query_token(&query), &headers)).await?;
    serve(&state, &access, &file, &query, &headers).await
}

async fn cisco_by_query(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Result<Response, PhoneError> {
    let query = query_pairs(&uri);
    let access = authorize(&state, presented_token(None, query_token(&query), &headers)).await?;
    serve(&state, &access, "directory.xml", &query, &headers).await
}

async fn cnam_by_query(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Result<Response, PhoneError> {
    let query = query_pairs(&uri);
    let access = authorize(&state, presented_token(None, query_token(&query), &headers)).await?;
    serve(&state, &access, "cnam", &query, &headers).await
}

/// `scheme://host/d/{token}`: where the phone reached us, so the links it follows work from where it is.
fn urls(access: &PhoneAccess, headers: &HeaderMap) -> Urls {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b)))
        .unwrap_or("localhost");
    let scheme = match headers.get("x-forwarded-proto").and_then(|h| h.to_str().ok()) {
        Some("https") => "https",
        _ => "http",
    };
    Urls { base: format!("{scheme}://{host}/d/{}", access.presented) }
}

fn xml(content_type: &'static str, body: Vec<u8>) -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, content_type)], body).into_response()
}

async fn serve(
    state: &AppState,
    access: &PhoneAccess,
    file: &str,
    query: &[(String, String)],
    headers: &HeaderMap,
) -> Result<Response, PhoneError> {
    let settings = crate::workspaces::settings(state, access.workspace).await?;
    let dial = settings.dial_settings();
    match file {
        "directory.xml" | "search.xml" => {
            let charset = Charset::negotiate(headers.get(header::ACCEPT_CHARSET).and_then(|h| h.to_str().ok()));
            let urls = urls(access, headers);
            if file == "search.xml" {
                return Ok(xml(charset.content_type(), cisco::search_form(&urls, charset)));
            }
            let request = cisco::Request::parse(query).map_err(PhoneError::BadRequest)?;
            let mut pooled = state.lookup_db.acquire().await.map_err(crate::error::AppError::from)?;
            let mut conn = pooled.conn();
            if request.cursor.is_none()
                && request.search.is_none()
                && !request.all
                && super::store::more_than(&mut conn, access.workspace, &access.token.labels, cisco::MENU_ABOVE)
                    .await
                    .map_err(crate::error::AppError::from)?
            {
                return Ok(xml(charset.content_type(), cisco::menu(&urls, charset)));
            }
            let body = cisco::page(&mut conn, access, &request, &urls, &dial, charset).await?;
            Ok(xml(charset.content_type(), body))
        }
        "cnam" => cnam(state, access, query).await,
        _ => {
            let Some(vendor) = file.strip_suffix(".xml").filter(|v| super::tokens::VENDORS.iter().any(|(n, _)| n == v))
            else {
                return Ok((StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "Not found")
                    .into_response());
            };
            let cap = access.token.cap(vendor) as i64;
            let mut pooled = state.lookup_db.acquire().await.map_err(crate::error::AppError::from)?;
            let rows = super::store::read(
                &mut pooled.conn(),
                access.workspace,
                &access.token.labels,
                &super::store::Search::All,
                &dial,
                None,
                super::store::Direction::Forward,
                cap,
            )
            .await
            .map_err(crate::error::AppError::from)?;
            let book: Vec<_> = rows.iter().map(|r| cisco::directory_contact(&r.contact)).collect();
            let body = match vendor {
                "yealink" => directory::yealink("Directory", &book, &dial),
                "grandstream" => directory::grandstream(&book, &dial, settings.grandstream_account_index()),
                "snom" => directory::snom(&book, &dial),
                _ => directory::poly(&book, &dial),
            };
            Ok(xml("text/xml; charset=utf-8", body))
        }
    }
}

/// The caller's name for a PBX (FreePBX CID Superfecta, FreeSWITCH mod_cidlookup): the body is used
/// verbatim, so it is the bare name as text; unknown numbers are 404 with an empty body.
async fn cnam(state: &AppState, access: &PhoneAccess, query: &[(String, String)]) -> Result<Response, PhoneError> {
    let number = query.iter().find(|(k, _)| k == "number").map(|(_, v)| v.trim()).unwrap_or_default();
    if number.is_empty() {
        return Err(PhoneError::BadRequest("number is required: /cnam?number=<caller number>".into()));
    }
    let text = |status: StatusCode, body: String| {
        (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
    };
    let found = match crate::lookup::find(state, access.workspace, number).await {
        Ok(found) => found,
        // A number the PBX cannot have dialled (garbage, too few digits) is simply unknown.
        Err(crate::error::AppError::BadRequest { .. } | crate::error::AppError::Validation(_)) => {
            return Ok(text(StatusCode::NOT_FOUND, String::new()));
        }
        Err(e) => return Err(e.into()),
    };
    Ok(match crate::lookup::caller_name(&found) {
        Some(name) if label_allowed(access, &found) => text(StatusCode::OK, name.to_owned()),
        _ => text(StatusCode::NOT_FOUND, String::new()),
    })
}

/// A token restricted to labels only reveals names of contacts with one of them.
fn label_allowed(access: &PhoneAccess, found: &crate::lookup::LookupResult) -> bool {
    access.token.labels.is_empty()
        || crate::lookup::best_contact(found)
            .is_some_and(|c| c.fields.labels.iter().any(|l| access.token.labels.contains(l)))
}
