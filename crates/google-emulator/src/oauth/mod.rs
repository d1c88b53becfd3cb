//! OAuth 2.0 endpoints: `/o/oauth2/v2/auth` (consent), `/token`, `/revoke`, and userinfo.

pub(crate) mod consent;
pub(crate) mod grants;
mod token;

use axum::Router;
use axum::routing::{get, post};

use crate::state::Emulator;

pub(crate) fn router() -> Router<Emulator> {
    Router::new()
        .route("/o/oauth2/v2/auth", get(consent::authorize))
        .route("/o/oauth2/v2/auth/consent", post(consent::decide))
        .route("/token", post(token::token))
        .route("/revoke", post(token::revoke).get(token::revoke))
        .route("/oauth2/v3/userinfo", get(token::userinfo))
}

/// First value of a query/form parameter.
pub(crate) fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// Percent-encodes a query component (RFC 3986 unreserved characters kept).
pub(crate) fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `uri` with `pairs` appended to its query string.
pub(crate) fn with_query(uri: &str, pairs: &[(&str, &str)]) -> String {
    let mut out = uri.to_owned();
    for (i, (k, v)) in pairs.iter().enumerate() {
        let sep = if i == 0 && !uri.contains('?') { '?' } else { '&' };
        out.push(sep);
        out.push_str(k);
        out.push('=');
        out.push_str(&encode(v));
    }
    out
}
