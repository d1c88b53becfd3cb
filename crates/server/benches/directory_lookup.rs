//! In-process latency of caller lookup and Cisco directory pages on a large workspace (issue 5): the
//! service code the HTTP handlers run, without HTTP, on a database holding a million generated contacts.
//!
//! ```sh
//! cargo bench -p switchboard-server --bench directory_lookup                 # SQLite file under target/
//! BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench cargo bench -p switchboard-server --bench directory_lookup
//! ```
//!
//! Environment: `BENCH_DATABASE_URL` (default `sqlite://<target>/bench-data/directory.db`, created on first
//! run), `BENCH_WORKSPACE` (slug; default the first workspace, or a new `bench` one), `BENCH_COUNT`
//! (1,000,000: generated with `contacts::generate` when the workspace has no contacts; ~1 minute on SQLite
//! here, see bench/README.md), `BENCH_ITERATIONS` (2,000) and `BENCH_SECONDS` (15: the most time per
//! measurement), `BENCH_OUTPUT` (a JSON file for the percentiles), `BENCH_DIVAN=0` (skip divan's pass).
//!
//! Two passes. First our own: each operation runs `BENCH_ITERATIONS` times (fewer when it takes longer
//! than `BENCH_SECONDS` in all), one after another, each timed alone; the sorted durations give p50 and
//! p99 (divan reports the median, mean, fastest and slowest sample, but no percentile). Then divan's
//! usual pass over the same operations (its median and mean are per iteration of a sample).
//!
//! Lookups run what `lookup::find` runs after the workspace settings (cached in memory in the server):
//! parse the input into a `LookupKey`, check a connection out of the pool, the candidate query
//! (`lookup::store::candidates`), the ranking. Each iteration looks up the next of ~2,000 numbers sampled
//! from the workspace. Cisco pages run `directory::cisco::page` on one pooled connection, as the handler does
//! (the XML rendering included).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use switchboard_domain::directory::{Charset, DialSettings};
use switchboard_domain::{LookupKey, PhonePolicy, WorkspaceId};
use switchboard_server::directory::access::PhoneAccess;
use switchboard_server::directory::cisco::{self, Cursor, Urls};
use switchboard_server::directory::tokens::DirectoryToken;
use switchboard_server::workspaces::WorkspaceSettings;
use switchboard_store::{Db, db_run};
use uuid::Uuid;

/// Everything the operations need, prepared once.
struct Fixture {
    db: Db,
    ws: WorkspaceId,
    contacts: i64,
    policy: PhonePolicy,
    min_digits: u8,
    dial: DialSettings,
    access: PhoneAccess,
    urls: Urls,
    /// Sampled numbers in the forms looked up.
    e164: Vec<String>,
    national_domestic: Vec<String>,
    national_foreign: Vec<String>,
    tail7: Vec<String>,
    unknown: Vec<String>,
    /// Where the deep page starts: the contact halfway through the directory.
    deep: Cursor,
    /// A full national number of one contact, for the number search.
    full_number: String,
    next: AtomicUsize,
}

static FIXTURE: OnceLock<Fixture> = OnceLock::new();
static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();

fn fixture() -> &'static Fixture {
    FIXTURE.get_or_init(prepare)
}

