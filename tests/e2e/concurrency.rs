//! Many writers and syncing devices at once: afterwards every device's copy equals the server's, and the
//! change feed has no gaps and no duplicates.

use crate::db_tests;
use crate::helpers::{Backend, TestApp};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

db_tests!(concurrent_writers_and_syncing_devices_converge);

const WRITERS: usize = 8;
const OPS_PER_WRITER: usize = 500;
const DEVICES: usize = 4;

/// A device's local copy: contact id → (version, flat contact), tombstones included.
type Copy = BTreeMap<String, (i64, Value)>;

/// Pulls delta pages from `cursor` until caught up; returns the new cursor.
async fn pull(app: &TestApp, key: &str, device: &str, mut cursor: i64, copy: &mut Copy) -> i64 {
    loop {
        let r = app
            .get(&format!("/api/sync/delta?version={cursor}&limit=200"), key)
            .header("x-agent-code", "SYNC")
            .header("x-device-id", device)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.unwrap();
        let data = &body["data"];
        let mut last = cursor;
        for c in data["changes"].as_array().unwrap() {
            let v = c["version"].as_i64().unwrap();
            assert!(v > last, "delta pages are in strictly increasing version order");
            last = v;
            let id = c["id"].as_str().unwrap().to_owned();
            if copy.get(&id).is_none_or(|(old, _)| *old < v) {
                copy.insert(id, (v, c.clone()));
            }
        }
        cursor = data["next_version"].as_i64().unwrap();
        if !data["has_more"].as_bool().unwrap() {
            return cursor;
        }
    }
}

async fn writer(app: Arc<TestApp>, n: usize) {
    let mut mine: Vec<(String, i64)> = Vec::new();
    let mut seed = (n as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for i in 0..OPS_PER_WRITER {
        let roll = next() % 10;
        if mine.is_empty() || roll < 4 {
            let body = json!({"given_name": format!("W{n}-{i}"), "phones": [{"value": format!("+1212555{:04}", (n * 1000 + i) % 10_000)}]});
            let r = app.post("/api/v1/contacts", &app.api_key, &body).send().await.unwrap();
            assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
            let c: Value = r.json().await.unwrap();
            mine.push((c["id"].as_str().unwrap().to_owned(), c["version"].as_i64().unwrap()));
        } else if roll < 8 {
            let k = (next() as usize) % mine.len();
            let (id, _) = &mine[k];
            let r = app
                .patch(&format!("/api/v1/contacts/{id}"), &app.api_key, &json!({"notes": format!("edit {i}")}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
            let c: Value = r.json().await.unwrap();
            mine[k].1 = c["version"].as_i64().unwrap();
        } else {
            let k = (next() as usize) % mine.len();
            let (id, _) = mine.swap_remove(k);
            let r = app.delete(&format!("/api/v1/contacts/{id}"), &app.api_key).send().await.unwrap();
            assert_eq!(r.status(), 204);
        }
    }
}

async fn concurrent_writers_and_syncing_devices_converge(backend: Backend) {
    let app = Arc::new(TestApp::spawn_with(backend, |c| c.rate_limit_per_minute = 0).await);
    let key = app.agent_key("SYNC").await;
    let done = Arc::new(AtomicBool::new(false));
    let devices: Vec<_> = (0..DEVICES)
        .map(|d| {
            let (app, key, done) = (app.clone(), key.clone(), done.clone());
            tokio::spawn(async move {
                let device = format!("device-{d}");
                let mut copy = Copy::new();
                let mut cursor = 0;
                while !done.load(Ordering::Relaxed) {
                    cursor = pull(&app, &key, &device, cursor, &mut copy).await;
                }
                cursor = pull(&app, &key, &device, cursor, &mut copy).await;
                (cursor, copy)
            })
        })
        .collect();
    let writers: Vec<_> = (0..WRITERS).map(|n| tokio::spawn(writer(app.clone(), n))).collect();
    for w in writers {
        w.await.unwrap();
    }
    done.store(true, Ordering::Relaxed);

    let mut server = Copy::new();
    let server_version = pull(&app, &key, "reference", 0, &mut server).await;
    assert_eq!(server_version, app.workspace_version().await);
    assert_eq!(server_version as usize, WRITERS * OPS_PER_WRITER, "one version per operation");
    for d in devices {
        let (cursor, copy) = d.await.unwrap();
        assert_eq!(cursor, server_version);
        assert_eq!(copy.len(), server.len());
        assert!(copy == server, "a device's copy equals the server's");
    }

    // The feed: versions 1..=N, each exactly once.
    let mut after = 0;
    let mut seen = HashSet::new();
    loop {
        let page: Value = app
            .get(&format!("/api/v1/changes?after={after}&limit=1000"), &app.api_key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for c in page["results"].as_array().unwrap() {
            let v = c["version"].as_i64().unwrap();
            assert_eq!(v, after + 1, "no gaps");
            assert!(seen.insert(v), "no duplicates");
            after = v;
        }
        if page["next_after"].is_null() {
            break;
        }
    }
    assert_eq!(after, server_version);
}
