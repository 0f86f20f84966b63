#!/usr/bin/env bash
# The benchmark harness, from a clean clone: builds release binaries, installs the local IAM
# endpoint, and writes BENCHMARKS.md. `scripts/bench.sh --full` adds the 5,000-user size.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-moto.sh
cargo build --release --locked --bin iamspec --example genspec --example ceiling
python3 scripts/bench.py "$@"
