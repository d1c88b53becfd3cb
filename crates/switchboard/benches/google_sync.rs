//! Google Contacts sync against the project's Google emulator (issue 6): the real server and the emulator
//! in this process, a Google account connected through the OAuth redirect flow, and per run
//!
//! 1. **full sync** of 25,000 people: from the browser landing on our OAuth callback (which starts the first
//!    sync) until the account's first run is finished (`last_full_sync_at` set, `run_id` cleared);
//! 2. **incremental sync** of 100 changes made in Google (90 updates, 5 creates, 5 deletes): from
//!    `POST /api/v1/sync/google` until that run is finished, every change applied;
//! 3. **outbound push** of 1,000 local edits (`PATCH /api/v1/contacts/{id}`, 32 in flight, write rate limit
//!    off): from the first edit until Google has all 1,000 (`people.updateContact` counted by the emulator).
//!
//! Every run uses a fresh database and a fresh emulator, so the first sync is really a full one. SQLite
//! always; PostgreSQL when `SWITCHBOARD_BENCH_POSTGRES_URL` (or `SWITCHBOARD_TEST_POSTGRES_URL`) names a
//! server where the user may create databases. `RUNS` (default 3) runs per backend; medians are reported.
//! `ONLY=sqlite|postgres` runs one backend.
//!
//! ```sh
//! cargo bench -p switchboard --bench google_sync
//! scripts/test --pg-only -- cargo bench -p switchboard --bench google_sync   # SQLite and PostgreSQL
//! ```
//!
//! The emulator serves from its own thread (a single-threaded runtime), so its CPU can be told apart from
//! the server's; both still share the machine's cores with the server. Logs stay off unless `RUST_LOG` is set.

use futures::StreamExt;
use google_emulator::{Control, Emulator, EmulatorConfig};
use reqwest::Client;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use switchboard_server::google::state::{self as sync_state, SyncState};
use switchboard_server::{Application, Config};
use switchboard_store::{Db, db_run};
use tokio::sync::oneshot;
use uuid::Uuid;

/// The allocator of the `switchboard` binary, so the server is measured as it runs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const EMAIL: &str = "bench@example.com";
const REDIRECT: &str = "http://switchboard.test/api/v1/auth/google/callback";
const PEOPLE: usize = 25_000;
/// The incremental sync's 100 changes, made in Google.
const UPDATES: usize = 90;
const CREATES: usize = 5;
const DELETES: usize = 5;
const PUSH_EDITS: usize = 1_000;
const PUSH_CONCURRENCY: usize = 32;
const FULL_GOAL: Duration = Duration::from_secs(5);
const INCREMENTAL_GOAL: Duration = Duration::from_millis(200);
/// How often the sync state and the emulator's counters are looked at.
const POLL: Duration = Duration::from_millis(10);
/// Far beyond any goal: only a stuck sync hits it.
const TIMEOUT: Duration = Duration::from_secs(600);

fn main() {
    if std::env::var_os("RUST_LOG").is_some() {
        switchboard_server::logging::init(switchboard_server::config::LogFormat::Human);
    }
    // The workspace's reqwest has no TLS provider of its own (see `http()` in tests/e2e/helpers.rs).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runs: usize = std::env::var("RUNS").ok().and_then(|v| v.parse().ok()).filter(|n| *n > 0).unwrap_or(3);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    println!("{}", machine_info());
    println!(
        "Google sync: {PEOPLE} people; {UPDATES} updates + {CREATES} creates + {DELETES} deletes; \
         {PUSH_EDITS} local edits ({PUSH_CONCURRENCY} in flight); {runs} runs per backend\n"
    );

    let only = std::env::var("ONLY").unwrap_or_default();
    let mut results = Vec::new();
    if only != "postgres" {
        results.push(("SQLite", rt.block_on(measure(&Backend::Sqlite, runs))));
    }
    match postgres_url() {
        _ if only == "sqlite" => {}
        Some(base) => results.push(("PostgreSQL", rt.block_on(measure(&Backend::Postgres(base), runs)))),
        None => println!(
            "PostgreSQL skipped: set SWITCHBOARD_BENCH_POSTGRES_URL (a server where the user may create \
             databases), or run\n  scripts/test --pg-only -- cargo bench -p switchboard --bench google_sync\n"
        ),
    }
    print_table(&results);
}

