//! `TestApp`: the real server on a random port with a fresh database (a SQLite file in a temp directory,
//! or a PostgreSQL database cloned from a migrated template in the cluster that `scripts/test` starts).

use reqwest::{Client, RequestBuilder, Response};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use switchboard_server::{Application, Config};
use switchboard_store::{Db, DbOptions, db_run};
use tokio::sync::oneshot;

/// A reqwest client builder. The workspace's reqwest is built with `rustls-no-provider` (the Google client
/// brings its own ring-based TLS config and keeps aws-lc-rs out), so a plain client needs a process-wide
/// provider installed first, even for plain HTTP.
pub fn http() -> reqwest::ClientBuilder {
    static TLS: std::sync::Once = std::sync::Once::new();
    TLS.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    Client::builder()
}

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs each named `async fn(Backend)` once on SQLite and once on PostgreSQL, as `name::sqlite` and
/// `name::postgres`.
#[macro_export]
macro_rules! db_tests {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::helpers::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::helpers::Backend::Postgres).await
            }
        }
    )*};
}

/// A fresh, empty database for one test.
pub struct TestDb {
    pub url: String,
    pub data_dir: PathBuf,
}

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("switchboard-test-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// The PostgreSQL server URL from `scripts/test`.
pub fn postgres_base_url() -> String {
    std::env::var("SWITCHBOARD_TEST_POSTGRES_URL").expect(
        "SWITCHBOARD_TEST_POSTGRES_URL is not set: run the tests with scripts/test, which starts a throwaway \
         PostgreSQL cluster, or point it at a server where the user may create databases",
    )
}

/// Replaces the database name of a PostgreSQL URL.
pub fn with_database(base: &str, db: &str) -> String {
    let (head, query) = base.split_once('?').map(|(h, q)| (h, Some(q))).unwrap_or((base, None));
    let scheme_end = head.find("://").map(|i| i + 3).unwrap_or(0);
    let root = match head[scheme_end..].find('/') {
        Some(i) => &head[..scheme_end + i],
        None => head,
    };
    match query {
        Some(q) => format!("{root}/{db}?{q}"),
        None => format!("{root}/{db}"),
    }
}

fn migrations_hash() -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../store/migrations/postgres");
    let mut files: Vec<_> = std::fs::read_dir(&dir).expect("migrations dir").map(|e| e.unwrap().path()).collect();
    files.sort();
    let mut h = Sha256::new();
    for f in files {
        h.update(std::fs::read(f).unwrap());
    }
    hex::encode(&h.finalize()[..6])
}

/// Creates (once per migration set, under an advisory lock shared by parallel test processes) a migrated
/// template database, and returns its name.
async fn postgres_template(base: &str) -> String {
    let name = format!("switchboard_tpl_{}", migrations_hash());
    let admin = sqlx::PgPool::connect(base).await.expect("connect to the test PostgreSQL server");
    let mut conn = admin.acquire().await.unwrap();
    sqlx::query("SELECT pg_advisory_lock(727274)").execute(&mut *conn).await.unwrap();
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(&name)
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    if !exists {
        let tmp = format!("{name}_building");
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {tmp}"))).execute(&mut *conn).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {tmp}"))).execute(&mut *conn).await.unwrap();
        let db = Db::connect(&with_database(base, &tmp), &DbOptions::default()).await.unwrap();
        db.migrate().await.unwrap();
        db.close().await;
        sqlx::query(sqlx::AssertSqlSafe(format!("ALTER DATABASE {tmp} RENAME TO {name}")))
            .execute(&mut *conn)
            .await
            .unwrap();
    }
    sqlx::query("SELECT pg_advisory_unlock(727274)").execute(&mut *conn).await.unwrap();
    drop(conn);
    admin.close().await;
    name
}

impl TestDb {
    /// A new empty (migrated, for PostgreSQL) database.
    pub async fn new(backend: Backend) -> Self {
        let data_dir = temp_dir();
        let url = match backend {
            Backend::Sqlite => format!("sqlite://{}", data_dir.join("switchboard.db").display()),
            Backend::Postgres => {
                let base = postgres_base_url();
                let template = postgres_template(&base).await;
                let name = format!("sbtest_{}", uuid::Uuid::now_v7().simple());
                let admin = sqlx::PgPool::connect(&base).await.unwrap();
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name} TEMPLATE {template}")))
                    .execute(&admin)
                    .await
                    .expect("create test database");
                admin.close().await;
                with_database(&base, &name)
            }
        };
        Self { url, data_dir }
    }

    /// A test configuration on this database: random port, generous rate limits, fast usage flushes.
    pub fn config(&self) -> Config {
        Config {
            bind: "127.0.0.1:0".parse().unwrap(),
            data_dir: self.data_dir.clone(),
            database_url: self.url.clone(),
            database_max_connections: 8,
            rate_limit_per_minute: 100_000,
            login_rate_limit_per_minute: 100_000,
            usage_flush_interval: Duration::from_millis(100),
            ..Config::default()
        }
    }
}

/// The running server and what a test needs to talk to it.
pub struct TestApp {
    pub addr: SocketAddr,
    pub client: Client,
    pub db: Db,
    /// The pool lookups and directories read through (the main pool on SQLite).
    pub lookup_db: Db,
    pub config: Config,
    pub owner_email: String,
    pub owner_password: String,
    pub api_key: String,
    pub workspace_id: uuid::Uuid,
    pub workspace_slug: String,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl TestApp {
    /// The server on a fresh database with the test configuration.
    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with(backend, |_| {}).await
    }

    /// The server on a fresh database, with the configuration adjusted by `tweak`.
    pub async fn spawn_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> TestApp {
        let db = TestDb::new(backend).await;
        let mut config = db.config();
        tweak(&mut config);
        Self::start(config).await.expect("server starts")
    }

