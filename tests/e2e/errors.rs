//! One error body for every failure: 400, 401, 403, 404, 405, 413, 415, 422, 429 (and the request id).

use crate::db_tests;
use crate::helpers::{Backend, TestApp, assert_error};
use serde_json::json;

db_tests!(every_error_has_the_same_body);

async fn every_error_has_the_same_body(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.max_body_bytes = 4096).await;
    let k = &app.api_key;
    let users = app.url("/api/v1/users");

    let r = app
        .client
        .post(&users)
        .bearer_auth(k)
        .header("content-type", "application/json")
        .body("{oops")
        .send()
        .await
        .unwrap();
    assert_error(r, 400, "MALFORMED_JSON").await;
    let r = app.get("/api/v1/users/not-a-uuid", k).send().await.unwrap();
    let body = assert_error(r, 400, "INVALID_PATH").await;
    assert_eq!(body["fields"][0]["field"], "id");
    assert_error(app.client.get(&users).send().await.unwrap(), 401, "AUTHENTICATION_REQUIRED").await;
    let r = app.client.get(&users).header("authorization", "Basic abc").send().await.unwrap();
    assert_error(r, 401, "INVALID_CREDENTIALS").await;
    let (_, reader) = app.create_key(json!({"name": "r", "scopes": ["contacts:read"]})).await;
    assert_error(app.get("/api/v1/users", &reader).send().await.unwrap(), 403, "INSUFFICIENT_PERMISSION").await;
    assert_error(app.get("/api/v1/nothing-here", k).send().await.unwrap(), 404, "NOT_FOUND").await;
    let missing = format!("/api/v1/users/{}", uuid::Uuid::now_v7());
    assert_error(app.get(&missing, k).send().await.unwrap(), 404, "NOT_FOUND").await;
    let r = app.client.put(&users).bearer_auth(k).json(&json!({})).send().await.unwrap();
    assert_error(r, 405, "METHOD_NOT_ALLOWED").await;
    let big = json!({"email": "x@example.com", "name": "n".repeat(10_000)});
    let body = assert_error(app.post("/api/v1/users", k, &big).send().await.unwrap(), 413, "PAYLOAD_TOO_LARGE").await;
    assert!(body["detail"].as_str().unwrap().contains("4096"));
    let r =
        app.client.post(&users).bearer_auth(k).header("content-type", "text/plain").body("{}").send().await.unwrap();
    assert_error(r, 415, "UNSUPPORTED_MEDIA_TYPE").await;
    let r = app.post("/api/v1/users", k, &json!({"email": "nope"})).send().await.unwrap();
    let body = assert_error(r, 422, "VALIDATION_FAILED").await;
    assert_eq!(body["fields"][0]["field"], "email");
    assert!(body["fields"][0]["message"].as_str().unwrap().contains("email address"));
    // Every response carries a request id; a client-supplied one is echoed in the header and the body.
    let r = app.get("/api/v1/nothing-here", k).header("x-request-id", "trace-123").send().await.unwrap();
    assert_eq!(r.headers()["x-request-id"], "trace-123");
    assert!(r.headers()["server-timing"].to_str().unwrap().starts_with("app;dur="));
    let body = assert_error(r, 404, "NOT_FOUND").await;
    assert_eq!(body["request_id"], "trace-123");

    let limited = TestApp::spawn_with(backend, |c| c.rate_limit_per_minute = 1).await;
    limited.get("/api/v2/auth/me", &limited.api_key).send().await.unwrap();
    assert_error(limited.get("/api/v2/auth/me", &limited.api_key).send().await.unwrap(), 429, "RATE_LIMITED").await;
}