// ------------------------------------------------------------------ what is measured

/// One run's figures.
#[derive(Debug, Clone, Default)]
struct Run {
    full_sync: Sample,
    /// Until the first run gave its lease back (after the outbound pass that follows every inbound sync).
    full_sync_idle: Sample,
    incremental: Sample,
    incremental_idle: Sample,
    /// The 1,000 PATCH requests alone.
    edits: Sample,
    /// First edit until Google has every edit.
    push: Sample,
}

/// Wall time and CPU time of one measurement.
#[derive(Debug, Clone, Copy, Default)]
struct Sample {
    wall: Duration,
    /// CPU of the whole process except the emulator's thread: the server, its SQLite threads, this client.
    cpu_server: Duration,
    cpu_emulator: Duration,
    /// CPU of every other process on the machine: PostgreSQL, and whatever else ran (a disturbance).
    cpu_other: Duration,
}

/// Runs `runs` times on a backend, printing each run as it finishes.
async fn measure(backend: &Backend, runs: usize) -> Vec<Run> {
    let mut out = Vec::new();
    for n in 1..=runs {
        let run = run_once(backend, n).await;
        eprintln!(
            "{} run {n}: full sync {:.0} ms (idle {:.0} ms), incremental {:.1} ms (idle {:.1} ms), \
             edits {:.0} ms, push {:.0} ms",
            backend.name(),
            ms(run.full_sync.wall),
            ms(run.full_sync_idle.wall),
            ms(run.incremental.wall),
            ms(run.incremental_idle.wall),
            ms(run.edits.wall),
            ms(run.push.wall),
        );
        out.push(run);
    }
    out
}

/// One run on a fresh database and a fresh emulator.
async fn run_once(backend: &Backend, n: usize) -> Run {
    let db = BenchDb::create(backend).await;
    let emu = EmulatorThread::start();
    emu.control.generate_people(EMAIL, PEOPLE).expect("generate people");
    let server = Server::start(db.config(&emu.base_url)).await;

    let (account, full_sync, full_sync_idle) = full_sync(&server, &emu).await;
    let (incremental, incremental_idle) = incremental_sync(&server, &emu, account, n).await;
    let (edits, push) = outbound_push(&server, &emu, n).await;

    server.stop().await;
    emu.stop();
    db.remove().await;
    Run { full_sync, full_sync_idle, incremental, incremental_idle, edits, push }
}

/// Connects the account and waits for its first sync; returns the account, the time until the run is
/// finished and the time until its lease is given back.
async fn full_sync(server: &Server, emu: &EmulatorThread) -> (Uuid, Sample, Sample) {
    // The clock starts as the browser lands on our callback, which exchanges the code and starts the sync.
    let callback = server.consent(&emu.base_url).await;
    let clock = Clock::start(emu);
    let account = server.callback(&callback).await;
    let done = |s: &SyncState| s.last_full_sync_at.is_some() && s.run_id.is_none();
    let st = server.wait_state(account, "the first (full) sync", done).await;
    let finished = clock.sample(emu);
    server.wait_state(account, "the first sync's lease", |s| s.locked_by.is_none()).await;
    let idle = clock.sample(emu);

    assert_eq!(st.counts.0.inbound.created, PEOPLE as u64, "{:?}", st.counts.0);
    assert_eq!(server.count("SELECT COUNT(*) FROM contacts WHERE deleted_at IS NULL").await, PEOPLE as i64);
    assert_eq!(server.count("SELECT COUNT(*) FROM external_links WHERE remote_id IS NOT NULL").await, PEOPLE as i64);
    (account, finished, idle)
}

