#!/usr/bin/env bash
# The cluster measurements of docs/BENCHMARKS.md ("Cluster"), bounded in
# count and time. Every process it starts (nats-server, stxchat nodes, perf)
# is recorded by PID and stopped by PID on exit; nothing else is touched.
#
#   benches/cluster.sh hop        # 2 nodes (publishers on A, members on B) against 1 node
#   benches/cluster.sh ceiling    # sequenced events/s over 2 nodes, perf profile of node A
#   benches/cluster.sh headline   # 100,000 registered clients in lobby over 6 nodes
#   benches/cluster.sh rule8      # CLUSTER.md 1.8 under load: publishers on every node,
#                                 # then every node's gap / loss / resync counters
#
# Every run ends by printing each node's cluster counters (scraped from its
# /metrics: records applied, gap sequences fetched, unrecoverable, resyncs,
# recovered messages, unrecovered rooms, and the first three per million
# records applied) into $OUT/counters-<run>.txt.
#
# Environment: STXCHAT (binary, default target/release/stxchat), OUT (result
# directory, default a fresh /tmp/stxchat-cluster-bench.XXXX), PORT_BASE
# (default 47000; nats on PORT_BASE, node i on PORT_BASE+1+i, its metrics on
# PORT_BASE+50+i). rule8 only: NODES (default 3), RATE (total SAYs/s,
# default 1500), DURATION (measured seconds, default 60), CLIENTS (default
# 300) and ROOMS (default 30), WINDOW (a client's SAYs not yet echoed, at
# most; default 256; 0 = open loop), RESTART_AT (seconds after the start of
# the bench to kill nats-server and start it again on the same port and
# store; default none).
set -euo pipefail

STXCHAT=${STXCHAT:-target/release/stxchat}
PORT_BASE=${PORT_BASE:-47000}
OUT=${OUT:-$(mktemp -d /tmp/stxchat-cluster-bench.XXXX)}
NATS_PORT=$PORT_BASE
NATS_URL="nats://127.0.0.1:$NATS_PORT"
PIDS=()

log() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

stop_all() {
    # Reverse order: nodes first (they stop cleanly on SIGTERM), nats last.
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
        kill "${PIDS[$i]}" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    done
    PIDS=()
}
trap stop_all EXIT

wait_port() { # port: wait (at most 30 s) until something listens there
    for _ in $(seq 300); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    log "nothing listens on port $1"; return 1
}

start_nats() {
    local dir="$OUT/nats-store"
    rm -rf "$dir"; mkdir -p "$dir"
    nats-server -js -a 127.0.0.1 -p "$NATS_PORT" -sd "$dir" >"$OUT/nats.log" 2>&1 &
    NATS_PID=$!; PIDS+=("$NATS_PID")
    wait_port "$NATS_PORT"
    log "nats-server pid $NATS_PID on $NATS_PORT"
}

NODE_PIDS=()
NODE_ADDRS=()
METRICS_ADDRS=()
start_node() { # index, extra flags...
    local i=$1; shift
    local port=$((PORT_BASE + 1 + i)) mport=$((PORT_BASE + 50 + i))
    "$STXCHAT" server --bind "127.0.0.1:$port" --node "node$i" --admin-bind off \
        --metrics-bind "127.0.0.1:$mport" --stats-interval 0 "$@" >"$OUT/node$i.log" 2>&1 &
    local pid=$!; PIDS+=("$pid"); NODE_PIDS+=("$pid"); NODE_ADDRS+=("127.0.0.1:$port")
    METRICS_ADDRS+=("127.0.0.1:$mport")
    wait_port "$port"
    log "node$i pid $pid on $port (metrics $mport) $*"
}