/// One current-thread runtime: the operations run on the calling thread (sqlx's SQLite connections have
/// their own worker threads, as in the server).
fn rt() -> &'static tokio::runtime::Runtime {
    RUNTIME.get_or_init(|| tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap())
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn prepare() -> Fixture {
    let url = std::env::var("BENCH_DATABASE_URL").unwrap_or_else(|_| {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-data");
        std::fs::create_dir_all(&dir).unwrap();
        format!("sqlite://{}", dir.join("directory.db").display())
    });
    let count: u64 = env_or("BENCH_COUNT", 1_000_000);
    rt().block_on(async {
        // The pool settings `switchboard serve` reads lookups and directories with (memory map on SQLite,
        // generic plans on PostgreSQL).
        let config = switchboard_server::config::Config::default();
        let options = if url.starts_with("postgres") {
            switchboard_server::app::lookup_db_options(&config)
        } else {
            switchboard_server::app::db_options(&config)
        };
        let db = Db::connect(&url, &options).await.expect("connect to BENCH_DATABASE_URL");
        db.migrate().await.unwrap();
        let slug = std::env::var("BENCH_WORKSPACE").ok();
        let found: Option<Uuid> = db_run!(&db, pool => sqlx::query_scalar(
            "SELECT id FROM workspaces WHERE slug = $1 OR $1 IS NULL ORDER BY created_at LIMIT 1",
        ).bind(slug.clone()).fetch_optional(pool).await)
        .unwrap();
        let ws = match found {
            Some(id) => WorkspaceId(id),
            None => {
                let slug = slug.unwrap_or_else(|| "bench".to_owned());
                WorkspaceId(switchboard_server::workspaces::create(&db, "Bench", Some(&slug)).await.unwrap().id)
            }
        };
        let contacts = count_contacts(&db, ws).await;
        if contacts == 0 {
            eprintln!("generating {count} contacts into {url} (first run) …");
            let started = Instant::now();
            let n = switchboard_server::contacts::generate::generate(&db, ws, count, 1, |done| {
                if done % 100_000 == 0 {
                    eprintln!("  {done} ({:.0} s)", started.elapsed().as_secs_f64());
                }
            })
            .await
            .unwrap();
            eprintln!("generated {n} contacts in {:.1} s", started.elapsed().as_secs_f64());
            // What autovacuum does on its own a minute or so after a bulk load (bench/directory.sh does the
            // same); SQLite gets no statistics, as in production.
            if let Db::Postgres(pool) = &db {
                sqlx::query("ANALYZE").execute(pool).await.unwrap();
            }
        }
        let contacts = count_contacts(&db, ws).await;
        let settings: sqlx::types::Json<serde_json::Value> = db_run!(&db, pool => sqlx::query_scalar(
            "SELECT settings FROM workspaces WHERE id = $1",
        ).bind(ws.0).fetch_one(pool).await)
        .unwrap();
        let settings: WorkspaceSettings = serde_json::from_value(settings.0).unwrap();
        let policy = settings.phone_policy();
        let home = country_code(policy.region.as_str());

        // ~2,000 numbers of contacts spread over the whole workspace (random versions).
        let max_version: i64 = db_run!(&db, pool => sqlx::query_scalar(
            "SELECT COALESCE(MAX(version), 0) FROM contacts WHERE workspace_id = $1",
        ).bind(ws.0).fetch_one(pool).await)
        .unwrap();
        let mut state = 0x5EED_u64;
        let versions: Vec<i64> =
            (0..2_000).map(|_| 1 + (splitmix(&mut state) % max_version.max(1) as u64) as i64).collect();
        let list = versions.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
        let sql = format!(
            "SELECT p.digits FROM contacts c JOIN contact_phones p ON p.contact_id = c.id \
             WHERE c.workspace_id = $1 AND c.deleted_at IS NULL AND p.e164 IS NOT NULL AND p.extension IS NULL \
             AND c.version IN ({list})"
        );
        let digits: Vec<String> =
            db_run!(&db, pool => sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).bind(ws.0).fetch_all(pool).await)
                .unwrap();
        assert!(!digits.is_empty(), "the workspace has no public numbers");
        let national = |d: &String| switchboard_domain::lookup::national_number(d).unwrap_or(d).to_owned();
        let e164: Vec<String> = digits.iter().map(|d| format!("+{d}")).collect();
        let national_domestic: Vec<String> = digits.iter().filter(|d| d.starts_with(&home)).map(national).collect();
        let national_foreign: Vec<String> = digits.iter().filter(|d| !d.starts_with(&home)).map(national).collect();
        // Local numbers start with 2-9 (a leading 1 or 0 is read as a trunk prefix: too few digits left).
        let tail7: Vec<String> =
            digits.iter().map(|d| d[d.len() - 7..].to_owned()).filter(|t| !t.starts_with(['0', '1'])).collect();
        // Alaskan numbers: the generator writes none (their last seven digits may still end another number).
        let unknown: Vec<String> = (0..2_000)
            .map(|_| format!("+1907{}{:07}", 2 + splitmix(&mut state) % 8, splitmix(&mut state) % 10_000_000))
            .collect();
        // Inputs the server answers with 422 (too few digits once a trunk prefix is taken off) are no lookups.
        let valid = |name: &str, list: Vec<String>| -> Vec<String> {
            let (ok, bad): (Vec<String>, Vec<String>) = list
                .into_iter()
                .partition(|n| LookupKey::parse("phone", n, &policy, settings.lookup_min_digits()).is_ok());
            if !bad.is_empty() {
                eprintln!(
                    "{name}: {} inputs refused by LookupKey::parse and left out, e.g. {:?}",
                    bad.len(),
                    &bad[..bad.len().min(5)]
                );
            }
            ok
        };
        let (e164, national_domestic, national_foreign, tail7, unknown) = (
            valid("e164", e164),
            valid("national (domestic)", national_domestic),
            valid("national (foreign)", national_foreign),
            valid("tail7", tail7),
            valid("unknown", unknown),
        );
        let full_number = national_domestic.first().or(national_foreign.first()).cloned().unwrap();

        // The contact halfway through the directory (live, with a number), for the deep page.
        let middle: Uuid = db_run!(&db, pool => sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT id FROM contacts WHERE workspace_id = $1 AND deleted_at IS NULL AND phones <> '[]' \
             ORDER BY sort_key, id LIMIT 1 OFFSET {}", contacts / 2
        ))).bind(ws.0).fetch_one(pool).await)
        .unwrap();

        let token = DirectoryToken {
            id: Uuid::now_v7(),
            name: "bench".into(),
            hint: "dt_benc".into(),
            labels: sqlx::types::Json(Vec::new()),
            caps: sqlx::types::Json(Default::default()),
            created_by: "bench".into(),
            created_at: chrono::Utc::now(),
            revoked_at: None,
        };
        let access = PhoneAccess { workspace: ws, token, presented: "dt_bench".into() };
        let urls = Urls { base: "http://127.0.0.1:8080/d/dt_bench".into() };
        eprintln!(
            "{} on {}: {contacts} contacts; {} numbers sampled ({} domestic, {} foreign)",
            ws.0,
            db.backend().as_str(),
            digits.len(),
            national_domestic.len(),
            national_foreign.len()
        );
        Fixture {
            dial: settings.dial_settings(),
            min_digits: settings.lookup_min_digits(),
            db,
            ws,
            contacts,
            policy,
            access,
            urls,
            e164,
            national_domestic,
            national_foreign,
            tail7,
            unknown,
            deep: Cursor { contact: middle, entry: 0 },
            full_number,
            next: AtomicUsize::new(0),
        }
    })
}

