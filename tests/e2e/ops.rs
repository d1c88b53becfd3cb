//! `/health`, `/metrics`, the OpenAPI document and UI, and the HTTP edge (slashes, compression, CORS, hosts).

use crate::db_tests;
use crate::helpers::{Backend, TestApp, TestDb, assert_error};
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use tokio::net::{TcpListener, TcpStream};

db_tests!(health_metrics_and_docs, openapi_lists_every_route, http_edge_behaviour);

async fn health_metrics_and_docs(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let r = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let h: Value = r.json().await.unwrap();
    assert_eq!(h["status"], "ok");
    assert_eq!(h["database"]["reachable"], true);
    assert_eq!(h["database"]["backend"], if backend == Backend::Sqlite { "sqlite" } else { "postgres" });
    assert!(h["uptime_seconds"].is_u64() && h["version"].is_string());

    app.get("/api/v2/auth/me", &app.api_key).send().await.unwrap();
    let text = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(text.contains("http_requests_total{method=\"GET\",route=\"/api/v2/auth/me\",status=\"200\"}"), "{text}");
    assert!(text.contains("http_request_duration_seconds_bucket"), "latency is a histogram");
    assert!(text.contains("db_pool_connections"));

    let ui = app.client.get(app.url("/api/docs/")).send().await.unwrap();
    assert_eq!(ui.status(), 200);
    assert!(ui.text().await.unwrap().to_lowercase().contains("swagger"));
    let js = app.client.get(app.url("/api/docs/swagger-ui-bundle.js")).send().await.unwrap();
    assert_eq!(js.status(), 200, "UI assets are embedded, not fetched from a CDN");
}

async fn openapi_lists_every_route(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let doc: Value = app.client.get(app.url("/api/openapi.json")).send().await.unwrap().json().await.unwrap();
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.insert(format!("{} {path}", method.to_uppercase()));
        }
    }
    let served = [
        "POST /api/v2/auth/login",
        "POST /api/v2/auth/refresh",
        "POST /api/v2/auth/logout",
        "GET /api/v2/auth/me",
        "POST /api/v1/auth/login",
        "POST /api/v1/auth/refresh",
        "POST /api/v1/auth/logout",
        "GET /api/v1/auth/me",
        "GET /api/v1/users",
        "POST /api/v1/users",
        "GET /api/v1/users/{id}",
        "PATCH /api/v1/users/{id}",
        "GET /api/v1/api-keys",
        "POST /api/v1/api-keys",
        "GET /api/v1/api-keys/{id}",
        "DELETE /api/v1/api-keys/{id}",
        "GET /api/v1/agents",
        "POST /api/v1/agents",
        "GET /api/v1/agents/{id}",
        "PATCH /api/v1/agents/{id}",
        "GET /api/v1/contacts",
        "POST /api/v1/contacts",
        "GET /api/v1/contacts/{id}",
        "PATCH /api/v1/contacts/{id}",
        "DELETE /api/v1/contacts/{id}",
        "GET /api/v1/contacts/{id}/history",
        "GET /api/contacts",
        "POST /api/contacts",
        "GET /api/contacts/{id}",
        "PUT /api/contacts/{id}",
        "DELETE /api/contacts/{id}",
        "POST /api/contacts/bulk",
        "GET /api/sync/delta",
        "GET /api/status",
        "GET /api/v1/sync/delta",
        "POST /api/v1/sync/push",
        "GET /api/v1/devices",
        "GET /api/v1/sync/stats",
        "GET /api/v1/changes",
        "GET /api/v1/events",
        "GET /api/v1/directory-tokens",
        "POST /api/v1/directory-tokens",
        "GET /api/v1/directory-tokens/{id}",
        "DELETE /api/v1/directory-tokens/{id}",
        "GET /api/v1/lookup",
        "GET /api/search",
        "GET /api/v1/auth/google",
        "GET /api/v1/auth/google/calendar",
        "GET /api/v1/auth/google/callback",
        "GET /api/v1/auth/calendar/connect",
        "GET /api/v1/connected-accounts",
        "GET /api/v1/connected-accounts/{id}",
        "PATCH /api/v1/connected-accounts/{id}",
        "DELETE /api/v1/connected-accounts/{id}",
        "GET /api/v1/connected-accounts/{id}/sync",
        "POST /api/v1/sync/google",
        "POST /api/sync",
        "POST /dashboard/api/calendar/refresh-tokens",
        "GET /health",
        "GET /metrics",
    ];
    let served: BTreeSet<String> = served.iter().map(|s| s.to_string()).collect();
    assert_eq!(documented, served, "the document and the router list the same routes");
    // Every served route really exists (no 404 from the router for any of them).
    for route in &served {
        let (method, path) = route.split_once(' ').unwrap();
        let path = path.replace("{id}", &uuid::Uuid::now_v7().to_string());
        let r =
            app.client.request(method.parse().unwrap(), app.url(&path)).bearer_auth(&app.api_key).send().await.unwrap();
        if r.headers().get("content-type").is_some_and(|c| c.to_str().unwrap().starts_with("text/event-stream")) {
            assert_eq!(r.status(), 200, "{route}");
            continue; // an event stream does not end
        }
        let body: Value = r.json().await.unwrap_or(Value::Null);
        assert_ne!(body["error_code"], "METHOD_NOT_ALLOWED", "{route}");
        if !route.contains("{id}") {
            assert_ne!(body["error_code"], "NOT_FOUND", "{route} is routed");
        }
    }
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
}

