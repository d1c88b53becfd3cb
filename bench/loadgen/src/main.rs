//! `loadgen`: the HTTP load generator of switchboard's benchmarks (`bench/agent.sh`).
//!
//! It is built to be cheap per request, because on a small machine it shares the cores with the server:
//! one persistent HTTP/1.1 connection per simulated device on hyper's low-level client (no pool, no
//! redirects, no TLS), a single-threaded runtime by default, latencies recorded into one HdrHistogram per
//! connection and merged at the end, and response bodies parsed only for the few fields it needs.
//!
//! Subcommands (each prints one JSON object on stdout and a human summary on stderr):
//! - `trivial`: GETs one URL on N connections, the generator's ceiling against a trivial handler;
//! - `agent`: N devices, each with its own connection, `X-Device-Id` and delta cursor, reading
//!   `GET /api/sync/delta` and writing `POST /api/contacts` / `PUT /api/contacts/{id}`;
//! - `seed`: creates contacts through `POST /api/contacts/bulk`, 1,000 per request, a few in parallel;
//! - `download`: a fresh device downloads everything with delta pages from version 0;
//! - `fanout`: N Socket.IO clients over raw WebSockets and timed REST writes, the realtime fan-out
//!   latency (`fanout.rs`; the same measurement and JSON as `bench/fanout/fanout.mjs`);
//! - `lookup`: caller lookups of numbers sampled from the workspace (`lookup.rs`, `bench/directory.sh`).

use bytes::Bytes;
use clap::{Args, Parser, Subcommand};
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::sync::Barrier;

mod fanout;
mod lookup;

type Error = Box<dyn std::error::Error + Send + Sync>;
type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Parser)]
#[command(name = "loadgen", about = "HTTP load generator for switchboard's benchmarks")]
struct Cli {
    /// Runtime worker threads; 1 runs everything on one thread (the cheapest per request). For `fanout`,
    /// those of the clients' runtime (the writer has the main thread to itself).
    #[arg(long, global = true, default_value_t = 1)]
    threads: usize,
    /// How many non-2xx answers to print (status and body) on stderr.
    #[arg(long, global = true, default_value_t = 5)]
    show_errors: usize,
    /// The server's process id: report its CPU time over the measured period next to the generator's.
    #[arg(long, global = true)]
    server_pid: Option<u32>,
    /// The database server's process id (PostgreSQL's postmaster): report the CPU time of it and its
    /// children (the backends).
    #[arg(long, global = true)]
    db_pid: Option<u32>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// GET one URL (e.g. /health) on N keep-alive connections as fast as it answers.
    Trivial(TrivialArgs),
    /// The agent-device workload: delta reads with a per-device cursor, and contact writes.
    Agent(AgentArgs),
    /// Create contacts through POST /api/contacts/bulk.
    Seed(SeedArgs),
    /// A fresh device downloads everything with delta pages from version 0.
    Download(DownloadArgs),
    /// Realtime fan-out: N Socket.IO clients, W timed REST writes, delivery latency to every client.
    Fanout(fanout::FanoutArgs),
    /// Caller lookups (`/api/v1/lookup`, optionally `/d/{token}/cnam`) of numbers sampled from the workspace.
    Lookup(lookup::LookupArgs),
}

#[derive(Args, Clone)]
struct Auth {
    /// API key (`sk_…`), sent as `Authorization: Bearer`.
    #[arg(long)]
    key: Option<String>,
    /// `X-Agent-Code` (the key's agent).
    #[arg(long)]
    agent_code: Option<String>,
}

#[derive(Args)]
struct TrivialArgs {
    /// Full URL, e.g. http://127.0.0.1:8080/health
    #[arg(long)]
    url: String,
    #[arg(long, default_value_t = 50)]
    connections: usize,
    /// Seconds.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    #[command(flatten)]
    auth: Auth,
}

#[derive(Args)]
struct AgentArgs {
    /// Base URL, e.g. http://127.0.0.1:8080
    #[arg(long)]
    url: String,
    #[command(flatten)]
    auth: Auth,
    /// Simulated devices, one connection each.
    #[arg(long, default_value_t = 50)]
    devices: usize,
    /// Seconds.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Share of operations that write (half creates, half updates of the device's own contacts).
    #[arg(long, default_value_t = 0.2)]
    write_ratio: f64,
    /// Device ids are `<prefix>-<run>-<n>`.
    #[arg(long, default_value = "bench")]
    device_prefix: String,
    /// Start every cursor at 0 instead of the workspace's current version (devices then download the
    /// whole workspace first, inside the measured time).
    #[arg(long)]
    from_zero: bool,
    /// Random seed (each device derives its own).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Target requests per second over all devices (0: closed loop, as fast as answers come). With a
    /// rate, each device starts an operation every `devices / rate` seconds; an operation that starts late
    /// because the previous answer came late is timed from when it was due (no coordinated omission).
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// Also write every request to this CSV file (device, kind, start and latency in ms from the run's
    /// start, server ms): shows whether slow answers come together (a stall) or alone.
    #[arg(long)]
    timeline: Option<std::path::PathBuf>,
}

