#!/usr/bin/env bash
# HTTP benchmark of the release binary: time-to-ready, idle RSS, and oha load
# against GET /health and the authenticated GET /api/v2/auth/me.
#
# Usage: bench/run.sh                  # SQLite in a fresh temp data dir
#        DATABASE_URL=postgres://... bench/run.sh   # same, on PostgreSQL
# Knobs: DURATION (10s), CONCURRENCY (32), SKIP_BUILD=1, RUST_LOG (default warn),
#        SWITCHBOARD_BIN (binary to run), API_KEY (if the database is not fresh, so
#        the server prints no bootstrap key).
# Raw oha JSON and the server's output land in bench/results/<timestamp>/ (gitignored).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

DURATION="${DURATION:-10s}"
CONCURRENCY="${CONCURRENCY:-32}"
# Per-request logging at info would measure the logger, not the server.
export RUST_LOG="${RUST_LOG:-warn}"
export PATH="$HOME/.cargo/bin:$PATH" # where cargo install puts oha

section() { printf '\n==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- load tool

section "oha"
if ! oha --version >/dev/null 2>&1; then
  # oha's default TLS feature is rustls, so this needs no OpenSSL headers.
  echo "installing oha (cargo install oha --locked)"
  nice -n 19 cargo install oha --locked
fi
oha --version
# JSON output flag differs across oha versions: --output-format json (>= 1.9) or -j/--json.
# (Help captured first: `oha --help | grep -q` can SIGPIPE oha and, with pipefail, lie.)
OHA_HELP="$(oha --help)"
if [[ "$OHA_HELP" == *--output-format* ]]; then OHA_JSON=(--output-format json)
else OHA_JSON=(--json); fi
# Let in-flight requests finish at the deadline instead of counting them as errors.
OHA_WAIT=()
[[ "$OHA_HELP" == *--wait-ongoing-requests-after-deadline* ]] && OHA_WAIT=(--wait-ongoing-requests-after-deadline)

# ---------------------------------------------------------------- build

BIN="${SWITCHBOARD_BIN:-$ROOT/target/release/switchboard}"
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  section "cargo build --release -p switchboard"
  cargo build --release -p switchboard
fi
[ -x "$BIN" ] || die "$BIN not found (build failed or SKIP_BUILD=1 without a build)"

# ---------------------------------------------------------------- server

TMP="$(mktemp -d -t switchboard-bench.XXXXXX)"
RESULTS="$ROOT/bench/results/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$RESULTS"
SERVER_PID=''

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    # Give graceful shutdown 5s, then make sure it is gone.
    for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
  fi
  cp "$TMP/server.out" "$TMP/server.err" "$RESULTS/" 2>/dev/null || true
  rm -rf "$TMP"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
BASE="http://127.0.0.1:$PORT"
BACKEND="sqlite"
[ -n "${DATABASE_URL:-}" ] && BACKEND="postgres (DATABASE_URL)"

section "start server ($BACKEND) on $BASE"
# Rate limit 0 = unlimited: otherwise the per-key limit (100/min) is all we would measure.
START_NS="$(date +%s%N)"
"$BIN" serve --bind "127.0.0.1:$PORT" --data-dir "$TMP/data" --rate-limit-per-minute 0 \
  >"$TMP/server.out" 2>"$TMP/server.err" &
SERVER_PID=$!

# Poll /health from python (no process spawn per poll, ~5ms resolution);
# prints milliseconds since START_NS once it answers 200.
READY_MS="$(python3 - "$BASE/health" "$START_NS" "$SERVER_PID" <<'EOF'
import os, sys, time, urllib.request
url, start_ns, pid = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
deadline = time.time() + 60
while time.time() < deadline:
    if not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split(") ")[1][0] == "Z":
        sys.exit("server exited before becoming ready")
    try:
        with urllib.request.urlopen(url, timeout=1) as r:
            if r.status == 200:
                print((time.time_ns() - start_ns) // 1_000_000)
                sys.exit(0)
    except Exception:
        pass
    time.sleep(0.005)
sys.exit("server not ready after 60s")
EOF
)" || { cat "$TMP/server.err" >&2; die "server did not become ready"; }

# Let start-up work settle before reading RSS.
sleep 1
RSS_KB="$(awk '/^VmRSS:/ {print $2}' "/proc/$SERVER_PID/status")"

# The first start on an empty database prints "  api key:  sk_..." on stdout;
# take the first sk_ token. An API_KEY from the environment wins.
if [ -z "${API_KEY:-}" ]; then
  for _ in $(seq 50); do # stdout may trail readiness slightly
    API_KEY="$(grep -o -m1 'sk_[A-Za-z0-9_-]*' "$TMP/server.out" || true)"
    [ -n "$API_KEY" ] && break
    sleep 0.1
  done
fi
[ -n "$API_KEY" ] || die "no bootstrap api key (sk_...) on the server's stdout; see $RESULTS/server.out"

printf 'time to ready: %s ms\nidle RSS:      %s MiB\n' "$READY_MS" "$(awk -v k="$RSS_KB" 'BEGIN {printf "%.1f", k/1024}')"

# ---------------------------------------------------------------- load

# run_oha NAME PATH [oha args...]: run the load, keep the JSON, print one summary line.
run_oha() {
  local name="$1" path="$2"; shift 2
  local out="$RESULTS/$name.json"
  section "oha -z $DURATION -c $CONCURRENCY GET $path"
  oha -z "$DURATION" -c "$CONCURRENCY" --no-tui "${OHA_JSON[@]}" "${OHA_WAIT[@]}" "$@" "$BASE$path" >"$out"
  python3 - "$out" "$name" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
rps = d["summary"]["requestsPerSec"]
lat = d.get("metrics", {}).get("latency_ms")  # oha >= 1.10 reports ms directly
if lat:
    p50, p99 = lat["p50"], lat["p99"]
else:  # older oha: latencyPercentiles in seconds
    p50, p99 = d["latencyPercentiles"]["p50"] * 1000, d["latencyPercentiles"]["p99"] * 1000
codes = d.get("statusCodeDistribution", {})
errors = d.get("errorDistribution", {})
print(f"{sys.argv[2]:<10} {rps:>10.0f} req/s   p50 {p50:7.3f} ms   p99 {p99:7.3f} ms   statuses {codes}")
if errors:
    print(f"  errors: {errors}")
if any(not c.startswith("2") for c in codes):
    print("  WARNING: non-2xx responses; numbers are not comparable")
EOF
}

run_oha health /health
run_oha auth_me /api/v2/auth/me -H "Authorization: Bearer $API_KEY"

section "done"
echo "backend $BACKEND; ready ${READY_MS} ms; RSS ${RSS_KB} kB; raw results in ${RESULTS#"$ROOT"/}"
