//! A credential of workspace B never sees or touches workspace A: every endpoint answers 404 for A's ids.

use crate::db_tests;
use crate::helpers::{Backend, TestApp};
use serde_json::{Value, json};
use switchboard_domain::{Email, PersonName, Role, ScopeSet, WorkspaceId};
use switchboard_server::{api_keys, users, workspaces};

db_tests!(foreign_workspace_credentials_get_404);

async fn foreign_workspace_credentials_get_404(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // Workspace A (bootstrap): a member, a key, an agent.
    let (a_user, _) = app.create_member("a-member@example.com", "member").await;
    let (a_key, _) = app.create_key(json!({"name": "a key", "scopes": ["contacts:read"]})).await;
    let a_agent: Value =
        app.post("/api/v1/agents", &app.api_key, &json!({"code": "A1"})).send().await.unwrap().json().await.unwrap();
    let a_agent = a_agent["id"].as_str().unwrap().to_owned();

    // Workspace B with its own admin key and owner.
    let b = workspaces::create(&app.db, "Other Business", None).await.unwrap();
    let b_id = WorkspaceId(b.id);
    let (_, b_key) = api_keys::create(&app.db, b_id, "b admin", &ScopeSet::all(), None, None).await.unwrap();
    let new = users::NewMember {
        email: Email::parse("email", "b-owner@example.com").unwrap(),
        name: PersonName::parse("name", "").unwrap(),
        role: Role::Owner,
        password: Some("b-owner-password".into()),
    };
    users::create_member(&app.db, b_id, new).await.unwrap();
    let body: Value = app.login("b-owner@example.com", "b-owner-password").await.json().await.unwrap();
    let b_token = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(body["user"]["workspace"]["slug"], "other-business");

    let before = app.row_counts().await;
    for credential in [&b_key, &b_token] {
        let get = |p: String| app.get(&p, credential).send();
        let patch = |p: String, b: Value| app.patch(&p, credential, &b).send();
        assert_eq!(get(format!("/api/v1/users/{a_user}")).await.unwrap().status(), 404);
        assert_eq!(patch(format!("/api/v1/users/{a_user}"), json!({"is_active": false})).await.unwrap().status(), 404);
        assert_eq!(get(format!("/api/v1/api-keys/{a_key}")).await.unwrap().status(), 404);
        let del = app.client.delete(app.url(&format!("/api/v1/api-keys/{a_key}"))).bearer_auth(credential).send();
        assert_eq!(del.await.unwrap().status(), 404);
        assert_eq!(get(format!("/api/v1/agents/{a_agent}")).await.unwrap().status(), 404);
        assert_eq!(
            patch(format!("/api/v1/agents/{a_agent}"), json!({"is_active": false})).await.unwrap().status(),
            404
        );
        // Lists show only B's rows.
        for (path, a_id) in [("/api/v1/users", &a_user), ("/api/v1/api-keys", &a_key), ("/api/v1/agents", &a_agent)] {
            let text = get(path.to_owned()).await.unwrap().text().await.unwrap();
            assert!(!text.contains(a_id.as_str()), "{path} leaks workspace A: {text}");
        }
        // Binding a key to A's agent by code is "no such agent" in B.
        let r =
            app.post("/api/v1/api-keys", credential, &json!({"name": "x", "agent_code": "A1"})).send().await.unwrap();
        assert_eq!(r.status(), 422);
        let me: Value = get("/api/v2/auth/me".into()).await.unwrap().json().await.unwrap();
        assert_eq!(me["workspace"]["id"], b.id.to_string());
    }
    assert_eq!(app.row_counts().await, before, "nothing of A changed");
    // A's resources are intact.
    let a: Value =
        app.get(&format!("/api/v1/users/{a_user}"), &app.api_key).send().await.unwrap().json().await.unwrap();
    assert_eq!(a["is_active"], true);
    let k: Value =
        app.get(&format!("/api/v1/api-keys/{a_key}"), &app.api_key).send().await.unwrap().json().await.unwrap();
    assert!(k["revoked_at"].is_null());
}
