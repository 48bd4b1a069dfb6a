#!/usr/bin/env bash
# The benchmark harness: builds release binaries, then runs `bench all`.
#   benches/run.sh [bench options]    e.g. benches/run.sh --devices 10000 --duration 10
# Starts acsd on SQLite and, when reachable, on a fresh PostgreSQL database
# (postgres://postgres@127.0.0.1:5432/postgres by default, --postgres none to skip), measures the
# bare-hyper ceiling with the same simulator, and prints one Markdown table (also written to
# target/bench-results/table.md, raw numbers in results.json).
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
cargo build --release -p api --bin acsd -p benches --bin acs-fleet --bin bare-ceiling --bin bench
ulimit -n 65535 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
exec "$target/release/bench" all --bin-dir "$target/release" "$@"
