//! `loadgen fanout`: the realtime fan-out benchmark (issue 4), the Rust equivalent of
//! `bench/fanout/fanout.mjs` with the same measurement and the same JSON fields.
//!
//! Clients speak Engine.IO v4 / Socket.IO v5 directly over a raw WebSocket
//! (`ws://HOST:PORT/socket.io/?EIO=4&transport=websocket`): the server's open packet `0{…}`, our CONNECT
//! to the default namespace `40{"api_key","agent_code","device_id"}`, its answer `40{…}` (or `44{…}`, a
//! connect error), then events `42["name",{…}]`; an Engine.IO ping `2` is answered with `3`.
//!
//! Cheap by construction, since the clients share the cores with the server: one task per socket on a
//! runtime of its own (`--threads` workers, named `fanout-client`), a 4 KiB read buffer per socket, the
//! receipt time taken right when a frame is read, and incoming events scanned for their name and
//! `contact.id` without building a JSON tree. The writer and the orchestration run on the main thread's
//! own single-threaded runtime, so a write's REST latency does not queue behind the clients' tasks (the
//! Node version has the writer in a separate process). One process, so one monotonic clock (`Instant`).

use super::{
    Auth, Conn, Created, Envelope, Result, Target, base_headers, cpu_ms, machine_busy_ms, round3, tree_cpu_ms,
};
use super::{DB_PID, SERVER_PID};
use bytes::Bytes;
use clap::Args;
use futures_util::{SinkExt, StreamExt};
use hyper::Method;
use serde_json::{Value, json};
use std::borrow::Cow;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::sync::{Notify, Semaphore, mpsc};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{WebSocketStream, client_async_with_config};

/// Name of the clients' runtime threads (their CPU time is the clients' CPU).
const CLIENT_THREAD: &str = "fanout-client";

#[derive(Args)]
pub struct FanoutArgs {
    /// Base URL, e.g. http://127.0.0.1:8080
    #[arg(long)]
    url: String,
    #[command(flatten)]
    auth: Auth,
    /// Socket.IO clients (one WebSocket each, `device_id` `fan-<n>`).
    #[arg(long, default_value_t = 1000)]
    clients: usize,
    /// Measured writes, one at a time.
    #[arg(long, default_value_t = 50)]
    writes: usize,
    /// Unmeasured writes before the baseline and before the measured writes.
    #[arg(long, default_value_t = 2)]
    warmup: usize,
    /// REST writes with no client connected (default: --writes; 0 skips).
    #[arg(long)]
    baseline: Option<usize>,
    /// Milliseconds to wait for one write's events before the next write.
    #[arg(long, default_value_t = 10_000)]
    timeout: u64,
    /// Starts writes (baseline and measured alike) at least this many milliseconds apart. A write after an
    /// idle gap costs the server more than one right after another (threads to wake, caches gone cold):
    /// with the same pace, the REST baseline and the REST time during the fan-out are comparable.
    #[arg(long, default_value_t = 0)]
    interval_ms: u64,
    /// Handshakes in flight while connecting.
    #[arg(long, default_value_t = 100)]
    connect_concurrency: usize,
    /// Milliseconds one client may take to connect and be authenticated.
    #[arg(long, default_value_t = 300_000)]
    connect_timeout: u64,
}

fn log(msg: impl std::fmt::Display) {
    eprintln!("[fanout] {msg}");
}

