#!/usr/bin/env bash
# Fetches the SARIF 2.1.0 JSON Schema, once, from Microsoft's @microsoft/jest-sarif package
# (MIT) into ./.tools/sarif: the lint tests check `iamspec lint --sarif` against it, as GitHub
# code scanning reads SARIF.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=1.0.0-beta.0
schema=.tools/sarif/node_modules/@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json
if [ -f "$schema" ]; then
  exit 0
fi
echo "installing the SARIF schema (@microsoft/jest-sarif $VERSION) into .tools/sarif..." >&2
mkdir -p .tools/sarif
npm install --prefix .tools/sarif --no-save --no-audit --no-fund --ignore-scripts --loglevel=error "@microsoft/jest-sarif@$VERSION" >&2
