#!/usr/bin/env bash
# The benchmark harness, from a clean clone: builds release binaries, installs the local IAM
# endpoint and the Ansible peer, and writes BENCHMARKS.md. `scripts/bench.sh --full` adds the
# 5,000-user size, and runs Ansible at 1,000 users too.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-moto.sh
ANSIBLE_VERSION=12.3.0
if ! .bench-venv/bin/python -c "import importlib.metadata as m, sys; sys.exit(m.version('ansible') != '$ANSIBLE_VERSION')" 2>/dev/null; then
  echo "installing ansible==$ANSIBLE_VERSION with boto3 into .bench-venv (about 30 s)..." >&2
  python3 -m venv .bench-venv
  .bench-venv/bin/pip install --quiet --disable-pip-version-check "ansible==$ANSIBLE_VERSION" boto3 botocore
fi
cargo build --release --locked --bin iamspec --example genspec --example ceiling \
  --example slowproxy --example localwork
python3 scripts/bench.py "$@"