async fn http_edge_behaviour(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        c.cors_allowed_origins = vec!["https://app.example.com".into()];
        c.allowed_hosts = vec!["127.0.0.1".into(), "localhost".into()];
    })
    .await;
    // A trailing slash is the same endpoint.
    assert_eq!(app.get("/api/v1/agents/", &app.api_key).send().await.unwrap().status(), 200);
    // Compression when asked for.
    let raw = crate::helpers::http().no_gzip().build().unwrap();
    let r = raw.get(app.url("/api/openapi.json")).header("accept-encoding", "gzip").send().await.unwrap();
    assert_eq!(r.headers()["content-encoding"], "gzip");
    // CORS only for configured origins.
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/api/v2/auth/me"))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .send()
    };
    let ok = preflight("https://app.example.com").await.unwrap();
    assert_eq!(ok.headers()["access-control-allow-origin"], "https://app.example.com");
    let other = preflight("https://evil.example.com").await.unwrap();
    assert!(!other.headers().contains_key("access-control-allow-origin"));
    // Unknown Host header.
    let r = app.client.get(app.url("/health")).header("host", "evil.example.com").send().await.unwrap();
    assert_error(r, 400, "INVALID_HOST").await;
}

/// A TCP proxy in front of PostgreSQL that the test can cut.
struct CuttableProxy {
    addr: std::net::SocketAddr,
    tasks: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl CuttableProxy {
    async fn start(target: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let tasks = Arc::new(Mutex::new(Vec::new()));
        let registry = tasks.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let target = target.clone();
                let conn = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                registry.lock().unwrap().push(conn);
            }
        });
        tasks.lock().unwrap().push(accept);
        Self { addr, tasks }
    }

    fn cut(&self) {
        for t in self.tasks.lock().unwrap().drain(..) {
            t.abort();
        }
    }
}

/// `/health` answers 503 when PostgreSQL becomes unreachable, and the API answers 503, not 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_is_503_when_postgres_is_unreachable() {
    let db = TestDb::new(Backend::Postgres).await;
    let after_at = db.url.split_once('@').unwrap().1;
    let host_port = after_at.split('/').next().unwrap().to_owned();
    let proxy = CuttableProxy::start(host_port.clone()).await;
    let mut config = db.config();
    config.database_url = db.url.replacen(&host_port, &proxy.addr.to_string(), 1);
    config.request_timeout = std::time::Duration::from_secs(10);
    let app = TestApp::start(config).await.unwrap();
    assert_eq!(app.client.get(app.url("/health")).send().await.unwrap().status(), 200);
    proxy.cut();
    let r = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    let h: Value = r.json().await.unwrap();
    assert_eq!(h["status"], "unavailable");
    assert_eq!(h["database"]["reachable"], false);
    let r = app.get("/api/v2/auth/me", &app.api_key).send().await.unwrap();
    assert_eq!(r.status(), 503, "a database outage is 503 with our body, not a 500");
}
