#!/usr/bin/env bash
# Issue 5 benchmarks: caller lookup and desk-phone directories on a workspace of COUNT generated contacts,
# on SQLite and on PostgreSQL (a throwaway cluster with stock settings, fsync on). Lookups/s over real
# HTTP on loopback (`loadgen lookup`), then lookup and Cisco page latency in-process (the cargo bench
# `directory_lookup`) on the same database. Never part of the tests.
#
# Usage: bench/directory.sh
# Knobs: COUNT (1000000 contacts), SEED (1), DURATION (10, seconds per lookup run), RUNS (3; medians are
#        reported), CONNECTIONS (50), MISS_RATIO (0.1), INPROCESS_RUNS (3), BENCH_ITERATIONS (2000) and
#        BENCH_SECONDS (10: at most this long per in-process operation), ONLY=sqlite|postgres,
#        SKIP_BUILD=1, LOADGEN_THREADS (1), RUST_LOG (warn), WAIT_IDLE (600: before each measurement, wait
#        up to this many seconds until the rest of the machine uses at most IDLE_MAX cores, default 0.3;
#        0 = do not wait), PERF=1 (one more lookup run under `perf record`, flat profile in the results).
#
# Contacts are generated with `switchboard admin generate-contacts` straight through the store, phones
# included, WITHOUT change-feed rows (see crates/server/src/contacts/generate.rs). A running server keeps
# the latest changes in memory and would not see such versions, so the server is stopped while they are
# generated and started again afterwards. On PostgreSQL the script then runs ANALYZE (what autovacuum
# does on its own within a minute or so of a bulk load); SQLite gets no statistics, as in production
# (the server never runs ANALYZE).
#
# Output: bench/results/<timestamp>/{sqlite,postgres}/ (gitignored): generate.txt, lookup-<n>.json,
# cnam.json, trivial.json, inprocess-<n>.json (+ .txt with divan's table), server logs, and summary.txt.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

COUNT="${COUNT:-1000000}"
SEED="${SEED:-1}"
DURATION="${DURATION:-10}"
RUNS="${RUNS:-3}"
CONNECTIONS="${CONNECTIONS:-50}"
MISS_RATIO="${MISS_RATIO:-0.1}"
INPROCESS_RUNS="${INPROCESS_RUNS:-3}"
export BENCH_ITERATIONS="${BENCH_ITERATIONS:-2000}"
export BENCH_SECONDS="${BENCH_SECONDS:-10}"
ONLY="${ONLY:-}"
WAIT_IDLE="${WAIT_IDLE:-600}"
IDLE_MAX="${IDLE_MAX:-0.3}"
LOADGEN_THREADS="${LOADGEN_THREADS:-1}"
PERF="${PERF:-0}"
export RUST_LOG="${RUST_LOG:-warn}"

section() { printf '\n==> %s\n' "$*" >&2; }
info() { printf '    %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

case "$ONLY" in "" | sqlite | postgres) ;; *) die "ONLY must be sqlite or postgres" ;; esac
for tool in curl python3; do command -v "$tool" >/dev/null || die "$tool is required"; done

# ---------------------------------------------------------------- build

BIN="$ROOT/target/release/switchboard"
LOADGEN="$ROOT/target/release/loadgen"
BENCH_BIN_PATH="$ROOT/target/release/directory_lookup.path"
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  section "cargo build --release -p switchboard -p switchboard-loadgen; cargo bench --no-run (directory_lookup)"
  cargo build --release -p switchboard -p switchboard-loadgen
  # The bench executable's path is only printed by cargo; remember it for SKIP_BUILD runs.
  cargo bench -p switchboard-server --bench directory_lookup --no-run 2>&1 | tee /dev/stderr |
    sed -n 's/.*Executable .*(\(.*directory_lookup-[0-9a-f]*\)).*/\1/p' | tail -n1 >"$BENCH_BIN_PATH"
