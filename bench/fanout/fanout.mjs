#!/usr/bin/env node
// Realtime fan-out benchmark of switchboard (issue 4).
//
//   node fanout.mjs --url http://127.0.0.1:PORT --key sk_… --agent-code BENCH \
//                   --clients 1000 --processes 4 --writes 50
//
// The parent spawns P child processes; each opens clients/P Socket.IO connections (websocket only,
// auth {api_key, agent_code, device_id: "fan-<n>"}) and waits for every socket's `authenticated` event.
// The parent then makes W REST writes, one at a time (`POST /api/contacts` with `X-Device-Id: writer`,
// so every socket receives it), recording `performance.timeOrigin + performance.now()` just before
// each write and its REST latency. Every client records when `contact_created` arrives (matched by
// `contact.id`); a child tells the parent once all its clients have one write's event, and the next
// write starts only then (or after --timeout ms). Before any socket connects, the parent makes the
// same writes once with no clients, as the REST baseline.
//
// `loadgen fanout` (bench/loadgen) is the same benchmark in Rust, much cheaper per event, with the same
// output apart from `client: "rust"`.
//
// Output: one JSON object on stdout (`client: "node"`, delivery latency p50/p90/p99/max from write start
// to receipt over every client and write, REST write latency with and without the clients, lost events);
// progress on stderr. Thousands of sockets need file descriptors in the server and here: raise
// `ulimit -n` in the shell that starts both (bench/agent.sh does; the child processes inherit it).

import { execFileSync, fork } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { io } from "socket.io-client";

// Wall-clock milliseconds with sub-millisecond resolution, comparable across the parent and the child
// processes. `performance.timeOrigin` is fixed per process and can be off by a few milliseconds between
// processes (a first run showed negative latencies), so each process measures its offset to the system
// clock (`Date.now()`, shared by all) over many samples; the truncation bias of `Date.now()` is the same in
// every process and cancels out.
const clockOffset = (() => {
  let sum = 0;
  const samples = 20000;
  for (let i = 0; i < samples; i++) sum += Date.now() - (performance.timeOrigin + performance.now());
  return sum / samples;
})();
const now = () => performance.timeOrigin + performance.now() + clockOffset;
const log = (...a) => console.error("[fanout]", ...a);

if (process.env.FANOUT_CHILD === "1") {
  child();
} else {
  parent().catch((e) => {
    console.error(e?.stack ?? String(e));
    process.exit(1);
  });
}

// ------------------------------------------------------------------ parent

