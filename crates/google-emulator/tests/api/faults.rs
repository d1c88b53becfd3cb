//! Fault injection, write quota, delay scaling and counters.

use std::time::{Duration, Instant};

use google_emulator::{CONTACTS_SCOPE, Fault, FaultKind};
use reqwest::Method;
use serde_json::json;

use crate::{TestEmu, USER};

const LIST: &str = "/v1/people/me/connections?personFields=names";

#[tokio::test]
async fn too_many_requests_with_scaled_retry_after() {
    let t = TestEmu::start().await; // delay factor 0.01
    t.control().inject_fault(Fault::new(FaultKind::TooManyRequests { retry_after_secs: 5 }, 2));
    for _ in 0..2 {
        let r = t.get(LIST).await;
        assert_eq!(r.status, 429);
        assert_eq!(r.headers["retry-after"], "0.05");
        assert_eq!(r.body["error"]["status"], "RESOURCE_EXHAUSTED");
        assert_eq!(r.body["error"]["code"], 429);
    }
    assert_eq!(t.get(LIST).await.status, 200, "only the next N requests fail");
    assert_eq!(t.control().counters().requests("people.connections.list"), 3);
}

#[tokio::test]
async fn server_error_only_for_one_method() {
    let t = TestEmu::start().await;
    t.control().inject_fault(Fault::new(FaultKind::ServerError, 1).only_for("people.createContact"));
    assert_eq!(t.get(LIST).await.status, 200);
    let r = t.call(Method::POST, "/v1/people:createContact", Some(json!({ "names": [{ "givenName": "A" }] }))).await;
    assert_eq!(r.status, 500);
    assert_eq!(r.body, json!({"error":{"code":500,"message":"Internal error encountered.","status":"INTERNAL"}}));
    let r = t.call(Method::POST, "/v1/people:createContact", Some(json!({ "names": [{ "givenName": "A" }] }))).await;
    assert_eq!(r.status, 200);

    // Calendar faults use the legacy envelope; a path prefix works as a target.
    t.control().inject_fault(Fault::new(FaultKind::ServerError, 1).only_for("/calendar/"));
    let r = t.get("/calendar/v3/calendars/primary/events").await;
    assert_eq!(r.status, 500);
    assert_eq!(r.body["error"]["errors"][0]["reason"], "backendError");
    t.control().inject_fault(Fault::new(FaultKind::TooManyRequests { retry_after_secs: 1 }, 1).only_for("calendar"));
    let r = t.get("/calendar/v3/calendars/primary/events").await;
    assert_eq!(r.status, 429);
    assert_eq!(r.body["error"]["errors"][0]["reason"], "rateLimitExceeded");
}

#[tokio::test]
async fn latency_is_scaled() {
    let t = TestEmu::start().await;
    t.control().inject_fault(Fault::new(FaultKind::Latency { ms: 5_000 }, 1));
    let started = Instant::now();
    assert_eq!(t.get(LIST).await.status, 200);
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(50) && elapsed < Duration::from_secs(3), "{elapsed:?}");
}

#[tokio::test]
async fn invalid_grant_at_token_endpoint() {
    let t = TestEmu::start().await;
    let refresh = t.control().issue_tokens(USER, &[CONTACTS_SCOPE]).unwrap().refresh_token.unwrap();
    // An unscoped API fault does not hit /token; InvalidGrant only hits /token.
    t.control().inject_fault(Fault::new(FaultKind::InvalidGrant, 1));
    assert_eq!(t.get(LIST).await.status, 200);
    let form = [("grant_type", "refresh_token"), ("refresh_token", refresh.as_str()), ("client_id", "any")];
    let r = crate::reply(t.http.post(t.url("/token")).form(&form).send().await.unwrap()).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body, json!({ "error": "invalid_grant", "error_description": "Token has been expired or revoked." }));
    let r = crate::reply(t.http.post(t.url("/token")).form(&form).send().await.unwrap()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(t.control().counters().requests("oauth.token"), 2);
}

#[tokio::test]
async fn unauthorized_fault() {
    let t = TestEmu::start().await;
    t.control().inject_fault(Fault::new(FaultKind::Unauthorized, 1));
    let r = t.get(LIST).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.body["error"]["status"], "UNAUTHENTICATED");
    assert_eq!(t.get(LIST).await.status, 200);
}

#[tokio::test]
async fn write_quota_per_user() {
    let t = TestEmu::start().await; // the quota minute is 0.6 s at factor 0.01
    t.control().set_write_quota(Some(2));
    let create = || t.call(Method::POST, "/v1/people:createContact", Some(json!({ "names": [{ "givenName": "Q" }] })));
    assert_eq!(create().await.status, 200);
    assert_eq!(create().await.status, 200);
    assert_eq!(t.get(LIST).await.status, 200, "reads are not charged");
    let r = create().await;
    assert_eq!(r.status, 429);
    assert_eq!(r.body["error"]["status"], "RESOURCE_EXHAUSTED");
    assert_eq!(r.body["error"]["details"][0]["reason"], "RATE_LIMIT_EXCEEDED");
    let wait: f64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(wait > 0.0 && wait <= 0.6, "{wait}");

    let counters = t.control().counters();
    assert_eq!(counters.quota_used[USER], 2);
    assert_eq!(counters.quota_rejected[USER], 1);

    let event =
        json!({ "start": { "dateTime": "2030-01-01T10:00:00Z" }, "end": { "dateTime": "2030-01-01T11:00:00Z" } });
    let r = t.call(Method::POST, "/calendar/v3/calendars/primary/events", Some(event)).await;
    assert_eq!(r.status, 403, "calendar writes share the quota");
    assert_eq!(r.body["error"]["errors"][0]["reason"], "userRateLimitExceeded");
    assert!(r.headers.contains_key("retry-after"));

    tokio::time::sleep(Duration::from_secs_f64(wait + 0.05)).await;
    assert_eq!(create().await.status, 200, "a new window");
}