#[derive(Args)]
struct SeedArgs {
    /// Base URL, e.g. http://127.0.0.1:8080
    #[arg(long)]
    url: String,
    #[command(flatten)]
    auth: Auth,
    /// Contacts to create.
    #[arg(long, default_value_t = 100_000)]
    count: usize,
    /// Contacts per bulk request (the server accepts at most 1,000).
    #[arg(long, default_value_t = 1_000)]
    batch: usize,
    /// Bulk requests in flight (one connection each).
    #[arg(long, default_value_t = 4)]
    parallel: usize,
}

#[derive(Args)]
struct DownloadArgs {
    /// Base URL, e.g. http://127.0.0.1:8080
    #[arg(long)]
    url: String,
    #[command(flatten)]
    auth: Auth,
    /// Page size (1–1000).
    #[arg(long, default_value_t = 1_000)]
    limit: u32,
    /// Device id (default: a fresh `dl-<uuid>`).
    #[arg(long)]
    device_id: Option<String>,
}

fn main() {
    let cli = Cli::parse();
    SHOW_ERRORS.store(cli.show_errors, Ordering::Relaxed);
    let _ = SERVER_PID.set(cli.server_pid);
    let _ = DB_PID.set(cli.db_pid);
    let threads = cli.threads;
    // fanout: this runtime runs the writer only; the clients get their own with `threads` workers.
    let runtime = if threads <= 1 || matches!(cli.command, Command::Fanout(_)) {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    } else {
        tokio::runtime::Builder::new_multi_thread().worker_threads(threads).enable_all().build()
    }
    .expect("tokio runtime");
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Trivial(a) => trivial(a).await,
            Command::Agent(a) => agent(a).await,
            Command::Seed(a) => seed(a).await,
            Command::Download(a) => download(a).await,
            Command::Fanout(a) => fanout::fanout(a, threads).await,
            Command::Lookup(a) => lookup::lookup(a).await,
        }
    });
    match result {
        Ok(report) => println!("{report}"),
        Err(e) => {
            eprintln!("loadgen: {e}");
            std::process::exit(1);
        }
    }
}

// ------------------------------------------------------------------ HTTP

/// Where to connect and what to put in `Host`.
struct Target {
    addr: String,
    host: HeaderValue,
    /// The URL's path (and query), without a trailing slash.
    path: String,
}

impl Target {
    fn parse(url: &str) -> Result<Self> {
        let uri: hyper::Uri = url.parse().map_err(|e| format!("bad URL {url}: {e}"))?;
        if uri.scheme_str() != Some("http") {
            return Err(format!("only http:// URLs are supported: {url}").into());
        }
        let authority = uri.authority().ok_or_else(|| format!("no host in {url}"))?;
        let addr = format!("{}:{}", authority.host(), authority.port_u16().unwrap_or(80));
        let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("").trim_end_matches('/').to_owned();
        Ok(Self { addr, host: HeaderValue::from_str(authority.as_str())?, path })
    }
}

/// The headers every request of one connection carries.
fn base_headers(target: &Target, auth: &Auth, device_id: Option<&str>) -> Result<HeaderMap> {
    let mut h = HeaderMap::new();
    h.insert(header::HOST, target.host.clone());
    if let Some(key) = &auth.key {
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(&format!("Bearer {key}"))?);
    }
    if let Some(code) = &auth.agent_code {
        h.insert(HeaderName::from_static("x-agent-code"), HeaderValue::from_str(code)?);
    }
    if let Some(device) = device_id {
        h.insert(HeaderName::from_static("x-device-id"), HeaderValue::from_str(device)?);
    }
    Ok(h)
}

/// One persistent HTTP/1.1 connection, reopened after a failure.
struct Conn {
    target: Arc<Target>,
    headers: HeaderMap,
    sender: Option<SendRequest<Full<Bytes>>>,
}

/// An answer: status, server time from `Server-Timing: app;dur=<ms>`, body.
struct Answer {
    status: StatusCode,
    server_ms: Option<f64>,
    body: Bytes,
}