pub async fn fanout(a: FanoutArgs, threads: usize) -> Result<Value> {
    let key = a.auth.key.clone().ok_or("--key is required")?;
    let target = Arc::new(Target::parse(&a.url)?);
    let addr =
        tokio::net::lookup_host(&target.addr).await?.next().ok_or_else(|| format!("cannot resolve {}", target.addr))?;
    let nofile = open_files_limit();
    if let Some(limit) = nofile.filter(|&limit| limit < a.clients as u64 + 32) {
        log(format_args!(
            "warning: `ulimit -n` is {limit} here, too low for {} sockets; raise it in the shell that starts loadgen",
            a.clients
        ));
    }
    let baseline_writes = a.baseline.unwrap_or(a.writes);
    let wait = Duration::from_millis(a.timeout);
    let mut writer = Writer {
        conn: Conn::new(target.clone(), base_headers(&target, &a.auth, Some("writer"))?),
        path: format!("{}/api/contacts", target.path),
        seq: 0,
        interval: Duration::from_millis(a.interval_ms),
        last_start: None,
    };

    // REST baseline, before any socket exists.
    for _ in 0..a.warmup.min(baseline_writes) {
        writer.write().await?;
    }
    let mut baseline = Vec::with_capacity(baseline_writes);
    for _ in 0..baseline_writes {
        baseline.push(writer.write().await?.rest_ms);
    }

    // The clients, on a runtime of their own.
    let runtime = ClientRuntime(Some(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .thread_name(CLIENT_THREAD)
            .enable_all()
            .build()?,
    ));
    let shared = Arc::new(Shared::default());
    let host = target.host.to_str()?;
    let ctx = Arc::new(ClientContext {
        addr,
        url: format!("ws://{host}{}/socket.io/?EIO=4&transport=websocket", target.path),
        key,
        agent_code: a.auth.agent_code.clone(),
        nofile,
        permits: Semaphore::new(a.connect_concurrency.max(1)),
        timeout: Duration::from_millis(a.connect_timeout),
        shared: shared.clone(),
    });
    let (tx, mut rx) = mpsc::unbounded_channel();
    let connect_started = Instant::now();
    for n in 0..a.clients {
        runtime.handle().spawn(client(n, ctx.clone(), tx.clone()));
    }
    drop(tx);
    let (mut connected, mut failed, mut errors) = (0usize, 0usize, Vec::new());
    let mut last_log = Instant::now();
    while connected + failed < a.clients {
        match tokio::time::timeout(Duration::from_secs(1), rx.recv()).await {
            Ok(Some(Handshake::Ready)) => connected += 1,
            Ok(Some(Handshake::Failed(e))) => {
                failed += 1;
                if errors.len() < 3 {
                    errors.push(e);
                }
            }
            Ok(Some(Handshake::Fatal(e))) => return Err(e.into()),
            Ok(None) => break,
            Err(_) => {}
        }
        if last_log.elapsed() >= Duration::from_secs(5) {
            log(format_args!("{connected}/{} clients connected, {failed} failed", a.clients));
            last_log = Instant::now();
        }
    }
    let connect_seconds = connect_started.elapsed().as_secs_f64();
    log(format_args!(
        "{connected}/{} clients connected in {connect_seconds:.1} s on {threads} thread(s){}",
        a.clients,
        if failed > 0 { format!(", {failed} failed: {}", errors.join("; ")) } else { String::new() }
    ));
    if connected == 0 && a.clients > 0 {
        return Err(format!("no client connected: {}", errors.join("; ")).into());
    }
    shared.expected.store(connected, Ordering::Relaxed);
    shared.measuring.store(true, Ordering::Relaxed);

    // The measured writes, one at a time, each waiting for its events (or the timeout).
    for _ in 0..a.warmup {
        let w = writer.write().await?;
        shared.wait_for(&w.id, wait).await;
    }
    // CPU time of the server and of the clients over the measured writes: who was busy?
    let server_pid = SERVER_PID.get().copied().flatten();
    let db_pid = DB_PID.get().copied().flatten();
    let server0 = server_pid.and_then(|p| cpu_ms(&p.to_string()));
    let db0 = db_pid.and_then(tree_cpu_ms);
    let machine0 = machine_busy_ms();
    let (writer0, clients0) = own_cpu_ms();
    let measure_started = Instant::now();
    let mut done = Vec::with_capacity(a.writes);
    let mut timeouts = 0;
    for _ in 0..a.writes {
        let w = writer.write().await?;
        if !shared.wait_for(&w.id, wait).await {
            timeouts += 1;
        }
        done.push(w);
    }
    let measure_seconds = measure_started.elapsed().as_secs_f64();
    let server1 = server_pid.and_then(|p| cpu_ms(&p.to_string()));
    let db1 = db_pid.and_then(tree_cpu_ms);
    let machine1 = machine_busy_ms();
    let (writer1, clients1) = own_cpu_ms();
    shared.measuring.store(false, Ordering::Relaxed);

    let mut latencies = Vec::with_capacity(connected * a.writes);
    // The slowest delivery of each write, in write order: shows whether a tail is every write's or a few.
    let mut write_max = Vec::with_capacity(a.writes);
    {
        let receipts = shared.receipts.lock().unwrap_or_else(PoisonError::into_inner);
        for w in &done {
            let mut max: f64 = 0.0;
            for at in receipts.get(w.id.as_str()).map_or(&[][..], Vec::as_slice) {
                let ms = at.saturating_duration_since(w.t0).as_secs_f64() * 1000.0;
                max = max.max(ms);
                latencies.push(ms);
            }
            write_max.push(round3(max));
        }
    }
    let expected = connected * a.writes;
    let received = latencies.len();
    let diff = |a: Option<f64>, b: Option<f64>| a.zip(b).map(|(a, b)| round3(b - a));
    let server_cpu = diff(server0, server1);
    let db_cpu = diff(db0, db1);
    let machine_cpu = diff(machine0, machine1);
    let clients_cpu = round3(clients1 - clients0);
    let writer_cpu = round3(writer1 - writer0);
    let other_cpu =
        machine_cpu.map(|m| round3(m - server_cpu.unwrap_or(0.0) - clients_cpu - writer_cpu - db_cpu.unwrap_or(0.0)));
    let lat = stats(latencies);
    let rest = stats(done.iter().map(|w| w.rest_ms).collect());
    let rest_server = stats(done.iter().filter_map(|w| w.server_ms).collect());
    let base = stats(baseline);
    let ms = |v: Option<f64>| v.map_or("?".to_owned(), |v| format!("{v:.0}"));
    log(format_args!(
        "{} clients: delivery p50 {} ms, p99 {} ms, max {} ms; REST p50 {} ms, p99 {} ms (no clients: {} / {} ms); \
         lost {}; CPU over {measure_seconds:.1} s: server {} ms, clients {clients_cpu:.0} ms, writer {writer_cpu:.0} ms, \
         database {} ms, anything else {} ms",
        a.clients,
        lat["p50"],
        lat["p99"],
        lat["max"],
        rest["p50"],
        rest["p99"],
        base["p50"],
        base["p99"],
        expected as i64 - received as i64,
        ms(server_cpu),
        db_cpu.map_or("-".to_owned(), |v| format!("{v:.0}")),
        ms(other_cpu),
    ));
    Ok(json!({
        "client": "rust",
        "clients": a.clients,
        "processes": 1,
        "threads": threads,
        "connected": connected,
        "connect_failed": failed,
        "connect_seconds": round3(connect_seconds),
        "writes": a.writes,
        "interval_ms": a.interval_ms,
        "expected_events": expected,
        "received_events": received,
        "lost_events": expected as i64 - received as i64,
        "write_timeouts": timeouts,
        "disconnects": shared.disconnects.load(Ordering::Relaxed),
        "measure_seconds": round3(measure_seconds),
        "server_cpu_ms": server_cpu,
        "clients_cpu_ms": clients_cpu,
        "writer_cpu_ms": writer_cpu,
        "db_cpu_ms": db_cpu,
        "machine_cpu_ms": machine_cpu,
        "latency_ms": lat,
        "rest_ms": rest,
        "rest_baseline_ms": base,
        "rest_server_ms": rest_server,
        "other_cpu_ms": other_cpu,
        "write_max_ms": write_max,
        "write_rest_ms": done.iter().map(|w| round3(w.rest_ms)).collect::<Vec<_>>(),
    }))
}

