#!/usr/bin/env python3
"""The policy linter's cost, side by side in one run: `iamspec validate` (release build) of
the guide's spec (no policy document: the action table is never parsed), of a spec with
documents (the table parsed and every document linted), and of a 5,000-user spec with 1,500
policies; and the binary's size with the table in it. Prints a Markdown table.

  scripts/bench-lint.py [RUNS]
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
runs = int(sys.argv[1]) if len(sys.argv) > 1 else 15


def cargo(*args):
    subprocess.run(["cargo", *args, "--release", "--locked", "--quiet"], cwd=root, check=True)


cargo("build", "--bin", "iamspec", "--example", "genspec")
binary = os.path.join(root, "target/release/iamspec")
with tempfile.TemporaryDirectory() as tmp:
    big = os.path.join(tmp, "big.toml")
    with open(big, "w") as f:
        subprocess.run([os.path.join(root, "target/release/examples/genspec"), "5000", "300", "1500"],
                       stdout=f, check=True)
    # Every AWS-managed policy as a file of its own, for `iamspec lint`.
    managed = os.path.join(tmp, "managed")
    os.makedirs(managed)
    with open(os.path.join(root, "data/aws-managed-policies.json")) as f:
        next(f)
        for line in f:
            policy = json.loads(line)
            with open(os.path.join(managed, policy["name"] + ".json"), "w") as out:
                json.dump(policy["document"], out)
    managed_files = sorted(os.path.join(managed, n) for n in os.listdir(managed))
    specs = [
        ("the guide (koding-route53.toml): no documents", os.path.join(root, "specs/koding-route53.toml")),
        ("koding-stack.toml: 1 policy, 2 inline documents", os.path.join(root, "specs/koding-stack.toml")),
        ("5,000 users, 300 groups, 1,500 policies", big),
    ]
    lint_all = f"lint of the {len(managed_files):,} AWS-managed policies, one file each"
    times = {name: [] for name, _ in specs}
    times[lint_all] = []
    # Interleaved, so that the machine's noise falls on every spec alike.
    for _ in range(runs):
        for name, path in specs:
            start = time.perf_counter()
            out = subprocess.run([binary, "validate", path], capture_output=True, text=True)
            times[name].append(time.perf_counter() - start)
            if "is valid" not in out.stdout:
                sys.exit(f"{name}: {out.stdout}{out.stderr}")
        start = time.perf_counter()
        out = subprocess.run([binary, "lint", *managed_files], capture_output=True, text=True)
        times[lint_all].append(time.perf_counter() - start)
        if out.returncode != 0:
            sys.exit(f"{lint_all}: exit {out.returncode}\n{out.stderr[-2000:]}")
    specs.append((lint_all, None))
    print(f"validate, median of {runs} runs (min-max), release build:\n")
    print("| spec | ms |")
    print("| --- | --- |")
    for name, _ in specs:
        t = [x * 1000 for x in times[name]]
        print(f"| {name} | {statistics.median(t):.1f} ({min(t):.1f}-{max(t):.1f}) |")
size = os.path.getsize(binary)
table = os.path.getsize(os.path.join(root, "data/iam-actions.tsv"))
print(f"\nrelease binary: {size / 1e6:.1f} MB, of which the action table {table / 1e6:.1f} MB")