async function parent() {
  const { values: o } = parseArgs({
    options: {
      url: { type: "string" },
      key: { type: "string" },
      "agent-code": { type: "string", default: "BENCH" },
      clients: { type: "string", default: "1000" },
      processes: { type: "string", default: "4" },
      writes: { type: "string", default: "50" },
      warmup: { type: "string", default: "2" },
      baseline: { type: "string" }, // REST writes with no clients (default: --writes; 0 skips)
      timeout: { type: "string", default: "10000" }, // ms to wait for one write's events
      "connect-concurrency": { type: "string", default: "100" }, // handshakes in flight per child
      "connect-timeout": { type: "string", default: "300000" },
      "server-pid": { type: "string" }, // to report the server's CPU time during the measured writes
      "db-pid": { type: "string" }, // PostgreSQL's postmaster: its CPU time and its backends
    },
  });
  if (!o.url || !o.key) throw new Error("--url and --key are required");
  const url = o.url.replace(/\/+$/, "");
  const clients = int(o.clients);
  const processes = Math.max(1, Math.min(int(o.processes), clients));
  const writes = int(o.writes);
  const warmup = int(o.warmup);
  const baselineWrites = o.baseline === undefined ? writes : int(o.baseline);
  const waitMs = int(o.timeout);
  const headers = {
    authorization: `Bearer ${o.key}`,
    "x-agent-code": o["agent-code"],
    "x-device-id": "writer",
    "content-type": "application/json",
  };
  let seq = 0;
  const write = async () => {
    const body = JSON.stringify({ first_name: `Fan${process.pid}x${seq}`, phone_primary: `+1 212 555 ${String(seq++ % 10000).padStart(4, "0")}` });
    const t0 = now();
    const res = await fetch(`${url}/api/contacts`, { method: "POST", headers, body });
    const text = await res.text();
    const rest = now() - t0;
    if (!res.ok) throw new Error(`POST /api/contacts -> ${res.status}: ${text}`);
    return { id: JSON.parse(text).data.id, t0, rest };
  };

  // REST baseline, before any socket exists.
  for (let i = 0; i < Math.min(warmup, baselineWrites); i++) await write();
  const baseline = [];
  for (let i = 0; i < baselineWrites; i++) baseline.push((await write()).rest);

  // Children and their sockets.
  const self = fileURLToPath(import.meta.url);
  const kids = [];
  const got = new Map(); // contact id -> number of children whose every client has it
  const waiters = new Map(); // contact id -> resolve
  const connectStarted = now();
  let offset = 0;
  for (let p = 0; p < processes; p++) {
    const n = Math.floor(clients / processes) + (p < clients % processes ? 1 : 0);
    const kid = fork(self, [], { env: { ...process.env, FANOUT_CHILD: "1" }, stdio: ["ignore", "inherit", "inherit", "ipc"] });
    const state = { kid, n, ready: null, report: null };
    state.readyP = new Promise((resolve) => (state.ready = resolve));
    state.reportP = new Promise((resolve) => (state.report = resolve));
    kid.on("message", (m) => {
      if (m.type === "ready") state.ready(m);
      else if (m.type === "report") state.report(m);
      else if (m.type === "got") {
        const c = (got.get(m.id) ?? 0) + 1;
        got.set(m.id, c);
        if (c >= processes) waiters.get(m.id)?.();
      }
    });
    kid.on("exit", (code) => {
      if (code) log(`child ${p} exited with ${code}`);
      state.ready({ connected: 0, failed: n, errors: [`child exited with ${code}`] });
      state.report({ receipts: {}, disconnects: n });
    });
    kid.send({ type: "start", url, key: o.key, agentCode: o["agent-code"], offset, n, concurrency: int(o["connect-concurrency"]), connectTimeout: int(o["connect-timeout"]) });
    kids.push(state);
    offset += n;
  }
  const ready = await Promise.all(kids.map((k) => k.readyP));
  const connectSeconds = (now() - connectStarted) / 1000;
  const connected = ready.reduce((s, r) => s + r.connected, 0);
  const failed = ready.reduce((s, r) => s + r.failed, 0);
  const connectErrors = ready.flatMap((r) => r.errors ?? []).slice(0, 5);
  log(`${connected}/${clients} clients connected in ${connectSeconds.toFixed(1)} s over ${processes} processes${failed ? `, ${failed} failed: ${connectErrors.join("; ")}` : ""}`);

  // The measured writes, one at a time, each waiting for its events (or the timeout).
  const waitFor = (id) =>
    new Promise((resolve) => {
      if ((got.get(id) ?? 0) >= processes) return resolve(true);
      const timer = setTimeout(() => {
        waiters.delete(id);
        resolve(false);
      }, waitMs);
      waiters.set(id, () => {
        clearTimeout(timer);
        waiters.delete(id);
        resolve(true);
      });
    });
  for (let i = 0; i < warmup; i++) await waitFor((await write()).id);
  // CPU time of the server and of the clients over the measured writes: who was busy?
  for (const k of kids) k.kid.connected && k.kid.send({ type: "mark" });
  const serverCpu0 = serverCpuMs(o["server-pid"]);
  const dbCpu0 = treeCpuMs(o["db-pid"]);
  const machine0 = machineBusyMs();
  const own0 = process.cpuUsage();
  const measureStarted = now();
  const done = [];
  let timeouts = 0;
  for (let i = 0; i < writes; i++) {
    const w = await write();
    if (!(await waitFor(w.id))) timeouts++;
    done.push(w);
  }

  const measureSeconds = (now() - measureStarted) / 1000;
  const serverCpu1 = serverCpuMs(o["server-pid"]);
  const dbCpu1 = treeCpuMs(o["db-pid"]);
  const machine1 = machineBusyMs();
  const ownCpu = process.cpuUsage(own0);
  // Receipts from the children; then let them go.
  for (const k of kids) k.kid.connected && k.kid.send({ type: "report" });
  const reports = await Promise.all(kids.map((k) => k.reportP));
  for (const k of kids) k.kid.connected && k.kid.send({ type: "exit" });

  const latencies = [];
  for (const w of done) {
    for (const r of reports) for (const t of r.receipts[w.id] ?? []) latencies.push(t - w.t0);
  }
  const expected = connected * writes;
  const received = latencies.length;
  const lat = stats(latencies);
  const rest = stats(done.map((w) => w.rest));
  const base = stats(baseline);
  const out = {
    client: "node",
    clients,
    processes,
    connected,
    connect_failed: failed,
    connect_seconds: round(connectSeconds),
    writes,
    expected_events: expected,
    received_events: received,
    lost_events: expected - received,
    write_timeouts: timeouts,
    disconnects: reports.reduce((s, r) => s + (r.disconnects ?? 0), 0),
    measure_seconds: round(measureSeconds),
    server_cpu_ms: serverCpu0 === null || serverCpu1 === null ? null : round(serverCpu1 - serverCpu0),
    clients_cpu_ms: round(reports.reduce((s, r) => s + (r.cpuMicros ?? 0), 0) / 1000),
    writer_cpu_ms: round((ownCpu.user + ownCpu.system) / 1000),
    db_cpu_ms: dbCpu0 === null || dbCpu1 === null ? null : round(dbCpu1 - dbCpu0),
    machine_cpu_ms: machine0 === null || machine1 === null ? null : round(machine1 - machine0),
    latency_ms: lat,
    rest_ms: rest,
    rest_baseline_ms: base,
  };
  // Anything else that ran on the machine meanwhile (a disturbed measurement when large).
  out.other_cpu_ms =
    out.machine_cpu_ms === null
      ? null
      : round(out.machine_cpu_ms - (out.server_cpu_ms ?? 0) - out.clients_cpu_ms - out.writer_cpu_ms - (out.db_cpu_ms ?? 0));
  log(
    `${clients} clients: delivery p50 ${lat.p50} ms, p99 ${lat.p99} ms, max ${lat.max} ms; ` +
      `REST p50 ${rest.p50} ms, p99 ${rest.p99} ms (no clients: ${base.p50} / ${base.p99} ms); lost ${expected - received}; ` +
      `CPU over ${measureSeconds.toFixed(1)} s: server ${out.server_cpu_ms ?? "?"} ms, clients ${out.clients_cpu_ms} ms, ` +
      `database ${out.db_cpu_ms ?? "-"} ms, anything else ${out.other_cpu_ms ?? "?"} ms`,
  );
  console.log(JSON.stringify(out));
  // Children exit on their own once their sockets are closed.
  setTimeout(() => process.exit(0), 5000).unref();
}

