#!/usr/bin/env bash
# The TLS and bad-login measurements of docs/BENCHMARKS.md ("TLS against
# plain, and the bad-login storm"), bounded in count and time. Each run gets
# a fresh server; every process started is recorded by PID and stopped by
# PID on exit; nothing else is touched.
#
#   benches/tls.sh [REPEATS [WHAT]]   # default 3 "fanout connect storm": each comparison
#                                       # back to back, REPEATS times (WHAT: a subset)
#
# Per repetition:
#   fanout 100x4x64 (-d 10) plain, then TLS
#   connect -n 5000 (no default room) plain, then TLS: rate and RSS per idle connection
#   fanout 100x4x64 --rate 1000 against a server with a users file:
#     no storm; --bad-logins 1000 from one address; the same from one address per login
#
# Environment: STXCHAT (binary, default target/release/stxchat), OUT (result
# directory, default a fresh /tmp/stxchat-tls-bench.XXXX), PORT_BASE
# (default 47300: plain on PORT_BASE, TLS on PORT_BASE+1).
set -euo pipefail

STXCHAT=${STXCHAT:-target/release/stxchat}
PORT_BASE=${PORT_BASE:-47300}
OUT=${OUT:-$(mktemp -d /tmp/stxchat-tls-bench.XXXX)}
REPEATS=${1:-3}
WHAT=${2:-fanout connect storm}
PLAIN="127.0.0.1:$PORT_BASE"
TLS="127.0.0.1:$((PORT_BASE + 1))"
SERVER_PID=
TLS_FLAGS=(--tls --ca "$OUT/tls/cert.pem" --server-name localhost)

log() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

stop_server() {
    [ -n "$SERVER_PID" ] || return 0
    kill "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
}
trap stop_server EXIT

wait_port() { # port: wait (at most 30 s) until something listens there
    for _ in $(seq 300); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    log "nothing listens on port $1"; return 1
}

start_server() { # name, extra flags...
    local name=$1; shift
    stop_server
    "$STXCHAT" server --bind "$PLAIN" --tls-bind "$TLS" --tls-cert "$OUT/tls/cert.pem" \
        --tls-key "$OUT/tls/key.pem" --admin-bind off --stats-interval 0 "$@" \
        >"$OUT/server-$name.log" 2>&1 &
    SERVER_PID=$!
    wait_port "$PORT_BASE"
    wait_port "$((PORT_BASE + 1))"
}

bench() { # name, bench args... : JSON into $OUT/name.json, bounded by timeout
    local name=$1; shift
    log "bench $name: $* (load $(cut -d' ' -f1-3 /proc/loadavg))"
    timeout 300 "$STXCHAT" bench "$@" --server-pid "$SERVER_PID" --json \
        >"$OUT/$name.json" 2>"$OUT/$name.err" || true
}

mkdir -p "$OUT"
"$STXCHAT" cert --name localhost --out "$OUT/tls" --force >/dev/null
printf 'alice-pw\n' | "$STXCHAT" passwd "$OUT/users" alice >/dev/null
log "results in $OUT; $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"

FANOUT=(fanout -s 100 -p 4 -b 64 -d 10 --warmup 2)
want() { [[ " $WHAT " == *" $1 "* ]]; }
for r in $(seq "$REPEATS"); do
  if want fanout; then
    start_server "fanout-plain-$r"
    bench "fanout-plain-$r" "${FANOUT[@]}" --addr "$PLAIN"
    start_server "fanout-tls-$r"
    bench "fanout-tls-$r" "${FANOUT[@]}" --addr "$TLS" "${TLS_FLAGS[@]}"
  fi
  if want connect; then
    start_server "connect-plain-$r" --default-room ''
    bench "connect-plain-$r" connect -n 5000 --settle 2 --addr "$PLAIN"
    start_server "connect-tls-$r" --default-room ''
    bench "connect-tls-$r" connect -n 5000 --settle 2 --addr "$TLS" "${TLS_FLAGS[@]}"
  fi
  if want storm; then
    start_server "storm-none-$r" --users "$OUT/users"
    bench "storm-none-$r" "${FANOUT[@]}" --rate 1000 --addr "$PLAIN"
    start_server "storm-one-$r" --users "$OUT/users"
    bench "storm-one-$r" "${FANOUT[@]}" --rate 1000 --addr "$PLAIN" \
        --bad-logins 1000 --bad-login-nick alice --bad-login-sources 1
    start_server "storm-many-$r" --users "$OUT/users"
    bench "storm-many-$r" "${FANOUT[@]}" --rate 1000 --addr "$PLAIN" \
        --bad-logins 1000 --bad-login-nick alice --bad-login-sources 12000
  fi
done
stop_server
log "done; load $(cut -d' ' -f1-3 /proc/loadavg)"

# One line per run.
python3 - "$OUT" <<'EOF'
import json, pathlib, sys
out = pathlib.Path(sys.argv[1])
for f in sorted(out.glob("*.json")):
    try:
        r = json.loads(f.read_text())
    except ValueError:
        print(f"{f.stem:18} no report: {(out / (f.stem + '.err')).read_text()[:200]!r}")
        continue
    cpu = r.get("cpu", {}).get("server_pct")
    srv = f"server {cpu:.0f}%" if cpu is not None else "server n/a"
    if r.get("scenario") == "connect":
        rss = r.get("rss_per_connection_bytes")
        print(f"{f.stem:18} {r['registered']}/{r['connections']} registered, "
              f"{r['connects_per_s']:.0f}/s, RSS/conn {rss:.0f} B, {srv}")
        continue
    lat = r.get("latency") or {}
    line = (f"{f.stem:18} {r['deliveries_per_s']/1e6:.3f} M deliveries/s, ratio {r['delivery_ratio']:.4f}, "
            f"p50 {lat.get('p50_us', 0)/1000:.2f} ms, p99 {lat.get('p99_us', 0)/1000:.2f} ms, "
            f"p99.9 {lat.get('p999_us', 0)/1000:.2f} ms, {srv}")
    b = r.get("bad_logins")
    if b:
        t = b.get("auth_failed_ms") or {}
        line += (f"; bad logins {b['attempted']}: auth_failed {b['auth_failed']} "
                 f"(p50 {t.get('p50_ms', '-')} ms, p99 {t.get('p99_ms', '-')} ms), "
                 f"queue_full {b['queue_full']}, timeout {b['timeout']}, other "
                 f"{b['other_errors'] + b['server_full'] + b['closed'] + b['unanswered'] + b['connect_failed'] + b['skipped']}, "
                 f"most open {b['open_max']}")
    print(line)
EOF
