#!/usr/bin/env bash
# `make bench-cluster`: whisper-server as one node, then as three nodes over
# one PostgreSQL database and NATS, under the same WebSocket loads; the load
# generator spreads each room's members (senders included) over the nodes.
# Writes the table into docs/performance.md (between the bench-cluster
# markers) and keeps the raw JSON reports in target/bench-cluster/results.jsonl.
#
# The nodes all run on SERVER_CPU (one node, or the three together) and the
# load generator on LOAD_CPU; PostgreSQL and NATS are not pinned. On a 2-core
# machine the three nodes share one core: the figures show what the cluster
# path costs, not how a cluster scales.
#
# Environment: DURATION (seconds of sending per run, default 10), NODES (the
# node counts to run, default "1 3"), WHISPER_TEST_DATABASE_URL (a PostgreSQL
# database this script may create a database from), WHISPER_TEST_NATS_URL
# (default nats://127.0.0.1:4222), SERVER_CPU / LOAD_CPU.
set -euo pipefail

# Every write budget and room-creation cap off (the load comes from one address).
NO_QUOTAS=(--user-write-bytes-per-minute 0 --user-write-bytes-per-day 0
  --address-write-bytes-per-minute 0 --address-write-bytes-per-day 0
  --user-rooms-per-hour 0 --user-rooms-per-day 0 --address-rooms-per-hour 0 --address-rooms-per-day 0)
cd "$(dirname "$0")/../.."

DURATION=${DURATION:-10}
NODES=${NODES:-1 3}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
PG_URL=${WHISPER_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
NATS_URL=${WHISPER_TEST_NATS_URL:-nats://127.0.0.1:4222}
OUT=target/bench-cluster
RESULTS=$OUT/results.jsonl
DOC=docs/performance.md
# One secret for the nodes of a cluster: a token from one node is good on all.
SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d " \n")
# psql: no NOTICE for DROP DATABASE IF EXISTS of a database that is not there.
export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"

nats_hostport=${NATS_URL#nats://}
if ! (exec 3<>"/dev/tcp/${nats_hostport%:*}/${nats_hostport##*:}") 2>/dev/null; then
  echo "NATS is not reachable at $NATS_URL (set WHISPER_TEST_NATS_URL)" >&2
  exit 1
fi

# The PostgreSQL store and NATS (several nodes), without the embedded web client.
cargo build --release -q -p whisper-server --no-default-features --features postgres,nats
cargo build --release -q -p whisper-examples --bin loadgen
mkdir -p "$OUT"
: > "$RESULTS"

# Each load: a name for the table and the load generator's arguments (the
# shapes of bench-load.sh, plus 1,000 connections in 10 rooms).
LOADS=(
  "100 subscribers, as fast as it goes|--connections 100 --senders 10 --rate 0 --window 16"
  "1,000 subscribers, as fast as it goes|--connections 1000 --senders 10 --rate 0 --window 16"
  "1,000 subscribers at 100k deliveries/s|--connections 1000 --senders 10 --rate 100"
  "10 rooms of 100 at 100k deliveries/s|--connections 1000 --rooms 10 --senders 10 --rate 1000"
)

PIDS=()
URLS=()
PG_DB=whisper_bench_cluster_$$
stop_nodes() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  PIDS=()
  URLS=()
}
cleanup() {
  stop_nodes
  psql -q "$PG_URL" -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$OUT/data"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Busy CPU seconds of the whole machine so far (all cores, from /proc/stat).
busy_cpu_s() {
  awk '/^cpu / { printf "%.2f\n", ($2 + $3 + $4 + $7 + $8) / 100; exit }' /proc/stat
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits until the node on port $1 (process $2) answers /readyz.
wait_ready() {
  for _ in $(seq 200); do
    if curl -fs -o /dev/null "http://127.0.0.1:$1/readyz"; then return 0; fi
    if ! kill -0 "$2" 2>/dev/null; then break; fi
    sleep 0.1
  done
  echo "the node on port $1 did not become ready (see $OUT/node-*.log)" >&2
  exit 1
}

# Starts $1 nodes on SERVER_CPU, all on the bench database; several share a
# NATS subject of their own ($2) and one --secret.
start_nodes() {
  local count=$1 subject=$2 k port
  for ((k = 0; k < count; k++)); do
    port=$(free_port)
    local cluster=()
    if ((count > 1)); then
      cluster=(--nats-url "$NATS_URL" --nats-subject "$subject" --secret "$SECRET")
    fi
    rm -rf "$OUT/data/node-$k"
    # Per-connection rate limits and write budgets are lifted: a load sender sends hundreds of
    # messages a second, all from one address.
    RUST_LOG=warn taskset -c "$SERVER_CPU" target/release/whisper-server \
      --bind "127.0.0.1:$port" --server-id "node-$k" --data-dir "$OUT/data/node-$k" \
      --database-url "${PG_URL%/*}/$PG_DB" "${cluster[@]}" \
      --messages-per-second 1000000 --message-burst 1000000 --max-connections-per-ip 100000 \
      "${NO_QUOTAS[@]}" \
      > "$OUT/node-$k.log" 2>&1 &
    PIDS+=("$!")
    URLS+=("ws://127.0.0.1:$port")
    wait_ready "$port" "$!"
  done
}

psql -q "$PG_URL" -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" -c "CREATE DATABASE $PG_DB" >/dev/null
started=$SECONDS
for nodes in $NODES; do
  case $nodes in
    1) setup="one node" ;;
    3) setup="three nodes over NATS" ;;
    *) setup="$nodes nodes over NATS" ;;
  esac
  for i in "${!LOADS[@]}"; do
    IFS='|' read -r name args <<< "${LOADS[$i]}"
    read -r -a load_args <<< "$args"
    # Each run on fresh nodes, in rooms (and on a NATS subject) of its own.
    start_nodes "$nodes" "whisper.bench-cluster.$$.n$nodes.run$i"
    servers=$(IFS=,; echo "${URLS[*]}")
    pids=$(IFS=,; echo "${PIDS[*]}")
    echo "== $setup: $name" >&2
    busy_before=$(busy_cpu_s)
    taskset -c "$LOAD_CPU" target/release/loadgen --server "$servers" --server-pid "$pids" \
      --duration "$DURATION" --room-prefix "n$nodes-run$i" --label "$setup | $name" --json "${load_args[@]}" \
      > "$OUT/run.json"
    busy_after=$(busy_cpu_s)
    cat "$OUT/run.json" >> "$RESULTS"
    target/release/loadgen --markdown "$OUT/run.json" --columns cluster | tail -n 1 >&2
    # What else ran: the machine's busy CPU over the run (connecting and
    # draining included) less the nodes' and the load generator's over the
    # sending window. PostgreSQL and NATS account for a second or two; much
    # more means something else was running and the figures are off.
    jq -r --argjson before "$busy_before" --argjson after "$busy_after" \
      '"   CPU s: nodes \(.server_cpu_s * 100 | round / 100), load generator \(.loadgen_cpu_s), the rest of the machine \(($after - $before - .server_cpu_s - .loadgen_cpu_s) * 100 | round / 100)"' \
      "$OUT/run.json" >&2
    stop_nodes
  done
