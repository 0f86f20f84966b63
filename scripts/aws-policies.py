#!/usr/bin/env python3
"""Turns moto's snapshot of every AWS-managed policy (moto/iam/aws_managed_policies.py, in the
local endpoint's virtualenv; Apache-2.0) into data/aws-managed-policies.json, the dated table
the linter embeds: one line per policy, `{"name", "path", "version", "document"}` (in that
order, sorted by name), after a first line naming the source and its date.

  scripts/aws-policies.py [PATH-TO-aws_managed_policies.py]
"""
import glob
import importlib.metadata
import json
import os
import re
import sys

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
source = sys.argv[1] if len(sys.argv) > 1 else glob.glob(
    os.path.join(root, ".venv/lib/python3*/site-packages/moto/iam/aws_managed_policies.py"))[0]
with open(source) as f:
    text = f.read()
data = json.loads(re.search(r'aws_managed_policies_data = """(.*)"""', text, re.S).group(1))
try:
    version = importlib.metadata.version("moto")
except importlib.metadata.PackageNotFoundError:
    version = "unknown"
newest = max(p.get("UpdateDate", p.get("CreateDate", "")) for p in data.values())[:10]
out = os.path.join(root, "data", "aws-managed-policies.json")
with open(out, "w") as f:
    f.write(json.dumps({"source": "moto", "version": version, "license": "Apache-2.0",
                        "newest": newest, "policies": len(data)}, sort_keys=True) + "\n")
    # Sorted by name, each line beginning with its name: the binary finds a policy by a binary
    # search over the lines and parses only that one.
    for name in sorted(data):
        policy = data[name]
        f.write(json.dumps({"name": name, "path": policy.get("Path", "/"),
                            "version": policy.get("DefaultVersionId", ""),
                            "document": policy["Document"]},
                           separators=(",", ":")) + "\n")
print(f"wrote {out}: {len(data)} policies, newest {newest}", file=sys.stderr)