async fn count_contacts(db: &Db, ws: WorkspaceId) -> i64 {
    db_run!(db, pool => sqlx::query_scalar("SELECT COUNT(*) FROM contacts WHERE workspace_id = $1")
        .bind(ws.0).fetch_one(pool).await)
    .unwrap()
}

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The country code of a region, as digits (only the regions the generator uses need be right).
fn country_code(region: &str) -> String {
    match region {
        "GB" => "44",
        "DE" => "49",
        "FR" => "33",
        _ => "1",
    }
    .to_owned()
}

// ------------------------------------------------------------------ operations

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    LookupE164,
    LookupNationalDomestic,
    LookupNationalForeign,
    LookupTail7,
    LookupUnknown,
    CiscoFirstPage,
    CiscoDeepPage,
    CiscoNameSearch,
    CiscoLetterGroup,
    CiscoNumberSearchShort,
    CiscoNumberSearchFull,
    CiscoPreviousPage,
    CiscoNameSearchRare,
    CiscoNameSearchNone,
    CiscoNumberSearchLast4,
}

const OPS: [(Op, &str); 15] = [
    (Op::LookupE164, "lookup: E.164 (+14155550100)"),
    (Op::LookupNationalDomestic, "lookup: national number, domestic (4155550100)"),
    (Op::LookupNationalForeign, "lookup: national number, foreign (2079460958)"),
    (Op::LookupTail7, "lookup: last 7 digits (5550100)"),
    (Op::LookupUnknown, "lookup: unknown number (+1 907 …)"),
    (Op::CiscoFirstPage, "cisco: first page (v=all)"),
    (Op::CiscoDeepPage, "cisco: page halfway through (cursor p=)"),
    (Op::CiscoPreviousPage, "cisco: the page before it (Previous, cursor b=)"),
    (Op::CiscoNameSearch, "cisco: name search n=mar"),
    (Op::CiscoLetterGroup, "cisco: letter group l=m"),
    (Op::CiscoNumberSearchShort, "cisco: number search t=4155 (4 digits)"),
    (Op::CiscoNumberSearchFull, "cisco: number search, one contact's full national number"),
    (Op::CiscoNumberSearchLast4, "cisco: number search, a number's last 4 digits"),
    (Op::CiscoNameSearchRare, "cisco: name search n=smirn (a family name)"),
    (Op::CiscoNameSearchNone, "cisco: name search n=qqx (no match)"),
];