impl Conn {
    fn new(target: Arc<Target>, headers: HeaderMap) -> Self {
        Self { target, headers, sender: None }
    }

    async fn connect(&mut self) -> Result<()> {
        let stream = TcpStream::connect(&self.target.addr).await?;
        stream.set_nodelay(true)?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        self.sender = Some(sender);
        Ok(())
    }

    /// Sends one request and reads the whole answer. A transport error drops the connection (the next
    /// request reconnects) and is returned.
    async fn send(&mut self, method: Method, path: &str, body: Option<Bytes>) -> Result<Answer> {
        if self.sender.as_ref().is_none_or(|s| s.is_closed()) {
            self.connect().await?;
        }
        let sender = self.sender.as_mut().expect("connected");
        let mut request = Request::new(Full::new(body.clone().unwrap_or_default()));
        *request.method_mut() = method;
        *request.uri_mut() = path.parse()?;
        *request.headers_mut() = self.headers.clone();
        if body.is_some() {
            request.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        let result = async {
            sender.ready().await?;
            let response = sender.send_request(request).await?;
            let (parts, body) = response.into_parts();
            let body = body.collect().await?.to_bytes();
            let server_ms = parts
                .headers
                .get("server-timing")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(';').find_map(|p| p.trim().strip_prefix("dur=")))
                .and_then(|d| d.parse::<f64>().ok());
            Ok::<_, Error>(Answer { status: parts.status, server_ms, body })
        }
        .await;
        if result.is_err() {
            self.sender = None;
        }
        result
    }
}

static SERVER_PID: std::sync::OnceLock<Option<u32>> = std::sync::OnceLock::new();
static DB_PID: std::sync::OnceLock<Option<u32>> = std::sync::OnceLock::new();

/// CPU milliseconds of a process and its direct children (PostgreSQL's backends).
fn tree_cpu_ms(root: u32) -> Option<f64> {
    let mut total = cpu_ms(&root.to_string())?;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().filter(|n| n.bytes().all(|b| b.is_ascii_digit())) else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        let Some((_, rest)) = stat.rsplit_once(") ") else { continue };
        let fields: Vec<&str> = rest.split(' ').collect();
        if fields.get(1).and_then(|p| p.parse::<u32>().ok()) == Some(root) {
            let ticks = fields.get(11).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0)
                + fields.get(12).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
            total += ticks * 10.0;
        }
    }
    Some(total)
}

/// Busy CPU milliseconds of the whole machine (all cores), from `/proc/stat`.
fn machine_busy_ms() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let v: Vec<f64> = line.split_whitespace().filter_map(|x| x.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal (guest time is inside user already).
    let busy = v.iter().take(8).sum::<f64>() - v.get(3)? - v.get(4)?;
    Some(busy * 10.0)
}

/// CPU milliseconds (user + system) of a process so far, from `/proc/<pid>/stat` (Linux; USER_HZ 100).
fn cpu_ms(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(") ")?.1.split(' ').collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks * 10.0)
}

/// CPU used by this generator and by the server over the measured period.
struct CpuMark {
    own: Option<f64>,
    server: Option<f64>,
    db: Option<f64>,
    machine: Option<f64>,
    at: Instant,
}

impl CpuMark {
    fn now() -> Self {
        let server = SERVER_PID.get().copied().flatten().and_then(|p| cpu_ms(&p.to_string()));
        let db = DB_PID.get().copied().flatten().and_then(tree_cpu_ms);
        Self { own: cpu_ms("self"), server, db, machine: machine_busy_ms(), at: Instant::now() }
    }

    /// CPU use since the mark, in cores (CPU time / wall time: 1.0 is one core fully busy): this
    /// generator, the server, the database (when its pid was given), the whole machine, and `other_cores`
    /// = machine − the rest, i.e. anything else running on the machine (a disturbed measurement).
    fn since(&self) -> Value {
        let later = CpuMark::now();
        let wall_ms = self.at.elapsed().as_secs_f64() * 1000.0;
        let diff = |a: Option<f64>, b: Option<f64>| a.zip(b).map(|(a, b)| b - a);
        let own = diff(self.own, later.own);
        let server = diff(self.server, later.server);
        let db = diff(self.db, later.db);
        let machine = diff(self.machine, later.machine);
        let other = machine.map(|m| m - own.unwrap_or(0.0) - server.unwrap_or(0.0) - db.unwrap_or(0.0));
        let cores = |v: Option<f64>| v.map(|v| round3(v / wall_ms));
        json!({
            "loadgen_cores": cores(own),
            "server_cores": cores(server),
            "db_cores": cores(db),
            "machine_cores": cores(machine),
            "other_cores": cores(other),
        })
    }
}

