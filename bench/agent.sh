#!/usr/bin/env bash
# Issue 4 benchmarks: the agent-device workload, the 100k download and the realtime fan-out, on SQLite
# and on PostgreSQL (a throwaway cluster with stock settings, fsync on). Release binaries over real HTTP
# on loopback; never part of the tests.
#
# Usage: bench/agent.sh
# Knobs: DURATION (10, seconds per agent run), RUNS (3; medians are reported), DEVICES (50),
#        WRITE_RATIO (0.2), AGENT_RATE (10000: one more agent run at this fixed rate, open loop,
#        latencies from when each request was due; 0 = skip), SEED_COUNT (100000), FANOUT_CLIENTS ("50 1000 5000 10000"),
#        FANOUT_WRITES (50), FANOUT_CLIENT=rust|node|both (rust: `loadgen fanout`; node: fanout.mjs;
#        both: Rust then Node at each client count), FANOUT_THREADS (loadgen fanout's client threads;
#        default 1 up to 1,000 clients, 2 above: one thread is cheaper for few clients, two finish
#        10,000 receipts sooner), FANOUT_INTERVAL_MS (0: `loadgen fanout --interval-ms`, writes and
#        baseline writes at least this far apart, so the REST baseline is taken at the same pace), ONLY=sqlite|postgres, SKIP_BUILD=1, LOADGEN_THREADS (1),
#        PERF=1 (one extra agent run under `perf record`, report in the results), RUST_LOG (warn),
#        WAIT_IDLE (600: before each measurement, wait up to this many seconds until the rest of the
#        machine uses at most IDLE_MAX cores, default 0.3; 0 = do not wait).
# Every measurement also records the CPU of loadgen/the clients, the server, PostgreSQL and the whole
# machine; "other" is what anything else used meanwhile (a disturbed measurement when it is not ~0).
# Output: bench/results/<timestamp>/{sqlite,postgres}/*.json (gitignored), server logs, and a summary
#         table at the end (also in summary.txt).
#
# Thousands of sockets need file descriptors, in the server and in the fan-out clients: the script
# raises `ulimit -n` first (65535, or the hard limit when that is lower, e.g. 20000 in a container
# without CAP_SYS_RESOURCE); the server and the fan-out clients (loadgen or node) inherit it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

DURATION="${DURATION:-10}"
RUNS="${RUNS:-3}"
DEVICES="${DEVICES:-50}"
WRITE_RATIO="${WRITE_RATIO:-0.2}"
AGENT_RATE="${AGENT_RATE:-10000}"
SEED_COUNT="${SEED_COUNT:-100000}"
FANOUT_CLIENTS="${FANOUT_CLIENTS:-50 1000 5000 10000}"
FANOUT_WRITES="${FANOUT_WRITES:-50}"
FANOUT_CLIENT="${FANOUT_CLIENT:-rust}"
FANOUT_THREADS="${FANOUT_THREADS:-}"
FANOUT_INTERVAL_MS="${FANOUT_INTERVAL_MS:-0}"
ONLY="${ONLY:-}"
WAIT_IDLE="${WAIT_IDLE:-600}"
IDLE_MAX="${IDLE_MAX:-0.3}"
LOADGEN_THREADS="${LOADGEN_THREADS:-1}"
PERF="${PERF:-0}"
# Per-request logging at info would measure the logger, not the server.
export RUST_LOG="${RUST_LOG:-warn}"

section() { printf '\n==> %s\n' "$*" >&2; }
info() { printf '    %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

case "$ONLY" in "" | sqlite | postgres) ;; *) die "ONLY must be sqlite or postgres" ;; esac
case "$FANOUT_CLIENT" in rust | node | both) ;; *) die "FANOUT_CLIENT must be rust, node or both" ;; esac
TOOLS="curl python3"
[ "$FANOUT_CLIENT" = rust ] || TOOLS="$TOOLS node npm"
for tool in $TOOLS; do command -v "$tool" >/dev/null || die "$tool is required"; done

# ---------------------------------------------------------------- file descriptors

