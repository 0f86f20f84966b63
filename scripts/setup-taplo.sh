#!/usr/bin/env bash
# Installs taplo, the TOML toolkit behind Even Better TOML, into ./.tools/taplo, once: the schema
# tests check that an editor pointed at iamspec's JSON Schema by a `#:schema` line accepts every
# shipped spec and rejects a wrong key.
set -euo pipefail
cd "$(dirname "$0")/.."
TAPLO_VERSION=0.7.0
bin=.tools/taplo/node_modules/.bin/taplo
package=.tools/taplo/node_modules/@taplo/cli/package.json
if [ -x "$bin" ] && [ "$(node -p "require('./$package').version" 2>/dev/null)" = "$TAPLO_VERSION" ]; then
  exit 0
fi
echo "installing taplo $TAPLO_VERSION into .tools/taplo..." >&2
mkdir -p .tools/taplo
npm install --prefix .tools/taplo --no-save --no-audit --no-fund --loglevel=error "@taplo/cli@$TAPLO_VERSION" >&2