fi
[ -x "$BIN" ] || die "$BIN not found"
[ -x "$LOADGEN" ] || die "$LOADGEN not found"
BENCH_BIN="$(cat "$BENCH_BIN_PATH" 2>/dev/null || true)"
case "$BENCH_BIN" in /*) ;; ?*) BENCH_BIN="$ROOT/$BENCH_BIN" ;; esac
[ -n "$BENCH_BIN" ] && [ -x "$BENCH_BIN" ] || die "the directory_lookup bench executable was not found (run without SKIP_BUILD=1)"

RESULTS="$ROOT/bench/results/$(date +%Y%m%d-%H%M%S)-directory"
mkdir -p "$RESULTS"
TMP="$(mktemp -d /tmp/switchboard-directory-bench.XXXXXX)"
chmod 755 "$TMP"
# Run copies: a rebuild in the checkout during the run must not mix two builds in one result.
cp "$BIN" "$TMP/switchboard"
cp "$LOADGEN" "$TMP/loadgen"
cp "$BENCH_BIN" "$TMP/directory_lookup"
BIN="$TMP/switchboard"
LOADGEN="$TMP/loadgen"
BENCH_BIN="$TMP/directory_lookup"
{
  echo "date: $(date -u +%FT%TZ)"
  echo "nproc: $(nproc)"
  lscpu | grep 'Model name' || true
  grep MemTotal /proc/meminfo
  echo "uptime: $(uptime)"
  echo "git: $(git rev-parse --short HEAD 2>/dev/null || echo '?'); changed files: $(git status --short 2>/dev/null | grep -v '^??' | awk '{print $2}' | tr '\n' ' ')"
  echo "server binary: sha256 $(sha256sum "$BIN" | cut -c1-16)"
  echo "COUNT=$COUNT SEED=$SEED DURATION=$DURATION RUNS=$RUNS CONNECTIONS=$CONNECTIONS MISS_RATIO=$MISS_RATIO"
  echo "INPROCESS_RUNS=$INPROCESS_RUNS BENCH_ITERATIONS=$BENCH_ITERATIONS BENCH_SECONDS=$BENCH_SECONDS LOADGEN_THREADS=$LOADGEN_THREADS"
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
  psql_pg -c "select name || '=' || setting from pg_settings where name in ('fsync','synchronous_commit','full_page_writes','shared_buffers','max_connections') order by name" \
    >"$RESULTS/postgres-settings.txt"
  tr '\n' ' ' <"$RESULTS/postgres-settings.txt" | sed 's/^/    /' >&2; echo >&2
}

psql_pg() { as_pg "$PG_BINDIR/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -Atq "$@"; }

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
SERVER_LOG=''
SLUG=''

# start_server NAME DATA_DIR [DATABASE_URL]: sets SERVER_PID and BASE; on the first start of a database
# also API_KEY (the bootstrap key) and SLUG (the bootstrap workspace).
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
  if [ -z "$API_KEY" ]; then
    for i in $(seq 50); do
      API_KEY="$(grep -o -m1 'sk_[A-Za-z0-9_-]*' "$SERVER_LOG.out" || true)"
      [ -n "$API_KEY" ] && break
      sleep 0.1
    done
    [ -n "$API_KEY" ] || die "no bootstrap api key on the server's stdout ($SERVER_LOG.out)"
    SLUG="$(sed -n "s/.*created workspace '.*' (\(.*\))\..*/\1/p" "$SERVER_LOG.out" | head -n1)"
    [ -n "$SLUG" ] || die "no workspace slug on the server's stdout ($SERVER_LOG.out)"
  fi
  info "server pid $SERVER_PID on $BASE (workspace $SLUG)"
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