/// Shuts the clients' runtime down without waiting (its sockets close), also on an early error.
struct ClientRuntime(Option<tokio::runtime::Runtime>);

impl ClientRuntime {
    fn handle(&self) -> &tokio::runtime::Handle {
        self.0.as_ref().expect("runtime").handle()
    }
}

impl Drop for ClientRuntime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

// ------------------------------------------------------------------ writer

struct Writer {
    conn: Conn,
    path: String,
    seq: u64,
    /// `--interval-ms`, and when the last write started.
    interval: Duration,
    last_start: Option<Instant>,
}

struct Write {
    id: String,
    t0: Instant,
    rest_ms: f64,
    /// The server's own time (`Server-Timing`), to tell time in the handler from time before and after it.
    server_ms: Option<f64>,
}

impl Writer {
    /// One `POST /api/contacts`; `t0` is taken just before it is sent. A transport error (e.g. the
    /// keep-alive connection closed while the clients connected) is retried once on a new connection.
    async fn write(&mut self) -> Result<Write> {
        if let Some(last) = self.last_start {
            tokio::time::sleep_until((last + self.interval).into()).await;
        }
        self.last_start = Some(Instant::now());
        let seq = self.seq;
        self.seq += 1;
        let body = Bytes::from(
            json!({
                "first_name": format!("Fan{}x{seq}", std::process::id()),
                "phone_primary": format!("+1 212 555 {:04}", seq % 10_000),
            })
            .to_string(),
        );
        let mut retried = false;
        loop {
            let t0 = Instant::now();
            match self.conn.send(Method::POST, &self.path, Some(body.clone())).await {
                Ok(answer) => {
                    let rest_ms = t0.elapsed().as_secs_f64() * 1000.0;
                    if !answer.status.is_success() {
                        return Err(format!(
                            "POST {} -> {}: {}",
                            self.path,
                            answer.status,
                            String::from_utf8_lossy(&answer.body)
                        )
                        .into());
                    }
                    let id = serde_json::from_slice::<Envelope<Created>>(&answer.body)
                        .map_err(|e| format!("POST {}: {e}: {}", self.path, String::from_utf8_lossy(&answer.body)))?
                        .data
                        .id;
                    return Ok(Write { id, t0, rest_ms, server_ms: answer.server_ms });
                }
                Err(e) if !retried => {
                    log(format_args!("POST {}: {e}; retrying on a new connection", self.path));
                    retried = true;
                }
                Err(e) => return Err(format!("POST {}: {e}", self.path).into()),
            }
        }
    }
}

