#!/usr/bin/env bash
# Runs the fuzz targets (docs/fuzzing.md). By default the long run: each
# target until it has executed RUNS inputs (10 million), one after another.
# With SECS set, each target runs for that many seconds instead (the test
# command's short run: SECS=30 JOBS=2). Prints a summary line per target:
# executions, seconds, executions per second, crashes; exits 1 on a crash.
#
#   scripts/fuzz-long.sh                      # every target, 10 M executions each
#   scripts/fuzz-long.sh recovery             # some of them
#   RUNS=1000000 scripts/fuzz-long.sh codec   # fewer executions
#   SECS=30 JOBS=2 scripts/fuzz-long.sh       # 30 s each, two at a time
#
# The corpus grows in fuzz/corpus/<target> (kept between runs, not
# committed; the committed seeds are in fuzz/seeds/<target>); crashes land
# in fuzz/artifacts/<target>/, logs in fuzz/logs/. Installs the nightly
# toolchain if it is missing; builds the targets as `cargo fuzz build -a -s
# none` would, without needing cargo-fuzz.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-10000000}
SECS=${SECS:-}
JOBS=${JOBS:-1}
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(recovery codec rest_answer json_line)

rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal

HOST=$(rustc +nightly -vV | sed -n 's/^host: //p')
# What `cargo fuzz build -a -s none` does, without installing cargo-fuzz:
# libFuzzer's coverage instrumentation, `cfg(fuzzing)`, debug assertions
# and overflow checks on, no sanitizer (the code under test is safe Rust).
# `--target` keeps the flags off build scripts and proc macros.
RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares -Cllvm-args=-sanitizer-coverage-stack-depth \
--cfg fuzzing -Cdebug-assertions -Coverflow-checks" \
  cargo +nightly build --manifest-path fuzz/Cargo.toml --release --bins --target "$HOST"

LOGS=fuzz/logs
mkdir -p "$LOGS"
if [ -n "$SECS" ]; then LIMIT=(-max_total_time="$SECS"); else LIMIT=(-runs="$RUNS"); fi

# One target; writes its summary line to $LOGS/<target>.summary.
run() {
  local target=$1 extra=() status=0 start secs execs line
  mkdir -p "fuzz/corpus/$target" "fuzz/artifacts/$target"
  # Journals: a few segments of a few KiB reach every branch of recovery
  # and keep each input quick.
  [ "$target" = recovery ] && extra=(-max_len=8192)
  start=$(date +%s)
  "fuzz/target/$HOST/release/$target" \
    -artifact_prefix="fuzz/artifacts/$target/" "${LIMIT[@]}" -print_final_stats=1 "${extra[@]}" \
    "fuzz/corpus/$target" "fuzz/seeds/$target" >"$LOGS/$target.log" 2>&1 || status=$?
  secs=$(( $(date +%s) - start ))
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$LOGS/$target.log" | grep -o '[0-9]*$' | tail -1 || true)
  execs=${execs:-0}
  line="$target: $execs executions in ${secs}s ($(( execs / (secs > 0 ? secs : 1) )) exec/s), exit $status"
  [ "$status" -eq 0 ] || line="$line: CRASH, see $LOGS/$target.log and fuzz/artifacts/$target/"
  echo "$line" | tee "$LOGS/$target.summary"
}

pids=()
for target in "${TARGETS[@]}"; do
  run "$target" &
  pids+=($!)
  if [ ${#pids[@]} -ge "$JOBS" ]; then
    wait "${pids[0]}" || true
    pids=("${pids[@]:1}")
  fi
done
for pid in "${pids[@]}"; do wait "$pid" || true; done

printf '\n==> fuzz summary\n'
crashed=0
for target in "${TARGETS[@]}"; do
  cat "$LOGS/$target.summary"
  grep -q CRASH "$LOGS/$target.summary" && crashed=1
done
exit "$crashed"
