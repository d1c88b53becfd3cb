// One official socket.io-client per process, driven by JSON lines, for the Rust end-to-end tests
// (tests/e2e/socket_client.rs). See README.md beside this file.
//
//   node client.mjs '{"url":"http://127.0.0.1:PORT","path":"/socket.io/","auth":{...},"reconnection":false}'
//
// stdout: one JSON object per line, as things happen:
//   {"type":"connect","id":"..."}
//   {"type":"connect_error","message":"...","data":...|null}
//   {"type":"event","name":"...","args":[...],"t":<ms since the epoch, fractional>}
//   {"type":"disconnect","reason":"..."}
//   {"type":"ack","id":n,"args":[...]}  or  {"type":"ack","id":n,"error":"timeout"}
// stdin: one JSON command per line:
//   {"cmd":"emit","event":"...","args":[...]}             plain emit
//   {"cmd":"emit","event":"...","args":[...],"ack_id":n}  emit with a 5 s ack timeout, then an "ack" line
//   {"cmd":"disconnect"} | {"cmd":"connect"} | {"cmd":"exit"}
// The process exits when stdin closes. Anything that goes wrong is written to stderr.
//
// Binary: a Buffer/ArrayBuffer/typed array in an event or ack is printed as {"$binary":"<base64>"}, and
// such an object in a command's args is sent as a Buffer.

import { io } from "socket.io-client";
import { createInterface } from "node:readline";

const ACK_TIMEOUT_MS = 5000;

function fatal(what, err) {
  process.stderr.write(`client.mjs: ${what}: ${err && err.stack ? err.stack : String(err)}\n`);
  process.exitCode = 1;
  // Let stderr drain before leaving.
  setImmediate(() => process.exit(1));
}

process.on("uncaughtException", (err) => fatal("uncaught exception", err));
process.on("unhandledRejection", (err) => fatal("unhandled rejection", err));

// JSON-safe copy of what the server sent: binary becomes {"$binary": base64}.
function toJson(value) {
  if (Buffer.isBuffer(value)) return { $binary: value.toString("base64") };
  if (value instanceof ArrayBuffer) return { $binary: Buffer.from(value).toString("base64") };
  if (ArrayBuffer.isView(value)) {
    return { $binary: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("base64") };
  }
  if (Array.isArray(value)) return value.map(toJson);
  if (value !== null && typeof value === "object") {
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = toJson(v);
    return out;
  }
  return value === undefined ? null : value;
}

// The reverse, for the args of a command.
function fromJson(value) {
  if (Array.isArray(value)) return value.map(fromJson);
  if (value !== null && typeof value === "object") {
    const keys = Object.keys(value);
    if (keys.length === 1 && keys[0] === "$binary" && typeof value.$binary === "string") {
      return Buffer.from(value.$binary, "base64");
    }
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = fromJson(v);
    return out;
  }
  return value;
}

function out(obj) {
  // Writes to a pipe are synchronous on Linux, so each line leaves as soon as it is printed.
  process.stdout.write(JSON.stringify(obj) + "\n");
}

let config;
try {
  config = JSON.parse(process.argv[2] ?? "");
} catch (err) {
  process.stderr.write(`client.mjs: argv[2] must be the JSON configuration: ${err.message}\n`);
  process.exit(2);
}
if (typeof config !== "object" || config === null || typeof config.url !== "string") {
  process.stderr.write(`client.mjs: the configuration needs a "url" string, got ${process.argv[2]}\n`);
  process.exit(2);
}

// Known keys are mapped; null means "the client's default"; any other key goes to io() as it is.
const { url, path, auth, query, extraHeaders, transports, reconnection, ...rest } = config;
const options = { forceNew: true, reconnection: reconnection ?? false, ...rest };
options.path = path ?? "/socket.io/";
if (auth != null) options.auth = auth;
if (query != null) options.query = query;
if (extraHeaders != null) options.extraHeaders = extraHeaders;
if (transports != null) options.transports = transports;
for (const [k, v] of Object.entries(rest)) if (v === null) delete options[k];

const socket = io(url, options);

socket.on("connect", () => out({ type: "connect", id: socket.id }));
socket.on("connect_error", (err) =>
  out({ type: "connect_error", message: err?.message ?? String(err), data: toJson(err?.data ?? null) }),
);
socket.on("disconnect", (reason) => out({ type: "disconnect", reason }));
socket.onAny((name, ...args) =>
  out({ type: "event", name, args: toJson(args), t: performance.timeOrigin + performance.now() }),
);

let exiting = false;
function exit(code) {
  if (exiting) return;
  exiting = true;
  socket.disconnect();
  // A moment for the DISCONNECT packet to leave, then go once stdout has drained.
  setTimeout(() => process.stdout.write("", () => process.exit(code)), 100);
}

// The same as `socket.timeout(ACK_TIMEOUT_MS).emitWithAck(event, ...args)`, whose promise resolves with the
// first ack argument only; the callback form of the same timed emit gets them all.
function emitWithAck(id, event, args) {
  socket.timeout(ACK_TIMEOUT_MS).emit(event, ...args, (err, ...response) => {
    if (!err) {
      out({ type: "ack", id, args: toJson(response) });
    } else if (err.message === "operation has timed out") {
      out({ type: "ack", id, error: "timeout" });
    } else {
      process.stderr.write(`client.mjs: ack of ${event}: ${err?.stack ?? err}\n`);
      out({ type: "ack", id, error: String(err?.message ?? err) });
    }
  });
}

function handle(line) {
  if (line.trim() === "") return;
  let cmd;
  try {
    cmd = JSON.parse(line);
  } catch (err) {
    process.stderr.write(`client.mjs: ignoring a command that is not JSON (${err.message}): ${line}\n`);
    return;
  }
  switch (cmd?.cmd) {
    case "emit": {
      if (typeof cmd.event !== "string") {
        process.stderr.write(`client.mjs: emit needs an "event" string: ${line}\n`);
        return;
      }
      const args = cmd.args == null ? [] : Array.isArray(cmd.args) ? fromJson(cmd.args) : [fromJson(cmd.args)];
      if (cmd.ack_id != null) {
        emitWithAck(cmd.ack_id, cmd.event, args);
      } else {
        socket.emit(cmd.event, ...args);
      }
      return;
    }
    case "disconnect":
      socket.disconnect();
      return;
    case "connect":
      socket.connect();
      return;
    case "exit":
      exit(0);
      return;
    default:
      process.stderr.write(`client.mjs: ignoring an unknown command: ${line}\n`);
  }
}

const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
rl.on("line", (line) => {
  try {
    handle(line);
  } catch (err) {
    process.stderr.write(`client.mjs: command failed: ${line}\n${err?.stack ?? err}\n`);
  }
});
rl.on("close", () => exit(0));