// ------------------------------------------------------------------ receipts

/// What the clients share with the writer.
#[derive(Default)]
struct Shared {
    /// Contact id -> receipt times of `contact_created`, one per client that got it.
    receipts: Mutex<HashMap<Box<str>, Vec<Instant>>>,
    /// Clients that must have an event before it is complete (the connected ones).
    expected: AtomicUsize,
    /// Signalled when an event becomes complete.
    complete: Notify,
    measuring: AtomicBool,
    disconnects: AtomicUsize,
}

impl Shared {
    fn record(&self, id: &str, at: Instant) {
        let expected = self.expected.load(Ordering::Relaxed);
        let mut receipts = self.receipts.lock().unwrap_or_else(PoisonError::into_inner);
        let times = match receipts.get_mut(id) {
            Some(times) => times,
            None => receipts.entry(id.into()).or_insert_with(|| Vec::with_capacity(expected)),
        };
        times.push(at);
        let complete = times.len() == expected;
        drop(receipts);
        if complete {
            self.complete.notify_one();
        }
    }

    fn count(&self, id: &str) -> usize {
        self.receipts.lock().unwrap_or_else(PoisonError::into_inner).get(id).map_or(0, Vec::len)
    }

    /// Waits until every connected client has the event of `id`; false after `wait`.
    async fn wait_for(&self, id: &str, wait: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + wait;
        let expected = self.expected.load(Ordering::Relaxed);
        loop {
            if self.count(id) >= expected {
                return true;
            }
            // `notify_one` keeps a permit when nobody waits, so a completion between the check and
            // here is not missed; a stale permit only costs one more check.
            if tokio::time::timeout_at(deadline, self.complete.notified()).await.is_err() {
                return self.count(id) >= expected;
            }
        }
    }
}