# rss NAME: VmRSS, VmHWM (peak) and RssAnon of the server, in kB, into NAME. RssAnon is the server's own
# memory: VmRSS also counts the SQLite file's pages mapped by each connection (`sqlite_mmap_mib`), which are
# the shared OS file cache.
rss() {
  local out="$1"
  awk '/^VmRSS:/ {r=$2} /^VmHWM:/ {h=$2} /^RssAnon:/ {a=$2} END {printf "{\"rss_kb\": %d, \"hwm_kb\": %d, \"anon_kb\": %d}\n", r, h, a}' \
    "/proc/$SERVER_PID/status" >"$out"
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

# ---------------------------------------------------------------- one backend

bench_backend() {
  local name="$1" out="$RESULTS/$1" db='' data="$TMP/$1" i
  mkdir -p "$out"
  API_KEY=''
  SLUG=''
  if [ "$name" = postgres ]; then
    start_pg
    as_pg "$PG_BINDIR/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres bench_directory
    db="postgres://postgres@127.0.0.1:$PG_PORT/bench_directory"
  fi
  local url="${db:-sqlite://$data/switchboard.db}"
  local db_args=(--data-dir "$data")
  [ -n "$db" ] && db_args+=(--database-url "$db")

  section "$name: bootstrap, generate $COUNT contacts"
  start_server "$name-bootstrap" "$data" "$db"
  stop_server
  local t0 t1
  t0="$(date +%s.%N)"
  "$BIN" "${db_args[@]}" admin generate-contacts --workspace "$SLUG" --count "$COUNT" --seed "$SEED" |
    tee "$out/generate.txt" | sed 's/^/    /' >&2
  t1="$(date +%s.%N)"
  if [ "$name" = postgres ]; then
    info "ANALYZE (autovacuum would within a minute or so)"
    psql_pg -d bench_directory -c "ANALYZE"
  fi
  du -sk "$data" ${PG_DATA:+"$PG_DATA"} 2>/dev/null | awk '{s+=$1} END {printf "{\"disk_kb\": %d}\n", s}' >"$out/disk.json"
  python3 -c 'import json,sys; print(json.dumps({"count": int(sys.argv[1]), "seconds": float(sys.argv[3]) - float(sys.argv[2])}))' \
    "$COUNT" "$t0" "$t1" >"$out/generate.json"

  section "$name: lookups over HTTP"
  start_server "$name" "$data" "$db"
  local key token
  key="$(api POST /api/v1/api-keys '{"name":"lookup bench","scopes":["contacts:read"]}' |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')"
  token="$(api POST /api/v1/directory-tokens '{"name":"bench phones"}' |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')"
  sleep 1
  rss "$out/rss-idle.json"
  wait_idle "$name trivial"
  info "loadgen trivial ($BASE/health, $CONNECTIONS connections, ${DURATION} s): the generator's ceiling"
  lg trivial --url "$BASE/health" --connections "$CONNECTIONS" --duration "$DURATION" >"$out/trivial.json"
  for i in $(seq "$RUNS"); do
    wait_idle "$name lookup $i"
    info "loadgen lookup run $i/$RUNS ($CONNECTIONS connections, ${DURATION} s, miss ratio $MISS_RATIO)"
    lg lookup --url "$BASE" --key "$key" --connections "$CONNECTIONS" --duration "$DURATION" \
      --miss-ratio "$MISS_RATIO" --seed "$i" >"$out/lookup-$i.json"
  done
  wait_idle "$name cnam"
  info "loadgen lookup, CNAM only (/d/{token}/cnam)"
  lg lookup --url "$BASE" --key "$key" --token "$token" --cnam-ratio 1 --connections "$CONNECTIONS" \
    --duration "$DURATION" --miss-ratio "$MISS_RATIO" --seed 77 >"$out/cnam.json"
  if [ "$PERF" = 1 ] && command -v perf >/dev/null; then
    info "perf record during one more lookup run"
    perf record -F 499 -g -p "$SERVER_PID" -o "$out/perf.data" -- sleep "$DURATION" >/dev/null 2>&1 &
    local perf_pid=$!
    lg lookup --url "$BASE" --key "$key" --connections "$CONNECTIONS" --duration "$DURATION" --warmup 0 \
      --miss-ratio "$MISS_RATIO" --seed 99 >"$out/lookup-perf.json"
    wait "$perf_pid" || true
    perf report -i "$out/perf.data" --no-children --sort comm,dso,symbol -g none --percent-limit 0.3 --stdio \
      2>/dev/null | grep "%" | sed "s/ \{2,\}/ /g; s/ - - *\$//" | head -80 >"$out/perf.txt" || true
    rm -f "$out/perf.data"
  fi
  rss "$out/rss-after.json"
  stop_server

  section "$name: in-process latency (cargo bench directory_lookup, server stopped)"
  for i in $(seq "$INPROCESS_RUNS"); do
    wait_idle "$name in-process $i"
    info "in-process run $i/$INPROCESS_RUNS"
    # divan's own pass only once: its table is for reference; the percentiles are ours.
    BENCH_DATABASE_URL="$url" BENCH_WORKSPACE="$SLUG" BENCH_OUTPUT="$out/inprocess-$i.json" \
      BENCH_DIVAN="$([ "$i" = 1 ] && echo 1 || echo 0)" "$BENCH_BIN" --bench >"$out/inprocess-$i.txt" 2>&1 ||
      { tail -20 "$out/inprocess-$i.txt" >&2; die "in-process bench failed"; }
    grep -E '^(lookup|cisco):' "$out/inprocess-$i.txt" | sed 's/^/    /' >&2 || true
  done
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

def cpu(x):
    c = (x or {}).get("cpu") or {}
    g = lambda k: f(c.get(k), "{:.2f}")
    return f"CPU cores: loadgen {g('loadgen_cores')}, server {g('server_cores')}, database {g('db_cores')}, other {g('other_cores')}"

print(open(os.path.join(root, "machine.txt")).read())
for backend in ("sqlite", "postgres"):
    d = os.path.join(root, backend)
    if not os.path.isdir(d):
        continue
    print(f"== {backend}")
    gen = load(os.path.join(d, "generate.json")) or {}
    disk = load(os.path.join(d, "disk.json")) or {}
    if gen:
        print(f"generate: {gen['count']:,} contacts in {gen['seconds']:.1f} s ({gen['count'] / max(gen['seconds'], 0.001):,.0f}/s); "
              f"data on disk {disk.get('disk_kb', 0) / 1024:,.0f} MiB")
    trivial = load(os.path.join(d, "trivial.json")) or {}
    print(f"trivial /health: {f(trivial.get('rps'))} req/s, p50 {f(trivial.get('p50_ms'), '{:.2f}')} ms, "
          f"p99 {f(trivial.get('p99_ms'), '{:.2f}')} ms; {cpu(trivial)}")
    runs = [x for x in (load(p) for p in sorted(glob.glob(os.path.join(d, "lookup-[0-9]*.json")))) if x]
    if runs:
        print("lookup runs: " + "; ".join(f"{r['rps']:,.0f}/s p50 {r['p50_ms']:.2f} p99 {r['p99_ms']:.2f} ms errors {r['errors']}" for r in runs))
        def server_mean(r):
            ks = list(r["kinds"].values())
            return sum(k["server_mean_ms"] * k["requests"] for k in ks) / max(1, sum(k["requests"] for k in ks))
        print(f"  median: {f(med([r['rps'] for r in runs]))} lookups/s, p50 {f(med([r['p50_ms'] for r in runs]), '{:.2f}')} ms, "
              f"p99 {f(med([r['p99_ms'] for r in runs]), '{:.2f}')} ms, server mean {f(med([server_mean(r) for r in runs]), '{:.3f}')} ms")
        for r in runs:
            print(f"  run {r['rps']:,.0f}/s: {cpu(r)}")
        for kind in ("e164", "national", "tail7", "unknown"):
            ks = [(r["kinds"].get(kind), r["found"].get(kind)) for r in runs if r["kinds"].get(kind)]
            if ks:
                print(f"  {kind:<8} p50 {f(med([k['p50_ms'] for k, _ in ks]), '{:.2f}')} ms, p99 {f(med([k['p99_ms'] for k, _ in ks]), '{:.2f}')} ms, "
                      f"server mean {f(med([k['server_mean_ms'] for k, _ in ks]), '{:.3f}')} ms, found {f(med([x['found_ratio'] * 100 for _, x in ks if x]), '{:.0f}')} %")
    cnam = load(os.path.join(d, "cnam.json"))
    if cnam:
        fc = cnam["found"].get("cnam", {})
        print(f"cnam: {cnam['rps']:,.0f}/s, p50 {cnam['p50_ms']:.2f} ms, p99 {cnam['p99_ms']:.2f} ms, errors {cnam['errors']}, "
              f"named {fc.get('found_ratio', 0) * 100:.0f} %; {cpu(cnam)}")
    for k in ("idle", "after"):
        r = load(os.path.join(d, f"rss-{k}.json"))
        if r:
            print(f"RSS {k}: {r['rss_kb'] / 1024:.1f} MiB (peak {r['hwm_kb'] / 1024:.1f} MiB, "
                  f"own memory (RssAnon) {r.get('anon_kb', 0) / 1024:.1f} MiB)")
    inproc = [x for x in (load(p) for p in sorted(glob.glob(os.path.join(d, "inprocess-*.json")))) if x]
    if inproc:
        print(f"in-process ({len(inproc)} runs; medians of the runs' p50 and p99):")
        ops = [r["op"] for r in inproc[0]["results"]]
        for op in ops:
            rs = [next(r for r in x["results"] if r["op"] == op) for x in inproc if any(r["op"] == op for r in x["results"])]
            each = ", ".join("%.3f" % r["p99_ms"] for r in rs)
            print(f"  {rs[0]['name']:<58} p50 {f(med([r['p50_ms'] for r in rs]), '{:8.3f}')} ms  p99 {f(med([r['p99_ms'] for r in rs]), '{:8.3f}')} ms  "
                  f"(p99 of each run: {each}; {rs[0]['runs']} samples; hits {rs[0]['hit_ratio'] * 100:.0f} %)")
    print()
EOF
[ -s "$RESULTS/warnings.txt" ] && { echo "WARNINGS (disturbed measurements):"; cat "$RESULTS/warnings.txt"; } >&2
echo "raw results in ${RESULTS#"$ROOT"/}" >&2
