//! API keys, scopes and roles, revocation, agents and devices, rate limits.

use crate::db_tests;
use crate::helpers::{Backend, TestApp, assert_error};
use serde_json::{Value, json};
use std::time::Duration;
use switchboard_store::db_run;

db_tests!(
    scopes_and_roles_are_enforced,
    key_headers_and_revocation,
    agents_devices_and_deactivation,
    rate_limits_answer_429_with_retry_after,
    admin_bad_input_changes_nothing,
    lists_page_with_cursors,
);

async fn scopes_and_roles_are_enforced(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, reader) = app.create_key(json!({"name": "reader", "scopes": ["contacts:read"]})).await;
    for path in ["/api/v1/users", "/api/v1/api-keys", "/api/v1/agents"] {
        assert_error(app.get(path, &reader).send().await.unwrap(), 403, "INSUFFICIENT_PERMISSION").await;
        assert_eq!(app.get(path, &app.api_key).send().await.unwrap().status(), 200, "{path}");
    }
    let (_, pw) = app.create_member("viewer@example.com", "viewer").await;
    let body: Value = app.login("viewer@example.com", &pw).await.json().await.unwrap();
    let viewer = body["access_token"].as_str().unwrap();
    assert_error(app.get("/api/v1/users", viewer).send().await.unwrap(), 403, "INSUFFICIENT_PERMISSION").await;
    // An admin may not create owners; only owners can.
    let (_, pw) = app.create_member("admin@example.com", "admin").await;
    let body: Value = app.login("admin@example.com", &pw).await.json().await.unwrap();
    let admin = body["access_token"].as_str().unwrap();
    let r =
        app.post("/api/v1/users", admin, &json!({"email": "o2@example.com", "role": "owner"})).send().await.unwrap();
    assert_error(r, 403, "INSUFFICIENT_PERMISSION").await;
    let r = app.post("/api/v1/users", admin, &json!({"email": "m2@example.com"})).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    assert_eq!(created["role"], "member");
    assert!(created["generated_password"].as_str().unwrap().len() >= 16, "a generated password is returned once");
    // The last owner cannot be demoted.
    let me: Value = app.login(&app.owner_email, &app.owner_password).await.json().await.unwrap();
    let owner_access = me["access_token"].as_str().unwrap();
    let owner_id = me["user"]["id"].as_str().unwrap();
    let r =
        app.patch(&format!("/api/v1/users/{owner_id}"), owner_access, &json!({"role": "admin"})).send().await.unwrap();
    assert_error(r, 409, "LAST_OWNER").await;
}

async fn key_headers_and_revocation(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (id, writer) = app.create_key(json!({"name": "writer", "scopes": ["contacts:read", "contacts:write"]})).await;
    let (_, reader) = app.create_key(json!({"name": "reader", "scopes": ["contacts:read"]})).await;
    let me = |h: &'static str, k: String| app.client.get(app.url("/api/v2/auth/me")).header(h, k).send();
    assert_eq!(me("x-api-key", writer.clone()).await.unwrap().status(), 200);
    assert_eq!(me("x-contacts-write-key", writer.clone()).await.unwrap().status(), 200);
    assert_error(me("x-contacts-write-key", reader.clone()).await.unwrap(), 401, "INVALID_API_KEY").await;
    assert_error(me("x-api-key", format!("{writer}x")).await.unwrap(), 401, "INVALID_API_KEY").await;
    assert_error(app.client.get(app.url("/api/v2/auth/me")).send().await.unwrap(), 401, "AUTHENTICATION_REQUIRED")
        .await;

    // The listing never shows secrets; last use is recorded (batched).
    tokio::time::sleep(Duration::from_millis(400)).await;
    let key: Value =
        app.get(&format!("/api/v1/api-keys/{id}"), &app.api_key).send().await.unwrap().json().await.unwrap();
    assert!(key["last_used_at"].is_string(), "{key}");
    assert!(key.get("key").is_none() && key.get("secret_hash").is_none());
    let list = app.get("/api/v1/api-keys", &app.api_key).send().await.unwrap().text().await.unwrap();
    assert!(!list.contains(&writer[14..]), "no secret in lists");

    // Revocation applies at once on this instance.
    let r =
        app.client.delete(app.url(&format!("/api/v1/api-keys/{id}"))).bearer_auth(&app.api_key).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let revoked: Value = r.json().await.unwrap();
    assert!(revoked["revoked_at"].is_string());
    assert_error(me("x-api-key", writer.clone()).await.unwrap(), 401, "API_KEY_REVOKED").await;
}