// ------------------------------------------------------------------ clients

struct ClientContext {
    addr: SocketAddr,
    url: String,
    key: String,
    agent_code: Option<String>,
    /// The soft `ulimit -n`, read before the sockets use up the descriptors.
    nofile: Option<u64>,
    permits: Semaphore,
    timeout: Duration,
    shared: Arc<Shared>,
}

enum Handshake {
    Ready,
    Failed(String),
    /// Stops the run: the server refused the credentials, or no file descriptors are left.
    Fatal(String),
}

type Ws = WebSocketStream<TcpStream>;

async fn client(n: usize, ctx: Arc<ClientContext>, tx: mpsc::UnboundedSender<Handshake>) {
    let permit = ctx.permits.acquire().await;
    let ws = match tokio::time::timeout(ctx.timeout, connect(n, &ctx)).await {
        Ok(Ok(ws)) => ws,
        Ok(Err(h)) => {
            let _ = tx.send(h);
            return;
        }
        Err(_) => {
            let _ = tx.send(Handshake::Failed(format!("fan-{n}: not authenticated after {:?}", ctx.timeout)));
            return;
        }
    };
    drop(permit);
    let _ = tx.send(Handshake::Ready);
    drop(tx);
    let reason = receive(ws, &ctx.shared).await;
    let shared = &ctx.shared;
    if shared.measuring.load(Ordering::Relaxed) && shared.disconnects.fetch_add(1, Ordering::Relaxed) < 3 {
        log(format_args!("fan-{n} disconnected: {reason}"));
    }
}

/// Reads events until the socket ends; returns why it ended.
async fn receive(mut ws: Ws, shared: &Shared) -> String {
    loop {
        let message = ws.next().await;
        let at = Instant::now();
        match message {
            Some(Ok(Message::Text(text))) => {
                let packet = text.as_bytes();
                if packet == b"2" {
                    if let Err(e) = ws.send(Message::text("3")).await {
                        return format!("sending pong: {e}");
                    }
                } else if let Some(data) = packet.strip_prefix(b"42") {
                    if let Some(id) = contact_created_id(data) {
                        shared.record(&id, at);
                    }
                } else if packet.starts_with(b"41") {
                    return "the server disconnected the namespace".into();
                } else if packet == b"1" {
                    return "Engine.IO close".into();
                }
            }
            Some(Ok(Message::Close(frame))) => return format!("WebSocket close {frame:?}"),
            Some(Ok(_)) => {}
            Some(Err(e)) => return e.to_string(),
            None => return "connection closed".into(),
        }
    }
}

