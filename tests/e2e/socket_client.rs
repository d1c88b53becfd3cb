//! `SocketClient`: the official JavaScript `socket.io-client` (run by `tests/realtime/client.mjs` under Node),
//! driven over JSON lines, so the realtime tests speak Socket.IO exactly as the real clients do.
//!
//! Every line the client prints is kept in arrival order until a call consumes it: `expect_event` takes the
//! first matching event and leaves the others buffered, where later calls (and `events`) still see them.
//! Lines are JSON objects: `{"type":"connect","id"}`, `{"type":"connect_error","message","data"}`,
//! `{"type":"event","name","args":[...],"t":<ms since the epoch>}`, `{"type":"disconnect","reason"}`,
//! `{"type":"ack","id","args"|"error"}`. Binary values appear as `{"$binary":"<base64>"}`, both ways.

// Not every test uses every helper.
#![allow(dead_code)]

use serde_json::{Value, json};
use std::collections::VecDeque;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// How long `expect_connect` and `expect_connect_error` wait.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// How long `emit_with_ack` waits for the ack line (client.mjs itself gives up on an ack after 5 s).
const ACK_WAIT: Duration = Duration::from_secs(10);
/// How long `disconnect` waits for the disconnect line.
const DISCONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// `tests/realtime`, from the test crate's manifest directory (`crates/switchboard`).
fn realtime_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/realtime")
}

/// One Socket.IO client in its own Node process (killed when this is dropped).
pub struct SocketClient {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Lines<BufReader<ChildStdout>>,
    stdout_closed: bool,
    stderr: Arc<Mutex<String>>,
    stderr_task: Option<JoinHandle<()>>,
    /// Lines read but not consumed yet, in arrival order.
    buffer: VecDeque<Value>,
    next_ack_id: u64,
    config: Value,
    /// Set once we have panicked with the diagnostics, so `Drop` does not print them again.
    reported: bool,
}