counters() { # run name: every node's cluster counters (rule 8), into $OUT/counters-NAME.txt
    local name=$1 k
    for k in "${!METRICS_ADDRS[@]}"; do
        curl -s --max-time 5 "http://${METRICS_ADDRS[$k]}/metrics" \
            | awk -v node="node$k" '
                /^stxchat_cluster_[a-z_]+(_total)?\{/ {
                    split($1, a, "{"); v[a[1]] += $2
                }
                END {
                    if (!("stxchat_cluster_records_applied_total" in v)) { print node " standalone (no cluster counters)"; exit }
                    n = v["stxchat_cluster_records_applied_total"]
                    g = v["stxchat_cluster_gap_fetched_total"]; u = v["stxchat_cluster_gap_unrecoverable_total"]
                    r = v["stxchat_cluster_resyncs_total"]
                    pm = (n > 0) ? 1e6 / n : 0
                    printf "%s applied %d gap_fetched %d unrecoverable %d resyncs %d recovered %d unrecovered_rooms %d unavailable %d refused %d link_up %d | per million applied: gap_fetched %.1f unrecoverable %.1f resyncs %.1f\n",
                        node, n, g, u, r, v["stxchat_cluster_recovered_messages_total"],
                        v["stxchat_cluster_unrecovered_rooms_total"], v["stxchat_cluster_unavailable_total"],
                        v["stxchat_cluster_publishes_refused_total"], v["stxchat_cluster_link_up"],
                        g * pm, u * pm, r * pm
                }' || echo "node$k: no metrics"
    done | tee "$OUT/counters-$name.txt" >&2
}

reset_nodes() { stop_all; NODE_PIDS=(); NODE_ADDRS=(); METRICS_ADDRS=(); }

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

addr_flags() { for a in "${NODE_ADDRS[@]}"; do printf -- '--addr %s ' "$a"; done; }

bench() { # name, bench args... : JSON into $OUT/name.json, bounded by timeout
    local name=$1; shift
    log "bench $name: $*"
    timeout 600 "$STXCHAT" bench "$@" --json >"$OUT/$name.json" 2>"$OUT/$name.err" || true
    head -c 2000 "$OUT/$name.json" >&2; echo >&2
}

hop() {
    local common=(fanout -s 100 -p 4 -b 64 -d 10 --warmup 2)
    # One node, everyone on it (no cluster at all: the single-node figures).
    start_node 0
    bench hop-1node-max "${common[@]}" $(addr_flags) --server-pid "${NODE_PIDS[0]}"
    bench hop-1node-rate1000 "${common[@]}" --rate 1000 $(addr_flags) --server-pid "${NODE_PIDS[0]}"
    reset_nodes
    # One node in cluster mode: the hop through NATS alone.
    start_nats
    start_node 0 --cluster "$NATS_URL"
    bench hop-1cluster-max "${common[@]}" $(addr_flags) --server-pid "${NODE_PIDS[0]}"
    bench hop-1cluster-rate1000 "${common[@]}" --rate 1000 $(addr_flags) --server-pid "${NODE_PIDS[0]}"
    counters hop-1cluster
    reset_nodes
    # Two nodes: publishers on A, members on B.
    start_nats
    start_node 0 --cluster "$NATS_URL"
    start_node 1 --cluster "$NATS_URL"
    bench hop-2nodes-max "${common[@]}" $(addr_flags) --server-pid "${NODE_PIDS[1]}"
    bench hop-2nodes-rate1000 "${common[@]}" --rate 1000 $(addr_flags) --server-pid "${NODE_PIDS[1]}"
    counters hop-2nodes
    stop_all
}

ceiling() {
    start_nats
    start_node 0 --cluster "$NATS_URL"
    start_node 1 --cluster "$NATS_URL"
    # Many publishers, few members: the log's rate is what limits.
    local args=(fanout -s 2 -p 64 -b 32 -d 15 --warmup 2 --window 64 $(addr_flags) --server-pid "${NODE_PIDS[0]}")
    local n0 a0 b0
    n0=$(cpu_ticks "$NATS_PID"); a0=$(cpu_ticks "${NODE_PIDS[0]}"); b0=$(cpu_ticks "${NODE_PIDS[1]}")
    timeout 600 "$STXCHAT" bench "${args[@]}" --json >"$OUT/ceiling.json" 2>"$OUT/ceiling.err" &
    local bench_pid=$!
    sleep 6
    # 5 s of node A's stacks inside the measured window.
    perf record -g -F 499 -p "${NODE_PIDS[0]}" -o "$OUT/perf-node0.data" -- sleep 5 \
        >"$OUT/perf.log" 2>&1 || true
    wait "$bench_pid" || true
    local n1 a1 b1
    n1=$(cpu_ticks "$NATS_PID"); a1=$(cpu_ticks "${NODE_PIDS[0]}"); b1=$(cpu_ticks "${NODE_PIDS[1]}")
    echo "cpu ticks (1/$(getconf CLK_TCK) s) over the run: nats $((n1 - n0)) node0 $((a1 - a0)) node1 $((b1 - b0))" \
        | tee "$OUT/ceiling-cpu.txt" >&2
    head -c 2000 "$OUT/ceiling.json" >&2; echo >&2
    perf report -i "$OUT/perf-node0.data" --stdio --no-children --percent-limit 1.5 \
        >"$OUT/perf-node0.txt" 2>/dev/null || true
    head -80 "$OUT/perf-node0.txt" >&2 || true
    counters ceiling
    stop_all
}

headline() {
    local nodes=6 clients=${CLIENTS:-100000}
    start_nats
    for i in $(seq 0 $((nodes - 1))); do
        start_node "$i" --cluster "$NATS_URL"
    done
    local before=() n0 nrss0
    for pid in "${NODE_PIDS[@]}"; do before+=("$(rss_kb "$pid")"); done
    n0=$(cpu_ticks "$NATS_PID"); nrss0=$(rss_kb "$NATS_PID")
    local t0; t0=$(date +%s.%N)
    # Probes into lobby (quiet above the presence limit, 1000 by default).
    timeout 900 "$STXCHAT" bench connect $(addr_flags) -n "$clients" --probe 5 --probe-interval 0.5 \
        --settle 5 --max-clients-per-process 19000 --handshake-timeout 120 --concurrency 256 \
        --json >"$OUT/headline.json" 2>"$OUT/headline.err" &
    local bench_pid=$!
    # Sample memory while everyone is connected: after the bench says it
    # is probing (the settle has passed), read every node and nats.
    local peak=() npeak=0
    for pid in "${NODE_PIDS[@]}"; do peak+=(0); done
    while kill -0 "$bench_pid" 2>/dev/null; do
        for k in "${!NODE_PIDS[@]}"; do
            local r; r=$(rss_kb "${NODE_PIDS[$k]}" 2>/dev/null || echo 0)
            ((r > peak[k])) && peak[k]=$r
        done
        local nr; nr=$(rss_kb "$NATS_PID" 2>/dev/null || echo 0)
        ((nr > npeak)) && npeak=$nr
        sleep 1
    done
    wait "$bench_pid" || true
    local n1; n1=$(cpu_ticks "$NATS_PID")
    local t1; t1=$(date +%s.%N)
    {
        echo "nodes $nodes clients $clients wall $(echo "$t1 - $t0" | bc) s"
        for k in "${!NODE_PIDS[@]}"; do
            echo "node$k rss_before_kb ${before[$k]} rss_peak_kb ${peak[$k]}"
        done
        echo "nats rss_before_kb $nrss0 rss_peak_kb $npeak cpu_ticks $((n1 - n0)) (CLK_TCK $(getconf CLK_TCK))"
    } | tee "$OUT/headline-memory.txt" >&2
    head -c 3000 "$OUT/headline.json" >&2; echo >&2
    counters headline
    stop_all
}

restart_nats() { # kill -9 nats-server by PID, start it again on the same port and store
    log "killing nats-server pid $NATS_PID (SIGKILL) mid-traffic"
    kill -9 "$NATS_PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$NATS_PID" 2>/dev/null || break; sleep 0.1; done
    local keep=() p
    for p in "${PIDS[@]}"; do [[ $p == "$NATS_PID" ]] || keep+=("$p"); done
    PIDS=("${keep[@]}")
    nats-server -js -a 127.0.0.1 -p "$NATS_PORT" -sd "$OUT/nats-store" >>"$OUT/nats.log" 2>&1 &
    NATS_PID=$!; PIDS=("$NATS_PID" "${PIDS[@]}")
    wait_port "$NATS_PORT"
    log "nats-server restarted: pid $NATS_PID"
}

rule8() {
    local nodes=${NODES:-3} rate=${RATE:-1500} duration=${DURATION:-60}
    local clients=${CLIENTS:-300} rooms=${ROOMS:-30} window=${WINDOW:-256}
    local name="rule8-${nodes}n-${rate}-w${window}"
    [[ -n ${RESTART_AT:-} ]] && name="$name-restart"
    start_nats
    for i in $(seq 0 $((nodes - 1))); do start_node "$i" --cluster "$NATS_URL"; done
    # Every room's clients are spread over every node: publishers on all.
    timeout $((duration + 120)) "$STXCHAT" bench rooms -c "$clients" -r "$rooms" --rate "$rate" \
        -b 64 -d "$duration" --warmup 2 --window "$window" $(addr_flags) --server-pid "${NODE_PIDS[0]}" \
        --json >"$OUT/$name.json" 2>"$OUT/$name.err" &
    local bench_pid=$!
    if [[ -n ${RESTART_AT:-} ]]; then
        sleep "$RESTART_AT"
        restart_nats
    fi
    wait "$bench_pid" || true
    head -c 2500 "$OUT/$name.json" >&2; echo >&2
    # The counters are published every 500 ms: let the last ones through.
    sleep 1
    counters "$name"
    stop_all
}

case "${1:-}" in
hop) hop ;;
ceiling) ceiling ;;
headline) headline ;;
rule8) rule8 ;;
*) echo "usage: $0 hop|ceiling|headline|rule8" >&2; exit 2 ;;
esac
log "results in $OUT"