/// TCP connect, WebSocket upgrade, Engine.IO open, Socket.IO CONNECT, `authenticated`.
async fn connect(n: usize, ctx: &ClientContext) -> Result<Ws, Handshake> {
    let stream = TcpStream::connect(ctx.addr).await.map_err(|e| connect_error(n, &e, ctx.nofile))?;
    let _ = stream.set_nodelay(true);
    // A small read buffer: tungstenite's default (128 KiB) would be zero-filled on every read.
    let config = WebSocketConfig::default().read_buffer_size(4096).write_buffer_size(0);
    let (mut ws, _) = client_async_with_config(ctx.url.as_str(), stream, Some(config))
        .await
        .map_err(|e| Handshake::Failed(format!("fan-{n}: WebSocket upgrade of {}: {e}", ctx.url)))?;
    let failed = |what: &str| Handshake::Failed(format!("fan-{n}: {what}"));
    let open = next_text(&mut ws).await.map_err(|e| failed(&e))?;
    if !open.starts_with('0') {
        return Err(failed(&format!("expected the Engine.IO open packet, got {open:?}")));
    }
    let auth = json!({"api_key": ctx.key, "agent_code": ctx.agent_code, "device_id": format!("fan-{n}")});
    let connect = format!("40{auth}");
    ws.send(Message::text(connect)).await.map_err(|e| failed(&format!("sending CONNECT: {e}")))?;
    let mut connected = false;
    loop {
        let packet = next_text(&mut ws).await.map_err(|e| failed(&e))?;
        if packet == "2" {
            ws.send(Message::text("3")).await.map_err(|e| failed(&format!("sending pong: {e}")))?;
        } else if let Some(error) = packet.strip_prefix("44") {
            let message = serde_json::from_str::<Value>(error)
                .ok()
                .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned))
                .unwrap_or_else(|| error.to_owned());
            return Err(Handshake::Fatal(format!("the server refused the Socket.IO connection of fan-{n}: {message}")));
        } else if packet.starts_with("40") {
            connected = true;
        } else if let Some(data) = packet.strip_prefix("42") {
            if event_name(data.as_bytes()) == Some(b"authenticated") {
                if !connected {
                    return Err(failed("`authenticated` before the CONNECT answer"));
                }
                return Ok(ws);
            }
        } else if packet.starts_with("41") || packet == "1" {
            return Err(failed(&format!("disconnected while connecting ({packet})")));
        }
    }
}

async fn next_text(ws: &mut Ws) -> Result<String, String> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => return Ok(text.as_str().to_owned()),
            Some(Ok(Message::Close(frame))) => return Err(format!("WebSocket closed while connecting: {frame:?}")),
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(format!("while connecting: {e}")),
            None => return Err("connection closed while connecting".into()),
        }
    }
}

/// Out of file descriptors is fatal, with what to do about it; anything else fails this client only.
fn connect_error(n: usize, e: &std::io::Error, nofile: Option<u64>) -> Handshake {
    // EMFILE (this process) and ENFILE (the whole system) on Linux.
    if matches!(e.raw_os_error(), Some(24 | 23)) {
        let limit = nofile.map_or("?".to_owned(), |l| l.to_string());
        return Handshake::Fatal(format!(
            "connecting client fan-{n}: {e}: out of file descriptors (`ulimit -n` {limit}); raise `ulimit -n` \
             above the client count in the shell that starts loadgen (and the server)"
        ));
    }
    Handshake::Failed(format!("fan-{n}: TCP connect: {e}"))
}

/// The soft limit on open files (`ulimit -n`), from `/proc/self/limits`.
fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    limits.lines().find(|l| l.starts_with("Max open files"))?.split_whitespace().nth(3)?.parse().ok()
}

// ------------------------------------------------------------------ CPU

/// CPU milliseconds so far of this process's main thread (the writer and the orchestration) and of the
/// clients' runtime threads, from `/proc/self/task/<tid>/sched` (nanosecond resolution) or, without it,
/// `/proc/self/task/<tid>/stat` (10 ms ticks).
fn own_cpu_ms() -> (f64, f64) {
    let main = std::process::id().to_string();
    let (mut writer, mut clients) = (0.0, 0.0);
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return (0.0, 0.0) };
    for task in tasks.flatten() {
        let tid = task.file_name().to_string_lossy().into_owned();
        let is_client =
            std::fs::read_to_string(format!("/proc/self/task/{tid}/comm")).is_ok_and(|c| c.trim_end() == CLIENT_THREAD);
        if tid != main && !is_client {
            continue;
        }
        let ms = std::fs::read_to_string(format!("/proc/self/task/{tid}/sched"))
            .ok()
            .and_then(|s| {
                let line = s.lines().find(|l| l.starts_with("se.sum_exec_runtime"))?;
                line.rsplit(':').next()?.trim().parse::<f64>().ok()
            })
            .or_else(|| cpu_ms(&format!("self/task/{tid}")))
            .unwrap_or(0.0);
        if tid == main {
            writer += ms;
        } else {
            clients += ms;
        }
    }
    (writer, clients)
}

