#!/usr/bin/env bash
# CI smoke of the fleet harness: a few hundred simulated CPEs for a few seconds against a
# release acsd on SQLite (plus the bare ceiling), asserting that every scenario runs end to end,
# every session succeeds and every JSON summary is well-formed. No timing thresholds.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
cargo build --release -p api --bin acsd -p benches --bin acs-fleet --bin bare-ceiling --bin bench
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
ulimit -n 4096 2>/dev/null || true
"$target/release/bench" smoke --bin-dir "$target/release" --out "$out"