done
echo "runs took $((SECONDS - started)) s" >&2

# The table, with what made it, between the markers in docs/performance.md.
{
  echo "<!-- bench-cluster:start (written by make bench-cluster; edit outside the markers) -->"
  echo
  echo "Run on $(date -u +%Y-%m-%d) by \`make bench-cluster\` (\`DURATION=$DURATION NODES=\"$NODES\"\`):"
  echo "$(nproc) cores ($(lscpu | sed -n 's/^Model name: *//p' | head -n 1)), $(uname -r), $(rustc --version)."
  echo "All nodes pinned to CPU $SERVER_CPU (the three nodes share it), load generator to CPU $LOAD_CPU;"
  echo "PostgreSQL and NATS unpinned. 100-byte messages; $DURATION s of sending per run; fresh nodes per run."
  echo
  target/release/loadgen --markdown "$RESULTS" --columns cluster
  echo
  echo "<!-- bench-cluster:end -->"
} > "$OUT/table.md"
awk -v table="$OUT/table.md" '
  /<!-- bench-cluster:start/ { while ((getline line < table) > 0) print line; skip = 1; next }
  /<!-- bench-cluster:end -->/ { skip = 0; next }
  !skip { print }
' "$DOC" > "$OUT/performance.md"
if ! grep -q "bench-cluster:start" "$DOC"; then
  { echo; echo "### Three nodes over NATS"; echo; cat "$OUT/table.md"; } >> "$OUT/performance.md"
fi
cp "$OUT/performance.md" "$DOC"
echo "wrote the table into $DOC (raw reports: $RESULTS)" >&2
