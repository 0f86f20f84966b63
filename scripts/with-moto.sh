#!/usr/bin/env bash
# Runs a command with a fresh local IAM endpoint: installs moto if needed, starts it on a free
# loopback port, points the AWS SDK at it (AWS_ENDPOINT_URL and test credentials) and stops it
# when the command ends. Installs taplo too, for the schema tests.
#   scripts/with-moto.sh COMMAND [ARGS...]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/setup-moto.sh"
"$root/scripts/setup-taplo.sh"
"$root/scripts/setup-sarif-schema.sh"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log=$(mktemp -t moto.XXXXXX.log)
MOTO_IAM_LOAD_MANAGED_POLICIES=true "$root/.venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
moto_pid=$!
trap 'kill "$moto_pid" 2>/dev/null; wait "$moto_pid" 2>/dev/null; rm -f "$log"' EXIT

for _ in $(seq 1 100); do
  if python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/moto-api/', timeout=1)" 2>/dev/null; then
    break
  fi
  if ! kill -0 "$moto_pid" 2>/dev/null; then
    echo "the local IAM endpoint did not start:" >&2
    cat "$log" >&2
    exit 1
  fi
  sleep 0.2
done

export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE AWS_SESSION_TOKEN
echo "local IAM endpoint: $AWS_ENDPOINT_URL" >&2
"$@"