static SHOW_ERRORS: AtomicUsize = AtomicUsize::new(5);
static SHOWN_ERRORS: AtomicUsize = AtomicUsize::new(0);

fn show_error(what: &str, detail: &str) {
    if SHOWN_ERRORS.fetch_add(1, Ordering::Relaxed) < SHOW_ERRORS.load(Ordering::Relaxed) {
        let detail: String = detail.chars().take(600).collect();
        eprintln!("error: {what}: {detail}");
    }
}

// ------------------------------------------------------------------ statistics

/// Latencies (microseconds) and counts of one kind of request.
struct Kind {
    latency: Histogram<u64>,
    errors: u64,
    server_ms_sum: f64,
    server_ms_count: u64,
}

impl Kind {
    fn new() -> Self {
        // 1 µs to 10 min, 3 significant digits.
        let latency = Histogram::new_with_bounds(1, 600_000_000, 3).expect("histogram bounds");
        Self { latency, errors: 0, server_ms_sum: 0.0, server_ms_count: 0 }
    }

    fn record(&mut self, started: Instant, answer: Option<&Answer>) {
        let us = started.elapsed().as_micros().clamp(1, 600_000_000) as u64;
        self.latency.saturating_record(us);
        match answer {
            Some(a) => {
                if !a.status.is_success() {
                    self.errors += 1;
                }
                if let Some(ms) = a.server_ms {
                    self.server_ms_sum += ms;
                    self.server_ms_count += 1;
                }
            }
            None => self.errors += 1,
        }
    }

    fn merge(&mut self, other: &Kind) {
        self.latency.add(&other.latency).expect("same histogram bounds");
        self.errors += other.errors;
        self.server_ms_sum += other.server_ms_sum;
        self.server_ms_count += other.server_ms_count;
    }
}