    /// Starts a server with exactly this configuration (e.g. a second instance on the same database).
    pub async fn start(config: Config) -> anyhow::Result<TestApp> {
        let app = Application::build(config.clone()).await?;
        let addr = app.local_addr();
        let db = app.state().db.clone();
        let lookup_db = app.state().lookup_db.clone();
        let creds = app.bootstrap_credentials().cloned();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until_stopped(async move {
            let _ = rx.await;
        }));
        let (owner_email, owner_password, api_key, workspace_id, workspace_slug) = match creds {
            Some(c) => (c.email, c.password, c.api_key, c.workspace.id, c.workspace.slug),
            None => Default::default(),
        };
        Ok(TestApp {
            addr,
            client: http().timeout(Duration::from_secs(30)).build().unwrap(),
            db,
            lookup_db,
            config,
            owner_email,
            owner_password,
            api_key,
            workspace_id,
            workspace_slug,
            shutdown: Some(tx),
            task: Some(task),
        })
    }

    /// Whether this start created the workspace (the first start on an empty database).
    pub fn bootstrapped(&self) -> bool {
        !self.api_key.is_empty()
    }

    /// `http://addr/path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// GET with a bearer credential.
    pub fn get(&self, path: &str, credential: &str) -> RequestBuilder {
        self.client.get(self.url(path)).bearer_auth(credential)
    }

    /// POST JSON with a bearer credential.
    pub fn post(&self, path: &str, credential: &str, body: &Value) -> RequestBuilder {
        self.client.post(self.url(path)).bearer_auth(credential).json(body)
    }

    /// PATCH JSON with a bearer credential.
    pub fn patch(&self, path: &str, credential: &str, body: &Value) -> RequestBuilder {
        self.client.patch(self.url(path)).bearer_auth(credential).json(body)
    }

    /// PUT JSON with a bearer credential.
    pub fn put(&self, path: &str, credential: &str, body: &Value) -> RequestBuilder {
        self.client.put(self.url(path)).bearer_auth(credential).json(body)
    }

    /// DELETE with a bearer credential.
    pub fn delete(&self, path: &str, credential: &str) -> RequestBuilder {
        self.client.delete(self.url(path)).bearer_auth(credential)
    }

    /// Creates an agent and a key bound to it (contacts read and write); returns the key.
    pub async fn agent_key(&self, code: &str) -> String {
        let r = self.post("/api/v1/agents", &self.api_key, &serde_json::json!({"code": code})).send().await.unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        self.create_key(serde_json::json!({"name": format!("{code} phone"), "agent_code": code})).await.1
    }

    /// The bootstrap workspace's change-feed version.
    pub async fn workspace_version(&self) -> i64 {
        let id = self.workspace_id;
        db_run!(&self.db, pool => sqlx::query_scalar("SELECT version FROM workspaces WHERE id = $1")
            .bind(id).fetch_one(pool).await)
        .unwrap()
    }

    /// Signs in; returns the token response.
    pub async fn login(&self, email: &str, password: &str) -> Response {
        self.client
            .post(self.url("/api/v2/auth/login"))
            .json(&serde_json::json!({"email": email, "password": password}))
            .send()
            .await
            .unwrap()
    }

    /// Signs the bootstrap owner in; returns (access token, refresh token).
    pub async fn owner_tokens(&self) -> (String, String) {
        let r = self.login(&self.owner_email, &self.owner_password).await;
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.unwrap();
        (body["access_token"].as_str().unwrap().to_owned(), body["refresh_token"].as_str().unwrap().to_owned())
    }

    /// Creates an API key through the API with the bootstrap key; returns (id, key).
    pub async fn create_key(&self, body: Value) -> (String, String) {
        let r = self.post("/api/v1/api-keys", &self.api_key, &body).send().await.unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        let v: Value = r.json().await.unwrap();
        (v["id"].as_str().unwrap().to_owned(), v["key"].as_str().unwrap().to_owned())
    }

    /// Creates a member through the API; returns (id, password).
    pub async fn create_member(&self, email: &str, role: &str) -> (String, String) {
        let body = serde_json::json!({"email": email, "role": role, "password": "member-password-1"});
        let r = self.post("/api/v1/users", &self.api_key, &body).send().await.unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        let v: Value = r.json().await.unwrap();
        (v["id"].as_str().unwrap().to_owned(), "member-password-1".to_owned())
    }

    /// Row counts of every table, to prove a failed request wrote nothing.
    pub async fn row_counts(&self) -> Vec<(String, i64)> {
        let mut out = Vec::new();
        for table in [
            "workspaces",
            "users",
            "memberships",
            "api_keys",
            "agents",
            "devices",
            "refresh_tokens",
            "contacts",
            "contact_phones",
            "contact_emails",
            "changes",
            "idempotency_records",
            "directory_tokens",
        ] {
            let sql = sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}"));
            let n: i64 = db_run!(&self.db, pool => sqlx::query_scalar(sql).fetch_one(pool).await).unwrap();
            out.push((table.to_owned(), n));
        }
        out
    }

    /// Stops the server and waits for it to finish.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Asserts our error body and status; returns the body.
pub async fn assert_error(response: Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status().as_u16(), status, "unexpected status");
    let ct = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    assert!(ct.starts_with("application/json"), "error content type was {ct:?}");
    let body: Value = response.json().await.expect("error body is JSON");
    assert_eq!(body["success"], false, "{body}");
    assert_eq!(body["error_code"], code, "{body}");
    assert!(body["error"].as_str().is_some_and(|s| !s.is_empty()), "{body}");
    body
}
