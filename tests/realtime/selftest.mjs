// Self-check of client.mjs against a small socket.io server (the devDependency), not against switchboard:
//   node tests/realtime/selftest.mjs     (exits 0 when every check passes)

import { createServer } from "node:http";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import assert from "node:assert/strict";
import { Server } from "socket.io";

const here = dirname(fileURLToPath(import.meta.url));
const clientScript = join(here, "client.mjs");

// --- the server ----------------------------------------------------------------------------------------

const httpServer = createServer();
const io = new Server(httpServer, { path: "/socket.io/" });
const serverLog = []; // what the server saw, for the checks

io.use((socket, next) => {
  const auth = socket.handshake.auth ?? {};
  if (auth.api_key !== "good") {
    const err = new Error("invalid api key");
    err.data = { code: "INVALID_CREDENTIAL" };
    return next(err);
  }
  next();
});

io.on("connection", (socket) => {
  socket.emit("authenticated", {
    id: socket.id,
    query: socket.handshake.query,
    header: socket.handshake.headers["x-test-header"] ?? null,
    transport: socket.conn.transport.name,
  });
  socket.on("sync", (payload, ack) => {
    serverLog.push({ event: "sync", payload });
    ack({ ok: true, echo: payload });
  });
  socket.on("multi", (a, b, ack) => ack(a + b, "second", null));
  socket.on("binary", (buf, ack) => ack(Buffer.concat([buf, Buffer.from([0xff])])));
  socket.on("noack", () => serverLog.push({ event: "noack" })); // never acknowledges
  socket.on("ping-me", (n) => {
    serverLog.push({ event: "ping-me", n });
    socket.emit("first", 1);
    socket.emit("second", 2, "two");
  });
  socket.on("kick", () => socket.disconnect(true));
  socket.on("disconnect", (reason) => serverLog.push({ event: "disconnect", id: socket.id, reason }));
});

