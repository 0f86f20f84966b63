#!/usr/bin/env bash
# The demo: the "Setup AWS IAM user" guide with Route53, on a fresh local IAM endpoint.
# Plan, apply, and plan again to show there is nothing left to do.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --quiet --locked
secrets=$(mktemp -d)
trap 'rm -rf "$secrets"' EXIT
export IAMSPEC="$PWD/target/debug/iamspec" SECRETS="$secrets/secrets"

scripts/with-moto.sh bash -c '
  set -euo pipefail
  spec=specs/koding-route53.toml
  if [ -t 1 ]; then step() { printf "\n\033[1m$ %s\033[0m\n" "$*"; }; else step() { printf "\n$ %s\n" "$*"; }; fi

  step iamspec plan $spec
  "$IAMSPEC" plan $spec

  step iamspec apply $spec --yes --secrets-dir "$SECRETS"
  "$IAMSPEC" apply $spec --yes --secrets-dir "$SECRETS"

  step ls -l "$SECRETS"
  ls -l "$SECRETS"

  step iamspec plan $spec --detailed-exitcode
  "$IAMSPEC" plan $spec --detailed-exitcode
  echo "(exit code $?: nothing to do)"
'
