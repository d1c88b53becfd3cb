//! The control API over HTTP (what the binary, demos and benchmarks use).

use reqwest::Method;
use serde_json::{Value, json};

use crate::{TestEmu, USER};

async fn control(t: &TestEmu, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut request = t.http.request(method, t.url(path));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let r = crate::reply(request.send().await.unwrap()).await;
    (r.status.as_u16(), r.body)
}

#[tokio::test]
async fn http_control_routes() {
    let t = TestEmu::start().await;
    let (status, body) =
        control(&t, Method::POST, "/_emulator/accounts", Some(json!({ "email": "Bob@Example.com" }))).await;
    assert_eq!((status, body["email"].as_str()), (200, Some("bob@example.com")));
    let (_, body) = control(&t, Method::GET, "/_emulator/accounts", None).await;
    assert_eq!(body["accounts"], json!(["ada@example.com", "bob@example.com"]));

    let (status, tokens) = control(
        &t,
        Method::POST,
        "/_emulator/accounts/bob@example.com/tokens",
        Some(json!({ "scopes": ["https://www.googleapis.com/auth/contacts"] })),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(tokens["expires_in"], 3599);
    let bob = tokens["access_token"].as_str().unwrap();

    let (status, body) = control(
        &t,
        Method::POST,
        "/_emulator/accounts/bob@example.com/people",
        Some(json!([{ "names": [{ "givenName": "Z" }] }])),
    )
    .await;
    assert_eq!(status, 200);
    let rn = body["people"][0]["resourceName"].as_str().unwrap().to_owned();
    let id = rn.trim_start_matches("people/");
    let (status, body) = control(
        &t,
        Method::PATCH,
        &format!("/_emulator/accounts/bob@example.com/people/{id}"),
        Some(json!({ "names": [{ "givenName": "Zed" }] })),
    )
    .await;
    assert_eq!((status, body["names"][0]["displayName"].as_str()), (200, Some("Zed")));
    let (status, body) =
        control(&t, Method::POST, "/_emulator/accounts/bob@example.com/people/generate", Some(json!({ "count": 10 })))
            .await;
    assert_eq!((status, body["created"].as_u64()), (200, Some(10)));

    // Accounts are separate.
    let r = t.call_as(bob, Method::GET, "/v1/people/me/connections?personFields=names", None).await;
    assert_eq!(r.body["totalItems"], 11);
    let r = t.get("/v1/people/me/connections?personFields=names").await;
    assert!(r.body.get("connections").is_none());

    let (status, _) = control(&t, Method::POST, "/_emulator/faults", Some(json!({ "kind": "too_many_requests", "retry_after_secs": 100, "count": 1, "only_for": "people.connections.list" }))).await;
    assert_eq!(status, 200);
    let r = t.get("/v1/people/me/connections?personFields=names").await;
    assert_eq!((r.status.as_u16(), r.headers["retry-after"].to_str().unwrap()), (429, "1"));

    let (_, counters) = control(&t, Method::GET, "/_emulator/counters", None).await;
    assert_eq!(counters["requests"]["people.connections.list"], 3);

    let (status, body) =
        control(&t, Method::DELETE, &format!("/_emulator/accounts/bob@example.com/people/{id}"), None).await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = control(&t, Method::GET, &format!("/_emulator/accounts/bob@example.com/people/{id}"), None).await;
    assert_eq!(status, 404);
    let (status, _) =
        control(&t, Method::POST, "/_emulator/accounts/nobody@example.com/expire-sync-tokens", None).await;
    assert_eq!(status, 404);

    let (status, _) = control(&t, Method::POST, "/_emulator/reset", None).await;
    assert_eq!(status, 200);
    assert!(t.control().accounts().is_empty());
}

#[tokio::test]
async fn bulk_seed_is_fast() {
    let t = TestEmu::start().await;
    let started = std::time::Instant::now();
    t.control().generate_people(USER, 25_000).unwrap();
    let elapsed = started.elapsed();
    assert!(elapsed.as_secs() < 10, "{elapsed:?}");
    let r =
        t.get("/v1/people/me/connections?personFields=names,phoneNumbers&pageSize=1000&requestSyncToken=true").await;
    assert_eq!(r.body["totalItems"], 25_000);
    assert_eq!(r.body["connections"].as_array().unwrap().len(), 1000);
    assert_eq!(t.control().list_people(USER).unwrap().len(), 25_000);
}