ulimit -n 65535 2>/dev/null || ulimit -n "$(ulimit -Hn)"
NOFILE="$(ulimit -n)"
MAX_CLIENTS=0
for c in $FANOUT_CLIENTS; do [ "$c" -gt "$MAX_CLIENTS" ] && MAX_CLIENTS="$c"; done
info "ulimit -n = $NOFILE"
[ "$NOFILE" -gt $((MAX_CLIENTS + 200)) ] || die "ulimit -n $NOFILE is too low for $MAX_CLIENTS sockets"

# ---------------------------------------------------------------- build

BIN="$ROOT/target/release/switchboard"
LOADGEN="$ROOT/target/release/loadgen"
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  section "cargo build --release -p switchboard -p switchboard-loadgen"
  cargo build --release -p switchboard -p switchboard-loadgen
fi
# A build leaves dirty pages that the kernel writes back over the next half minute, during the first (SQLite)
# measurements, whose commits and checkpoints would share the disk with it. Write them back first.
sync
[ -x "$BIN" ] || die "$BIN not found"
[ -x "$LOADGEN" ] || die "$LOADGEN not found"
if [ "$FANOUT_CLIENT" != rust ] && [ ! -d bench/fanout/node_modules/socket.io-client ]; then
  section "npm ci (bench/fanout)"
  (cd bench/fanout && npm ci --no-audit --no-fund)
fi

RESULTS="$ROOT/bench/results/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$RESULTS"
TMP="$(mktemp -d /tmp/switchboard-agent-bench.XXXXXX)"
chmod 755 "$TMP"
# Run copies: a rebuild in the checkout during the run must not mix two servers in one result.
cp "$BIN" "$TMP/switchboard"
cp "$LOADGEN" "$TMP/loadgen"
BIN="$TMP/switchboard"
LOADGEN="$TMP/loadgen"
{
  echo "date: $(date -u +%FT%TZ)"
  echo "nproc: $(nproc)"
  lscpu | grep 'Model name' || true
  grep MemTotal /proc/meminfo
  echo "ulimit -n: $NOFILE"
  echo "git: $(git rev-parse --short HEAD 2>/dev/null || echo '?'); changed files: $(git status --short 2>/dev/null | grep -v '^??' | awk '{print $2}' | tr '\n' ' ')"
  echo "server binary: sha256 $(sha256sum "$BIN" | cut -c1-16)"
  echo "DURATION=$DURATION RUNS=$RUNS DEVICES=$DEVICES WRITE_RATIO=$WRITE_RATIO SEED_COUNT=$SEED_COUNT"
  echo "FANOUT_CLIENTS=$FANOUT_CLIENTS FANOUT_WRITES=$FANOUT_WRITES FANOUT_CLIENT=$FANOUT_CLIENT FANOUT_THREADS=${FANOUT_THREADS:-1 up to 1000 clients, 2 above} FANOUT_INTERVAL_MS=$FANOUT_INTERVAL_MS LOADGEN_THREADS=$LOADGEN_THREADS"
} >"$RESULTS/machine.txt"
cat "$RESULTS/machine.txt" >&2

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# ---------------------------------------------------------------- PostgreSQL (stock settings)

PG_BINDIR=''
PG_TMP=''
PG_DATA=''
PG_PORT=''
DB_PID=''
PG_USER="$(id -un)"
[ "$(id -u)" = 0 ] && { if id postgres >/dev/null 2>&1; then PG_USER=postgres; else PG_USER=nobody; fi; }

as_pg() {
  if [ "$(id -u)" = 0 ]; then
    (cd "$PG_TMP" && runuser -u "$PG_USER" -- "$@")
  else
    (cd "$PG_TMP" && "$@")
  fi
}

