//! The canonical contacts API: create, read, PATCH with preconditions, delete, list and search, history,
//! idempotency, and bad input that changes nothing.

use crate::db_tests;
use crate::helpers::{Backend, TestApp, assert_error};
use serde_json::{Value, json};

db_tests!(
    contact_lifecycle_with_preconditions_and_history,
    list_search_and_filters,
    bad_input_is_rejected_and_changes_nothing,
    idempotency_keys_replay_and_refuse_reuse,
    changes_feed_is_gapless_and_admin_only,
);

async fn created(app: &TestApp, credential: &str, body: Value) -> Value {
    let r = app.post("/api/v1/contacts", credential, &body).send().await.unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    r.json().await.unwrap()
}

async fn contact_lifecycle_with_preconditions_and_history(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = &app.api_key;
    let r = app
        .post(
            "/api/v1/contacts",
            key,
            &json!({
                "given_name": "  Ann ", "family_name": "Lee", "company": "Acme",
                "phones": [{"value": "(415) 555-0100 ext. 12", "type": "work"}, {"value": "204"}],
                "emails": [{"address": "Ann@Example.COM"}], "labels": ["vip", "vip", "east"]
            }),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let c: Value = r.json().await.unwrap();
    let id = c["id"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("/api/v1/contacts/{id}"));
    assert_eq!(c["display_name"], "Ann Lee");
    assert_eq!(c["given_name"], "Ann", "trimmed");
    assert_eq!(c["phones"][0]["e164"], "+14155550100");
    assert_eq!(c["phones"][0]["extension"], "12");
    assert_eq!(c["phones"][0]["digits"], "14155550100");
    assert_eq!(c["phones"][0]["type"], "work");
    assert_eq!(c["phones"][1]["e164"], Value::Null, "a short internal extension is kept as typed");
    assert_eq!(c["phones"][1]["raw"], "204");
    assert_eq!(c["emails"][0]["address"], "ann@example.com");
    assert_eq!(c["labels"], json!(["vip", "east"]));
    assert_eq!(c["created_by"], "key:bootstrap key");
    let v1 = c["version"].as_i64().unwrap();
    assert_eq!(etag, format!("\"{v1}\""));
    assert_eq!(app.workspace_version().await, v1);

    let got: Value = app.get(&location, key).send().await.unwrap().json().await.unwrap();
    assert_eq!(got, c);

    // PATCH: absent stays, null clears, If-Match matching succeeds.
    let r = app
        .patch(&location, key, &json!({"company": null, "job_title": "CTO"}))
        .header("if-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let c2: Value = r.json().await.unwrap();
    assert_eq!(c2["company"], Value::Null);
    assert_eq!(c2["job_title"], "CTO");
    assert_eq!(c2["family_name"], "Lee");
    let v2 = c2["version"].as_i64().unwrap();
    assert!(v2 > v1);

    // Stale If-Match: 412 with the server's copy; stale base_version: 409 with the server's copy.
    let r = app.patch(&location, key, &json!({"notes": "x"})).header("if-match", &etag).send().await.unwrap();
    let body = assert_error(r, 412, "PRECONDITION_FAILED").await;
    assert_eq!(body["current"]["version"], v2);
    let r = app.patch(&location, key, &json!({"notes": "x", "base_version": v1})).send().await.unwrap();
    let body = assert_error(r, 409, "VERSION_CONFLICT").await;
    assert_eq!(body["current"]["job_title"], "CTO");
    assert_eq!(body["fields"][0]["field"], "base_version");
    assert_eq!(app.workspace_version().await, v2, "rejected writes take no version");

    // An update that changes nothing takes no version either.
    let same: Value =
        app.patch(&location, key, &json!({"job_title": "CTO"})).send().await.unwrap().json().await.unwrap();
    assert_eq!(same["version"], v2);

    // Delete with a stale precondition fails; then succeeds; then the contact is gone.
    let r = app.delete(&format!("{location}?base_version={v1}"), key).send().await.unwrap();
    assert_error(r, 409, "VERSION_CONFLICT").await;
    let r = app.delete(&location, key).header("if-match", format!("\"{v2}\"")).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert_error(app.get(&location, key).send().await.unwrap(), 404, "NOT_FOUND").await;
    assert_error(app.delete(&location, key).send().await.unwrap(), 404, "NOT_FOUND").await;
    assert_error(app.patch(&location, key, &json!({"notes": "x"})).send().await.unwrap(), 404, "NOT_FOUND").await;

    // The history comes from the change feed, oldest first, with before/after per field.
    let h: Value = app.get(&format!("{location}/history"), key).send().await.unwrap().json().await.unwrap();
    let ops: Vec<&str> = h["results"].as_array().unwrap().iter().map(|c| c["op"].as_str().unwrap()).collect();
    assert_eq!(ops, ["create", "update", "delete"]);
    let update = &h["results"][1];
    assert_eq!(update["fields"]["company"], json!({"before": "Acme", "after": null}));
    assert_eq!(update["fields"]["job_title"], json!({"before": null, "after": "CTO"}));
    assert_eq!(update["actor_label"], "key:bootstrap key");
    assert_eq!(update["origin"], "api");
    assert_eq!(h["next_after"], Value::Null);
}

async fn list_search_and_filters(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = &app.api_key;
    created(&app, key, json!({"given_name": "Ann", "family_name": "Lee", "labels": ["vip"]})).await;
    created(&app, key, json!({"given_name": "Bob", "phones": [{"value": "+1 212 555 1234"}]})).await;
    created(&app, key, json!({"company": "Zeta 100% Corp", "emails": [{"address": "sales@zeta.example"}]})).await;
    let gone = created(&app, key, json!({"given_name": "Annabel"})).await;
    let r = app.delete(&format!("/api/v1/contacts/{}", gone["id"].as_str().unwrap()), key).send().await.unwrap();
    assert_eq!(r.status(), 204);

    let names = |v: &Value| -> Vec<String> {
        v["results"].as_array().unwrap().iter().map(|c| c["display_name"].as_str().unwrap().to_owned()).collect()
    };
    let list = |q: &str| {
        let path = format!("/api/v1/contacts{q}");
        let req = app.get(&path, key);
        async move { req.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    assert_eq!(names(&list("").await), ["Ann Lee", "Bob", "Zeta 100% Corp"], "deleted contacts are not listed");
    assert_eq!(names(&list("?q=ann").await), ["Ann Lee"]);
    assert_eq!(names(&list("?q=555-1234").await), ["Bob"], "phone digits match whatever the format");
    assert_eq!(names(&list("?q=zeta.example").await), ["Zeta 100% Corp"]);
    assert_eq!(names(&list("?q=100%25").await), ["Zeta 100% Corp"], "LIKE wildcards are literal");
    assert_eq!(names(&list("?label=vip").await), ["Ann Lee"]);
    assert_eq!(names(&list("?updated_since=2999-01-01T00:00:00Z").await), Vec::<String>::new());

    // Cursor pages keep the filters and walk both ways.
    let p1 = list("?limit=2").await;
    assert_eq!(names(&p1), ["Ann Lee", "Bob"]);
    let next = p1["next"].as_str().unwrap().to_owned();
    let p2: Value = app.get(&next, key).send().await.unwrap().json().await.unwrap();
    assert_eq!(names(&p2), ["Zeta 100% Corp"]);
    assert_eq!(p2["next"], Value::Null);
    let prev: Value = app.get(p2["previous"].as_str().unwrap(), key).send().await.unwrap().json().await.unwrap();
    assert_eq!(names(&prev), ["Ann Lee", "Bob"]);
    let filtered = list("?q=a&limit=1").await;
    assert!(filtered["next"].as_str().unwrap().contains("q=a"), "{filtered}");
}

async fn bad_input_is_rejected_and_changes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = &app.api_key;
    let existing = created(&app, key, json!({"given_name": "Ann"})).await;
    let path = format!("/api/v1/contacts/{}", existing["id"].as_str().unwrap());
    let (_, password) = app.create_member("viewer@example.com", "viewer").await;
    let token: Value = app.login("viewer@example.com", &password).await.json().await.unwrap();
    let token = token["access_token"].as_str().unwrap();
    let before = (app.row_counts().await, app.workspace_version().await);

    let field_of = |b: &Value| b["fields"][0]["field"].as_str().unwrap().to_owned();
    let post = |body: Value| app.post("/api/v1/contacts", key, &body).send();
    let b =
        assert_error(post(json!({"phones": [{"value": "12345678901234"}]})).await.unwrap(), 422, "VALIDATION_FAILED")
            .await;
    assert_eq!(field_of(&b), "phones[0].value");
    let b =
        assert_error(post(json!({"phones": [{"value": "call me"}]})).await.unwrap(), 422, "VALIDATION_FAILED").await;
    assert_eq!(field_of(&b), "phones[0].value");
    let b = assert_error(post(json!({"notes": "no name"})).await.unwrap(), 422, "VALIDATION_FAILED").await;
    assert_eq!(field_of(&b), "contact");
    let b =
        assert_error(post(json!({"given_name": "x", "nickname": 5})).await.unwrap(), 422, "VALIDATION_FAILED").await;
    assert_eq!(field_of(&b), "nickname");
    let b =
        assert_error(post(json!({"given_name": "x", "colour": "red"})).await.unwrap(), 422, "VALIDATION_FAILED").await;
    assert_eq!(field_of(&b), "colour");
    let b = assert_error(
        post(json!({"given_name": "x", "emails": [{"address": "x@"}]})).await.unwrap(),
        422,
        "VALIDATION_FAILED",
    )
    .await;
    assert_eq!(field_of(&b), "emails[0].address");
    let many: Vec<Value> = (0..21).map(|i| json!({"value": format!("+1212555{:04}", 1000 + i)})).collect();
    let b =
        assert_error(post(json!({"given_name": "x", "phones": many})).await.unwrap(), 422, "VALIDATION_FAILED").await;
    assert_eq!(field_of(&b), "phones");

    let r = app.patch("/api/v1/contacts/not-a-uuid", key, &json!({"notes": "x"})).send().await.unwrap();
    let b = assert_error(r, 400, "INVALID_PATH").await;
    assert_eq!(field_of(&b), "id");
    let r = app.patch(&path, key, &json!({"base_version": "seven"})).send().await.unwrap();
    let b = assert_error(r, 422, "VALIDATION_FAILED").await;
    assert_eq!(field_of(&b), "base_version");
    let r = app.patch(&path, key, &json!({"notes": "x"})).header("if-match", "\"abc\"").send().await.unwrap();
    assert_error(r, 400, "INVALID_HEADER").await;
    let r = app.patch(&path, key, &json!({"given_name": null})).send().await.unwrap();
    let b = assert_error(r, 422, "VALIDATION_FAILED").await;
    assert_eq!(field_of(&b), "contact", "clearing the only name leaves nothing to recognise");
    let unknown = format!("/api/v1/contacts/{}", uuid::Uuid::now_v7());
    assert_error(app.patch(&unknown, key, &json!({"notes": "x"})).send().await.unwrap(), 404, "NOT_FOUND").await;
    assert_error(app.delete(&unknown, key).send().await.unwrap(), 404, "NOT_FOUND").await;
    let r = app.get("/api/v1/contacts?limit=0", key).send().await.unwrap();
    assert_error(r, 400, "INVALID_QUERY").await;

    // A viewer may read but not write.
    assert_eq!(app.get(&path, token).send().await.unwrap().status(), 200);
    let r = app.post("/api/v1/contacts", token, &json!({"given_name": "x"})).send().await.unwrap();
    assert_error(r, 403, "INSUFFICIENT_PERMISSION").await;

    assert_eq!(app.row_counts().await, before.0, "nothing was written");
    assert_eq!(app.workspace_version().await, before.1);
}

async fn idempotency_keys_replay_and_refuse_reuse(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = &app.api_key;
    let body = json!({"given_name": "Once"});
    let send = |body: &Value, k: &str| app.post("/api/v1/contacts", key, body).header("idempotency-key", k).send();
    let first = send(&body, "create-once-1").await.unwrap();
    assert_eq!(first.status(), 201);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first: Value = first.json().await.unwrap();
    let version = app.workspace_version().await;

    let again = send(&body, "create-once-1").await.unwrap();
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: Value = again.json().await.unwrap();
    assert_eq!(again, first, "a replay returns the first result");
    assert_eq!(app.workspace_version().await, version, "and changes nothing");

    let r = send(&json!({"given_name": "Twice"}), "create-once-1").await.unwrap();
    assert_error(r, 422, "IDEMPOTENCY_KEY_REUSED").await;

    // Concurrent retries of the same request apply once.
    let path = format!("/api/v1/contacts/{}", first["id"].as_str().unwrap());
    let patch = json!({"notes": "called back"});
    let tries = (0..8).map(|_| app.patch(&path, key, &patch).header("idempotency-key", "note-1").send());
    let results = futures::future::join_all(tries).await;
    let versions: std::collections::BTreeSet<i64> = futures::future::join_all(
        results.into_iter().map(|r| async { r.unwrap().json::<Value>().await.unwrap()["version"].as_i64().unwrap() }),
    )
    .await
    .into_iter()
    .collect();
    assert_eq!(versions.len(), 1, "every retry saw the same result");
    assert_eq!(app.workspace_version().await, version + 1);

    // Keys belong to a credential: another key may use the same text.
    let (_, other) = app.create_key(json!({"name": "other", "scopes": ["contacts:write"]})).await;
    let r =
        app.post("/api/v1/contacts", &other, &body).header("idempotency-key", "create-once-1").send().await.unwrap();
    assert_eq!(r.status(), 201);
    assert!(r.headers().get("idempotent-replayed").is_none());
    let r = app.post("/api/v1/contacts", key, &body).header("idempotency-key", "").send().await.unwrap();
    assert_error(r, 400, "INVALID_HEADER").await;
}

async fn changes_feed_is_gapless_and_admin_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = &app.api_key;
    for i in 0..5 {
        created(&app, key, json!({"given_name": format!("C{i}")})).await;
    }
    let page: Value = app.get("/api/v1/changes?limit=3", key).send().await.unwrap().json().await.unwrap();
    let versions: Vec<i64> =
        page["results"].as_array().unwrap().iter().map(|c| c["version"].as_i64().unwrap()).collect();
    assert_eq!(versions, [1, 2, 3]);
    assert_eq!(page["next_after"], 3);
    let rest: Value = app.get("/api/v1/changes?after=3", key).send().await.unwrap().json().await.unwrap();
    let versions: Vec<i64> =
        rest["results"].as_array().unwrap().iter().map(|c| c["version"].as_i64().unwrap()).collect();
    assert_eq!(versions, [4, 5]);
    assert_eq!(rest["next_after"], Value::Null);
    let (_, password) = app.create_member("member@example.com", "member").await;
    let token: Value = app.login("member@example.com", &password).await.json().await.unwrap();
    let r = app.get("/api/v1/changes", token["access_token"].as_str().unwrap()).send().await.unwrap();
    assert_error(r, 403, "INSUFFICIENT_PERMISSION").await;
}
