//! Sign-in, access-token expiry, refresh rotation and reuse detection, logout, deactivation.

use crate::db_tests;
use crate::helpers::{Backend, TestApp, assert_error};
use serde_json::{Value, json};
use std::time::Duration;

db_tests!(
    login_outcomes,
    login_bad_input_changes_nothing,
    bcrypt_hash_is_accepted_and_upgraded,
    expired_access_token_is_rejected,
    refresh_rotates_and_detects_reuse,
    logout_ends_the_session,
    deactivated_user_loses_access,
    v1_auth_paths_are_the_same_endpoints,
);

async fn login_outcomes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let r = app.login(&app.owner_email.to_uppercase(), &app.owner_password).await;
    assert_eq!(r.status(), 200, "email is case-insensitive");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 1800);
    assert!(body["refresh_expires_in"].as_i64().unwrap() > 7 * 24 * 3600 - 60);
    assert_eq!(body["user"]["email"], app.owner_email);

    let wrong = assert_error(app.login(&app.owner_email, "wrong-password").await, 401, "INVALID_CREDENTIALS").await;
    let unknown =
        assert_error(app.login("nobody@example.com", "wrong-password").await, 401, "INVALID_CREDENTIALS").await;
    assert_eq!(wrong["error"], unknown["error"], "unknown user and wrong password look the same");

    let (id, password) = app.create_member("ann@example.com", "member").await;
    assert_eq!(app.login("ann@example.com", &password).await.status(), 200);
    let r = app.patch(&format!("/api/v1/users/{id}"), &app.api_key, &json!({"is_active": false})).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_error(app.login("ann@example.com", &password).await, 403, "ACCOUNT_INACTIVE").await;
    let last: Option<chrono::DateTime<chrono::Utc>> = switchboard_store::db_run!(&app.db, pool =>
        sqlx::query_scalar("SELECT last_sign_in_at FROM users WHERE email = 'ann@example.com'").fetch_one(pool).await)
    .unwrap();
    assert!(last.is_some(), "successful sign-in is recorded");
}

async fn login_bad_input_changes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let before = app.row_counts().await;
    let url = app.url("/api/v2/auth/login");
    let r = app.client.post(&url).json(&json!({"email": "a@b.co"})).send().await.unwrap();
    let body = assert_error(r, 422, "VALIDATION_FAILED").await;
    assert_eq!(body["fields"][0]["field"], "password");
    let r = app.client.post(&url).json(&json!({"email": " ", "password": ""})).send().await.unwrap();
    let body = assert_error(r, 422, "VALIDATION_FAILED").await;
    assert_eq!(body["fields"].as_array().unwrap().len(), 2);
    let r = app.client.post(&url).header("content-type", "application/json").body("{\"email\":").send().await.unwrap();
    assert_error(r, 400, "MALFORMED_JSON").await;
    let r = app.client.post(&url).body("email=a").send().await.unwrap();
    assert_error(r, 415, "UNSUPPORTED_MEDIA_TYPE").await;
    assert_eq!(app.row_counts().await, before);
}

async fn bcrypt_hash_is_accepted_and_upgraded(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (id, _) = app.create_member("legacy@example.com", "member").await;
    let legacy = bcrypt_hash("old-system-password");
    switchboard_store::db_run!(&app.db, pool => sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
        .bind(&legacy).bind(id.parse::<uuid::Uuid>().unwrap()).execute(pool).await.map(|_| ()))
    .unwrap();
    assert_error(app.login("legacy@example.com", "wrong").await, 401, "INVALID_CREDENTIALS").await;
    assert_eq!(app.login("legacy@example.com", "old-system-password").await.status(), 200);
    let stored: String = switchboard_store::db_run!(&app.db, pool =>
        sqlx::query_scalar("SELECT password_hash FROM users WHERE email = 'legacy@example.com'").fetch_one(pool).await)
    .unwrap();
    assert!(stored.starts_with("$argon2id$"), "rehashed to argon2id: {stored}");
    assert_eq!(app.login("legacy@example.com", "old-system-password").await.status(), 200);
}

/// A bcrypt hash as another system would have stored it (cost 4 keeps the test fast).
fn bcrypt_hash(password: &str) -> String {
    bcrypt::hash(password, 4).unwrap()
}