// ------------------------------------------------------------------ statistics

/// n, p50, p90, p99, max, mean (ms) exactly as fanout.mjs computes them (nearest rank).
fn stats(mut v: Vec<f64>) -> Value {
    if v.is_empty() {
        return json!({"n": 0, "p50": null, "p90": null, "p99": null, "max": null, "mean": null});
    }
    v.sort_by(f64::total_cmp);
    let q = |p: f64| v[((p * v.len() as f64).ceil() as usize).saturating_sub(1).min(v.len() - 1)];
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    json!({
        "n": v.len(),
        "p50": round3(q(0.5)),
        "p90": round3(q(0.9)),
        "p99": round3(q(0.99)),
        "max": round3(v[v.len() - 1]),
        "mean": round3(mean),
    })
}

// ------------------------------------------------------------------ packets

/// A forward-only scanner over one JSON text (the server's, so well-formed): just enough to find an
/// event's name and `contact.id` without building a tree or allocating.
struct Scan<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Scan<'a> {
    fn new(b: &'a [u8]) -> Self {
        Self { b, i: 0 }
    }

    fn space(&mut self) {
        while matches!(self.b.get(self.i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.space();
        self.b.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        (self.peek()? == c).then(|| self.i += 1)
    }

    /// A string's raw contents (escapes not decoded), the scanner after its closing quote.
    fn string(&mut self) -> Option<&'a [u8]> {
        self.eat(b'"')?;
        let start = self.i;
        loop {
            match self.b.get(self.i)? {
                b'"' => {
                    self.i += 1;
                    return Some(&self.b[start..self.i - 1]);
                }
                b'\\' => self.i += 2,
                _ => self.i += 1,
            }
        }
    }

    /// Skips one value of any kind.
    fn skip(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.string().map(drop),
            b'{' | b'[' => {
                let mut depth = 0usize;
                loop {
                    match self.b.get(self.i)? {
                        b'"' => {
                            self.string()?;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                self.i += 1;
                                return Some(());
                            }
                        }
                        _ => {}
                    }
                    self.i += 1;
                }
            }
            _ => {
                while !matches!(self.b.get(self.i)?, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') {
                    self.i += 1;
                }
                Some(())
            }
        }
    }

    /// After a member or element: true for `,` (another follows), false for the closing bracket.
    fn more(&mut self) -> Option<bool> {
        match self.peek()? {
            b',' => {
                self.i += 1;
                Some(true)
            }
            b'}' | b']' => {
                self.i += 1;
                Some(false)
            }
            _ => None,
        }
    }

    /// Inside an object (after `{`): moves to the value of member `key`, at this level only.
    fn member(&mut self, key: &[u8]) -> Option<()> {
        if self.peek()? == b'}' {
            return None;
        }
        loop {
            let k = self.string()?;
            self.eat(b':')?;
            if k == key {
                return Some(());
            }
            self.skip()?;
            if !self.more()? {
                return None;
            }
        }
    }
}

/// The name of a Socket.IO event from its data (the packet after `42`): `["name", …]`. An ack id may
/// precede the array.
fn event_name(data: &[u8]) -> Option<&[u8]> {
    let start = data.iter().position(|b| !b.is_ascii_digit())?;
    let mut s = Scan::new(&data[start..]);
    s.eat(b'[')?;
    s.string()
}

