//! First start, restarts, several instances on one database, mismatched secrets, and the binary itself.

use crate::db_tests;
use crate::helpers::{Backend, TestApp, TestDb};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

db_tests!(
    first_start_creates_workspace_owner_and_key,
    two_instances_bootstrap_once,
    mismatched_secrets_refuse_to_start
);

async fn first_start_creates_workspace_owner_and_key(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    assert!(app.bootstrapped());
    assert!(app.api_key.starts_with("sk_"));
    assert!(app.owner_password.len() >= 16);
    let counts = app.row_counts().await;
    assert_eq!(
        &counts[..4],
        &[("workspaces".into(), 1), ("users".into(), 1), ("memberships".into(), 1), ("api_keys".into(), 1)]
    );

    // The key has every scope and the owner can sign in.
    let me: Value = app.get("/api/v2/auth/me", &app.api_key).send().await.unwrap().json().await.unwrap();
    assert_eq!(me["kind"], "api_key");
    assert_eq!(me["scopes"].as_array().unwrap().len(), 5, "{me}");
    let (access, _) = app.owner_tokens().await;
    let me: Value = app.get("/api/v2/auth/me", &access).send().await.unwrap().json().await.unwrap();
    assert_eq!(me["role"], "owner");
    assert_eq!(me["workspace"]["slug"], app.workspace_slug);
    assert_eq!(me["workspace"]["id"], app.workspace_id.to_string());

    // Nothing secret is stored in clear.
    let stored: Vec<String> = switchboard_store::db_run!(&app.db, pool =>
        sqlx::query_scalar("SELECT secret_hash FROM api_keys").fetch_all(pool).await)
    .unwrap();
    assert!(!stored[0].contains(&app.api_key[3..]), "the key is stored hashed");
    let hash: String = switchboard_store::db_run!(&app.db, pool =>
        sqlx::query_scalar("SELECT password_hash FROM users").fetch_one(pool).await)
    .unwrap();
    assert!(hash.starts_with("$argon2id$"));

    // A restart on the same database creates nothing and the old credentials keep working.
    let config = app.config.clone();
    let (email, password, key) = (app.owner_email.clone(), app.owner_password.clone(), app.api_key.clone());
    app.stop().await;
    let again = TestApp::start(config).await.unwrap();
    assert!(!again.bootstrapped());
    assert_eq!(again.row_counts().await[0].1, 1);
    assert_eq!(again.login(&email, &password).await.status(), 200);
    assert_eq!(again.get("/api/v2/auth/me", &key).send().await.unwrap().status(), 200);
}

async fn two_instances_bootstrap_once(backend: Backend) {
    let db = TestDb::new(backend).await;
    let (a, b) = tokio::join!(TestApp::start(db.config()), TestApp::start(db.config()));
    if backend == Backend::Sqlite {
        // One `serve` per SQLite file: the second refuses with a message that says what to do.
        let refused = [&a, &b].iter().filter_map(|r| r.as_ref().err()).map(|e| format!("{e:#}")).collect::<Vec<_>>();
        assert_eq!(refused.len(), 1, "exactly one of two SQLite servers starts: {refused:?}");
        assert!(refused[0].contains("already running on this SQLite database"), "{}", refused[0]);
        assert!(refused[0].contains("PostgreSQL"), "{}", refused[0]);
        let app = if let Ok(a) = a { a } else { b.unwrap() };
        assert!(app.bootstrapped());
        return;
    }
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!([a.bootstrapped(), b.bootstrapped()].iter().filter(|x| **x).count(), 1, "exactly one bootstraps");
    assert_eq!(a.row_counts().await[..2], [("workspaces".into(), 1), ("users".into(), 1)]);
    // Both instances serve the bootstrap key.
    let creator = if a.bootstrapped() { &a } else { &b };
    for app in [&a, &b] {
        assert_eq!(app.get("/api/v2/auth/me", &creator.api_key).send().await.unwrap().status(), 200);
    }
}

async fn mismatched_secrets_refuse_to_start(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let config = app.config.clone();
    let elsewhere =
        |name: &str| std::env::temp_dir().join(format!("switchboard-test-{name}-{}", uuid::Uuid::now_v7().simple()));
    // One server per SQLite file: a second one refuses before it reads any secret, so there the secret
    // checks run once the first server has stopped.
    let running = if backend == Backend::Sqlite {
        let mut second = config.clone();
        second.data_dir = elsewhere("second");
        let err = TestApp::start(second).await.err().expect("a second SQLite server refuses to start");
        assert!(format!("{err:#}").contains("already running on this SQLite database"), "{err:#}");
        let key = app.api_key.clone();
        app.stop().await;
        Err(key)
    } else {
        Ok(app)
    };
    let mut other = config.clone();
    other.data_dir = elsewhere("other");
    let err = TestApp::start(other).await.err().expect("different generated keys must refuse to start");
    assert!(err.to_string().contains("differs from the one this database was set up with"), "{err}");
    // Given the same keys explicitly, an instance starts.
    let mut same = config.clone();
    same.jwt_secret = Some(switchboard_server::config::secrets::SecretValue::new(
        std::fs::read_to_string(config.data_dir.join("jwt.key")).unwrap().trim().to_owned(),
    ));
    same.data_dir = elsewhere("same");
    same.secret_key = Some(switchboard_server::config::secrets::SecretValue::new(
        std::fs::read_to_string(config.data_dir.join("secret.key")).unwrap().trim().to_owned(),
    ));
    let second = TestApp::start(same).await.expect("an instance given the same secrets starts");
    match running {
        // Tokens of one instance are accepted by the other.
        Ok(first) => {
            let (access, _) = first.owner_tokens().await;
            assert_eq!(second.get("/api/v2/auth/me", &access).send().await.unwrap().status(), 200);
        }
        // The first server's API key and secrets serve its successor.
        Err(key) => assert_eq!(second.get("/api/v2/auth/me", &key).send().await.unwrap().status(), 200),
    }
}