async fn expired_access_token_is_rejected(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (access, _) = app.owner_tokens().await;
    let me: Value = app.get("/api/v2/auth/me", &access).send().await.unwrap().json().await.unwrap();
    // Sign a token that expired a minute ago with the server's own key.
    let key = std::fs::read_to_string(app.config.data_dir.join("jwt.key")).unwrap();
    let now = chrono::Utc::now().timestamp();
    let claims =
        json!({"sub": me["id"], "ws": me["workspace"]["id"], "iat": now - 1900, "exp": now - 60, "typ": "access"});
    let expired = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(key.trim().as_bytes()),
    )
    .unwrap();
    let r = app.get("/api/v2/auth/me", &expired).send().await.unwrap();
    assert_eq!(r.headers()["www-authenticate"], "Bearer realm=\"switchboard\"");
    assert_error(r, 401, "TOKEN_EXPIRED").await;
    let tampered = format!("{}x", &access[..access.len() - 1]);
    assert_error(app.get("/api/v2/auth/me", &tampered).send().await.unwrap(), 401, "INVALID_TOKEN").await;
}

async fn refresh(app: &TestApp, token: &str) -> reqwest::Response {
    app.client.post(app.url("/api/v2/auth/refresh")).json(&json!({"refresh_token": token})).send().await.unwrap()
}

async fn new_refresh_token(r: reqwest::Response) -> String {
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert!(body["access_token"].as_str().is_some());
    body["refresh_token"].as_str().unwrap().to_owned()
}

async fn refresh_rotates_and_detects_reuse(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.refresh_reuse_grace = Duration::from_secs(1)).await;
    let (_, r1) = app.owner_tokens().await;
    let r2 = new_refresh_token(refresh(&app, &r1).await).await;
    assert_ne!(r1, r2, "the refresh token rotates");
    // A second use inside the grace window (two tabs) gets a fresh pair of the same family.
    let r3 = new_refresh_token(refresh(&app, &r1).await).await;
    assert_ne!(r3, r2);
    let families: i64 = switchboard_store::db_run!(&app.db, pool =>
        sqlx::query_scalar("SELECT COUNT(DISTINCT family_id) FROM refresh_tokens").fetch_one(pool).await)
    .unwrap();
    assert_eq!(families, 1);
    // Later reuse of a rotated token is theft: the whole family is revoked.
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert_error(refresh(&app, &r1).await, 401, "REFRESH_TOKEN_REUSED").await;
    assert_error(refresh(&app, &r3).await, 401, "INVALID_REFRESH_TOKEN").await;
    assert_error(refresh(&app, &r2).await, 401, "INVALID_REFRESH_TOKEN").await;
    // Another session of the same user is unaffected.
    let (_, other) = app.owner_tokens().await;
    new_refresh_token(refresh(&app, &other).await).await;
    assert_error(refresh(&app, "not-a-token").await, 401, "INVALID_REFRESH_TOKEN").await;
}

async fn logout_ends_the_session(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, r1) = app.owner_tokens().await;
    let r = app.client.post(app.url("/api/v2/auth/logout")).json(&json!({"refresh_token": r1})).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert_error(refresh(&app, &r1).await, 401, "INVALID_REFRESH_TOKEN").await;
    let r = app.client.post(app.url("/api/v2/auth/logout")).json(&json!({})).send().await.unwrap();
    assert_error(r, 422, "VALIDATION_FAILED").await;
}

async fn deactivated_user_loses_access(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (id, password) = app.create_member("bob@example.com", "admin").await;
    let r = app.login("bob@example.com", &password).await;
    let body: Value = r.json().await.unwrap();
    let (access, refresh_token) =
        (body["access_token"].as_str().unwrap().to_owned(), body["refresh_token"].as_str().unwrap().to_owned());
    assert_eq!(app.get("/api/v1/users", &access).send().await.unwrap().status(), 200);
    let r = app.patch(&format!("/api/v1/users/{id}"), &app.api_key, &json!({"is_active": false})).send().await.unwrap();
    assert_eq!(r.status(), 200);
    // Same instance: at once (the cache is evicted). Other instances: within the 5 s cache time.
    assert_error(app.get("/api/v2/auth/me", &access).send().await.unwrap(), 403, "ACCOUNT_INACTIVE").await;
    assert_error(refresh(&app, &refresh_token).await, 403, "ACCOUNT_INACTIVE").await;
    // Reactivated: the token works again (it has not expired).
    app.patch(&format!("/api/v1/users/{id}"), &app.api_key, &json!({"is_active": true})).send().await.unwrap();
    assert_eq!(app.get("/api/v2/auth/me", &access).send().await.unwrap().status(), 200);
}

async fn v1_auth_paths_are_the_same_endpoints(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let r = app
        .client
        .post(app.url("/api/v1/auth/login/"))
        .json(&json!({"email": app.owner_email, "password": app.owner_password}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "v1 path with a trailing slash");
    let body: Value = r.json().await.unwrap();
    let me = app.get("/api/v1/auth/me", body["access_token"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(me.status(), 200);
}