impl Fixture {
    fn pick<'a>(&self, list: &'a [String]) -> &'a str {
        &list[self.next.fetch_add(1, Ordering::Relaxed) % list.len()]
    }

    /// What `lookup::find` does after reading the (cached) settings. Returns whether something matched.
    async fn lookup(&self, input: &str) -> bool {
        let key = LookupKey::parse("phone", input, &self.policy, self.min_digits).unwrap();
        let mut pooled = self.db.acquire().await.unwrap();
        let candidates =
            switchboard_server::lookup::store::candidates(&mut pooled.conn(), self.ws, &key).await.unwrap();
        drop(pooled);
        switchboard_server::lookup::rank(key, candidates).best.is_some()
    }

    /// A Cisco directory page for these query parameters; returns the document's size.
    async fn cisco(&self, query: &[(&str, String)]) -> usize {
        let query: Vec<(String, String)> = query.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
        let request = cisco::Request::parse(&query).unwrap();
        let mut pooled = self.db.acquire().await.unwrap();
        let body = cisco::page(&mut pooled.conn(), &self.access, &request, &self.urls, &self.dial, Charset::Utf8)
            .await
            .unwrap();
        body.len()
    }

    /// Runs one operation once; the result keeps the work from being optimised away and tells hits.
    async fn run(&self, op: Op) -> usize {
        match op {
            Op::LookupE164 => usize::from(self.lookup(self.pick(&self.e164)).await),
            Op::LookupNationalDomestic => usize::from(self.lookup(self.pick(&self.national_domestic)).await),
            Op::LookupNationalForeign => usize::from(self.lookup(self.pick(&self.national_foreign)).await),
            Op::LookupTail7 => usize::from(self.lookup(self.pick(&self.tail7)).await),
            Op::LookupUnknown => usize::from(self.lookup(self.pick(&self.unknown)).await),
            Op::CiscoFirstPage => self.cisco(&[("v", "all".into())]).await,
            Op::CiscoDeepPage => self.cisco(&[("v", "all".into()), ("p", self.deep.encode())]).await,
            Op::CiscoNameSearch => self.cisco(&[("n", "mar".into())]).await,
            Op::CiscoLetterGroup => self.cisco(&[("l", "m".into())]).await,
            Op::CiscoNumberSearchShort => self.cisco(&[("t", "4155".into())]).await,
            Op::CiscoNumberSearchFull => self.cisco(&[("t", self.full_number.clone())]).await,
            Op::CiscoNumberSearchLast4 => {
                let number = self.pick(&self.tail7);
                self.cisco(&[("t", number[number.len() - 4..].to_owned())]).await
            }
            Op::CiscoPreviousPage => self.cisco(&[("v", "all".into()), ("b", self.deep.encode())]).await,
            Op::CiscoNameSearchRare => self.cisco(&[("n", "smirn".into())]).await,
            Op::CiscoNameSearchNone => self.cisco(&[("n", "qqx".into())]).await,
        }
    }

    fn run_blocking(&self, op: Op) -> usize {
        rt().block_on(self.run(op))
    }
}

