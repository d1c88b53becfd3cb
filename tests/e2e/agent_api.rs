//! The seed-001 agent API: flat contacts in the `{success, data}` envelope, 400 for validation errors,
//! and bulk writes with a result per item.

use crate::db_tests;
use crate::helpers::{Backend, TestApp, assert_error};
use serde_json::{Value, json};

db_tests!(flat_crud_round_trip, bulk_reports_each_item_and_one_bad_item_fails_alone, agent_validation_is_400);

async fn flat_crud_round_trip(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.agent_key("AG1").await;
    let r = app
        .post("/api/contacts", &key, &json!({"first_name": "Ann", "last_name": "Lee", "phone_primary": "415 555 0100"}))
        .header("x-agent-code", "AG1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["success"], true);
    let c = &body["data"];
    let keys: Vec<&str> = c.as_object().unwrap().keys().map(String::as_str).collect();
    let mut expected = vec![
        "id",
        "first_name",
        "last_name",
        "phone_primary",
        "phone_secondary",
        "created_by_agent",
        "created_at",
        "updated_at",
        "version",
        "is_deleted",
    ];
    expected.sort_unstable();
    let mut keys_sorted = keys.clone();
    keys_sorted.sort_unstable();
    assert_eq!(keys_sorted, expected, "exactly the seed-001 flat shape");
    assert_eq!(c["phone_primary"], "415 555 0100");
    assert_eq!(c["phone_secondary"], Value::Null);
    assert_eq!(c["created_by_agent"], "AG1");
    assert_eq!(c["is_deleted"], false);
    let path = format!("/api/contacts/{}", c["id"].as_str().unwrap());

    // The canonical API sees the same contact, with the number parsed.
    let canonical: Value = app
        .get(&format!("/api/v1/contacts/{}", c["id"].as_str().unwrap()), &key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(canonical["phones"][0]["e164"], "+14155550100");
    assert_eq!(canonical["phones"][0]["type"], "mobile");
    assert_eq!(canonical["source"], "device");

    // PUT changes what is sent; phone_secondary adds a second number; echoed read-only fields are ignored.
    let mut update = c.clone();
    update["last_name"] = json!("Lee-Smith");
    update["phone_secondary"] = json!("+44 20 7946 0958");
    let r = app.put(&path, &key, &update).send().await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let after: Value = app.get(&path, &key).send().await.unwrap().json().await.unwrap();
    assert_eq!(after["data"]["last_name"], "Lee-Smith");
    assert_eq!(after["data"]["phone_secondary"], "+44 20 7946 0958");
    assert!(after["data"]["version"].as_i64().unwrap() > c["version"].as_i64().unwrap());

    // Clearing the primary number moves the secondary up (the flat fields are the first two numbers).
    let r = app.put(&path, &key, &json!({"phone_primary": null})).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let after: Value = r.json().await.unwrap();
    assert_eq!(after["data"]["phone_primary"], "+44 20 7946 0958", "the list closes up");
    assert_eq!(after["data"]["phone_secondary"], Value::Null);

    // A stale base_version is 409 with the flat server copy.
    let r = app.put(&path, &key, &json!({"first_name": "A", "base_version": 1})).send().await.unwrap();
    let err = assert_error(r, 409, "VERSION_CONFLICT").await;
    assert_eq!(err["current"]["last_name"], "Lee-Smith");
    assert!(err["current"].get("phones").is_none(), "flat shape on the agent API");

    let r = app.delete(&path, &key).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let gone: Value = r.json().await.unwrap();
    assert_eq!(gone["data"]["is_deleted"], true);
    assert_error(app.get(&path, &key).send().await.unwrap(), 404, "NOT_FOUND").await;

    let list: Value = app.get("/api/contacts", &key).send().await.unwrap().json().await.unwrap();
    assert_eq!(list["success"], true);
    assert_eq!(list["data"], json!([]));
    assert_eq!(list["next_cursor"], Value::Null);
}

async fn bulk_reports_each_item_and_one_bad_item_fails_alone(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.agent_key("AG1").await;
    let existing: Value =
        app.post("/api/contacts", &key, &json!({"first_name": "Old"})).send().await.unwrap().json().await.unwrap();
    let existing_id = existing["data"]["id"].as_str().unwrap().to_owned();
    let to_delete: Value =
        app.post("/api/contacts", &key, &json!({"first_name": "Doomed"})).send().await.unwrap().json().await.unwrap();
    let to_delete = to_delete["data"]["id"].as_str().unwrap().to_owned();
    let client_id = uuid::Uuid::now_v7().to_string();
    let version = app.workspace_version().await;

    let r = app
        .post(
            "/api/contacts/bulk",
            &key,
            &json!({"contacts": [
                {"first_name": "New", "phone_primary": "+1 212 555 1234"},
                {"id": existing_id, "last_name": "Timer"},
                {"id": client_id, "first_name": "Offline"},
                {"id": to_delete, "is_deleted": true},
                {"first_name": "Bad", "phone_primary": "1234-5678"},
                {"id": uuid::Uuid::now_v7(), "is_deleted": true},
            ]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    let results = body["data"]["results"].as_array().unwrap();
    let statuses: Vec<&str> = results.iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["created", "updated", "created", "deleted", "error", "error"]);
    assert_eq!(results[2]["id"], client_id.as_str(), "an unknown id creates with that id");
    assert_eq!(results[4]["index"], 4);
    assert!(results[4]["error"].as_str().unwrap().contains("phone_primary"), "{}", results[4]);
    assert_eq!(results[4]["fields"][0]["field"], "contacts[4].phone_primary");
    assert_eq!(results[5]["error_code"], "NOT_FOUND");
    let versions: Vec<i64> = results[..4].iter().map(|r| r["version"].as_i64().unwrap()).collect();
    assert_eq!(versions, [version + 1, version + 2, version + 3, version + 4], "one version per applied item");
    assert_eq!(app.workspace_version().await, version + 4);

    // Too many items: rejected whole, nothing written.
    let before = app.row_counts().await;
    let many: Vec<Value> = (0..1001).map(|i| json!({"first_name": format!("N{i}")})).collect();
    let r = app.post("/api/contacts/bulk", &key, &json!({"contacts": many})).send().await.unwrap();
    let err = assert_error(r, 400, "VALIDATION_FAILED").await;
    assert_eq!(err["fields"][0]["field"], "contacts");
    assert_eq!(app.row_counts().await, before);
}

async fn agent_validation_is_400(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.agent_key("AG1").await;
    let before = (app.row_counts().await, app.workspace_version().await);
    let r = app.post("/api/contacts", &key, &json!({"first_name": "A", "phone_primary": "abc"})).send().await.unwrap();
    let err = assert_error(r, 400, "VALIDATION_FAILED").await;
    assert_eq!(err["fields"][0]["field"], "phone_primary");
    let r = app.post("/api/contacts", &key, &json!({"first_name": 7})).send().await.unwrap();
    assert_error(r, 400, "VALIDATION_FAILED").await;
    let r = app.post("/api/contacts", &key, &json!({})).send().await.unwrap();
    assert_error(r, 400, "VALIDATION_FAILED").await;
    let r = app.put("/api/contacts/123", &key, &json!({"first_name": "A"})).send().await.unwrap();
    assert_error(r, 400, "INVALID_PATH").await;
    let r = app.get("/api/sync/delta?version=abc", &key).send().await.unwrap();
    let err = assert_error(r, 400, "INVALID_QUERY").await;
    assert_eq!(err["fields"][0]["field"], "version");
    let r = app.get("/api/sync/delta?version=0&limit=1001", &key).send().await.unwrap();
    assert_error(r, 400, "INVALID_QUERY").await;
    assert_eq!((app.row_counts().await, app.workspace_version().await), before);
}
