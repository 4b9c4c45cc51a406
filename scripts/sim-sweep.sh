#!/usr/bin/env bash
# Sweeps the simulator over fresh seeds: a starting point nobody has used,
# drawn at random, so every run explores new ground (the test command runs
# the same 3,000 fixed seeds every time; see tests/tests/sim_seeds.rs).
#
#   scripts/sim-sweep.sh [SEEDS] [JOBS] [START]
#
#   SEEDS  how many seeds (default 100000)
#   JOBS   threads (default: every core)
#   START  first seed (default: random, printed)
#
# Each seed runs a whole producer life (crashes, power loss, disk and
# network faults drawn from the seed) against the oracle. The sweep stops at
# the first failing seed and prints the command that replays it with its
# whole trace; fix the bug, then add the seed to REGRESSIONS in
# tests/tests/sim_seeds.rs. Exit code: 0 when every seed passed, 1 otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

seeds=${1:-100000}
jobs=${2:-}
start=${3:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}

cargo build -q -p steadfast-sim --release --bin steadfast-sim
echo "sim sweep: $seeds seeds from $start (seeds $start..$((start + seeds)))"
echo "rerun this sweep: scripts/sim-sweep.sh $seeds '${jobs}' $start"
args=(--seeds "$seeds" --start "$start")
[[ -n "$jobs" ]] && args+=(--jobs "$jobs")
log=$(mktemp -t sim-sweep.XXXXXX)
set +e
./target/release/steadfast-sim "${args[@]}" 2>&1 | tee "$log" | grep -E '^[0-9]+ seeds|^FAILED|failed:|^replay:'
status=${PIPESTATUS[0]}
set -e
if [[ $status -ne 0 ]] || grep -q '^FAILED at seed' "$log"; then
  seed=$(sed -n 's/^FAILED at seed \([0-9]*\).*/\1/p' "$log" | head -1)
  echo "sim sweep FAILED at seed ${seed:-?} (full output: $log)"
  echo "replay: cargo run -p steadfast-sim --release -- --seed ${seed:-?} --trace"
  exit 1
fi
rm -f "$log"
echo "sim sweep passed: $seeds seeds from $start"