/// Per-kind statistics of one connection (or, merged, of the run).
#[derive(Default)]
struct Stats(BTreeMap<&'static str, Kind>, Option<Timeline>);

/// Every request of a run, for `--timeline`: times since `origin`.
struct Timeline {
    origin: Instant,
    device: usize,
    samples: Vec<Sample>,
}

struct Sample {
    device: usize,
    kind: &'static str,
    start: Duration,
    latency: Duration,
    server_ms: Option<f64>,
}

impl Stats {
    /// Statistics that also keep every request of `device` (`--timeline`).
    fn with_timeline(origin: Instant, device: usize) -> Self {
        Self(BTreeMap::new(), Some(Timeline { origin, device, samples: Vec::new() }))
    }

    fn kind(&mut self, name: &'static str) -> &mut Kind {
        self.0.entry(name).or_insert_with(Kind::new)
    }

    /// Records one request; a non-2xx answer or a transport error counts as an error and is shown.
    fn record(&mut self, name: &'static str, started: Instant, what: &str, answer: &Result<Answer>) {
        if let Some(t) = &mut self.1 {
            t.samples.push(Sample {
                device: t.device,
                kind: name,
                start: started.saturating_duration_since(t.origin),
                latency: started.elapsed(),
                server_ms: answer.as_ref().ok().and_then(|a| a.server_ms),
            });
        }
        match answer {
            Ok(a) => {
                self.kind(name).record(started, Some(a));
                if !a.status.is_success() {
                    show_error(&format!("{what} -> {}", a.status), &String::from_utf8_lossy(&a.body));
                }
            }
            Err(e) => {
                self.kind(name).record(started, None);
                show_error(what, &e.to_string());
            }
        }
    }

    fn merge(&mut self, other: Stats) {
        if let Some(theirs) = other.1 {
            match &mut self.1 {
                Some(ours) => ours.samples.extend(theirs.samples),
                None => self.1 = Some(theirs),
            }
        }
        for (name, kind) in other.0 {
            match self.0.get_mut(name) {
                Some(k) => k.merge(&kind),
                None => {
                    self.0.insert(name, kind);
                }
            }
        }
    }

    fn total(&self) -> Kind {
        let mut all = Kind::new();
        for k in self.0.values() {
            all.merge(k);
        }
        all
    }
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// The common report: requests, seconds, rps, latency percentiles (ms), errors, per-kind detail.
fn report(command: &str, stats: &Stats, seconds: f64, extra: Value) -> Value {
    let all = stats.total();
    let h = &all.latency;
    let requests = h.len();
    let rps = if seconds > 0.0 { requests as f64 / seconds } else { 0.0 };
    let mut counts = serde_json::Map::new();
    let mut kinds = serde_json::Map::new();
    for (name, k) in &stats.0 {
        counts.insert((*name).into(), json!(k.latency.len()));
        kinds.insert(
            (*name).into(),
            json!({
                "requests": k.latency.len(),
                "errors": k.errors,
                "p50_ms": ms(k.latency.value_at_quantile(0.5)),
                "p90_ms": ms(k.latency.value_at_quantile(0.9)),
                "p99_ms": ms(k.latency.value_at_quantile(0.99)),
                "max_ms": ms(k.latency.max()),
                "server_mean_ms": if k.server_ms_count > 0 { round3(k.server_ms_sum / k.server_ms_count as f64) } else { 0.0 },
            }),
        );
    }
    let mut out = json!({
        "command": command,
        "requests": requests,
        "seconds": round3(seconds),
        "rps": rps.round(),
        "p50_ms": ms(h.value_at_quantile(0.5)),
        "p90_ms": ms(h.value_at_quantile(0.9)),
        "p99_ms": ms(h.value_at_quantile(0.99)),
        "max_ms": ms(h.max()),
        "mean_ms": round3(h.mean() / 1000.0),
        "errors": all.errors,
        "counts": counts,
        "kinds": kinds,
    });
    if let (Value::Object(out), Value::Object(extra)) = (&mut out, extra) {
        out.extend(extra);
    }
    if let Some(cpu) = out.get("cpu") {
        let c = |k: &str| cpu[k].as_f64().map_or("?".into(), |v| format!("{v:.2}"));
        eprintln!(
            "cpu (cores busy): loadgen {}, server {}, database {}, whole machine {}, anything else {}",
            c("loadgen_cores"),
            c("server_cores"),
            c("db_cores"),
            c("machine_cores"),
            c("other_cores"),
        );
    }
    eprintln!(
        "{command}: {requests} requests in {seconds:.2} s = {rps:.0} req/s; p50 {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, max {:.3} ms; {} errors",
        ms(h.value_at_quantile(0.5)),
        ms(h.value_at_quantile(0.9)),
        ms(h.value_at_quantile(0.99)),
        ms(h.max()),
        all.errors
    );
    for (name, k) in &stats.0 {
        eprintln!(
            "  {name:<8} {:>9} requests, p50 {:.3} ms, p99 {:.3} ms, server mean {:.3} ms, {} errors",
            k.latency.len(),
            ms(k.latency.value_at_quantile(0.5)),
            ms(k.latency.value_at_quantile(0.99)),
            if k.server_ms_count > 0 { k.server_ms_sum / k.server_ms_count as f64 } else { 0.0 },
            k.errors
        );
    }
    out
}

/// A small, fast PRNG (xorshift64*): no per-request cost worth measuring.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn name(&mut self) -> String {
        const SYLLABLES: [&str; 16] =
            ["an", "be", "co", "da", "el", "fi", "ga", "ho", "ir", "ja", "ka", "lo", "ma", "ne", "or", "pa"];
        let mut s = String::with_capacity(8);
        for i in 0..3 {
            let syl = SYLLABLES[self.below(16) as usize];
            if i == 0 {
                s.push_str(&syl[..1].to_ascii_uppercase());
                s.push_str(&syl[1..]);
            } else {
                s.push_str(syl);
            }
        }
        s
    }
}

// ------------------------------------------------------------------ trivial

async fn trivial(a: TrivialArgs) -> Result<Value> {
    let target = Arc::new(Target::parse(&a.url)?);
    let path = if target.path.is_empty() { "/".to_owned() } else { target.path.clone() };
    let headers = base_headers(&target, &a.auth, None)?;
    let mut conns = Vec::new();
    for _ in 0..a.connections {
        let mut c = Conn::new(target.clone(), headers.clone());
        c.connect().await?;
        conns.push(c);
    }
    let duration = Duration::from_secs_f64(a.duration);
    let started = Instant::now();
    let cpu = CpuMark::now();
    let deadline = started + duration;
    let tasks: Vec<_> = conns
        .into_iter()
        .map(|mut c| {
            let path = path.clone();
            tokio::spawn(async move {
                let mut stats = Stats::default();
                while Instant::now() < deadline {
                    let t = Instant::now();
                    let answer = c.send(Method::GET, &path, None).await;
                    stats.record("get", t, &path, &answer);
                }
                stats
            })
        })
        .collect();
    let mut stats = Stats::default();
    for t in tasks {
        stats.merge(t.await?);
    }
    let seconds = started.elapsed().as_secs_f64();
    let cpu = cpu.since();
    Ok(report("trivial", &stats, seconds, json!({"connections": a.connections, "url": a.url, "cpu": cpu})))
}