/// Makes the 100 changes in Google, triggers a sync and waits for it; returns the time until the run is
/// finished and until its lease is given back.
async fn incremental_sync(server: &Server, emu: &EmulatorThread, account: Uuid, n: usize) -> (Sample, Sample) {
    let tag = format!("incr-{n}");
    change_in_google(&emu.control, &tag);
    let before = server.state(account).await.last_incremental_sync_at;
    let clock = Clock::start(emu);
    server.trigger_sync().await;
    let done = |s: &SyncState| s.run_id.is_none() && s.last_incremental_sync_at != before;
    let st = server.wait_state(account, "the incremental sync", done).await;
    let finished = clock.sample(emu);
    server.wait_state(account, "the incremental sync's lease", |s| s.locked_by.is_none()).await;
    let idle = clock.sample(emu);

    assert!(st.last_error.is_none(), "{:?}", st.last_error);
    server.check_incremental(&tag).await;
    (finished, idle)
}

/// Edits 1,000 linked contacts through the API and waits until Google has every edit; returns the time
/// the edits took and the time from the first edit until Google had them all.
async fn outbound_push(server: &Server, emu: &EmulatorThread, n: usize) -> (Sample, Sample) {
    let targets = server.push_targets().await;
    let nickname = format!("pushed-{n}");
    let pushed_before = emu.control.counters().requests("people.updateContact");
    let clock = Clock::start(emu);
    server.edit_all(&targets, &nickname).await;
    let edits = clock.sample(emu);
    wait_pushed(&emu.control, pushed_before + PUSH_EDITS as u64).await;
    let push = clock.sample(emu);

    check_pushed(&emu.control, &targets, &nickname);
    (edits, push)
}

/// The incremental sync's changes, made "as the user in Google" before the clock starts: updates and
/// deletes on people the full sync brought in, and new people.
fn change_in_google(control: &Control, tag: &str) {
    let people = control.list_people(EMAIL).expect("list people");
    let names: Vec<&str> = people.iter().map(|p| p["resourceName"].as_str().expect("resourceName")).collect();
    for name in &names[..UPDATES] {
        control.update_person(EMAIL, name, json!({"nicknames": [{"value": tag}]})).expect("update person");
    }
    for name in &names[UPDATES..UPDATES + DELETES] {
        control.delete_person(EMAIL, name).expect("delete person");
    }
    for i in 0..CREATES {
        let person = json!({
            "names": [{"givenName": format!("{tag}-new"), "familyName": format!("Person{i}")}],
            "phoneNumbers": [{"value": format!("+1 907 555 {i:04}"), "type": "mobile"}],
        });
        control.create_person(EMAIL, person).expect("create person");
    }
}

/// Waits until the emulator has answered `target` contact updates in all.
async fn wait_pushed(control: &Control, target: u64) {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let done = control.counters().requests("people.updateContact");
        if done >= target {
            return;
        }
        assert!(Instant::now() < deadline, "Google got {done} of {target} contact updates in {TIMEOUT:?}");
        tokio::time::sleep(POLL).await;
    }
}

/// Every pushed person carries its edit in Google.
fn check_pushed(control: &Control, targets: &[(Uuid, String)], nickname: &str) {
    for (_, remote) in targets {
        let person = control.get_person(EMAIL, remote).expect("get person").expect("person exists");
        assert_eq!(person["nicknames"][0]["value"], nickname, "{remote}");
    }
}

// ------------------------------------------------------------------ the server

