//! Realtime with the official `socket.io-client` (Node) and Server-Sent Events: authentication, events to
//! every device but the one that made the change, catching up after a reconnect, and several instances
//! on PostgreSQL forming one system.

use crate::db_tests;
use crate::helpers::{Backend, TestApp};
use crate::socket_client::SocketClient;
use serde_json::{Value, json};
use std::time::Duration;

db_tests!(
    handshake_accepts_good_credentials_and_refuses_bad_ones,
    changes_reach_other_devices_not_the_one_that_made_them,
    a_reconnecting_device_catches_up_by_sync,
    server_sent_events_resume_from_last_event_id,
    connected_devices_stay_current_between_heartbeats,
);

const WAIT: Duration = Duration::from_secs(10);

fn base(app: &TestApp) -> String {
    format!("http://{}", app.addr)
}

/// The ids of the devices `GET /api/v1/devices` shows as connected, and the whole answer for messages.
async fn connected_devices(app: &TestApp) -> (Vec<String>, Value) {
    let devices: Value = app.get("/api/v1/devices", &app.api_key).send().await.unwrap().json().await.unwrap();
    let connected = devices["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["connected"] == true)
        .map(|d| d["device_id"].as_str().unwrap().to_owned())
        .collect();
    (connected, devices)
}

async fn handshake_accepts_good_credentials_and_refuses_bad_ones(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.agent_key("AG1").await;
    app.post("/api/v1/contacts", &app.api_key, &json!({"given_name": "Ann"})).send().await.unwrap();

    let mut ok = SocketClient::connect(
        &base(&app),
        json!({"auth": {"api_key": key, "agent_code": "AG1", "device_id": "phone-1"}}),
    );
    ok.expect_connect().await;
    let hello = ok.expect_event("authenticated", WAIT).await;
    assert_eq!(hello["args"][0], json!({"device_id": "phone-1", "agent_code": "AG1", "current_version": 1}));

    // A user's access token, and credentials as headers or query for clients that cannot set `auth`.
    let (token, _) = app.owner_tokens().await;
    let mut user = SocketClient::connect(&base(&app), json!({"auth": {"token": token}}));
    user.expect_connect().await;
    let hello = user.expect_event("authenticated", WAIT).await;
    assert_eq!(hello["args"][0]["agent_code"], Value::Null);
    let mut by_header = SocketClient::connect(
        &base(&app),
        json!({"extraHeaders": {"X-API-Key": key, "X-Agent-Code": "AG1", "X-Device-Id": "phone-2"}}),
    );
    by_header.expect_connect().await;
    assert_eq!(by_header.expect_event("authenticated", WAIT).await["args"][0]["device_id"], "phone-2");
    let mut by_query = SocketClient::connect(
        &base(&app),
        json!({"query": {"api_key": key, "agent_code": "AG1", "device_id": "phone-3"}}),
    );
    by_query.expect_connect().await;

    // Refusals carry a message that says why.
    let url = base(&app);
    let refused = |auth: Value| {
        let url = url.clone();
        async move {
            let mut c = SocketClient::connect(&url, json!({"auth": auth}));
            c.expect_connect_error().await["message"].as_str().unwrap().to_owned()
        }
    };
    assert!(refused(json!({})).await.starts_with("AUTHENTICATION_REQUIRED"));
    let bad_key = format!("{}x", &key[..key.len() - 1]);
    assert!(refused(json!({"api_key": bad_key})).await.starts_with("INVALID_API_KEY"));
    assert!(refused(json!({"api_key": key, "agent_code": "OTHER"})).await.starts_with("AGENT_MISMATCH"));
    assert!(refused(json!({"token": "not-a-jwt"})).await.starts_with("INVALID_TOKEN"));
    let agents: Value = app.get("/api/v1/agents", &app.api_key).send().await.unwrap().json().await.unwrap();
    let agent_id = agents["results"][0]["id"].as_str().unwrap();
    let r = app
        .patch(&format!("/api/v1/agents/{agent_id}"), &app.api_key, &json!({"is_active": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(refused(json!({"api_key": key, "agent_code": "AG1"})).await.starts_with("AGENT_INACTIVE"));

    // Connected devices show as connected (written by the heartbeat, readable from any instance).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (connected, devices) = connected_devices(&app).await;
    assert_eq!(connected.len(), 3, "{devices}");
    ok.disconnect().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stats: Value = app.get("/api/v1/sync/stats", &app.api_key).send().await.unwrap().json().await.unwrap();
    assert_eq!(stats["devices_connected"], 2, "{stats}");
}

async fn changes_reach_other_devices_not_the_one_that_made_them(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.agent_key("AG1").await;
    let connect = |device: &str| {
        SocketClient::connect(&base(&app), json!({"auth": {"api_key": key, "agent_code": "AG1", "device_id": device}}))
    };
    let (mut a, mut b) = (connect("phone-a"), connect("phone-b"));
    a.expect_event("authenticated", WAIT).await;
    b.expect_event("authenticated", WAIT).await;
    let (token, _) = app.owner_tokens().await;
    let mut office = SocketClient::connect(&base(&app), json!({"auth": {"token": token}, "transports": ["websocket"]}));
    office.expect_event("authenticated", WAIT).await;

    // Device A creates over REST, naming itself.
    let r = app
        .post("/api/contacts", &key, &json!({"first_name": "Ann", "phone_primary": "+1 415 555 0100"}))
        .header("x-agent-code", "AG1")
        .header("x-device-id", "phone-a")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    for client in [&mut b, &mut office] {
        let e = client.expect_event("contact_created", WAIT).await;
        let payload = &e["args"][0];
        assert_eq!(payload["contact"], created["data"], "the flat contact");
        assert_eq!(payload["version"], created["data"]["version"]);
        assert_eq!(payload["created_by"], "AG1");
    }
    a.expect_no_event("contact_created", Duration::from_millis(700)).await;

    // The office updates and deletes: every device hears it, including A.
    let id = created["data"]["id"].as_str().unwrap();
    app.patch(&format!("/api/v1/contacts/{id}"), &token, &json!({"family_name": "Lee"})).send().await.unwrap();
    app.delete(&format!("/api/v1/contacts/{id}"), &token).send().await.unwrap();
    for client in [&mut a, &mut b] {
        let u = client.expect_event("contact_updated", WAIT).await;
        assert_eq!(u["args"][0]["created_by"], app.owner_email.as_str());
        let d = client.expect_event("contact_deleted", WAIT).await;
        assert_eq!(d["args"][0]["contact"]["is_deleted"], true);
        assert!(d["args"][0]["version"].as_i64() > u["args"][0]["version"].as_i64());
    }
}

async fn a_reconnecting_device_catches_up_by_sync(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.agent_key("AG1").await;
    let mut device = SocketClient::connect(
        &base(&app),
        json!({"auth": {"api_key": key, "agent_code": "AG1", "device_id": "phone-b"}}),
    );
    let hello = device.expect_event("authenticated", WAIT).await;
    let version = hello["args"][0]["current_version"].as_i64().unwrap();
    device.disconnect().await;

    for i in 0..3 {
        app.post("/api/v1/contacts", &app.api_key, &json!({"given_name": format!("Missed {i}")})).send().await.unwrap();
    }
    device.reconnect().await;
    let hello = device.expect_event("authenticated", WAIT).await;
    assert_eq!(hello["args"][0]["current_version"], version + 3);
    let ack = device.emit_with_ack("sync", json!([{"version": version, "limit": 2}])).await;
    let page = &ack[0];
    assert_eq!(page["success"], true, "{page}");
    let names: Vec<&str> =
        page["data"]["changes"].as_array().unwrap().iter().map(|c| c["first_name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Missed 0", "Missed 1"]);
    assert_eq!(page["data"]["has_more"], true);
    let next = page["data"]["next_version"].as_i64().unwrap();
    let ack = device.emit_with_ack("sync", json!([next])).await;
    assert_eq!(ack[0]["data"]["changes"][0]["first_name"], "Missed 2");
    assert_eq!(ack[0]["data"]["has_more"], false);
    // The same page as REST.
    let rest: Value =
        app.get(&format!("/api/sync/delta?version={next}"), &key).send().await.unwrap().json().await.unwrap();
    assert_eq!(rest, ack[0]);
    let bad = device.emit_with_ack("sync", json!([{"version": -1}])).await;
    assert_eq!(bad[0]["error_code"], "INVALID_QUERY");
}

/// Reads SSE events (`id`, `event`, parsed `data`) from a streaming response until `n` have arrived.
/// "Connected now" rows expire after three heartbeats unless renewed; a connect or disconnect writes only
/// its device; rows lost meanwhile (another instance expired them while this one stalled) are rewritten.
async fn connected_devices_stay_current_between_heartbeats(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.device_heartbeat_interval = Duration::from_secs(1)).await;
    let key = app.agent_key("AG1").await;
    let connect = |device: &str| {
        SocketClient::connect(&base(&app), json!({"auth": {"api_key": key, "agent_code": "AG1", "device_id": device}}))
    };
    let (mut a, mut b) = (connect("phone-a"), connect("phone-b"));
    a.expect_event("authenticated", WAIT).await;
    b.expect_event("authenticated", WAIT).await;
    let connected = || async {
        let stats: Value = app.get("/api/v1/sync/stats", &app.api_key).send().await.unwrap().json().await.unwrap();
        stats["devices_connected"].as_i64().unwrap()
    };
    let eventually = |want: i64| async move {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let n = connected().await;
            if n == want || tokio::time::Instant::now() > deadline {
                return n;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    assert_eq!(eventually(2).await, 2);

    // Past the first rows' expiry (three beats), while another device comes and goes more often than the
    // heartbeat: the rows were renewed all the same.
    let churn_until = tokio::time::Instant::now() + Duration::from_millis(3_500);
    while tokio::time::Instant::now() < churn_until {
        let mut c = connect("phone-churn");
        c.expect_event("authenticated", WAIT).await;
        tokio::time::sleep(Duration::from_millis(150)).await;
        c.disconnect().await;
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let (connected_ids, devices) = connected_devices(&app).await;
    assert!(connected_ids.iter().any(|d| d == "phone-a") && connected_ids.iter().any(|d| d == "phone-b"), "{devices}");

    // Rows gone behind the instance's back come back at its next heartbeat.
    switchboard_store::db_run!(&app.db, pool => sqlx::query("DELETE FROM device_connections").execute(pool).await.map(|_| ()))
        .unwrap();
    assert_eq!(eventually(2).await, 2);

    a.disconnect().await;
    assert_eq!(eventually(1).await, 1);
    let devices: Value = app.get("/api/v1/devices", &app.api_key).send().await.unwrap().json().await.unwrap();
    let state: Vec<(&str, bool)> = devices["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["device_id"].as_str().unwrap(), d["connected"].as_bool().unwrap()))
        .collect();
    assert!(state.contains(&("phone-a", false)) && state.contains(&("phone-b", true)), "{devices}");
}

async fn read_sse(response: &mut reqwest::Response, buffer: &mut String, n: usize) -> Vec<(i64, String, Value)> {
    let mut out = Vec::new();
    while out.len() < n {
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let field = |name: &str| {
                block.lines().find_map(|l| l.strip_prefix(&format!("{name}:")).map(|v| v.trim().to_owned()))
            };
            if let (Some(id), Some(event), Some(data)) = (field("id"), field("event"), field("data")) {
                out.push((id.parse().unwrap(), event, serde_json::from_str(&data).unwrap()));
            }
        }
        if out.len() >= n {
            break;
        }
        let chunk = tokio::time::timeout(WAIT, response.chunk()).await.expect("an SSE event in time").unwrap().unwrap();
        buffer.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    out
}

async fn server_sent_events_resume_from_last_event_id(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.api_key.clone();
    let mut live = app.get("/api/v1/events", &key).send().await.unwrap();
    let mut other = app.get("/api/v1/events", &key).send().await.unwrap();
    assert_eq!(live.status(), 200);
    assert!(live.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let mut buffer = String::new();
    for i in 0..3 {
        app.post("/api/v1/contacts", &key, &json!({"given_name": format!("S{i}")})).send().await.unwrap();
    }
    let events = read_sse(&mut live, &mut buffer, 3).await;
    assert_eq!(events.iter().map(|e| e.0).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(events[0].1, "contact_created");
    assert_eq!(events[0].2["contact"]["given_name"], "S0", "the canonical contact");
    assert_eq!(events[0].2["version"], 1);
    assert_eq!(events[0].2["contact"]["version"], 1);
    assert!(events[0].2["created_by"].as_str().is_some_and(|s| !s.is_empty()), "{}", events[0].2);
    assert_eq!(events[0].2["origin"], "api");
    // Every stream gets the same events, to the byte once parsed.
    let mut other_buffer = String::new();
    assert_eq!(read_sse(&mut other, &mut other_buffer, 3).await, events);
    drop((live, other));

    // Changes while away are replayed after Last-Event-ID, then live ones follow.
    app.post("/api/v1/contacts", &key, &json!({"given_name": "S3"})).send().await.unwrap();
    let mut resumed = app.get("/api/v1/events", &key).header("last-event-id", "2").send().await.unwrap();
    let mut buffer = String::new();
    let replay = read_sse(&mut resumed, &mut buffer, 2).await;
    assert_eq!(replay.iter().map(|e| e.0).collect::<Vec<_>>(), [3, 4]);
    app.post("/api/v1/contacts", &key, &json!({"given_name": "S4"})).send().await.unwrap();
    let next = read_sse(&mut resumed, &mut buffer, 1).await;
    assert_eq!(next[0].0, 5);
    let r = app.get("/api/v1/events", &key).header("last-event-id", "x").send().await.unwrap();
    assert_eq!(r.status(), 400);
}

/// On PostgreSQL, two `serve` instances on one database are one system: a write through A reaches a
/// socket connected to B.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_postgres_instances_share_changes() {
    let a = TestApp::spawn(Backend::Postgres).await;
    let b = TestApp::start(a.config.clone()).await.unwrap();
    let key = a.agent_key("AG1").await;
    let mut on_b = SocketClient::connect(
        &base(&b),
        json!({"auth": {"api_key": key, "agent_code": "AG1", "device_id": "phone-b"}, "transports": ["websocket"]}),
    );
    on_b.expect_event("authenticated", WAIT).await;
    let mut on_a = SocketClient::connect(
        &base(&a),
        json!({"auth": {"api_key": key, "agent_code": "AG1", "device_id": "phone-a"}, "transports": ["websocket"]}),
    );
    on_a.expect_event("authenticated", WAIT).await;
    let r = a
        .post("/api/contacts", &key, &json!({"first_name": "Across"}))
        .header("x-device-id", "phone-a")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let e = on_b.expect_event("contact_created", WAIT).await;
    assert_eq!(e["args"][0]["contact"]["first_name"], "Across");
    on_a.expect_no_event("contact_created", Duration::from_millis(700)).await;
    // And back: a write through B reaches the socket on A.
    b.post("/api/v1/contacts", &a.api_key, &json!({"given_name": "Back"})).send().await.unwrap();
    let e = on_a.expect_event("contact_created", WAIT).await;
    assert_eq!(e["args"][0]["contact"]["first_name"], "Back");
    // Delta sync through B sees both writes, whichever instance made them, and never moves a cursor past a
    // change it has not delivered (B answers from its window once its tailer has read A's commit).
    let mut cursor = 0;
    let mut names = Vec::new();
    for _ in 0..50 {
        let page: Value =
            b.get(&format!("/api/sync/delta?version={cursor}"), &key).send().await.unwrap().json().await.unwrap();
        for c in page["data"]["changes"].as_array().unwrap() {
            names.push(c["first_name"].as_str().unwrap().to_owned());
        }
        cursor = page["data"]["next_version"].as_i64().unwrap();
        if names.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(names, ["Across", "Back"]);
    assert_eq!(cursor, a.workspace_version().await);

    // "Connected now" is visible from either instance.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stats: Value = b.get("/api/v1/sync/stats", &a.api_key).send().await.unwrap().json().await.unwrap();
    assert_eq!(stats["devices_connected"], 2, "{stats}");
}