start_pg() {
  local dir
  for dir in $(printf '%s\n' /usr/lib/postgresql/*/bin 2>/dev/null | sort -rV); do
    if [ -x "$dir/pg_ctl" ] && [ -x "$dir/initdb" ]; then PG_BINDIR="$dir"; break; fi
  done
  [ -n "$PG_BINDIR" ] || die "no PostgreSQL in /usr/lib/postgresql/*/bin (apt-get install postgresql)"
  PG_TMP="$(mktemp -d /tmp/switchboard-bench-pg.XXXXXX)"
  PG_DATA="$PG_TMP/data"
  mkdir -p "$PG_TMP/sock"
  [ "$(id -u)" = 0 ] && chown -R "$PG_USER" "$PG_TMP"
  as_pg "$PG_BINDIR/initdb" -D "$PG_DATA" -A trust -U postgres -E UTF8 --locale=C >"$PG_TMP/initdb.log" 2>&1 ||
    { cat "$PG_TMP/initdb.log" >&2; die "initdb failed"; }
  # Stock settings: fsync, synchronous_commit and full_page_writes stay on; only where to listen.
  PG_PORT="$(free_port)"
  as_pg "$PG_BINDIR/pg_ctl" -D "$PG_DATA" -l "$PG_TMP/postgres.log" -w -t 60 \
    -o "-p $PG_PORT -k $PG_TMP/sock -c listen_addresses=127.0.0.1" start >/dev/null ||
    { cat "$PG_TMP/postgres.log" >&2; die "could not start PostgreSQL"; }
  DB_PID="$(head -n1 "$PG_DATA/postmaster.pid")"
  info "PostgreSQL $("$PG_BINDIR/postgres" --version | awk '{print $NF}') on 127.0.0.1:$PG_PORT (stock settings), data in $PG_DATA"
  as_pg "$PG_BINDIR/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -Atc \
    "select name || '=' || setting from pg_settings where name in ('fsync','synchronous_commit','full_page_writes','shared_buffers','max_connections') order by name" \
    >"$RESULTS/postgres-settings.txt"
  tr '\n' ' ' <"$RESULTS/postgres-settings.txt" | sed 's/^/    /' >&2; echo >&2
}

pg_createdb() { as_pg "$PG_BINDIR/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres "$1"; }

stop_pg() {
  [ -n "$PG_TMP" ] || return 0
  if [ -f "$PG_DATA/postmaster.pid" ]; then
    cp "$PG_TMP/postgres.log" "$RESULTS/postgres.log" 2>/dev/null || true
    as_pg "$PG_BINDIR/pg_ctl" -D "$PG_DATA" -m fast -w -t 30 stop >/dev/null 2>&1 || true
    local pid
    pid="$(head -n1 "$PG_DATA/postmaster.pid" 2>/dev/null || true)"
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  fi
  rm -rf "$PG_TMP"
  PG_TMP=''
  DB_PID=''
}

# ---------------------------------------------------------------- server

SERVER_PID=''
BASE=''
API_KEY=''
AGENT_KEY=''
SERVER_LOG=''

# start_server NAME DATA_DIR [DATABASE_URL]: a fresh server; sets SERVER_PID, BASE, API_KEY, AGENT_KEY.
start_server() {
  local name="$1" data="$2" db="${3:-}" port
  port="$(free_port)"
  BASE="http://127.0.0.1:$port"
  SERVER_LOG="$RESULTS/$name.server"
  local args=(serve --bind "127.0.0.1:$port" --data-dir "$data" --rate-limit-per-minute 0)
  [ -n "$db" ] && args+=(--database-url "$db")
  "$BIN" "${args[@]}" >"$SERVER_LOG.out" 2>"$SERVER_LOG.err" &
  SERVER_PID=$!
  local i
  for i in $(seq 600); do
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$SERVER_LOG.err" >&2; die "server exited"; }
    curl -fs -o /dev/null "$BASE/health" && break
    sleep 0.1
  done
  curl -fs -o /dev/null "$BASE/health" || die "server not ready after 60 s"
  API_KEY=''
  for i in $(seq 50); do
    API_KEY="$(grep -o -m1 'sk_[A-Za-z0-9_-]*' "$SERVER_LOG.out" || true)"
    [ -n "$API_KEY" ] && break
    sleep 0.1
  done
  [ -n "$API_KEY" ] || die "no bootstrap api key on the server's stdout ($SERVER_LOG.out)"
  # The agent BENCH and a key bound to it (contacts:read contacts:write by default).
  api POST /api/v1/agents '{"code":"BENCH","name":"Benchmark"}' >/dev/null
  AGENT_KEY="$(api POST /api/v1/api-keys '{"name":"bench","agent_code":"BENCH"}' |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')"
  info "server pid $SERVER_PID on $BASE; agent BENCH key ${AGENT_KEY:0:12}…"
}

# api METHOD PATH BODY: an admin call with the bootstrap key; fails on non-2xx.
api() {
  curl -fsS -X "$1" "$BASE$2" -H "Authorization: Bearer $API_KEY" -H 'content-type: application/json' -d "$3" ||
    die "$1 $2 failed"
}

stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  if kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
  fi
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=''
}

# rss NAME: VmRSS and VmHWM (peak) of the server, in kB, into NAME.rss.json.
rss() {
  local out="$1"
  awk '/^VmRSS:/ {r=$2} /^VmHWM:/ {h=$2} /^RssAnon:/ {a=$2} END {printf "{\"rss_kb\": %d, \"hwm_kb\": %d, \"anon_kb\": %d}\n", r, h, a}' \
    "/proc/$SERVER_PID/status" >"$out"
  info "RSS $(python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print("%.1f MiB, peak %.1f MiB, own memory (RssAnon) %.1f MiB" % (d["rss_kb"] / 1024, d["hwm_kb"] / 1024, d["anon_kb"] / 1024))' "$out")"
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_server
  stop_pg
  rm -rf "$TMP"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The server's pid lets loadgen report the server's CPU use next to its own (is the generator the limit?).
lg() { "$LOADGEN" --threads "$LOADGEN_THREADS" --server-pid "$SERVER_PID" ${DB_PID:+--db-pid "$DB_PID"} "$@"; }

# wait_idle WHAT: before a measurement, wait (up to WAIT_IDLE s) until the machine is quiet apart from
# our idle server; noted in warnings.txt when it never is. A shared machine gives disturbed figures.
wait_idle() {
  [ "$WAIT_IDLE" -gt 0 ] || return 0
  python3 - "$IDLE_MAX" "$WAIT_IDLE" <<'EOF' >&2 || echo "$(date -u +%T) $1: machine busy, measured anyway" >>"$RESULTS/warnings.txt"
import sys, time
limit, wait = float(sys.argv[1]), float(sys.argv[2])
def busy():
    v = [int(x) for x in open("/proc/stat").readline().split()[1:9]]
    return sum(v) - v[3] - v[4]
deadline, said = time.time() + wait, False
while True:
    b0 = busy(); time.sleep(2); cores = (busy() - b0) / 100 / 2
    if cores <= limit:
        sys.exit(0)
    if not said:
        print(f"    waiting for an idle machine ({cores:.2f} cores busy)"); said = True
    if time.time() > deadline:
        print("    machine still busy; measuring anyway"); sys.exit(1)
EOF
}

fanout_processes() {
  local n="$1"
  if [ "$n" -le 100 ]; then echo 1; elif [ "$n" -le 1000 ]; then echo 2; elif [ "$n" -le 5000 ]; then echo 4; else echo 8; fi
}

# ---------------------------------------------------------------- one backend

# bench_backend NAME: phase 1 (trivial, agent runs, RSS) on a fresh database, then phase 2 (seed,
# download runs, fan-out) on another fresh one, so the download is exactly SEED_COUNT contacts.
bench_backend() {
  local name="$1" out="$RESULTS/$1" db1='' db2='' i
  mkdir -p "$out"
  if [ "$name" = postgres ]; then
    start_pg
    pg_createdb bench_agent
    pg_createdb bench_seed
    db1="postgres://postgres@127.0.0.1:$PG_PORT/bench_agent"
    db2="postgres://postgres@127.0.0.1:$PG_PORT/bench_seed"
  fi

  section "$name: agent workload"
  start_server "$name-agent" "$TMP/$name-agent" "$db1"
  sleep 1
  rss "$out/rss-idle.json"
  wait_idle "$name trivial"
  info "loadgen trivial ($BASE/health, 50 connections, ${DURATION} s)"
  lg trivial --url "$BASE/health" --connections 50 --duration "$DURATION" >"$out/trivial.json"
  for i in $(seq "$RUNS"); do
    wait_idle "$name agent $i"
    info "loadgen agent run $i/$RUNS ($DEVICES devices, ${DURATION} s, write ratio $WRITE_RATIO)"
    lg agent --url "$BASE" --key "$AGENT_KEY" --agent-code BENCH --devices "$DEVICES" \
      --duration "$DURATION" --write-ratio "$WRITE_RATIO" --seed "$i" >"$out/agent-$i.json"
  done
  if [ "$AGENT_RATE" != 0 ]; then
    wait_idle "$name agent at $AGENT_RATE req/s"
    info "loadgen agent at a fixed $AGENT_RATE req/s ($DEVICES devices, ${DURATION} s)"
    lg agent --url "$BASE" --key "$AGENT_KEY" --agent-code BENCH --devices "$DEVICES" --rate "$AGENT_RATE" \
      --duration "$DURATION" --write-ratio "$WRITE_RATIO" --seed 50 >"$out/agent-rate.json"
  fi
  rss "$out/rss-agent.json"
  if [ "$PERF" = 1 ] && command -v perf >/dev/null; then
    info "perf record during one more agent run"
    perf record -F 499 -g -p "$SERVER_PID" -o "$out/perf.data" -- sleep "$DURATION" >/dev/null 2>&1 &
    local perf_pid=$!
    lg agent --url "$BASE" --key "$AGENT_KEY" --agent-code BENCH --devices "$DEVICES" \
      --duration "$DURATION" --write-ratio "$WRITE_RATIO" --seed 99 >"$out/agent-perf.json"
    wait "$perf_pid" || true
    perf report -i "$out/perf.data" --no-children --sort comm,dso,symbol -g none --percent-limit 0.3 --stdio \
      2>/dev/null | grep "%" | sed "s/ \{2,\}/ /g; s/ - - *\$//" | head -80 >"$out/perf.txt" || true
    rm -f "$out/perf.data"
  fi
  stop_server

  section "$name: seed $SEED_COUNT, download, fan-out"
  start_server "$name-seed" "$TMP/$name-seed" "$db2"
  lg seed --url "$BASE" --key "$AGENT_KEY" --agent-code BENCH --count "$SEED_COUNT" >"$out/seed.json"
  for i in $(seq "$RUNS"); do
    wait_idle "$name download $i"
    info "loadgen download run $i/$RUNS"
    lg download --url "$BASE" --key "$AGENT_KEY" --agent-code BENCH --limit 1000 >"$out/download-$i.json"
  done
  rss "$out/rss-download.json"
  local c p
  for c in $FANOUT_CLIENTS; do
    # Rust clients (`loadgen fanout`): fanout-<n>.json; Node clients (fanout.mjs): fanout-node-<n>.json.
    if [ "$FANOUT_CLIENT" != node ]; then
      wait_idle "$name fanout $c"
      info "fanout (loadgen): $c clients, $FANOUT_WRITES writes"
      local threads="${FANOUT_THREADS:-$([ "$c" -gt 1000 ] && echo 2 || echo 1)}"
      "$LOADGEN" --threads "$threads" --server-pid "$SERVER_PID" ${DB_PID:+--db-pid "$DB_PID"} \
        fanout --url "$BASE" --key "$AGENT_KEY" --agent-code BENCH --clients "$c" --writes "$FANOUT_WRITES" \
        --interval-ms "$FANOUT_INTERVAL_MS" \
        >"$out/fanout-$c.json"
      rss "$out/rss-fanout-$c.json"
      sleep 2 # let the previous clients' disconnects settle
    fi
    if [ "$FANOUT_CLIENT" != rust ]; then
      p="$(fanout_processes "$c")"
      wait_idle "$name fanout node $c"
      info "fanout (node): $c clients in $p processes, $FANOUT_WRITES writes"
      node bench/fanout/fanout.mjs --url "$BASE" --key "$AGENT_KEY" --agent-code BENCH \
        --clients "$c" --processes "$p" --writes "$FANOUT_WRITES" --server-pid "$SERVER_PID" ${DB_PID:+--db-pid "$DB_PID"} >"$out/fanout-node-$c.json"
      rss "$out/rss-fanout-node-$c.json"
      sleep 2
    fi
  done
  stop_server
  stop_pg
}

[ "$ONLY" = postgres ] || bench_backend sqlite
[ "$ONLY" = sqlite ] || bench_backend postgres

# ---------------------------------------------------------------- summary

section "summary"
python3 - "$RESULTS" <<'EOF' | tee "$RESULTS/summary.txt"
import glob, json, os, statistics, sys

root = sys.argv[1]
def load(path):
    try:
        return json.load(open(path))
    except (OSError, ValueError):
        return None

def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None

def f(v, fmt="{:,.0f}"):
    return "–" if v is None else fmt.format(v)

print(open(os.path.join(root, "machine.txt")).read())
for backend in ("sqlite", "postgres"):
    d = os.path.join(root, backend)
    if not os.path.isdir(d):
        continue
    trivial = load(os.path.join(d, "trivial.json")) or {}
    agents = [load(p) for p in sorted(glob.glob(os.path.join(d, "agent-[0-9]*.json")))]
    agents = [a for a in agents if a]
    downloads = [load(p) for p in sorted(glob.glob(os.path.join(d, "download-*.json")))]
    downloads = [x for x in downloads if x]
    seed = load(os.path.join(d, "seed.json")) or {}
    rss = {k: load(os.path.join(d, f"rss-{k}.json")) or {} for k in ("idle", "agent", "download")}
    print(f"== {backend}")
    def cpu(x):
        c = (x or {}).get("cpu") or {}
        g = lambda k: f(c.get(k), "{:.2f}")
        return (f"CPU cores: loadgen {g('loadgen_cores')}, server {g('server_cores')}, database {g('db_cores')}, "
                f"other {g('other_cores')}")
    print(f"trivial /health (50 conn): {f(trivial.get('rps'))} req/s, p50 {f(trivial.get('p50_ms'), '{:.2f}')} ms, "
          f"p99 {f(trivial.get('p99_ms'), '{:.2f}')} ms, errors {trivial.get('errors')}; {cpu(trivial)}")
    if agents:
        print(f"agent ({agents[0]['devices']} devices, write ratio {agents[0]['write_ratio']}), runs: "
              + "; ".join(f"{a['rps']:,.0f} req/s p99 {a['p99_ms']:.2f} ms" for a in agents))
        print(f"  median: {f(med([a['rps'] for a in agents]))} req/s, p50 {f(med([a['p50_ms'] for a in agents]), '{:.2f}')} ms, "
              f"p90 {f(med([a['p90_ms'] for a in agents]), '{:.2f}')} ms, p99 {f(med([a['p99_ms'] for a in agents]), '{:.2f}')} ms, "
              f"max {f(med([a['max_ms'] for a in agents]), '{:.1f}')} ms, errors {sum(a['errors'] for a in agents)}")
        for a in agents:
            print(f"  run {a['rps']:,.0f} req/s: {cpu(a)}")
        for kind in ("delta", "create", "update"):
            ks = [a["kinds"].get(kind) for a in agents if a["kinds"].get(kind)]
            if ks:
                print(f"  {kind:<7} median {f(med([k['requests'] / a['seconds'] for k, a in zip(ks, agents)]))} req/s, "
                      f"p50 {f(med([k['p50_ms'] for k in ks]), '{:.2f}')} ms, p99 {f(med([k['p99_ms'] for k in ks]), '{:.2f}')} ms, "
                      f"server mean {f(med([k['server_mean_ms'] for k in ks]), '{:.3f}')} ms")
    fixed = load(os.path.join(d, "agent-rate.json"))
    if fixed:
        ks = fixed["kinds"]
        print(f"agent at a fixed {fixed['rate_target']:,.0f} req/s (open loop): {fixed['rps']:,.0f} req/s, "
              f"p50 {fixed['p50_ms']:.2f} ms, p99 {fixed['p99_ms']:.2f} ms, max {fixed['max_ms']:.1f} ms, errors {fixed['errors']}; "
              + ", ".join(f"{k} p50 {ks[k]['p50_ms']:.2f} / p99 {ks[k]['p99_ms']:.2f} ms" for k in ("delta", "create", "update") if k in ks))
    for k, v in rss.items():
        if v:
            print(f"RSS after {k}: {v['rss_kb'] / 1024:.1f} MiB (peak {v['hwm_kb'] / 1024:.1f} MiB)")
    if seed:
        print(f"seed: {seed.get('created'):,} contacts in {seed.get('seconds'):.1f} s ({f(seed.get('contacts_per_second'))}/s), "
              f"failed {seed.get('failed')}, errors {seed.get('errors')}")
    for x in [seed] + downloads:
        if x.get("cpu"):
            print(f"  {x['command']}: {cpu(x)}")
    if downloads:
        print(f"download ({downloads[0]['contacts']:,} contacts, {downloads[0]['pages']} pages of {downloads[0]['limit']}): "
              f"median wall {f(med([x['wall_ms'] for x in downloads]))} ms, server {f(med([x['server_ms'] for x in downloads]))} ms; runs "
              + "; ".join(f"{x['wall_ms']:.0f}/{x['server_ms']:.0f} ms" for x in downloads))
    # fanout-<n>.json (loadgen, or fanout.mjs before FANOUT_CLIENT existed) and fanout-node-<n>.json.
    def fanout_order(p):
        label, _, n = os.path.basename(p)[len("fanout-"):-len(".json")].rpartition("-")
        return (int(n), label)
    print(f"{'fan-out clients':>16} {'client':>6} {'procs':>5} {'conn s':>7} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8} "
          f"{'lost':>6} {'REST p50':>9} {'REST p99':>9} {'no-client p50/p99':>18} {'peak RSS':>9} {'srv CPU/write':>13} {'cli CPU/write':>13} {'other CPU':>9}")
    for p in sorted(glob.glob(os.path.join(d, "fanout-*.json")), key=fanout_order):
        x = load(p)
        if not x:
            print(f"{os.path.basename(p)}: no result")
            continue
        r = load(os.path.join(d, "rss-" + os.path.basename(p))) or {}
        L, R, B = x["latency_ms"], x["rest_ms"], x["rest_baseline_ms"]
        print(f"{x['clients']:>16,} {x.get('client', 'node'):>6} {x['processes']:>5} {x['connect_seconds']:>7.1f} {f(L['p50'], '{:.2f}'):>8} {f(L['p90'], '{:.2f}'):>8} "
              f"{f(L['p99'], '{:.2f}'):>8} {f(L['max'], '{:.1f}'):>8} {x['lost_events']:>6} {f(R['p50'], '{:.2f}'):>9} "
              f"{f(R['p99'], '{:.2f}'):>9} {f(B['p50'], '{:.2f}') + ' / ' + f(B['p99'], '{:.2f}'):>18} "
              f"{(r.get('hwm_kb', 0) / 1024):>7.1f} M "
              f"{f((x.get('server_cpu_ms') or 0) / max(1, x['writes']), '{:.1f}') + ' ms':>13} "
              f"{f((x.get('clients_cpu_ms') or 0) / max(1, x['writes']), '{:.1f}') + ' ms':>13} "
              f"{f((x.get('other_cpu_ms') or 0) / 1000 / max(0.001, x.get('measure_seconds') or 0), '{:.2f}') + ' c':>9}")
    print()
EOF
[ -s "$RESULTS/warnings.txt" ] && { echo "WARNINGS (disturbed measurements):"; cat "$RESULTS/warnings.txt"; } >&2
echo "raw results in ${RESULTS#"$ROOT"/}" >&2
