#!/usr/bin/env bash
# The long fuzz run (docs/fuzzing.md): each target until it has executed
# RUNS inputs (default 10 million), one after another, then a summary line
# per target: executions, seconds, executions per second, crashes.
#
#   scripts/fuzz-long.sh                      # every target
#   scripts/fuzz-long.sh recovery             # some of them
#   RUNS=1000000 scripts/fuzz-long.sh codec   # shorter
#
# The corpus grows in fuzz/corpus/<target> (kept between runs, not
# committed); crashes land in fuzz/artifacts/<target>/. Installs the nightly
# toolchain and cargo-fuzz if they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-10000000}
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(recovery codec rest_answer json_line)

rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
cargo fuzz --version >/dev/null 2>&1 || cargo install cargo-fuzz --locked

# -a: debug assertions and overflow checks on; -s none: no sanitizer (the
# code under test is safe Rust; ASan would only halve the rate).
FLAGS=(--fuzz-dir fuzz -a -s none)
cargo +nightly fuzz build "${FLAGS[@]}"

LOGS=fuzz/logs
mkdir -p "$LOGS"
summary=()
for target in "${TARGETS[@]}"; do
  mkdir -p "fuzz/corpus/$target" "fuzz/artifacts/$target"
  extra=()
  # Journals: a few segments of a few KiB are enough to reach every
  # branch of recovery, and keep each run short.
  [ "$target" = recovery ] && extra=(-max_len=8192)
  log="$LOGS/$target.log"
  start=$(date +%s)
  status=0
  cargo +nightly fuzz run "${FLAGS[@]}" "$target" "fuzz/corpus/$target" "fuzz/seeds/$target" -- \
    -runs="$RUNS" -print_final_stats=1 "${extra[@]}" >"$log" 2>&1 || status=$?
  secs=$(( $(date +%s) - start ))
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  execs=${execs:-0}
  line="$target: $execs executions in ${secs}s ($(( execs / (secs > 0 ? secs : 1) )) exec/s), exit $status"
  [ "$status" -eq 0 ] || line="$line: CRASH, see $log and fuzz/artifacts/$target/"
  echo "$line"
  summary+=("$line")
done
printf '\n==> summary\n'
printf '%s\n' "${summary[@]}"
for line in "${summary[@]}"; do
  case "$line" in *CRASH*) exit 1 ;; esac
done
