#!/usr/bin/env bash
# Runs a journal benchmark against a throttled disk, standing in for the slow
# storage of an edge device (SD card, eMMC: fsyncs of milliseconds).
#
#   scripts/bench-slow-disk.sh IOPS [bench arguments…]
#   scripts/bench-slow-disk.sh 2000 group --secs 4
#
# The benchmark runs in a block-I/O cgroup that allows IOPS writes per
# second to the disk holding --dir (default: the temp directory), so each
# fsync waits for its writes to be let through. Needs root and the blkio
# (cgroup v1) or io (cgroup v2) controller. Builds the bench first.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -lt 1 ] || ! [[ $1 =~ ^[0-9]+$ ]]; then
  echo "usage: $0 IOPS [bench arguments…]   (e.g. $0 2000 group --secs 4)" >&2
  exit 2
fi
iops=$1
shift
if [ "$(id -u)" != 0 ]; then
  echo "$0: throttling a disk needs root (a cgroup with a write-IOPS limit)" >&2
  exit 1
fi

dir=${TMPDIR:-/tmp}
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  if [ "${args[$i]}" = --dir ] && [ $((i + 1)) -lt ${#args[@]} ]; then dir=${args[$((i + 1))]}; fi
done
mkdir -p "$dir"
# The whole disk holding $dir (a partition's parent, which is what the
# throttle applies to).
source_dev=$(df --output=source "$dir" | tail -1)
disk=$(lsblk -no PKNAME "$source_dev" 2>/dev/null | head -1)
[ -n "$disk" ] || disk=$(basename "$source_dev")
devnum=$(lsblk -dno MAJ:MIN "/dev/$disk" | tr -d ' ')
[ -n "$devnum" ] || { echo "$0: cannot find the disk under $dir" >&2; exit 1; }

cargo build --release -p steadfast --no-default-features --example bench
bench=${CARGO_TARGET_DIR:-target}/release/examples/bench

if [ -d /sys/fs/cgroup/blkio ]; then
  group=/sys/fs/cgroup/blkio/steadfast-slow-disk
  mkdir -p "$group"
  echo "$devnum $iops" >"$group/blkio.throttle.write_iops_device"
elif [ -f /sys/fs/cgroup/cgroup.controllers ] && grep -qw io /sys/fs/cgroup/cgroup.controllers; then
  echo +io >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || true
  group=/sys/fs/cgroup/steadfast-slow-disk
  mkdir -p "$group"
  echo "$devnum wiops=$iops" >"$group/io.max"
else
  echo "$0: no blkio or io cgroup controller on this machine" >&2
  exit 1
fi

echo "disk /dev/$disk ($devnum) limited to $iops write IOPS for this benchmark"
sh -c 'echo $$ >"$1/cgroup.procs"; shift; exec "$@"' sh "$group" "$bench" "$@"