/// The server on a random port, serving from this process's runtime.
struct Server {
    addr: SocketAddr,
    db: Db,
    api_key: String,
    client: Client,
    shutdown: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Server {
    async fn start(config: Config) -> Server {
        let app = Application::build(config).await.expect("server starts");
        let addr = app.local_addr();
        let db = app.state().db.clone();
        let api_key = app.bootstrap_credentials().expect("a fresh database bootstraps").api_key.clone();
        let (shutdown, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until_stopped(async move {
            let _ = stopped.await;
        }));
        let client = Client::builder().timeout(Duration::from_secs(60)).build().expect("http client");
        Server { addr, db, api_key, client, shutdown, task }
    }

    async fn stop(self) {
        let _ = self.shutdown.send(());
        self.task.await.expect("server task").expect("server stops cleanly");
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Connecting the emulator's account the way a browser does, up to Google's consent: start, follow the
    /// consent redirect. Returns the URL of our callback with Google's query string.
    async fn consent(&self, emulator: &str) -> String {
        let r = self.client.get(self.url("/api/v1/auth/google")).bearer_auth(&self.api_key).send().await.unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        let url = r.json::<Value>().await.unwrap()["authorization_url"].as_str().unwrap().to_owned();
        assert!(url.starts_with(emulator), "{url}");
        let consent = self.browser().get(&url).send().await.unwrap();
        assert_eq!(consent.status(), 302, "{}", consent.text().await.unwrap());
        let location = reqwest::Url::parse(consent.headers()["location"].to_str().unwrap()).unwrap();
        self.url(&format!("/api/v1/auth/google/callback?{}", location.query().unwrap()))
    }

    /// The browser lands on our callback, which stores the grant and starts the first sync. Returns the
    /// connected account's id.
    async fn callback(&self, url: &str) -> Uuid {
        let r = self.browser().get(url).send().await.unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        r.json::<Value>().await.unwrap()["id"].as_str().unwrap().parse().unwrap()
    }

    /// A client that does not follow redirects, to read Google's.
    fn browser(&self) -> Client {
        Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
    }

    /// `POST /api/v1/sync/google`: an incremental sync of every account, now.
    async fn trigger_sync(&self) {
        let r = self.client.post(self.url("/api/v1/sync/google")).bearer_auth(&self.api_key).json(&json!({})).send();
        let r = r.await.unwrap();
        assert_eq!(r.status(), 202, "{}", r.text().await.unwrap());
    }

    /// Polls the account's `sync_states` row until `done` holds. Read from the database rather than through
    /// `GET /api/v1/connected-accounts/{id}/sync`, which also counts the links (a scan of 25,000 rows) on
    /// every call and would load the server it measures.
    async fn wait_state(&self, account: Uuid, what: &str, done: impl Fn(&SyncState) -> bool) -> SyncState {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let st = self.state(account).await;
            assert!(st.status != "error", "{what} failed: {:?}", st.last_error);
            if done(&st) {
                return st;
            }
            assert!(Instant::now() < deadline, "{what} did not finish in {TIMEOUT:?}: {st:?}");
            tokio::time::sleep(POLL).await;
        }
    }

    /// The account's People sync state.
    async fn state(&self, account: Uuid) -> SyncState {
        sync_state::get(&self.db, account, sync_state::PEOPLE).await.unwrap().expect("sync state")
    }

    async fn count(&self, sql: &str) -> i64 {
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        db_run!(&self.db, pool => sqlx::query_scalar(sql).fetch_one(pool).await).unwrap()
    }

    /// Every one of the incremental sync's changes arrived.
    async fn check_incremental(&self, tag: &str) {
        let live = "deleted_at IS NULL";
        let updated = self.count(&format!("SELECT COUNT(*) FROM contacts WHERE nickname = '{tag}' AND {live}")).await;
        assert_eq!(updated, UPDATES as i64, "updated contacts");
        let created =
            self.count(&format!("SELECT COUNT(*) FROM contacts WHERE given_name = '{tag}-new' AND {live}")).await;
        assert_eq!(created, CREATES as i64, "created contacts");
        let all = self.count(&format!("SELECT COUNT(*) FROM contacts WHERE {live}")).await;
        assert_eq!(all, (PEOPLE - DELETES + CREATES) as i64, "live contacts after the deletes");
    }

    /// 1,000 contacts linked to Google people that the incremental sync left alone: (contact, person). The
    /// incremental sync changed the first people in resource-name order, so these come after the first 1,000.
    /// (No join with `contacts`: on PostgreSQL, with statistics from before the sync, that took seconds.)
    async fn push_targets(&self) -> Vec<(Uuid, String)> {
        let rows: Vec<(Uuid, String)> = db_run!(&self.db, pool => sqlx::query_as(
            "SELECT entity_id, remote_id FROM external_links WHERE remote_id IS NOT NULL \
             ORDER BY remote_id LIMIT $1 OFFSET $2",
        ).bind(PUSH_EDITS as i64).bind(1_000_i64).fetch_all(pool).await)
        .unwrap();
        assert_eq!(rows.len(), PUSH_EDITS);
        rows
    }

    /// Sets the nickname of every target through the API, `PUSH_CONCURRENCY` requests in flight.
    async fn edit_all(&self, targets: &[(Uuid, String)], nickname: &str) {
        let body = json!({"nickname": nickname});
        let edits = targets.iter().map(|(id, _)| {
            let request = self.client.patch(self.url(&format!("/api/v1/contacts/{id}"))).bearer_auth(&self.api_key);
            request.json(&body).send()
        });
        let mut answers = futures::stream::iter(edits).buffer_unordered(PUSH_CONCURRENCY);
        while let Some(r) = answers.next().await {
            let r = r.unwrap();
            assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        }
    }
}

// ------------------------------------------------------------------ databases

enum Backend {
    Sqlite,
    /// The server URL; each run creates its own database there.
    Postgres(String),
}

impl Backend {
    fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres(_) => "PostgreSQL",
        }
    }
}