/// The `contact.id` of a `contact_created` event's data (`["contact_created",{"contact":{"id":…},…}]`),
/// None for any other event.
fn contact_created_id(data: &[u8]) -> Option<Cow<'_, str>> {
    let start = data.iter().position(|b| !b.is_ascii_digit())?;
    let mut s = Scan::new(&data[start..]);
    s.eat(b'[')?;
    if s.string()? != b"contact_created" {
        return None;
    }
    s.eat(b',')?;
    s.eat(b'{')?;
    s.member(b"contact")?;
    s.eat(b'{')?;
    s.member(b"id")?;
    let raw = s.string()?;
    if raw.contains(&b'\\') {
        // Escapes (never in a UUID): decode properly.
        let quoted = [&b"\""[..], raw, b"\""].concat();
        return serde_json::from_slice::<String>(&quoted).ok().map(Cow::Owned);
    }
    std::str::from_utf8(raw).ok().map(Cow::Borrowed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(packet: &str) -> Option<String> {
        contact_created_id(packet.strip_prefix("42").expect("event packet").as_bytes()).map(Cow::into_owned)
    }

    #[test]
    fn finds_the_contact_id_whatever_the_order() {
        let contact = json!({
            "id": "0193a0c4-1111-7000-8000-000000000001",
            "first_name": "Fan \"id\" {x}",
            "last_name": null,
            "phone_primary": "+1 212 555 0001",
            "created_at": "2026-11-23T10:00:00Z",
            "version": 42,
            "is_deleted": false,
        });
        // serde_json without preserve_order sorts keys: "contact", "created_by", "version".
        let packet =
            format!("42{}", json!(["contact_created", {"contact": contact, "version": 42, "created_by": "BENCH"}]));
        assert_eq!(id(&packet).as_deref(), Some("0193a0c4-1111-7000-8000-000000000001"));
        // Other members first, with nested ids, strings holding brackets and quotes, whitespace.
        let packet = r#"42[ "contact_created" , { "created_by" : {"id":"nope","x":[1,{"id":"no"}]},
            "note": "}]\"contact\":{\"id\":\"bad\"}", "version": -1.5e3,
            "contact": { "first_name": "A", "phones": [{"id": "p1"}], "id" : "c-2" } } ]"#;
        assert_eq!(id(packet).as_deref(), Some("c-2"));
        assert_eq!(id(r#"42["contact_created",{"contact":{"id":"a\u002db"}}]"#).as_deref(), Some("a-b"));
        assert_eq!(id(r#"427["contact_created",{"contact":{"id":"acked"}}]"#).as_deref(), Some("acked"));
    }

    #[test]
    fn other_events_and_odd_payloads_have_no_id() {
        assert_eq!(id(r#"42["contact_updated",{"contact":{"id":"x"}}]"#), None);
        assert_eq!(id(r#"42["authenticated",{"device_id":"fan-1","current_version":3}]"#), None);
        assert_eq!(id(r#"42["contact_created",{"contact":null}]"#), None);
        assert_eq!(id(r#"42["contact_created",{"contact":{"name":"x"}}]"#), None);
        assert_eq!(id(r#"42["contact_created",{}]"#), None);
        assert_eq!(id(r#"42["contact_created"]"#), None);
        assert_eq!(id(r#"42["contact_created",{"contact":{"id":"trunc"#), None);
        assert_eq!(event_name(br#"["authenticated",{"device_id":"fan-1"}]"#), Some(&b"authenticated"[..]));
    }

    #[test]
    fn stats_match_fanout_mjs() {
        let s = stats((1..=200).map(f64::from).collect());
        assert_eq!((s["n"].as_u64(), s["p50"].as_f64(), s["p99"].as_f64()), (Some(200), Some(100.0), Some(198.0)));
        assert_eq!(s["max"].as_f64(), Some(200.0));
        assert!(stats(Vec::new())["p50"].is_null());
    }
}
