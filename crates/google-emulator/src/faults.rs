//! Request counting and fault injection, as one middleware in front of every Google path.
//!
//! A fault applies to the next `count` requests it matches. Without `only_for` it matches the
//! People and Calendar methods (not the OAuth endpoints, so a client's token refresh does not
//! eat an API fault); `InvalidGrant` only ever matches `/token`.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::errors::{ApiError, calendar, oauth, people};
use crate::quota::retry_after_value;
use crate::state::{Emulator, World};

/// What the matched requests get.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FaultKind {
    /// 429 (People RESOURCE_EXHAUSTED / Calendar rateLimitExceeded) with `Retry-After`
    /// (nominal seconds, scaled by the delay factor).
    TooManyRequests { retry_after_secs: u64 },
    /// 400 (People INVALID_ARGUMENT / Calendar invalid): a request Google refuses for good.
    BadRequest,
    /// 500 (People INTERNAL / Calendar backendError).
    ServerError,
    /// 503 (People UNAVAILABLE / Calendar backendError).
    ServiceUnavailable,
    /// 401, as if the access token had expired.
    Unauthorized,
    /// Extra latency (scaled) before the request is answered normally.
    Latency { ms: u64 },
    /// `/token` answers 400 `invalid_grant` "Token has been expired or revoked.".
    InvalidGrant,
}

/// A fault for the next `count` matching requests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    #[serde(flatten)]
    pub kind: FaultKind,
    #[serde(default = "one")]
    pub count: u32,
    /// A method id (`people.connections.list`), a method-id prefix (`people`, `calendar.events`)
    /// or a path prefix starting with `/`.
    #[serde(default)]
    pub only_for: Option<String>,
}

fn one() -> u32 {
    1
}

impl Fault {
    pub fn new(kind: FaultKind, count: u32) -> Self {
        Fault { kind, count, only_for: None }
    }

    pub fn only_for(mut self, target: impl Into<String>) -> Self {
        self.only_for = Some(target.into());
        self
    }

    fn matches(&self, method: &str, path: &str) -> bool {
        if self.kind == FaultKind::InvalidGrant && method != "oauth.token" {
            return false;
        }
        match &self.only_for {
            Some(target) if target.starts_with('/') => path.starts_with(target.as_str()),
            Some(target) => method == target || method.starts_with(&format!("{target}.")),
            None => self.kind == FaultKind::InvalidGrant || !method.starts_with("oauth."),
        }
    }
}

pub(crate) struct FaultEntry {
    pub fault: Fault,
    pub remaining: u32,
}

/// Takes one use of the first fault matching the request.
fn take(world: &mut World, method: &str, path: &str) -> Option<FaultKind> {
    let index = world.faults.iter().position(|f| f.remaining > 0 && f.fault.matches(method, path))?;
    let entry = &mut world.faults[index];
    entry.remaining -= 1;
    let kind = entry.fault.kind.clone();
    world.faults.retain(|f| f.remaining > 0);
    Some(kind)
}

pub(crate) async fn middleware(State(emu): State<Emulator>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let Some(method) = method_id(request.method(), &path) else {
        return next.run(request).await;
    };
    let (fault, factor) = {
        let mut world = emu.lock();
        world.count(method);
        (take(&mut world, method, &path), world.delay_factor)
    };
    tracing::debug!(method, ?fault, "request");
    match fault {
        None => next.run(request).await,
        Some(FaultKind::Latency { ms }) => {
            tokio::time::sleep(Duration::from_millis(ms).mul_f64(factor.max(0.0))).await;
            next.run(request).await
        }
        Some(kind) => fault_response(&kind, method, factor).into_response(),
    }
}

fn fault_response(kind: &FaultKind, method: &str, factor: f64) -> ApiError {
    let area = method.split('.').next().unwrap_or_default();
    match (kind, area) {
        (FaultKind::TooManyRequests { retry_after_secs }, _) => {
            let wait = retry_after_value(Duration::from_secs(*retry_after_secs).mul_f64(factor.max(0.0)));
            let error = match area {
                "people" => people::resource_exhausted(),
                "calendar" => calendar::rate_limit(),
                _ => ApiError::oauth(429, "rate_limit_exceeded", "Rate Limit Exceeded"),
            };
            error.with_retry_after(wait)
        }
        (FaultKind::BadRequest, "people") => people::invalid_argument("Request contains an invalid argument."),
        (FaultKind::BadRequest, "calendar") => calendar::invalid("Invalid Value"),
        (FaultKind::BadRequest, _) => oauth::invalid_request("Bad Request"),
        (FaultKind::ServerError, "people") => people::internal(),
        (FaultKind::ServerError, "calendar") => calendar::backend(500),
        (FaultKind::ServiceUnavailable, "people") => people::unavailable(),
        (FaultKind::ServiceUnavailable, "calendar") => calendar::backend(503),
        (FaultKind::ServerError | FaultKind::ServiceUnavailable, _) => {
            let code = if *kind == FaultKind::ServerError { 500 } else { 503 };
            ApiError::oauth(code, "internal_failure", "Backend Error")
        }
        (FaultKind::Unauthorized, "people") => people::unauthenticated(false, method),
        (FaultKind::Unauthorized, "calendar") => calendar::unauthenticated(),
        (FaultKind::Unauthorized, _) => oauth::invalid_client("Unauthorized"),
        (FaultKind::InvalidGrant | FaultKind::Latency { .. }, _) => oauth::invalid_grant_revoked(),
    }
}

/// Google's method id for a request (the key of the request counters), `None` for paths that
/// are not Google's (the control API).
pub(crate) fn method_id(method: &Method, path: &str) -> Option<&'static str> {
    match (method.as_str(), path) {
        ("GET", "/o/oauth2/v2/auth") | ("POST", "/o/oauth2/v2/auth/consent") => return Some("oauth.authorize"),
        (_, "/token") => return Some("oauth.token"),
        (_, "/revoke") => return Some("oauth.revoke"),
        (_, "/oauth2/v3/userinfo") => return Some("oauth.userinfo"),
        _ => {}
    }
    if let Some(rest) = path.strip_prefix("/v1/") {
        return Some(match (method.as_str(), rest) {
            ("GET", "people/me/connections") => "people.connections.list",
            ("POST", "people:createContact") => "people.createContact",
            ("PATCH", r) if r.ends_with(":updateContact") => "people.updateContact",
            ("DELETE", r) if r.ends_with(":deleteContact") => "people.deleteContact",
            ("GET", _) => "people.get",
            _ => "people.unknown",
        });
    }
    let rest = path.strip_prefix("/calendar/v3/")?;
    let segments: Vec<&str> = rest.split('/').collect();
    Some(match (method.as_str(), segments.as_slice()) {
        ("POST", ["freeBusy"]) => "calendar.freebusy.query",
        ("GET", ["calendars", _, "events"]) => "calendar.events.list",
        ("POST", ["calendars", _, "events"]) => "calendar.events.insert",
        ("GET", ["calendars", _, "events", _]) => "calendar.events.get",
        ("PATCH", ["calendars", _, "events", _]) => "calendar.events.patch",
        ("PUT", ["calendars", _, "events", _]) => "calendar.events.update",
        ("DELETE", ["calendars", _, "events", _]) => "calendar.events.delete",
        _ => "calendar.unknown",
    })
}