/** User + system CPU milliseconds of a process, from /proc (null when unknown). */
function serverCpuMs(pid) {
  if (!pid) return null;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks();
  } catch {
    return null;
  }
}

/** CPU milliseconds of a process and its direct children (PostgreSQL's backends), null when unknown. */
function treeCpuMs(root) {
  if (!root) return null;
  let total = serverCpuMs(root);
  if (total === null) return null;
  for (const name of readdirSync("/proc")) {
    if (!/^[0-9]+$/.test(name)) continue;
    try {
      const fields = readFileSync(`/proc/${name}/stat`, "utf8").split(") ")[1].split(" ");
      if (fields[1] === String(root)) total += ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks();
    } catch {
      // gone meanwhile
    }
  }
  return total;
}

/** Busy CPU milliseconds of the whole machine (all cores), from /proc/stat. */
function machineBusyMs() {
  try {
    const v = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1, 9).map(Number);
    return ((v.reduce((s, x) => s + x, 0) - v[3] - v[4]) * 1000) / clockTicks();
  } catch {
    return null;
  }
}

let ticks = 0;
function clockTicks() {
  if (!ticks) {
    try {
      ticks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      ticks = 100;
    }
  }
  return ticks;
}

function int(s) {
  const n = Number.parseInt(s, 10);
  if (!Number.isFinite(n) || n < 0) throw new Error(`not a count: ${s}`);
  return n;
}

