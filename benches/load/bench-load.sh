#!/usr/bin/env bash
# `make bench-load`: the baseline broadcast server, then whisper-server on
# SQLite, then on PostgreSQL, each under the same loads, with the server on
# one core and the load generator on the other. Writes the table into
# docs/performance.md (between the bench-load markers) and keeps the raw JSON
# reports in target/bench-load/results.jsonl.
#
# Environment: DURATION (seconds per run, default 10), SERVERS (default
# "baseline sqlite postgres"), WHISPER_TEST_DATABASE_URL (a PostgreSQL
# database this script may create databases from), SERVER_CPU / LOAD_CPU.
set -euo pipefail

# Every write budget and room-creation cap off (the load comes from one address).
NO_QUOTAS=(--user-write-bytes-per-minute 0 --user-write-bytes-per-day 0
  --address-write-bytes-per-minute 0 --address-write-bytes-per-day 0
  --user-rooms-per-hour 0 --user-rooms-per-day 0 --address-rooms-per-hour 0 --address-rooms-per-day 0)
cd "$(dirname "$0")/../.."

DURATION=${DURATION:-10}
SERVERS=${SERVERS:-baseline sqlite postgres}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
PG_URL=${WHISPER_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
OUT=target/bench-load
RESULTS=$OUT/results.jsonl
DOC=docs/performance.md

cargo build --release -q -p whisper-server --no-default-features --features sqlite,postgres
cargo build --release -q -p whisper-examples --bin loadgen --bin baseline_server
mkdir -p "$OUT"
: > "$RESULTS"

# Each load: a name for the table, the load generator's arguments, and
# optionally the only server kind it runs against.
LOADS=(
  "100 subscribers, as fast as it goes|--connections 100 --senders 10 --rate 0 --window 16"
  "1,000 subscribers, as fast as it goes|--connections 1000 --senders 10 --rate 0 --window 16"
  "1,000 subscribers at 100k deliveries/s|--connections 1000 --senders 10 --rate 100"
  "10,000 idle (rooms of 1) + 100 active at 100k deliveries/s|--connections 100 --senders 10 --rate 1000 --idle 10000 --idle-rooms 10000"
  "10,000 idle (rooms of 100) + 100 active at 100k deliveries/s|--connections 100 --senders 10 --rate 1000 --idle 10000 --idle-rooms 100"
  # whisper-server's frames carry ~320 bytes per 100-byte message (the message
  # object's id, seq, user, name, times): the baseline with as many bytes.
  "100 subscribers, as fast as it goes, 320-byte messages|--connections 100 --senders 10 --rate 0 --window 16 --size 320|baseline"
  # The timeline (protocol.md §13): a fifth of the sends are edits of, and
  # reactions to, the sender's last message, each taking the room's next seq.
  "1,000 subscribers at 100k deliveries/s, 20% edits and reactions|--connections 1000 --senders 10 --rate 100 --events-percent 20|sqlite"
  "1,000 subscribers at 100k deliveries/s, 20% edits and reactions|--connections 1000 --senders 10 --rate 100 --events-percent 20|postgres"
)

SERVER_PID=
PG_DB=
cleanup() {
  if [[ -n $SERVER_PID ]]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  if [[ -n $PG_DB ]]; then psql -q "$PG_URL" -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null || true; fi
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_for_port() {
  for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "the server did not start listening on port $1" >&2
  exit 1
}

# Starts one server of kind $1 on port $2, pinned to SERVER_CPU.
start_server() {
  local kind=$1 port=$2
  case $kind in
    baseline)
      taskset -c "$SERVER_CPU" target/release/baseline_server "127.0.0.1:$port" > "$OUT/server.log" 2>&1 &
      ;;
    sqlite | postgres)
      local data="$OUT/data-$kind"
      rm -rf "$data"
      local db=()
      if [[ $kind == postgres ]]; then db=(--database-url "${PG_URL%/*}/$PG_DB"); fi
      # Per-connection rate limits and write budgets are lifted: a load sender sends hundreds of
    # messages a second, all from one address.
      RUST_LOG=warn taskset -c "$SERVER_CPU" target/release/whisper-server \
        --bind "127.0.0.1:$port" --data-dir "$data" "${db[@]}" \
        --messages-per-second 1000000 --message-burst 1000000 --max-connections-per-ip 100000 \
        "${NO_QUOTAS[@]}" \
        > "$OUT/server.log" 2>&1 &
      ;;
  esac
  SERVER_PID=$!
  wait_for_port "$port"
}

for kind in $SERVERS; do
  if [[ $kind == postgres ]]; then
    PG_DB=whisper_bench_$$
    psql -q "$PG_URL" -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" -c "CREATE DATABASE $PG_DB" >/dev/null
  fi
  case $kind in
    baseline) protocol=baseline; server_name="baseline (no persistence)" ;;
    sqlite) protocol=whisper; server_name="whisper-server, SQLite" ;;
    postgres) protocol=whisper; server_name="whisper-server, PostgreSQL" ;;
    *) echo "unknown server kind $kind" >&2; exit 2 ;;
  esac
  for i in "${!LOADS[@]}"; do
    IFS='|' read -r name args only <<< "${LOADS[$i]}"
    if [[ -n $only && $only != "$kind" ]]; then continue; fi
    read -r -a load_args <<< "$args"
    port=$(free_port)
    start_server "$kind" "$port"
    echo "== $server_name: $name" >&2
    taskset -c "$LOAD_CPU" target/release/loadgen --server "ws://127.0.0.1:$port" \
      --protocol "$protocol" --server-pid "$SERVER_PID" --duration "$DURATION" \
      --room-prefix "run$i" --label "$server_name | $name" --json "${load_args[@]}" | tee -a "$RESULTS" |
      target/release/loadgen --markdown /dev/stdin | tail -n 1 >&2
    kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
  done
  if [[ $kind == postgres ]]; then
    psql -q "$PG_URL" -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null
    PG_DB=
  fi
done

# The table, with what made it, between the markers in docs/performance.md.
{
  echo "<!-- bench-load:start (written by make bench-load; edit outside the markers) -->"
  echo
  echo "Run on $(date -u +%Y-%m-%d) by \`make bench-load\` (\`DURATION=$DURATION SERVERS=\"$SERVERS\"\`):"
  echo "$(nproc) cores ($(lscpu | sed -n 's/^Model name: *//p' | head -n 1)), $(uname -r), $(rustc --version)."
  echo "Server pinned to CPU $SERVER_CPU, load generator to CPU $LOAD_CPU; 100-byte messages; $DURATION s of sending per run."
  echo
  target/release/loadgen --markdown "$RESULTS"
  echo
  echo "<!-- bench-load:end -->"
} > "$OUT/table.md"
awk -v table="$OUT/table.md" '
  /<!-- bench-load:start/ { while ((getline line < table) > 0) print line; skip = 1; next }
  /<!-- bench-load:end -->/ { skip = 0; next }
  !skip { print }
' "$DOC" > "$OUT/performance.md"
if ! grep -q "bench-load:start" "$DOC"; then
  { echo; cat "$OUT/table.md"; } >> "$OUT/performance.md"
fi
cp "$OUT/performance.md" "$DOC"
echo "wrote the table into $DOC (raw reports: $RESULTS)" >&2