await new Promise((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
const url = `http://127.0.0.1:${httpServer.address().port}`;

// --- a driven client -----------------------------------------------------------------------------------

class Client {
  constructor(config) {
    this.proc = spawn(process.execPath, [clientScript, JSON.stringify({ url, path: "/socket.io/", ...config })], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    this.lines = [];
    this.waiters = [];
    this.stderr = "";
    this.proc.stderr.on("data", (d) => (this.stderr += d));
    this.exited = new Promise((resolve) => this.proc.on("exit", (code, signal) => resolve({ code, signal })));
    createInterface({ input: this.proc.stdout }).on("line", (line) => {
      let value;
      try {
        value = JSON.parse(line);
      } catch {
        value = { type: "not-json", line };
      }
      this.lines.push(value);
      this.waiters.forEach((w) => w());
    });
  }

  send(cmd) {
    this.proc.stdin.write(JSON.stringify(cmd) + "\n");
  }

  // The first line (in arrival order) matching pred, removed from the queue.
  next(pred, what, timeoutMs = 10000) {
    return new Promise((resolve, reject) => {
      const check = () => {
        const i = this.lines.findIndex(pred);
        if (i >= 0) {
          const [line] = this.lines.splice(i, 1);
          done();
          resolve(line);
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(
          new Error(`timed out waiting for ${what}; pending lines: ${JSON.stringify(this.lines)}; stderr: ${this.stderr}`),
        );
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== check);
      };
      this.waiters.push(check);
      check();
    });
  }

  type(t, timeoutMs) {
    return this.next((l) => l.type === t, `a "${t}" line`, timeoutMs);
  }

  event(name, timeoutMs) {
    return this.next((l) => l.type === "event" && l.name === name, `event "${name}"`, timeoutMs);
  }

  ack(id, timeoutMs) {
    return this.next((l) => l.type === "ack" && l.id === id, `ack ${id}`, timeoutMs);
  }
}

const waitFor = async (cond, what, timeoutMs = 5000) => {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

// --- the checks ----------------------------------------------------------------------------------------

const checks = [];
const check = (name, fn) => checks.push({ name, fn });

check("connect, an event line, acks, plain emits, binary, server-side events in order", async () => {
  const c = new Client({
    auth: { api_key: "good" },
    query: { client: "selftest" },
    extraHeaders: { "x-test-header": "hello" },
  });
  const connect = await c.type("connect");
  assert.equal(typeof connect.id, "string");
  assert.ok(connect.id.length > 0);

  const before = Date.now();
  const ev = await c.event("authenticated");
  assert.equal(ev.args.length, 1);
  assert.equal(ev.args[0].id, connect.id);
  assert.equal(ev.args[0].query.client, "selftest");
  assert.equal(ev.args[0].header, "hello");
  assert.equal(typeof ev.t, "number");
  assert.ok(Math.abs(ev.t - before) < 10000, `t ${ev.t} is a wall-clock time in ms`);
  assert.ok(ev.t > 1e12, "t is in milliseconds");

  c.send({ cmd: "emit", event: "sync", args: [{ since: 0 }], ack_id: 1 });
  assert.deepEqual(await c.ack(1), { type: "ack", id: 1, args: [{ ok: true, echo: { since: 0 } }] });
  assert.ok(serverLog.some((e) => e.event === "sync" && e.payload?.since === 0));

  c.send({ cmd: "emit", event: "multi", args: [2, 3], ack_id: 2 });
  assert.deepEqual((await c.ack(2)).args, [5, "second", null]);

  c.send({ cmd: "emit", event: "binary", args: [{ $binary: Buffer.from("ab").toString("base64") }], ack_id: 3 });
  assert.deepEqual((await c.ack(3)).args, [{ $binary: Buffer.from([0x61, 0x62, 0xff]).toString("base64") }]);

  c.send({ cmd: "emit", event: "ping-me", args: [7] });
  const first = await c.event("first");
  const second = await c.event("second");
  assert.deepEqual(first.args, [1]);
  assert.deepEqual(second.args, [2, "two"]);
  assert.ok(second.t >= first.t);
  assert.ok(serverLog.some((e) => e.event === "ping-me" && e.n === 7));

  c.send({ cmd: "exit" });
  assert.deepEqual(await c.exited, { code: 0, signal: null });
  assert.equal(c.stderr, "");
});

check("websocket-only transport", async () => {
  const c = new Client({ auth: { api_key: "good" }, transports: ["websocket"] });
  await c.type("connect");
  assert.equal((await c.event("authenticated")).args[0].transport, "websocket");
  c.proc.stdin.end();
  assert.deepEqual(await c.exited, { code: 0, signal: null });
});

check("connect_error carries the middleware's message and data", async () => {
  const c = new Client({ auth: { api_key: "bad" } });
  assert.deepEqual(await c.type("connect_error"), {
    type: "connect_error",
    message: "invalid api key",
    data: { code: "INVALID_CREDENTIAL" },
  });
  assert.equal(c.lines.filter((l) => l.type === "connect").length, 0);
  c.proc.stdin.end();
  assert.equal((await c.exited).code, 0);
});

check("connect_error without auth (null auth is the client's default)", async () => {
  const c = new Client({ auth: null, query: null, extraHeaders: null, transports: null });
  const err = await c.type("connect_error");
  assert.equal(err.message, "invalid api key");
  assert.deepEqual(err.data, { code: "INVALID_CREDENTIAL" });
  c.proc.stdin.end();
  assert.equal((await c.exited).code, 0);
});

check("connect_error when nothing listens (data null)", async () => {
  const closed = createServer();
  await new Promise((r) => closed.listen(0, "127.0.0.1", r));
  const port = closed.address().port;
  await new Promise((r) => closed.close(r));
  const c = new Client({ url: `http://127.0.0.1:${port}`, auth: { api_key: "good" } });
  const err = await c.type("connect_error");
  assert.equal(typeof err.message, "string");
  assert.equal(err.data, null);
  c.proc.stdin.end();
  assert.equal((await c.exited).code, 0);
});

check("client disconnect, reconnect with a new id, server disconnect", async () => {
  const c = new Client({ auth: { api_key: "good" } });
  const { id } = await c.type("connect");
  await c.event("authenticated");

  c.send({ cmd: "disconnect" });
  assert.equal((await c.type("disconnect")).reason, "io client disconnect");
  await waitFor(
    () => serverLog.some((e) => e.event === "disconnect" && e.id === id && e.reason === "client namespace disconnect"),
    "the server to see the client leave",
  );

  c.send({ cmd: "connect" });
  const again = await c.type("connect");
  assert.notEqual(again.id, id);
  await c.event("authenticated");

  c.send({ cmd: "emit", event: "kick", args: [] });
  assert.equal((await c.type("disconnect")).reason, "io server disconnect");
  c.proc.stdin.end();
  assert.equal((await c.exited).code, 0);
});

check("ack timeout after 5 s", async () => {
  const c = new Client({ auth: { api_key: "good" } });
  await c.type("connect");
  const started = Date.now();
  c.send({ cmd: "emit", event: "noack", args: [], ack_id: 42 });
  assert.deepEqual(await c.ack(42, 8000), { type: "ack", id: 42, error: "timeout" });
  const took = Date.now() - started;
  assert.ok(took >= 4900 && took < 7000, `timed out after ${took} ms`);
  c.proc.stdin.end();
  assert.equal((await c.exited).code, 0);
});

check("bad commands are reported on stderr and the client keeps going", async () => {
  const c = new Client({ auth: { api_key: "good" } });
  await c.type("connect");
  c.proc.stdin.write("this is not json\n");
  c.send({ cmd: "fly" });
  c.send({ cmd: "emit", args: [] });
  c.send({ cmd: "emit", event: "sync", args: [1], ack_id: 7 });
  assert.deepEqual((await c.ack(7)).args, [{ ok: true, echo: 1 }]);
  assert.match(c.stderr, /not JSON/);
  assert.match(c.stderr, /unknown command/);
  assert.match(c.stderr, /needs an "event"/);
  c.proc.stdin.end();
  assert.equal((await c.exited).code, 0);
});

check("a bad configuration fails loudly", async () => {
  const proc = spawn(process.execPath, [clientScript, "{not json"], { stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  proc.stderr.on("data", (d) => (stderr += d));
  const code = await new Promise((r) => proc.on("exit", r));
  assert.equal(code, 2);
  assert.match(stderr, /argv\[2\] must be the JSON configuration/);
});

// Run them all, concurrently (the ack timeout check takes 5 s).
const results = await Promise.allSettled(checks.map((c) => c.fn()));
let failed = 0;
results.forEach((r, i) => {
  if (r.status === "fulfilled") {
    console.log(`ok   ${checks[i].name}`);
  } else {
    failed += 1;
    console.log(`FAIL ${checks[i].name}\n${r.reason?.stack ?? r.reason}`);
  }
});
console.log(`${checks.length - failed} passed, ${failed} failed`);
io.close();
httpServer.close();
process.exit(failed === 0 ? 0 : 1);