// ------------------------------------------------------------------ agent

#[derive(Deserialize)]
struct Envelope<T> {
    data: T,
}

#[derive(Deserialize)]
struct DeltaPage {
    next_version: i64,
    has_more: bool,
    changes: Vec<IgnoredAny>,
}

#[derive(Deserialize)]
struct Created {
    id: String,
}

#[derive(Deserialize)]
struct StatusData {
    current_version: i64,
}

/// Contacts a device remembers having created (the ones it updates).
const OWN_CONTACTS: usize = 256;

async fn agent(a: AgentArgs) -> Result<Value> {
    let target = Arc::new(Target::parse(&a.url)?);
    let run = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let duration = Duration::from_secs_f64(a.duration);
    // Everyone connects and reads its starting cursor first; the clock starts when all are ready.
    let barrier = Arc::new(Barrier::new(a.devices + 1));
    let changes_seen = Arc::new(AtomicU64::new(0));
    let origin = Instant::now();
    let keep_timeline = a.timeline.is_some();
    let mut tasks = Vec::new();
    for n in 0..a.devices {
        let device = format!("{}-{run}-{n}", a.device_prefix);
        let headers = base_headers(&target, &a.auth, Some(&device))?;
        let mut conn = Conn::new(target.clone(), headers);
        let (barrier, changes_seen) = (barrier.clone(), changes_seen.clone());
        let base = target.path.clone();
        let write_ratio = a.write_ratio;
        let from_zero = a.from_zero;
        let interval = (a.rate > 0.0).then(|| Duration::from_secs_f64(a.devices as f64 / a.rate));
        let phase = interval.map(|i| i.mul_f64(n as f64 / a.devices as f64));
        let mut rng = Rng::new(a.seed.wrapping_mul(1_000_003).wrapping_add(n as u64 + 1));
        tasks.push(tokio::spawn(async move {
            let mut stats = if keep_timeline { Stats::with_timeline(origin, n) } else { Stats::default() };
            let prepared: Result<i64> = async {
                conn.connect().await?;
                if from_zero {
                    return Ok(0);
                }
                let answer = conn.send(Method::GET, &format!("{base}/api/status"), None).await?;
                if !answer.status.is_success() {
                    return Err(format!(
                        "GET /api/status -> {}: {}",
                        answer.status,
                        String::from_utf8_lossy(&answer.body)
                    )
                    .into());
                }
                Ok(serde_json::from_slice::<Envelope<StatusData>>(&answer.body)?.data.current_version)
            }
            .await;
            barrier.wait().await;
            let mut cursor = prepared?;
            // Every device leaves the barrier at the same moment: that is the start of the run.
            let started = Instant::now();
            let deadline = started + duration;
            let mut due = phase.map(|p| started + p);
            let mut own: Vec<String> = Vec::new();
            let mut seen = 0u64;
            while Instant::now() < deadline {
                // When the operation starts, for its timing: with a rate, when it was due if the previous
                // answer made it late, else when it is sent.
                let mut op_start = Instant::now();
                if let (Some(d), Some(interval)) = (due.as_mut(), interval) {
                    let this = *d;
                    *d += interval;
                    if this > op_start {
                        tokio::time::sleep_until(this.into()).await;
                        op_start = Instant::now();
                        if op_start >= deadline {
                            break;
                        }
                    } else {
                        op_start = this;
                    }
                }
                let mut first = Some(op_start);
                let mut timer = move || first.take().unwrap_or_else(Instant::now);
                if rng.unit() < write_ratio {
                    if own.is_empty() || rng.below(2) == 0 {
                        let body = json!({
                            "first_name": rng.name(),
                            "phone_primary": format!("+1 212 555 {:04}", rng.below(10_000)),
                        });
                        let t = timer();
                        let answer = conn
                            .send(Method::POST, &format!("{base}/api/contacts"), Some(body.to_string().into()))
                            .await;
                        stats.record("create", t, "POST /api/contacts", &answer);
                        if let Ok(a) = &answer
                            && a.status.is_success()
                            && let Ok(c) = serde_json::from_slice::<Envelope<Created>>(&a.body)
                        {
                            if own.len() >= OWN_CONTACTS {
                                own.swap_remove(rng.below(own.len() as u64) as usize);
                            }
                            own.push(c.data.id);
                        }
                    } else {
                        let id = &own[rng.below(own.len() as u64) as usize];
                        let body = json!({"last_name": rng.name()});
                        let path = format!("{base}/api/contacts/{id}");
                        let t = timer();
                        let answer = conn.send(Method::PUT, &path, Some(body.to_string().into())).await;
                        stats.record("update", t, "PUT /api/contacts/{id}", &answer);
                    }
                } else {
                    // One sync: page until has_more is false.
                    loop {
                        let path = format!("{base}/api/sync/delta?version={cursor}");
                        let t = timer();
                        let answer = conn.send(Method::GET, &path, None).await;
                        stats.record("delta", t, "GET /api/sync/delta", &answer);
                        let Ok(answer) = answer else { break };
                        if !answer.status.is_success() {
                            break;
                        }
                        match serde_json::from_slice::<Envelope<DeltaPage>>(&answer.body) {
                            Ok(page) => {
                                seen += page.data.changes.len() as u64;
                                cursor = page.data.next_version;
                                if !page.data.has_more || Instant::now() >= deadline {
                                    break;
                                }
                            }
                            Err(e) => {
                                show_error("delta page", &format!("{e}: {}", String::from_utf8_lossy(&answer.body)));
                                break;
                            }
                        }
                    }
                }
            }
            changes_seen.fetch_add(seen, Ordering::Relaxed);
            Ok::<_, Error>(stats)
        }));
    }
    barrier.wait().await;
    let started = Instant::now();
    let cpu = CpuMark::now();
    let mut stats = Stats::default();
    let mut failures = Vec::new();
    for t in tasks {
        match t.await? {
            Ok(s) => stats.merge(s),
            Err(e) => failures.push(e.to_string()),
        }
    }
    if let Some(first) = failures.first() {
        return Err(format!("{} of {} devices could not start: {first}", failures.len(), a.devices).into());
    }
    let seconds = started.elapsed().as_secs_f64();
    let cpu = cpu.since();
    if let (Some(path), Some(timeline)) = (&a.timeline, &mut stats.1) {
        write_timeline(path, timeline, started.saturating_duration_since(origin))?;
        // The wall clock of start_ms = 0, to line the timeline up with other logs.
        let epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let start_epoch_ms = epoch.saturating_sub(started.elapsed()).as_millis();
        eprintln!("timeline {}: start_ms 0 is {start_epoch_ms} ms since the Unix epoch", path.display());
    }
    Ok(report(
        "agent",
        &stats,
        seconds,
        json!({
            "devices": a.devices,
            "write_ratio": a.write_ratio,
            "rate_target": a.rate,
            "changes_received": changes_seen.load(Ordering::Relaxed),
            "cpu": cpu,
        }),
    ))
}