fn postgres_url() -> Option<String> {
    ["SWITCHBOARD_BENCH_POSTGRES_URL", "SWITCHBOARD_TEST_POSTGRES_URL"]
        .into_iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
}

/// A fresh, empty database (the server migrates it when it starts) and a temp data directory.
struct BenchDb {
    url: String,
    data_dir: PathBuf,
    /// PostgreSQL: the server URL and the database to drop afterwards.
    postgres: Option<(String, String)>,
}

impl BenchDb {
    async fn create(backend: &Backend) -> BenchDb {
        let data_dir = std::env::temp_dir().join(format!("switchboard-bench-{}", Uuid::now_v7().simple()));
        std::fs::create_dir_all(&data_dir).expect("create temp dir");
        match backend {
            Backend::Sqlite => {
                let url = format!("sqlite://{}", data_dir.join("switchboard.db").display());
                BenchDb { url, data_dir, postgres: None }
            }
            Backend::Postgres(base) => {
                let name = format!("sbbench_{}", Uuid::now_v7().simple());
                admin(base, &format!("CREATE DATABASE {name}")).await;
                BenchDb { url: with_database(base, &name), data_dir, postgres: Some((base.clone(), name)) }
            }
        }
    }

    /// The server's configuration: like tests/e2e/helpers.rs (random port, this database) but with request
    /// rate limits and Google's write pacing off, and syncs only when connected or triggered.
    fn config(&self, emulator: &str) -> Config {
        let mut config = Config {
            bind: "127.0.0.1:0".parse().unwrap(),
            data_dir: self.data_dir.clone(),
            database_url: self.url.clone(),
            rate_limit_per_minute: 0,
            ..Config::default()
        };
        let google = &mut config.google;
        google.client_id = Some("bench-client.apps.googleusercontent.com".into());
        google.client_secret = Some(switchboard_server::config::secrets::SecretValue::new("bench-secret".into()));
        google.redirect_url = Some(REDIRECT.into());
        google.base_url = Some(emulator.to_owned());
        google.sync_interval = Duration::from_secs(3600);
        google.writes_per_minute = 0;
        google.lease = Duration::from_secs(60);
        config
    }

