//! `GET /api/v1/lookup` (best match and all matches) and the seed path `GET /api/search` (the matches in
//! `{success, data}`, validation errors as 400).

use super::{LookupMatch, LookupResult, find};
use crate::auth::Principal;
use crate::contacts::agent::{Envelope, ok, validation_as_400};
use crate::error::{AppError, AppResult, ErrorBody};
use crate::state::AppState;
use axum::extract::{RawQuery, State};
use serde::Deserialize;
use switchboard_domain::Permission;
use utoipa_axum::{router::OpenApiRouter, routes};

/// The routes of this feature.
pub fn router() -> OpenApiRouter<AppState> {
    let seed = OpenApiRouter::new().routes(routes!(search)).layer(axum::middleware::map_response(validation_as_400));
    OpenApiRouter::new().routes(routes!(lookup)).merge(seed)
}

/// Query of a lookup.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct LookupQuery {
    /// The number in any format: `+1 (415) 555-0100`, `415.555.0100`, `00 44 20 7946 0958`, `555-0100`,
    /// `+1 415 555 0100 ext 12`, `tel:+14155550100`, `sip:+14155550100@pbx.example.com;user=phone`, or an
    /// internal extension like `204`. A leading `+` may be sent unencoded.
    pub phone: Option<String>,
}

impl LookupQuery {
    /// Reads the query string. A literal `+` at the start of the number (or of a `tel:`/`sip:` URI's user
    /// part) is kept as `+`: PBXs and scripts put caller ids like `+14155550100` in URLs unencoded, and
    /// form decoding would turn it into a space and drop the country code's marker.
    fn from_raw(raw: Option<&str>) -> Result<String, AppError> {
        let fixed: Vec<String> = raw
            .unwrap_or_default()
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some(("phone", value)) => format!("phone={}", keep_plus(value)),
                _ => pair.to_owned(),
            })
            .collect();
        let query: LookupQuery = serde_urlencoded::from_str(&fixed.join("&"))
            .map_err(|e| AppError::invalid_query("phone", &e.to_string()))?;
        query.phone.ok_or_else(|| AppError::invalid_query("phone", "is required: the caller's number, in any format"))
    }
}

/// `value` with a leading literal `+` (also after `tel:`, `sip:` or `sips:`) percent-encoded.
fn keep_plus(value: &str) -> String {
    for scheme in ["", "tel:", "sip:", "sips:"] {
        let n = scheme.len();
        if value.get(..n).is_some_and(|s| s.eq_ignore_ascii_case(scheme)) && value[n..].starts_with('+') {
            return format!("{}%2B{}", &value[..n], &value[n + 1..]);
        }
    }
    value.to_owned()
}

/// Look up the caller: the contacts with a number matching `phone`, best first. Exact E.164 matches
/// first, then the same national number, then the stored numbers ending with the input's digits (at least
/// the workspace's `lookup_min_digits`, default 7, never fewer); an extension matches exactly, then the
/// number without it. Deleted contacts never match. Needs `contacts:read`.
#[utoipa::path(get, path = "/api/v1/lookup", tag = "lookup", params(LookupQuery),
    responses((status = 200, body = LookupResult), (status = 400, body = ErrorBody, description = "`phone` missing"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "`phone` is not a number (or has too few digits)"),
        (status = 429, body = ErrorBody)))]
async fn lookup(
    State(state): State<AppState>,
    principal: Principal,
    RawQuery(query): RawQuery,
) -> AppResult<axum::Json<LookupResult>> {
    principal.require(Permission::ContactsRead)?;
    let phone = LookupQuery::from_raw(query.as_deref())?;
    Ok(axum::Json(find(&state, principal.workspace_id, &phone).await?))
}

/// Search contacts by phone number, any format (seed shape): the matches of `/api/v1/lookup`, best first,
/// in `{success, data}`; an invalid number is 400.
#[utoipa::path(get, path = "/api/search", tag = "lookup", params(LookupQuery),
    responses((status = 200, body = Envelope<Vec<LookupMatch>>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn search(
    State(state): State<AppState>,
    principal: Principal,
    RawQuery(query): RawQuery,
) -> AppResult<axum::Json<Envelope<Vec<LookupMatch>>>> {
    principal.require(Permission::ContactsRead)?;
    let phone = LookupQuery::from_raw(query.as_deref())?;
    Ok(ok(find(&state, principal.workspace_id, &phone).await?.matches))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_literal_plus_is_kept() {
        let phone = |q: &str| LookupQuery::from_raw(Some(q)).unwrap();
        assert_eq!(phone("phone=+14155550100"), "+14155550100");
        assert_eq!(phone("phone=%2B14155550100"), "+14155550100");
        assert_eq!(phone("phone=+1+415+555+0100"), "+1 415 555 0100");
        assert_eq!(phone("phone=415+555+0100"), "415 555 0100");
        assert_eq!(phone("phone=tel:+1-415-555-0100"), "tel:+1-415-555-0100");
        assert_eq!(phone("phone=SIP:+14155550100%40pbx;user=phone"), "SIP:+14155550100@pbx;user=phone");
        assert_eq!(phone("x=1&phone=204"), "204");
        assert_eq!(phone("phone="), "");
    }

    #[test]
    fn a_missing_phone_names_the_field() {
        for raw in [None, Some(""), Some("number=4155550100")] {
            let AppError::BadRequest { fields, .. } = LookupQuery::from_raw(raw).unwrap_err() else { panic!() };
            assert_eq!(fields[0].field, "phone");
        }
        assert!(LookupQuery::from_raw(Some("phone=1&phone=2")).is_err());
    }
}