async fn agents_devices_and_deactivation(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let r = app.post("/api/v1/agents", &app.api_key, &json!({"code": "AG-7", "name": "Ann"})).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let agent: Value = r.json().await.unwrap();
    let agent_id = agent["id"].as_str().unwrap().to_owned();
    let r = app.post("/api/v1/agents", &app.api_key, &json!({"code": "AG-7"})).send().await.unwrap();
    let body = assert_error(r, 409, "ALREADY_EXISTS").await;
    assert_eq!(body["fields"][0]["field"], "code");

    let (_, key) = app.create_key(json!({"name": "ann's phone", "agent_code": "AG-7"})).await;
    let call = |code: Option<&'static str>, device: Option<&'static str>| {
        let mut rq = app.get("/api/v2/auth/me", &key);
        if let Some(c) = code {
            rq = rq.header("x-agent-code", c);
        }
        if let Some(d) = device {
            rq = rq.header("x-device-id", d);
        }
        rq.send()
    };
    let r = call(Some("AG-7"), Some("pixel-8-abc")).await.unwrap();
    assert_eq!(r.status(), 200);
    let me: Value = r.json().await.unwrap();
    assert_eq!(me["agent_code"], "AG-7");
    assert_eq!(me["device_id"], "pixel-8-abc");
    assert_eq!(me["scopes"], json!(["contacts:read", "contacts:write"]), "agent keys default to read+write");
    assert_error(call(Some("AG-8"), None).await.unwrap(), 401, "AGENT_MISMATCH").await;
    assert_error(
        app.get("/api/v2/auth/me", &app.api_key).header("x-agent-code", "AG-7").send().await.unwrap(),
        401,
        "AGENT_MISMATCH",
    )
    .await;
    assert_error(call(None, Some("has space")).await.unwrap(), 400, "INVALID_HEADER").await;

    // The device is registered and the agent's last-seen recorded by the batched flush.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let devices: Vec<String> =
        db_run!(&app.db, pool => sqlx::query_scalar("SELECT device_id FROM devices").fetch_all(pool).await).unwrap();
    assert_eq!(devices, ["pixel-8-abc"]);
    let a: Value =
        app.get(&format!("/api/v1/agents/{agent_id}"), &app.api_key).send().await.unwrap().json().await.unwrap();
    assert!(a["last_seen_at"].is_string(), "{a}");

    let r = app
        .patch(&format!("/api/v1/agents/{agent_id}"), &app.api_key, &json!({"is_active": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_error(call(Some("AG-7"), None).await.unwrap(), 403, "AGENT_INACTIVE").await;
}

async fn rate_limits_answer_429_with_retry_after(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        c.rate_limit_per_minute = 3;
        c.login_rate_limit_per_minute = 2;
    })
    .await;
    for _ in 0..3 {
        assert_eq!(app.get("/api/v2/auth/me", &app.api_key).send().await.unwrap().status(), 200);
    }
    let r = app.get("/api/v2/auth/me", &app.api_key).send().await.unwrap();
    let retry: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_error(r, 429, "RATE_LIMITED").await;
    // Logins are limited per IP, wrong passwords included.
    for _ in 0..2 {
        assert_eq!(app.login(&app.owner_email, "wrong").await.status(), 401);
    }
    let r = app.login(&app.owner_email, &app.owner_password).await;
    assert!(r.headers().contains_key("retry-after"));
    assert_error(r, 429, "RATE_LIMITED").await;
}

async fn admin_bad_input_changes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let before = app.row_counts().await;
    let k = &app.api_key;
    let cases = [
        ("/api/v1/users", json!({"email": "not-an-email", "role": "root"}), &["email", "role"][..]),
        ("/api/v1/users", json!({"email": "a@example.com", "password": "short"}), &["password"][..]),
        ("/api/v1/users", json!({"email": "a@example.com", "colour": "red"}), &["colour"][..]),
        ("/api/v1/api-keys", json!({"name": "", "scopes": ["contacts:read"]}), &["name"][..]),
        ("/api/v1/api-keys", json!({"name": "k", "scopes": ["everything"]}), &["scopes"][..]),
        ("/api/v1/api-keys", json!({"name": "k"}), &["scopes"][..]),
        ("/api/v1/api-keys", json!({"name": "k", "agent_code": "nobody"}), &["agent_code"][..]),
        ("/api/v1/agents", json!({"code": "has space"}), &["code"][..]),
        ("/api/v1/agents", json!({"code": 5}), &["code"][..]),
    ];
    for (path, body, fields) in cases {
        let r = app.post(path, k, &body).send().await.unwrap();
        let err = assert_error(r, 422, "VALIDATION_FAILED").await;
        let named: Vec<&str> = err["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
        assert_eq!(named, fields, "{path} {body}");
    }
    let user_id = uuid::Uuid::now_v7();
    let r = app.patch(&format!("/api/v1/users/{user_id}"), k, &json!({"role": "boss"})).send().await.unwrap();
    assert_error(r, 422, "VALIDATION_FAILED").await;
    assert_eq!(app.row_counts().await, before);
}

async fn lists_page_with_cursors(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for i in 0..5 {
        app.post("/api/v1/agents", &app.api_key, &json!({"code": format!("A{i}")})).send().await.unwrap();
    }
    let mut url = "/api/v1/agents?limit=2".to_owned();
    let mut codes = Vec::new();
    let mut pages = Vec::new();
    loop {
        let page: Value = app.get(&url, &app.api_key).send().await.unwrap().json().await.unwrap();
        codes.extend(page["results"].as_array().unwrap().iter().map(|a| a["code"].as_str().unwrap().to_owned()));
        pages.push(page.clone());
        match page["next"].as_str() {
            Some(next) => url = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(codes, ["A0", "A1", "A2", "A3", "A4"]);
    assert!(pages[0]["previous"].is_null());
    let back: Value =
        app.get(pages[2]["previous"].as_str().unwrap(), &app.api_key).send().await.unwrap().json().await.unwrap();
    let back_codes: Vec<&str> =
        back["results"].as_array().unwrap().iter().map(|a| a["code"].as_str().unwrap()).collect();
    assert_eq!(back_codes, ["A2", "A3"]);
    let r = app.get("/api/v1/agents?limit=0", &app.api_key).send().await.unwrap();
    let body = assert_error(r, 400, "INVALID_QUERY").await;
    assert_eq!(body["fields"][0]["field"], "limit");
    let r = app.get("/api/v1/agents?cursor=garbage", &app.api_key).send().await.unwrap();
    assert_error(r, 400, "INVALID_QUERY").await;
}