impl SocketClient {
    /// Starts a client connecting to `base_url` (`http://127.0.0.1:PORT`; a path after it is the namespace)
    /// at path `/socket.io/`, without reconnection. `options` (a JSON object, or null) is merged over that:
    /// `auth`, `query`, `extraHeaders`, `transports` (e.g. `["websocket"]`), `reconnection`, `path`, or any
    /// other `io()` option. Returns once the process is spawned; the connection happens in the background.
    pub fn connect(base_url: &str, options: Value) -> SocketClient {
        let dir = realtime_dir();
        let script = dir.join("client.mjs");
        if !dir.join("node_modules/socket.io-client/package.json").is_file() {
            panic!(
                "{} is missing: run npm ci --prefix tests/realtime, or scripts/test",
                dir.join("node_modules").display()
            );
        }
        let mut config = json!({"url": base_url, "path": "/socket.io/", "reconnection": false});
        match options {
            Value::Null => {}
            Value::Object(map) => {
                for (k, v) in map {
                    config[k] = v;
                }
            }
            other => panic!("SocketClient options must be a JSON object or null, got {other}"),
        }
        let mut child = Command::new("node")
            .arg(&script)
            .arg(config.to_string())
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("could not start `node {}` (is Node.js installed?): {e}", script.display()));
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
        let stderr = Arc::new(Mutex::new(String::new()));
        let stderr_task = {
            let mut pipe = BufReader::new(child.stderr.take().expect("piped stderr"));
            let sink = stderr.clone();
            tokio::spawn(async move {
                let mut line = Vec::new();
                loop {
                    line.clear();
                    match pipe.read_until(b'\n', &mut line).await {
                        Ok(0) | Err(_) => break,
                        Ok(_) => sink.lock().unwrap().push_str(&String::from_utf8_lossy(&line)),
                    }
                }
            })
        };
        SocketClient {
            child,
            stdin,
            stdout,
            stdout_closed: false,
            stderr,
            stderr_task: Some(stderr_task),
            buffer: VecDeque::new(),
            next_ack_id: 1,
            config,
            reported: false,
        }
    }

    /// The next line not consumed yet (buffered first), or None if nothing arrives within `timeout` or the
    /// client has exited.
    pub async fn next_line(&mut self, timeout: Duration) -> Option<Value> {
        if let Some(line) = self.buffer.pop_front() {
            return Some(line);
        }
        self.read(Instant::now() + timeout).await
    }

    /// Waits for the connection; returns the socket id. Panics if a `connect_error` comes instead.
    pub async fn expect_connect(&mut self) -> String {
        let line =
            self.wait_for("connect", CONNECT_TIMEOUT, |l| is_type(l, "connect") || is_type(l, "connect_error")).await;
        if is_type(&line, "connect_error") {
            let msg = self.report(&format!("expected connect, got {line}")).await;
            panic!("{msg}");
        }
        match line["id"].as_str() {
            Some(id) => id.to_owned(),
            None => {
                let msg = self.report(&format!("connect line without an id: {line}")).await;
                panic!("{msg}");
            }
        }
    }

    /// Waits for a refused connection; returns `{"type":"connect_error","message":..,"data":..}`. Panics
    /// if the client connects instead.
    pub async fn expect_connect_error(&mut self) -> Value {
        let line = self
            .wait_for("connect_error", CONNECT_TIMEOUT, |l| is_type(l, "connect") || is_type(l, "connect_error"))
            .await;
        if is_type(&line, "connect") {
            let msg = self.report(&format!("expected connect_error, but the client connected: {line}")).await;
            panic!("{msg}");
        }
        line
    }

    /// The first event named `name` (buffered or arriving within `timeout`), as
    /// `{"type":"event","name":..,"args":[..],"t":..}`; other lines stay buffered.
    pub async fn expect_event(&mut self, name: &str, timeout: Duration) -> Value {
        self.wait_for(&format!("event {name:?}"), timeout, |l| is_event(l, name)).await
    }

    /// Panics if an event named `name` is buffered or arrives within `within`. Everything read meanwhile
    /// stays buffered.
    pub async fn expect_no_event(&mut self, name: &str, within: Duration) {
        if let Some(line) = self.buffer.iter().find(|l| is_event(l, name)).cloned() {
            let msg = self.report(&format!("expected no event {name:?}, got {line}")).await;
            panic!("{msg}");
        }
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            match self.read(deadline).await {
                Some(line) if is_event(&line, name) => {
                    let msg = self.report(&format!("expected no event {name:?} within {within:?}, got {line}")).await;
                    panic!("{msg}");
                }
                Some(line) => self.buffer.push_back(line),
                None if self.stdout_closed => {
                    let msg = self.report(&format!("client.mjs exited while checking for no event {name:?}")).await;
                    panic!("{msg}");
                }
                None => break,
            }
        }
    }

    /// Emits `event` with `args` (a JSON array of arguments; null is none; any other value is the single
    /// argument) and waits for the server's ack; returns the ack's arguments as an array. Panics if the
    /// server does not acknowledge within 5 s.
    pub async fn emit_with_ack(&mut self, event: &str, args: Value) -> Value {
        match self.try_emit_with_ack(event, args).await {
            Ok(ack) => ack,
            Err(e) => {
                let msg = self.report(&format!("no ack for {event:?}: {e}")).await;
                panic!("{msg}");
            }
        }
    }

    /// Like `emit_with_ack`, but a missing ack is `Err("timeout")` instead of a panic.
    pub async fn try_emit_with_ack(&mut self, event: &str, args: Value) -> Result<Value, String> {
        let id = self.next_ack_id;
        self.next_ack_id += 1;
        self.send(json!({"cmd": "emit", "event": event, "args": as_args(args), "ack_id": id})).await;
        let line =
            self.wait_for(&format!("ack {id} of {event:?}"), ACK_WAIT, |l| is_type(l, "ack") && l["id"] == id).await;
        match line.get("error") {
            Some(e) => Err(e.as_str().map(str::to_owned).unwrap_or_else(|| e.to_string())),
            None => Ok(line["args"].clone()),
        }
    }

    /// Emits `event` with `args` (as for `emit_with_ack`) without asking for an ack.
    pub async fn emit(&mut self, event: &str, args: Value) {
        self.send(json!({"cmd": "emit", "event": event, "args": as_args(args)})).await;
    }

    /// Disconnects from the client side and waits for the `disconnect` line.
    pub async fn disconnect(&mut self) {
        self.send(json!({"cmd": "disconnect"})).await;
        self.wait_for("disconnect", DISCONNECT_TIMEOUT, |l| is_type(l, "disconnect")).await;
    }

    /// Waits for a `disconnect` line (e.g. the server closed the socket); returns its reason, such as
    /// `io server disconnect` or `transport close`.
    pub async fn expect_disconnect(&mut self, timeout: Duration) -> String {
        let line = self.wait_for("disconnect", timeout, |l| is_type(l, "disconnect")).await;
        line["reason"].as_str().unwrap_or_default().to_owned()
    }

    /// Connects again after a disconnect; returns the new socket id.
    pub async fn reconnect(&mut self) -> String {
        self.send(json!({"cmd": "connect"})).await;
        self.expect_connect().await
    }

    /// The event lines buffered (received and not consumed yet), in arrival order.
    pub fn events(&self) -> Vec<Value> {
        self.buffer.iter().filter(|l| is_type(l, "event")).cloned().collect()
    }

    /// What the client has written to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Disconnects cleanly and waits for the process to exit (dropping kills it instead).
    pub async fn close(mut self) {
        self.send(json!({"cmd": "exit"})).await;
        self.stdin.take();
        if tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await.is_err() {
            let msg = self.report("client.mjs did not exit within 5 s of the exit command").await;
            panic!("{msg}");
        }
    }

    /// Writes one command line.
    async fn send(&mut self, cmd: Value) {
        let line = format!("{cmd}\n");
        let result = match self.stdin.as_mut() {
            Some(stdin) => match stdin.write_all(line.as_bytes()).await {
                Ok(()) => stdin.flush().await,
                Err(e) => Err(e),
            },
            None => Err(std::io::Error::other("stdin already closed")),
        };
        if let Err(e) = result {
            let msg = self.report(&format!("could not send {cmd} to client.mjs: {e}")).await;
            panic!("{msg}");
        }
    }

    /// The next line from the process (not the buffer), or None at the deadline or when stdout closes.
    async fn read(&mut self, deadline: Instant) -> Option<Value> {
        while !self.stdout_closed {
            match tokio::time::timeout_at(deadline, self.stdout.next_line()).await {
                Err(_) => return None,
                Ok(Ok(Some(line))) if line.trim().is_empty() => continue,
                Ok(Ok(Some(line))) => {
                    return Some(
                        serde_json::from_str(&line).unwrap_or_else(|_| json!({"type": "stdout", "text": line})),
                    );
                }
                Ok(Ok(None)) | Ok(Err(_)) => self.stdout_closed = true,
            }
        }
        None
    }

    /// The first line matching `pred`: from the buffer, else read within `timeout` (buffering the others).
    async fn wait_for(&mut self, what: &str, timeout: Duration, pred: impl Fn(&Value) -> bool) -> Value {
        if let Some(i) = self.buffer.iter().position(&pred) {
            return self.buffer.remove(i).expect("index from position");
        }
        let deadline = Instant::now() + timeout;
        loop {
            match self.read(deadline).await {
                Some(line) if pred(&line) => return line,
                Some(line) => self.buffer.push_back(line),
                None => {
                    let why =
                        if self.stdout_closed { "client.mjs exited".to_owned() } else { format!("{timeout:?} passed") };
                    let msg = self.report(&format!("waiting for {what}: {why}")).await;
                    panic!("{msg}");
                }
            }
        }
    }

    /// `msg` with what helps to see why: the configuration, the exit status, stderr and unconsumed lines.
    async fn report(&mut self, msg: &str) -> String {
        self.reported = true;
        let status = if self.stdout_closed {
            // stdout closes as the process ends: give it a moment, and stderr a moment to drain.
            let status =
                tokio::time::timeout(Duration::from_secs(2), self.child.wait()).await.ok().and_then(Result::ok);
            if let Some(task) = self.stderr_task.take() {
                let _ = tokio::time::timeout(Duration::from_secs(1), task).await;
            }
            status
        } else {
            self.child.try_wait().ok().flatten()
        };
        let status = status.map(|s| s.to_string()).unwrap_or_else(|| "running".to_owned());
        format!("SocketClient: {msg}\n{}", self.diagnostics(&status))
    }

    fn diagnostics(&self, status: &str) -> String {
        let lines: Vec<String> = self.buffer.iter().map(Value::to_string).collect();
        let stderr = self.stderr();
        format!(
            "  config: {}\n  process: {status}\n  unconsumed lines ({}):\n    {}\n  stderr:\n{}",
            self.config,
            lines.len(),
            if lines.is_empty() { "(none)".to_owned() } else { lines.join("\n    ") },
            if stderr.is_empty() { "    (empty)".to_owned() } else { indent(&stderr) },
        )
    }
}

impl Drop for SocketClient {
    fn drop(&mut self) {
        // A test failed elsewhere while this client was alive: show what the client saw.
        if std::thread::panicking() && !self.reported {
            let status = match self.child.try_wait() {
                Ok(Some(s)) => s.to_string(),
                _ => "running".to_owned(),
            };
            eprintln!("SocketClient dropped during a panic\n{}", self.diagnostics(&status));
        }
    }
}

fn is_type(line: &Value, ty: &str) -> bool {
    line["type"] == ty
}

fn is_event(line: &Value, name: &str) -> bool {
    is_type(line, "event") && line["name"] == name
}

/// Command arguments: an array as it is, null as none, anything else as the one argument.
fn as_args(args: Value) -> Value {
    match args {
        Value::Array(_) => args,
        Value::Null => json!([]),
        other => json!([other]),
    }
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n")
}