    async fn remove(self) {
        if let Some((base, name)) = &self.postgres {
            admin(base, &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
        }
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

/// Runs one statement on the PostgreSQL server's maintenance database.
async fn admin(base: &str, sql: &str) {
    let pool = sqlx::PgPool::connect(base).await.expect("connect to PostgreSQL");
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned())).execute(&pool).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    pool.close().await;
}

/// Replaces the database name of a PostgreSQL URL (as tests/e2e/helpers.rs does).
fn with_database(base: &str, db: &str) -> String {
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

// ------------------------------------------------------------------ the emulator on its own thread

/// The Google emulator serving from a thread of its own, so its CPU time can be read apart from the
/// server's (`/proc/self/task/<tid>/stat`).
struct EmulatorThread {
    base_url: String,
    control: Control,
    tid: u32,
    stop: oneshot::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl EmulatorThread {
    fn start() -> EmulatorThread {
        let (ready, started) = std::sync::mpsc::channel();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("emulator runtime");
            rt.block_on(async move {
                // No scaled delays: no faults are injected and the write quota is off, so Google answers at once.
                let config =
                    EmulatorConfig { delay_factor: 0.0, seed_accounts: vec![EMAIL.into()], ..Default::default() };
                let emu = Emulator::start(config).await.expect("emulator starts");
                ready.send((emu.base_url(), emu.control(), thread_id())).expect("bench waits");
                let _ = stopped.await;
                emu.shutdown().await.expect("emulator stops");
            });
        });
        let (base_url, control, tid) = started.recv().expect("emulator started");
        EmulatorThread { base_url, control, tid, stop, thread }
    }

    fn cpu(&self) -> Duration {
        cpu_time(&format!("/proc/self/task/{}/stat", self.tid))
    }

    fn stop(self) {
        let _ = self.stop.send(());
        self.thread.join().expect("emulator thread");
    }
}

// ------------------------------------------------------------------ clocks, CPU, machine

/// Wall and CPU time from a starting point.
struct Clock {
    started: Instant,
    process_cpu: Duration,
    emulator_cpu: Duration,
    machine_cpu: Duration,
}

impl Clock {
    fn start(emu: &EmulatorThread) -> Clock {
        Clock {
            started: Instant::now(),
            process_cpu: cpu_time("/proc/self/stat"),
            emulator_cpu: emu.cpu(),
            machine_cpu: machine_busy(),
        }
    }

    fn sample(&self, emu: &EmulatorThread) -> Sample {
        let wall = self.started.elapsed();
        let emulator = emu.cpu().saturating_sub(self.emulator_cpu);
        let process = cpu_time("/proc/self/stat").saturating_sub(self.process_cpu);
        let machine = machine_busy().saturating_sub(self.machine_cpu);
        Sample {
            wall,
            cpu_server: process.saturating_sub(emulator),
            cpu_emulator: emulator,
            cpu_other: machine.saturating_sub(process),
        }
    }
}

/// CPU time the whole machine spent busy (every state of the `cpu` line of `/proc/stat` but idle and iowait).
fn machine_busy() -> Duration {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: Vec<u64> = stat
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("cpu "))
        .map(|r| r.split_whitespace().map(|f| f.parse().unwrap_or(0)).collect())
        .unwrap_or_default();
    // user nice system idle iowait irq softirq steal (guest time is already inside user).
    let busy: u64 = ticks.iter().take(8).enumerate().filter(|(i, _)| *i != 3 && *i != 4).map(|(_, t)| t).sum();
    Duration::from_millis(busy * 10)
}

/// This thread's id (the first field of `/proc/thread-self/stat`).
fn thread_id() -> u32 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    stat.split_whitespace().next().and_then(|t| t.parse().ok()).unwrap_or(0)
}