/// The real binary on a fresh data directory prints the credentials once, serves, and stops on SIGTERM.
#[test]
fn binary_serves_and_prints_credentials_once() {
    let dir = std::env::temp_dir().join(format!("switchboard-bin-{}", uuid::Uuid::now_v7().simple()));
    let run = |dir: &std::path::Path| {
        let (mut child, mut lines) = spawn_serve(dir, &[]);
        let (url, seen) = read_until_listening(&mut lines);
        let body = blocking_get(&format!("{url}/health"));
        Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
        let status = child.wait().unwrap();
        (seen.join("\n"), body, status)
    };
    let (first, health, status) = run(&dir);
    assert!(first.contains("login email: owner@switchboard.local"), "{first}");
    assert!(first.contains("api key:     sk_"), "{first}");
    assert!(health.contains("\"status\":\"ok\""), "{health}");
    assert!(status.success(), "graceful shutdown exits 0, got {status}");
    let (second, _, _) = run(&dir);
    assert!(!second.contains("api key:"), "credentials are printed only on the first start:\n{second}");
}

/// A write transaction slower than `slow_write_log_ms` (here 0: every one) is logged with each step's time.
#[test]
fn slow_write_transactions_are_logged_with_their_steps() {
    let dir = std::env::temp_dir().join(format!("switchboard-slow-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("switchboard.toml");
    std::fs::write(&config, "slow_write_log_ms = 0\n").unwrap();
    let (mut child, mut lines) = spawn_serve(&dir, &["--config".as_ref(), config.as_os_str()]);
    let (url, seen) = read_until_listening(&mut lines);
    let key = seen
        .iter()
        .find_map(|line| line.split("api key:").nth(1))
        .expect("a first start prints the API key")
        .trim()
        .to_owned();
    let created =
        blocking_request("POST", &format!("{url}/api/v1/contacts"), Some(&key), Some(r#"{"given_name":"Slow"}"#));
    assert!(created.starts_with("HTTP/1.1 201"), "{created}");
    let logged = loop {
        let line = lines.next().expect("server exited early").unwrap();
        if line.contains("slow write transaction") {
            break line;
        }
    };
    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    child.wait().unwrap();
    for step in ["begin", "lock", "load", "apply", "write", "commit"] {
        assert!(logged.contains(&format!("{step} ")), "step {step} missing: {logged}");
    }
    assert!(logged.contains("requests=1") && logged.contains("changes=1"), "{logged}");
    let _ = std::fs::remove_dir_all(&dir);
}

type Lines = std::io::Lines<BufReader<std::process::ChildStdout>>;

/// The real binary serving a SQLite database in `dir` on a free port, `extra` arguments added, logging at
/// `info` without colours; its standard output as lines.
fn spawn_serve(dir: &std::path::Path, extra: &[&std::ffi::OsStr]) -> (std::process::Child, Lines) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .args(extra)
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    (child, lines)
}

/// Reads a starting server's output up to its "listening on" line: its URL, and every line read.
fn read_until_listening(lines: &mut Lines) -> (String, Vec<String>) {
    let mut seen = Vec::new();
    loop {
        let line = lines.next().expect("server exited early").unwrap();
        seen.push(line.clone());
        if let Some(i) = line.find("listening on http://") {
            let url = line[i + "listening on ".len()..].split_whitespace().next().unwrap().to_owned();
            return (url, seen);
        }
    }
}

/// A tiny blocking GET over std (this test runs outside any async runtime).
fn blocking_get(url: &str) -> String {
    blocking_request("GET", url, None, None)
}

/// One HTTP/1.1 request over std, with an optional bearer credential and JSON body; the whole answer.
fn blocking_request(method: &str, url: &str, bearer: Option<&str>, json: Option<&str>) -> String {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').map(|(h, p)| (h, format!("/{p}"))).unwrap_or((rest, "/".into()));
    let mut s = std::net::TcpStream::connect(host).unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    if let Some(token) = bearer {
        head.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    let body = json.unwrap_or_default();
    if json.is_some() {
        head.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n", body.len()));
    }
    write!(s, "{head}\r\n{body}").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}
