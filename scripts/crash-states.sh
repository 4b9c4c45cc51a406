#!/usr/bin/env bash
# A larger run of the crash-state explorer (docs/crash-states.md): power
# cuts at every sync point of longer workloads, more states drawn at each.
#
#   scripts/crash-states.sh [SCALE] [SEED]
#
# SCALE (default 5) multiplies the workloads' length and the states drawn
# per crash point; SEED (default: the time) seeds the sampling, and is
# printed so that a failing run replays with the same SEED. The test build
# is the same as CI's (debug); the states are written to /dev/shm when
# there is one.
set -euo pipefail
cd "$(dirname "$0")/.."

scale="${1:-5}"
seed="${2:-$(date +%s)}"
echo "crash-state explorer: scale $scale, seed $seed (replay: scripts/crash-states.sh $scale $seed)"
STEADFAST_CRASH_SCALE="$scale" STEADFAST_CRASH_SEED="$seed" \
  cargo test -p steadfast --test crash_states -- --nocapture --test-threads 1 \
  power_loss_at_every_sync_point_loses_no_acknowledged_message