const round = (x) => Math.round(x * 1000) / 1000;

function stats(values) {
  if (values.length === 0) return { n: 0, p50: null, p90: null, p99: null, max: null, mean: null };
  const v = Float64Array.from(values).sort();
  const q = (p) => v[Math.min(v.length - 1, Math.max(0, Math.ceil(p * v.length) - 1))];
  const mean = v.reduce((s, x) => s + x, 0) / v.length;
  return { n: v.length, p50: round(q(0.5)), p90: round(q(0.9)), p99: round(q(0.99)), max: round(v[v.length - 1]), mean: round(mean) };
}

// ------------------------------------------------------------------ child

function child() {
  const sockets = [];
  const receipts = new Map(); // contact id -> receipt times of this child's clients
  let connected = 0;
  let disconnects = 0;
  let measuring = false;
  let cpuMark = null;

  process.on("message", async (m) => {
    if (m.type === "start") {
      const { failed, errors } = await connectAll(m);
      measuring = true;
      process.send({ type: "ready", connected, failed, errors });
    } else if (m.type === "mark") {
      cpuMark = process.cpuUsage();
    } else if (m.type === "report") {
      const cpu = cpuMark ? process.cpuUsage(cpuMark) : { user: 0, system: 0 };
      process.send({ type: "report", receipts: Object.fromEntries(receipts), disconnects, cpuMicros: cpu.user + cpu.system });
    } else if (m.type === "exit") {
      measuring = false;
      for (const s of sockets) s.close();
      process.disconnect();
      setTimeout(() => process.exit(0), 2000).unref();
    }
  });

  function onCreated(payload) {
    const t = now();
    const id = payload?.contact?.id;
    if (!id) return;
    let times = receipts.get(id);
    if (!times) receipts.set(id, (times = []));
    times.push(t);
    if (times.length === connected) process.send({ type: "got", id });
  }

  async function connectAll({ url, key, agentCode, offset, n, concurrency, connectTimeout }) {
    let next = 0;
    let failed = 0;
    const errors = [];
    const one = (i) =>
      new Promise((resolve) => {
        const socket = io(url, {
          transports: ["websocket"],
          forceNew: true, // one connection per client, never multiplexed
          reconnection: false, // a dropped client shows as lost events
          timeout: connectTimeout,
          auth: { api_key: key, agent_code: agentCode, device_id: `fan-${offset + i}` },
        });
        socket.on("contact_created", onCreated);
        socket.once("authenticated", () => {
          connected++;
          sockets.push(socket);
          socket.on("disconnect", (reason) => {
            if (measuring) {
              disconnects++;
              if (disconnects <= 3) console.error(`[fanout child ${process.pid}] disconnect: ${reason}`);
            }
          });
          resolve();
        });
        socket.once("connect_error", (e) => {
          failed++;
          if (errors.length < 3) errors.push(String(e?.message ?? e));
          socket.close();
          resolve();
        });
      });
    const worker = async () => {
      while (next < n) await one(next++);
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, n)) }, worker));
    return { failed, errors };
  }
}
