//! Delta sync, tombstone retention, offline push with field-level merge, devices and statistics.

use crate::db_tests;
use crate::helpers::{Backend, TestApp, assert_error};
use serde_json::{Value, json};
use std::time::Duration;
use switchboard_store::db_run;

db_tests!(
    delta_pages_in_version_order_with_tombstones,
    flat_delta_pages_equal_the_canonical_contacts,
    purged_tombstones_require_a_full_sync,
    push_applies_merges_dedupes_and_reports_conflicts,
    devices_and_stats_reflect_syncs,
    a_crowd_of_devices_is_recorded_whole,
);

async fn delta_pages_in_version_order_with_tombstones(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.agent_key("AG1").await;
    let mut ids = Vec::new();
    for i in 0..7 {
        let r: Value = app
            .post("/api/contacts", &key, &json!({"first_name": format!("C{i}")}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        ids.push(r["data"]["id"].as_str().unwrap().to_owned());
    }
    // Update C0 (moves to the end) and delete C1 (a tombstone).
    app.put(&format!("/api/contacts/{}", ids[0]), &key, &json!({"last_name": "Zero"})).send().await.unwrap();
    app.delete(&format!("/api/contacts/{}", ids[1]), &key).send().await.unwrap();
    let current = app.workspace_version().await;
    assert_eq!(current, 9);

    // Page through with limit 3, as a device does.
    let mut version = 0;
    let mut seen: Vec<Value> = Vec::new();
    let mut pages = 0;
    loop {
        let r: Value = app
            .get(&format!("/api/sync/delta?version={version}&limit=3"), &key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(r["success"], true);
        let d = &r["data"];
        assert_eq!(d["current_version"], current);
        seen.extend(d["changes"].as_array().unwrap().iter().cloned());
        version = d["next_version"].as_i64().unwrap();
        pages += 1;
        if !d["has_more"].as_bool().unwrap() {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(version, current);
    let versions: Vec<i64> = seen.iter().map(|c| c["version"].as_i64().unwrap()).collect();
    let mut sorted = versions.clone();
    sorted.sort_unstable();
    assert_eq!(versions, sorted, "version order");
    assert_eq!(seen.len(), 7, "each contact once, in its latest state");
    let c0 = seen.iter().find(|c| c["id"] == ids[0].as_str()).unwrap();
    assert_eq!(c0["last_name"], "Zero");
    let c1 = seen.iter().find(|c| c["id"] == ids[1].as_str()).unwrap();
    assert_eq!(c1["is_deleted"], true, "tombstones are included");

    // Caught up: an empty page that keeps the cursor.
    let r: Value =
        app.get(&format!("/api/v1/sync/delta?version={current}"), &key).send().await.unwrap().json().await.unwrap();
    assert_eq!(r["changes"], json!([]));
    assert_eq!(r["has_more"], false);
    assert_eq!(r["next_version"], current);
    // A cursor from the future (e.g. a restored backup) must start over.
    let r = app.get(&format!("/api/sync/delta?version={}", current + 5), &key).send().await.unwrap();
    assert_error(r, 410, "FULL_SYNC_REQUIRED").await;
}

/// The agent delta reads pages from the database as one JSON row in the flat shape (not through the
/// canonical record): every field must still equal its canonical source, whatever the text holds.
async fn flat_delta_pages_equal_the_canonical_contacts(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.agent_key("AG1").await;
    let bodies = [
        json!({"given_name": "Zoë \"Q\" \\ back/slash", "family_name": "Ørsted's <b>&amp;"}),
        json!({"given_name": "Ann", "phones": [{"value": "+1 415 555 0100"}]}),
        json!({"company": "Acme", "phones": [{"value": "(212) 555-0101 ext. 7"}, {"value": "204"}, {"value": "+44 20 7946 0958"}]}),
        json!({"given_name": "😀 Smile", "family_name": "日本", "phones": [{"value": "tel:+1-212-555-0102"}, {"value": "+1 212 555 0103"}]}),
        json!({"given_name": "Gone", "phones": [{"value": "+1 212 555 0104"}]}),
        json!({"emails": [{"address": "only@example.com"}]}),
    ];
    let mut ids = Vec::new();
    for body in &bodies {
        let r = app.post("/api/v1/contacts", &key, body).send().await.unwrap();
        assert_eq!(r.status(), 201, "{body}");
        ids.push(r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned());
    }
    app.delete(&format!("/api/v1/contacts/{}", ids[4]), &key).send().await.unwrap();

    let canonical: Value = app.get("/api/v1/sync/delta?version=0", &key).send().await.unwrap().json().await.unwrap();
    let canonical = canonical["changes"].as_array().unwrap().clone();
    assert_eq!(canonical.len(), bodies.len());
    // Pages of two: more than the window answers at once, so each page is read from the database.
    let (mut flat, mut version) = (Vec::new(), 0);
    loop {
        let r: Value = app
            .get(&format!("/api/sync/delta?version={version}&limit=2"), &key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        flat.extend(r["data"]["changes"].as_array().unwrap().iter().cloned());
        version = r["data"]["next_version"].as_i64().unwrap();
        if !r["data"]["has_more"].as_bool().unwrap() {
            break;
        }
    }
    assert_eq!(flat.len(), canonical.len());
    for (f, c) in flat.iter().zip(&canonical) {
        let expected = json!({
            "id": c["id"],
            "first_name": c["given_name"],
            "last_name": c["family_name"],
            "phone_primary": c["phones"].get(0).map_or(Value::Null, |p| p["raw"].clone()),
            "phone_secondary": c["phones"].get(1).map_or(Value::Null, |p| p["raw"].clone()),
            "created_by_agent": c["created_by"],
            "created_at": c["created_at"],
            "updated_at": c["updated_at"],
            "version": c["version"],
            "is_deleted": c["deleted"],
        });
        assert_eq!(f, &expected);
    }
    let deleted = flat.iter().find(|f| f["id"] == ids[4].as_str()).unwrap();
    assert_eq!(deleted["is_deleted"], true);
    let smile = flat.iter().find(|f| f["id"] == ids[3].as_str()).unwrap();
    assert_eq!(smile["first_name"], "😀 Smile");
    assert_eq!(smile["phone_secondary"], "+1 212 555 0103");
}

async fn purged_tombstones_require_a_full_sync(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.api_key.clone();
    let mut ids = Vec::new();
    for i in 0..3 {
        let r: Value = app
            .post(
                "/api/v1/contacts",
                &key,
                &json!({"given_name": format!("C{i}"), "phones": [{"value": format!("+1 212 555 010{i}")}],
                        "emails": [{"address": format!("c{i}@example.com")}]}),
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        ids.push(r["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(app.delete(&format!("/api/v1/contacts/{}", ids[0]), &key).send().await.unwrap().status(), 204);
    let children = || async {
        let mut n = Vec::new();
        for table in ["contact_phones", "contact_emails"] {
            let sql = format!("SELECT COUNT(*) FROM {table}");
            n.push(
                db_run!(&app.db, pool => sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql)).fetch_one(pool).await)
                    .unwrap(),
            );
        }
        n
    };
    assert_eq!(children().await, [3, 3], "a tombstone keeps its numbers and addresses until it is purged");
    let delete_version = app.workspace_version().await;
    // Age the tombstone beyond retention, then run the purge the background task runs.
    let long_ago = chrono::Utc::now() - chrono::Duration::days(91);
    db_run!(&app.db, pool => sqlx::query("UPDATE contacts SET deleted_at = $1 WHERE deleted_at IS NOT NULL")
        .bind(long_ago).execute(pool).await.map(|r| r.rows_affected()))
    .unwrap();
    let purged =
        switchboard_server::sync::purge_tombstones(&app.db, Duration::from_secs(90 * 24 * 3600)).await.unwrap();
    assert_eq!(purged, 1);
    assert_eq!(children().await, [2, 2], "the purged contact's numbers and addresses go with it");
    // Each instance learns the new purge line with its next feed poll (1 s); until then it may still answer
    // from its in-memory window, which holds the purged tombstones too (complete, just not refused yet).
    let mut tries = 0;
    let r = loop {
        let r = app.get("/api/v1/sync/delta?version=1", &key).send().await.unwrap();
        tries += 1;
        if r.status() == 410 || tries == 30 {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let err = assert_error(r, 410, "FULL_SYNC_REQUIRED").await;
    assert!(err["error"].as_str().unwrap().contains("version 0"), "{err}");
    // At or after the purge line, and a full download, still work; the feed keeps its rows.
    let r = app.get(&format!("/api/v1/sync/delta?version={delete_version}"), &key).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let full: Value = app.get("/api/v1/sync/delta?version=0", &key).send().await.unwrap().json().await.unwrap();
    assert_eq!(full["changes"].as_array().unwrap().len(), 2);
    let feed: Value = app.get("/api/v1/changes", &key).send().await.unwrap().json().await.unwrap();
    assert_eq!(feed["results"].as_array().unwrap().len(), 4, "changes rows are kept");
}

async fn push_applies_merges_dedupes_and_reports_conflicts(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let device = app.agent_key("AG1").await;
    let office = app.api_key.clone();
    let offline_id = uuid::Uuid::now_v7().to_string();
    let push = |ops: Value| app.post("/api/v1/sync/push", &device, &json!({"operations": ops})).send();

    // An offline create with a client id; repeating the push is a duplicate with the original result.
    let create = json!([{"mutation_id": "m1", "op": "create", "id": offline_id,
        "fields": {"given_name": "Ann", "company": "Acme", "phones": [{"value": "+1 415 555 0100"}]}}]);
    let r: Value = push(create.clone()).await.unwrap().json().await.unwrap();
    assert_eq!(r["results"][0]["status"], "applied", "{r}");
    assert_eq!(r["results"][0]["id"], offline_id.as_str());
    let base = r["results"][0]["version"].as_i64().unwrap();
    let again: Value = push(create).await.unwrap().json().await.unwrap();
    assert_eq!(again["results"][0]["status"], "duplicate");
    assert_eq!(again["results"][0]["version"], base);
    assert_eq!(app.workspace_version().await, base);

    // The office edits the company meanwhile.
    let path = format!("/api/v1/contacts/{offline_id}");
    let r = app.patch(&path, &office, &json!({"company": "Acme Corp"})).send().await.unwrap();
    assert_eq!(r.status(), 200);

    // The device, still at `base`, changes another field and sends the unchanged company back: merged.
    let r: Value = push(json!([{"mutation_id": "m2", "op": "update", "id": offline_id, "base_version": base,
        "fields": {"job_title": "CEO", "company": "Acme"}}]))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(r["results"][0]["status"], "applied", "{r}");
    assert_eq!(r["results"][0]["contact"]["job_title"], "CEO");
    assert_eq!(r["results"][0]["contact"]["company"], "Acme Corp", "the server's newer value stays");

    // Changing the same field differently is a conflict with the server copy; nothing applies.
    let version = app.workspace_version().await;
    let r: Value = push(json!([
        {"mutation_id": "m3", "op": "update", "id": offline_id, "base_version": base,
         "fields": {"company": "Acme Ltd", "notes": "n"}},
        {"mutation_id": "m4", "op": "delete", "id": offline_id, "base_version": base},
        {"mutation_id": "m5", "op": "update", "id": offline_id, "fields": {"notes": "x"}},
        {"mutation_id": "m6", "op": "rename", "id": offline_id},
    ]))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let results = r["results"].as_array().unwrap();
    assert_eq!(results[0]["status"], "conflict");
    assert_eq!(results[0]["fields"][0]["field"], "company");
    assert_eq!(results[0]["current"]["company"], "Acme Corp");
    assert_eq!(results[1]["status"], "conflict", "deleting over unseen server edits");
    assert_eq!(results[2]["status"], "rejected");
    assert_eq!(results[2]["fields"][0]["field"], "operations[2].base_version");
    assert_eq!(results[3]["fields"][0]["field"], "operations[3].op");
    assert_eq!(app.workspace_version().await, version);

    // Reusing a mutation id for a different operation is refused.
    let r: Value = push(json!([{"mutation_id": "m1", "op": "delete", "id": offline_id, "base_version": 99}]))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["results"][0]["error_code"], "MUTATION_ID_REUSED");

    // A delete at the current version applies; deleting again is fine for an offline device.
    let current: Value = app.get(&path, &office).send().await.unwrap().json().await.unwrap();
    let v = current["version"].as_i64().unwrap();
    let r: Value = push(json!([
        {"mutation_id": "m7", "op": "delete", "id": offline_id, "base_version": v},
        {"mutation_id": "m8", "op": "delete", "id": offline_id, "base_version": v},
    ]))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(r["results"][0]["status"], "applied");
    assert_eq!(r["results"][1]["status"], "applied");
    assert_eq!(r["results"][1]["contact"]["deleted"], true);

    // An oversized push is refused whole and changes nothing.
    let version = app.workspace_version().await;
    let many: Vec<Value> = (0..1001)
        .map(|i| json!({"mutation_id": format!("bulk-{i}"), "op": "create", "fields": {"given_name": "x"}}))
        .collect();
    let r = app.post("/api/v1/sync/push", &device, &json!({"operations": many})).send().await.unwrap();
    let err = assert_error(r, 422, "VALIDATION_FAILED").await;
    assert_eq!(err["fields"][0]["field"], "operations");
    assert_eq!(app.workspace_version().await, version);

    // The audit log names the device's mutation ids.
    let feed: Value = app.get("/api/v1/changes", &office).send().await.unwrap().json().await.unwrap();
    let mutations: Vec<&Value> = feed["results"].as_array().unwrap().iter().map(|c| &c["mutation_id"]).collect();
    assert_eq!(mutations, [&json!("m1"), &Value::Null, &json!("m2"), &json!("m7")]);
}

async fn devices_and_stats_reflect_syncs(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.outdated_device_threshold = 2).await;
    let key = app.agent_key("AG1").await;
    let sync = |device: &str, version: i64| {
        app.get(&format!("/api/sync/delta?version={version}"), &key)
            .header("x-agent-code", "AG1")
            .header("x-device-id", device)
            .send()
    };
    for i in 0..3 {
        app.post("/api/v1/contacts", &app.api_key, &json!({"given_name": format!("C{i}")})).send().await.unwrap();
    }
    assert_eq!(sync("phone-1", 0).await.unwrap().status(), 200);
    assert_eq!(sync("phone-2", 0).await.unwrap().status(), 200);
    for i in 3..6 {
        app.post("/api/v1/contacts", &app.api_key, &json!({"given_name": format!("C{i}")})).send().await.unwrap();
    }
    assert_eq!(sync("phone-1", 3).await.unwrap().status(), 200);
    tokio::time::sleep(Duration::from_millis(400)).await; // the batched flush runs every 100 ms in tests

    let devices: Value = app.get("/api/v1/devices", &app.api_key).send().await.unwrap().json().await.unwrap();
    let list = devices["results"].as_array().unwrap();
    assert_eq!(list.len(), 2, "{devices}");
    let phone1 = list.iter().find(|d| d["device_id"] == "phone-1").unwrap();
    let phone2 = list.iter().find(|d| d["device_id"] == "phone-2").unwrap();
    assert_eq!(phone1["agent_code"], "AG1");
    assert_eq!(phone1["last_sync_version"], 6);
    assert_eq!(phone1["changes_count"], 6);
    assert_eq!(phone1["versions_behind"], 0);
    assert_eq!(phone1["outdated"], false);
    assert_eq!(phone1["sync_status"], "ok");
    assert_eq!(phone2["last_sync_version"], 3);
    assert_eq!(phone2["versions_behind"], 3);
    assert_eq!(phone2["outdated"], true);
    assert_eq!(phone2["connected"], false);

    let stats: Value = app.get("/api/v1/sync/stats", &app.api_key).send().await.unwrap().json().await.unwrap();
    assert_eq!(stats["devices_total"], 2);
    assert_eq!(stats["devices_outdated"], 1);
    assert_eq!(stats["syncs_last_hour"], 3);
    assert_eq!(stats["changes_served_last_day"], 9);
    assert_eq!(stats["active_contacts"], 6);
    assert_eq!(stats["current_version"], 6);
    let status: Value = app.get("/api/status", &key).send().await.unwrap().json().await.unwrap();
    assert_eq!(status["data"]["active_contacts"], 6);
    let r = app.get("/api/v1/devices", &key).send().await.unwrap();
    assert_error(r, 403, "INSUFFICIENT_PERMISSION").await;
}

/// More devices than one usage transaction writes (a reconnect storm): every one is registered with its sync.
async fn a_crowd_of_devices_is_recorded_whole(backend: Backend) {
    use futures::StreamExt;
    let app = TestApp::spawn(backend).await;
    let key = app.agent_key("AG1").await;
    for i in 0..2 {
        app.post("/api/v1/contacts", &app.api_key, &json!({"given_name": format!("C{i}")})).send().await.unwrap();
    }
    const DEVICES: usize = 1_100;
    let statuses: Vec<u16> = futures::stream::iter(0..DEVICES)
        .map(|i| {
            app.get("/api/sync/delta?version=0", &key)
                .header("x-agent-code", "AG1")
                .header("x-device-id", format!("phone-{i}"))
                .send()
        })
        .buffer_unordered(16)
        .map(|r| r.unwrap().status().as_u16())
        .collect()
        .await;
    assert!(statuses.iter().all(|s| *s == 200));

    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let stats = loop {
        let stats: Value = app.get("/api/v1/sync/stats", &app.api_key).send().await.unwrap().json().await.unwrap();
        if stats["devices_total"] == DEVICES || tokio::time::Instant::now() > deadline {
            break stats;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(stats["devices_total"], DEVICES, "{stats}");
    assert_eq!(stats["syncs_last_hour"], DEVICES, "{stats}");
    assert_eq!(stats["changes_served_last_day"], 2 * DEVICES, "{stats}");
    assert_eq!(stats["devices_outdated"], 0, "{stats}");
}