/// utime + stime of a `/proc/…/stat` file, in clock ticks of 10 ms (`CLK_TCK` is 100 on Linux).
fn cpu_time(path: &str) -> Duration {
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    // The command name (field 2) may hold spaces; the fields after it start at ") ".
    let fields: Vec<u64> = stat
        .rsplit_once(") ")
        .map(|(_, rest)| rest.split_whitespace().map(|f| f.parse().unwrap_or(0)).collect())
        .unwrap_or_default();
    // utime and stime are fields 14 and 15, i.e. 11 and 12 after the state (field 3).
    let ticks = fields.get(11).copied().unwrap_or(0) + fields.get(12).copied().unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

fn machine_info() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name").map(|r| r.trim_start_matches([' ', '\t', ':']).to_owned()))
        .unwrap_or_else(|| "unknown".into());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kb: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|r| r.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    let nproc = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    format!("machine: nproc {nproc}, CPU \"{model}\", MemTotal {:.1} GiB", mem_kb as f64 / 1024.0 / 1024.0)
}

// ------------------------------------------------------------------ the table

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The median (the mean of the middle two for an even count).
fn median(sorted: &[Duration]) -> Duration {
    let n = sorted.len();
    if n % 2 == 1 { sorted[n / 2] } else { (sorted[n / 2 - 1] + sorted[n / 2]) / 2 }
}

fn median_of(samples: &[Duration]) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    median(&sorted)
}

/// Milliseconds below a second, seconds above.
fn human(d: Duration) -> String {
    if d < Duration::from_secs(1) { format!("{:.1} ms", ms(d)) } else { format!("{:.2} s", d.as_secs_f64()) }
}

/// Median, min and max per measurement and backend, against the issue's goals, with the CPU each used.
fn print_table(results: &[(&str, Vec<Run>)]) {
    type Pick = fn(&Run) -> Sample;
    let rows: [(&str, Pick, Option<Duration>); 6] = [
        ("full sync, 25,000 people", |r| r.full_sync, Some(FULL_GOAL)),
        ("  … until its lease is released", |r| r.full_sync_idle, None),
        ("incremental sync, 100 changes", |r| r.incremental, Some(INCREMENTAL_GOAL)),
        ("  … until its lease is released", |r| r.incremental_idle, None),
        ("1,000 PATCH edits (32 in flight)", |r| r.edits, None),
        ("push: first edit → Google has 1,000", |r| r.push, None),
    ];
    println!(
        "\n{:<11} {:<37} {:>9} {:>9} {:>9} {:>8} {:>6} {:>5} {:>10} {:>10} {:>10}",
        "backend", "measurement", "median", "min", "max", "goal", "goal/", "met", "cpu", "cpu", "cpu"
    );
    println!(
        "{:<11} {:<37} {:>9} {:>9} {:>9} {:>8} {:>6} {:>5} {:>10} {:>10} {:>10}",
        "", "", "", "", "", "", "median", "", "server", "emulator", "other"
    );
    for (backend, runs) in results {
        for (name, pick, goal) in rows {
            let samples: Vec<Sample> = runs.iter().map(pick).collect();
            let cpu = |f: fn(&Sample) -> Duration| human(median_of(&samples.iter().map(f).collect::<Vec<_>>()));
            let mut walls: Vec<Duration> = samples.iter().map(|s| s.wall).collect();
            walls.sort_unstable();
            let med = median(&walls);
            let (goal_text, ratio, met) = match goal {
                Some(g) => (human(g), format!("{:.2}", g.as_secs_f64() / med.as_secs_f64()), yes_no(med < g)),
                None => ("—".into(), "—".into(), "—".into()),
            };
            println!(
                "{backend:<11} {name:<37} {:>9} {:>9} {:>9} {goal_text:>8} {ratio:>6} {met:>5} {:>10} {:>10} {:>10}",
                human(med),
                human(walls[0]),
                human(walls[walls.len() - 1]),
                cpu(|s| s.cpu_server),
                cpu(|s| s.cpu_emulator),
                cpu(|s| s.cpu_other),
            );
        }
    }
    println!(
        "\ncpu: medians of the CPU time used during each measurement. server: this process but the emulator's \
         thread (the server, its SQLite threads, this client); emulator: the emulator's thread; other: every other \
         process on the machine (PostgreSQL, or a disturbance)."
    );
}

fn yes_no(met: bool) -> String {
    if met { "yes" } else { "no" }.to_owned()
}
