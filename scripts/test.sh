#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs the local IAM endpoint, checks formatting
# and lints, runs every unit and integration test against one moto server (each test in an
# account of its own), and runs the library example.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup-moto.sh
cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings
log=$(mktemp)
trap 'rm -f "$log"' EXIT
scripts/with-moto.sh bash -c '
  set -euo pipefail
  cargo run --quiet --locked --example plan -- specs/koding-route53.toml >/dev/null
  echo "example: ok"
  cargo test --locked 2>&1
' | tee "$log"
# One closing line for the whole suite, summed over the test binaries.
awk '/^test result:/ { p += $4; f += $6 } END { printf "tests: %d passed, %d failed\n", p, f; exit (f > 0 || p == 0) }' "$log"