// ------------------------------------------------------------------ our percentile pass

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    // Nearest rank: the smallest value with at least q of the samples at or below it.
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn percentiles(f: &Fixture) {
    let iterations: usize = env_or("BENCH_ITERATIONS", 2_000);
    let budget = Duration::from_secs_f64(env_or("BENCH_SECONDS", 15.0));
    let filter: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    eprintln!(
        "\npercentiles ({iterations} timed runs per operation after 20 warm-up runs, at most {} s each):",
        budget.as_secs_f64()
    );
    eprintln!(
        "{:<58} {:>6} {:>9} {:>9} {:>9} {:>9} {:>7}",
        "operation", "runs", "p50 ms", "p99 ms", "max ms", "mean ms", "hits"
    );
    let mut out = Vec::new();
    for (op, name) in OPS {
        let id = format!("{op:?}");
        if !filter.is_empty() && !filter.iter().any(|w| id.to_lowercase().contains(&w.to_lowercase())) {
            continue;
        }
        let started = Instant::now();
        for _ in 0..20 {
            f.run_blocking(op);
            if started.elapsed() > budget / 4 {
                break;
            }
        }
        let mut times = Vec::with_capacity(iterations);
        let mut hits = 0;
        let started = Instant::now();
        while times.len() < iterations && (started.elapsed() < budget || times.len() < 5) {
            let t = Instant::now();
            let r = f.run_blocking(op);
            times.push(t.elapsed());
            hits += usize::from(r > 0);
        }
        let mean = times.iter().sum::<Duration>() / times.len() as u32;
        times.sort_unstable();
        let (p50, p99, max) = (percentile(&times, 0.5), percentile(&times, 0.99), *times.last().unwrap());
        eprintln!(
            "{name:<58} {:>6} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>6.0}%",
            times.len(),
            ms(p50),
            ms(p99),
            ms(max),
            ms(mean),
            100.0 * hits as f64 / times.len() as f64
        );
        out.push(serde_json::json!({
            "op": id, "name": name, "runs": times.len(), "p50_ms": ms(p50), "p99_ms": ms(p99),
            "max_ms": ms(max), "mean_ms": ms(mean), "hit_ratio": hits as f64 / times.len() as f64,
        }));
    }
    if let Ok(path) = std::env::var("BENCH_OUTPUT") {
        let doc = serde_json::json!({
            "backend": f.db.backend().as_str(), "contacts": f.contacts, "workspace": f.ws.0, "results": out,
        });
        std::fs::write(&path, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
        eprintln!("percentiles written to {path}");
    }
}

// ------------------------------------------------------------------ divan's pass

fn main() {
    let f = fixture();
    percentiles(f);
    if std::env::var("BENCH_DIVAN").as_deref() != Ok("0") {
        eprintln!("\ndivan:");
        divan::main();
    }
}

macro_rules! benches {
    ($($name:ident => $op:expr),* $(,)?) => {$(
        #[divan::bench(max_time = 3)]
        fn $name(b: divan::Bencher) {
            let f = fixture();
            b.bench_local(|| f.run_blocking($op));
        }
    )*};
}

benches!(
    lookup_e164 => Op::LookupE164,
    lookup_national_domestic => Op::LookupNationalDomestic,
    lookup_national_foreign => Op::LookupNationalForeign,
    lookup_tail7 => Op::LookupTail7,
    lookup_unknown => Op::LookupUnknown,
    cisco_first_page => Op::CiscoFirstPage,
    cisco_deep_page => Op::CiscoDeepPage,
    cisco_name_search => Op::CiscoNameSearch,
    cisco_letter_group => Op::CiscoLetterGroup,
    cisco_number_search_short => Op::CiscoNumberSearchShort,
    cisco_number_search_full => Op::CiscoNumberSearchFull,
    cisco_number_search_last4 => Op::CiscoNumberSearchLast4,
    cisco_previous_page => Op::CiscoPreviousPage,
    cisco_name_search_rare => Op::CiscoNameSearchRare,
    cisco_name_search_none => Op::CiscoNameSearchNone,
);