/// The CSV of `--timeline`, in start order, times from the start of the measured run.
fn write_timeline(path: &std::path::Path, timeline: &mut Timeline, run_start: Duration) -> Result<()> {
    use std::io::Write as _;
    timeline.samples.sort_by_key(|s| s.start);
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(out, "device,kind,start_ms,latency_ms,server_ms")?;
    for s in &timeline.samples {
        let start = s.start.as_secs_f64() * 1e3 - run_start.as_secs_f64() * 1e3;
        let server = s.server_ms.map(|m| format!("{m:.3}")).unwrap_or_default();
        writeln!(out, "{},{},{start:.3},{:.3},{server}", s.device, s.kind, s.latency.as_secs_f64() * 1e3)?;
    }
    out.flush()?;
    Ok(())
}

// ------------------------------------------------------------------ seed

#[derive(Deserialize)]
struct BulkData {
    results: Vec<BulkResult>,
}

#[derive(Deserialize)]
struct BulkResult {
    status: String,
}

const AREA_CODES: [u32; 10] = [212, 646, 718, 917, 347, 929, 332, 516, 631, 914];

async fn seed(a: SeedArgs) -> Result<Value> {
    if a.batch == 0 || a.parallel == 0 {
        return Err("--batch and --parallel must be at least 1".into());
    }
    let target = Arc::new(Target::parse(&a.url)?);
    let headers = base_headers(&target, &a.auth, None)?;
    let batches = a.count.div_ceil(a.batch);
    let next = Arc::new(AtomicUsize::new(0));
    let created = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let cpu = CpuMark::now();
    let mut tasks = Vec::new();
    for _ in 0..a.parallel.min(batches.max(1)) {
        let mut conn = Conn::new(target.clone(), headers.clone());
        let (next, created, failed) = (next.clone(), created.clone(), failed.clone());
        let path = format!("{}/api/contacts/bulk", target.path);
        let (count, batch) = (a.count, a.batch);
        tasks.push(tokio::spawn(async move {
            let mut stats = Stats::default();
            let mut rng = Rng::new(7);
            loop {
                let b = next.fetch_add(1, Ordering::Relaxed);
                if b >= batches {
                    break;
                }
                let (from, to) = (b * batch, ((b + 1) * batch).min(count));
                let contacts: Vec<Value> = (from..to)
                    .map(|i| {
                        json!({
                            "first_name": rng.name(),
                            "last_name": format!("Seed{i}"),
                            "phone_primary": format!("+1 {} 555 {:04}", AREA_CODES[(i / 10_000) % 10], i % 10_000),
                        })
                    })
                    .collect();
                let body = json!({ "contacts": contacts }).to_string();
                let t = Instant::now();
                let answer = conn.send(Method::POST, &path, Some(body.into())).await;
                stats.record("bulk", t, "POST /api/contacts/bulk", &answer);
                if let Ok(a) = &answer
                    && a.status.is_success()
                {
                    match serde_json::from_slice::<Envelope<BulkData>>(&a.body) {
                        Ok(d) => {
                            let ok = d.data.results.iter().filter(|r| r.status == "created").count() as u64;
                            created.fetch_add(ok, Ordering::Relaxed);
                            let bad = (to - from) as u64 - ok;
                            if bad > 0 {
                                failed.fetch_add(bad, Ordering::Relaxed);
                                show_error(
                                    "bulk items not created",
                                    &String::from_utf8_lossy(&a.body[..a.body.len().min(600)]),
                                );
                            }
                        }
                        Err(e) => show_error("bulk answer", &e.to_string()),
                    }
                } else {
                    failed.fetch_add((to - from) as u64, Ordering::Relaxed);
                }
            }
            stats
        }));
    }
    let mut stats = Stats::default();
    for t in tasks {
        stats.merge(t.await?);
    }
    let seconds = started.elapsed().as_secs_f64();
    let created = created.load(Ordering::Relaxed);
    eprintln!("seed: created {created} contacts ({:.0}/s)", created as f64 / seconds);
    Ok(report(
        "seed",
        &stats,
        seconds,
        json!({
            "created": created,
            "failed": failed.load(Ordering::Relaxed),
            "contacts_per_second": (created as f64 / seconds).round(),
            "batch": a.batch,
            "parallel": a.parallel,
            "cpu": cpu.since(),
        }),
    ))
}

