#!/usr/bin/env bash
# `make bench-upload`: the server's memory while it takes uploads of 10 MiB,
# 10 at once (protocol.md §17; the target: RSS within 50 MiB of idle).
# Starts a release whisper-server on SQLite in a temporary directory, then for
# each kind of file (a PNG it decodes for a thumbnail, a ZIP it only streams)
# runs ROUNDS rounds of 10 concurrent uploads with curl, sampling the
# server's RSS every 20 ms. Prints a Markdown table for docs/performance.md.
#
# Environment: ROUNDS (default 3), AT_ONCE (default 10), SERVER_CPU (default 0).
set -euo pipefail
cd "$(dirname "$0")/../.."

ROUNDS=${ROUNDS:-3}
AT_ONCE=${AT_ONCE:-10}
SERVER_CPU=${SERVER_CPU:-0}

cargo build --release -q -p whisper-server --no-default-features --features sqlite
WORK=$(mktemp -d)
SERVER=
trap 'kill "$SERVER" 2>/dev/null || true; rm -rf "$WORK"' EXIT

# Two files just under 10 MiB: noise as a 1860 x 1860 RGB PNG (stored, so
# it does not shrink), and random bytes behind a ZIP header.
python3 - "$WORK" <<'PY'
import os, struct, sys, zlib
out = sys.argv[1]
w = h = 1860
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)
rows = b"".join(b"\0" + os.urandom(w * 3) for _ in range(h))
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) \
    + chunk(b"IDAT", zlib.compress(rows, 0)) + chunk(b"IEND", b"")
open(os.path.join(out, "noise.png"), "wb").write(png)
open(os.path.join(out, "noise.zip"), "wb").write(b"PK\x03\x04" + os.urandom(len(png) - 4))
PY

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$SERVER/status"; }

# A fresh server for each kind of file, so one's memory does not hide the
# other's; one small upload first, so what a first request allocates
# counts as idle.
start_server() {
  [ -n "${SERVER:-}" ] && kill "$SERVER" && wait "$SERVER" 2> /dev/null || true
  rm -rf "$WORK/data"
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  taskset -c "$SERVER_CPU" target/release/whisper-server --bind "127.0.0.1:$PORT" --data-dir "$WORK/data" \
    --allow-file-type application/zip --http-requests-per-second 0 2> "$WORK/server.log" &
  SERVER=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" > /dev/null && break; sleep 0.1; done
  TOKEN=$(curl -sf "http://127.0.0.1:$PORT/v1/auth/register" -H 'content-type: application/json' \
    -d '{"email":"bench@example.com","password":"correct horse","name":"Bench"}' |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
  curl -sf "http://127.0.0.1:$PORT/v1/files" -H "authorization: Bearer $TOKEN" -H 'x-filename: warm.zip' \
    --data-binary "PK\x03\x04warm" > /dev/null || true
  sleep 1
  IDLE=$(rss_kib)
}

echo "| file | uploads | size | idle RSS | peak RSS | peak − idle | after |"
echo "|---|---|---|---|---|---|---|"
for file in noise.png noise.zip; do
  start_server
  size=$(stat -c %s "$WORK/$file")
  peak=0
  for round in $(seq "$ROUNDS"); do
    pids=()
    for i in $(seq "$AT_ONCE"); do
      curl -s -o "$WORK/answer.$i" -w '%{http_code}\n' "http://127.0.0.1:$PORT/v1/files" \
        -H "authorization: Bearer $TOKEN" -H "x-filename: $round-$i-$file" \
        --data-binary "@$WORK/$file" > "$WORK/status.$i" &
      pids+=($!)
    done
    while kill -0 "${pids[@]}" 2> /dev/null; do
      now=$(rss_kib); [ "$now" -gt "$peak" ] && peak=$now
      sleep 0.02
    done
    wait "${pids[@]}" || true
    if grep -vq '^201$' "$WORK"/status.*; then
      echo "an upload failed:" >&2; cat "$WORK"/status.* "$WORK"/answer.* >&2; exit 1
    fi
  done
  sleep 1
  after=$(rss_kib)
  printf '| %s | %d × %d at once | %.1f MiB | %.1f MiB | %.1f MiB | **%.1f MiB** | %.1f MiB |\n' \
    "$file" "$ROUNDS" "$AT_ONCE" "$(echo "$size / 1048576" | bc -l)" "$(echo "$IDLE / 1024" | bc -l)" \
    "$(echo "$peak / 1024" | bc -l)" "$(echo "($peak - $IDLE) / 1024" | bc -l)" "$(echo "$after / 1024" | bc -l)"
done