// ------------------------------------------------------------------ download

async fn download(a: DownloadArgs) -> Result<Value> {
    let target = Arc::new(Target::parse(&a.url)?);
    let device = a.device_id.clone().unwrap_or_else(|| format!("dl-{}", uuid::Uuid::new_v4().simple()));
    let headers = base_headers(&target, &a.auth, Some(&device))?;
    let mut conn = Conn::new(target.clone(), headers);
    conn.connect().await?;
    let mut stats = Stats::default();
    let (mut cursor, mut contacts, mut pages, mut server_ms) = (0i64, 0u64, 0u64, 0.0f64);
    let mut bytes = 0u64;
    let started = Instant::now();
    let cpu = CpuMark::now();
    loop {
        let path = format!("{}/api/sync/delta?version={cursor}&limit={}", target.path, a.limit);
        let t = Instant::now();
        let answer = conn.send(Method::GET, &path, None).await;
        stats.record("page", t, "GET /api/sync/delta", &answer);
        let answer = answer?;
        if !answer.status.is_success() {
            return Err(format!("{path} -> {}: {}", answer.status, String::from_utf8_lossy(&answer.body)).into());
        }
        pages += 1;
        bytes += answer.body.len() as u64;
        server_ms += answer.server_ms.unwrap_or(0.0);
        let page: Envelope<DeltaPage> = serde_json::from_slice(&answer.body)?;
        contacts += page.data.changes.len() as u64;
        cursor = page.data.next_version;
        if !page.data.has_more {
            break;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "download: {contacts} contacts in {pages} pages, {:.1} MiB; wall {:.1} ms, server {:.1} ms",
        bytes as f64 / 1_048_576.0,
        seconds * 1000.0,
        server_ms
    );
    Ok(report(
        "download",
        &stats,
        seconds,
        json!({
            "contacts": contacts,
            "pages": pages,
            "bytes": bytes,
            "wall_ms": round3(seconds * 1000.0),
            "server_ms": round3(server_ms),
            "limit": a.limit,
            "final_version": cursor,
            "cpu": cpu.since(),
        }),
    ))
}
