#!/usr/bin/env python3
"""The policy evaluator's cost, side by side in one run (release build): `iamspec who-can`
over the 5,000-user spec (300 groups, 1,500 policies), `iamspec validate` of that spec with
and without 1,000 [[checks]] (the difference is what the checks cost), and `iamspec can` of
the guide. Prints a Markdown table of medians (min-max).

  scripts/bench-eval.py [RUNS]
"""
import os
import statistics
import subprocess
import sys
import tempfile
import time

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
runs = int(sys.argv[1]) if len(sys.argv) > 1 else 9

subprocess.run(["cargo", "build", "--release", "--locked", "--quiet", "--bin", "iamspec",
                "--example", "genspec"], cwd=root, check=True)
binary = os.path.join(root, "target/release/iamspec")
with tempfile.TemporaryDirectory() as tmp:
    big = os.path.join(tmp, "big.toml")
    with open(big, "w") as f:
        subprocess.run([os.path.join(root, "target/release/examples/genspec"), "5000", "300", "1500"],
                       stdout=f, check=True)
    checked = os.path.join(tmp, "checked.toml")
    with open(big) as f, open(checked, "w") as out:
        out.write(f.read())
        for i in range(1000):
            user, team = i * 5 % 5000, i * 5 % 5000 % 300
            # Every user's group lets it write its team's bucket, and no user makes IAM users.
            out.write(f'\n[[checks]]\nprincipal = "user/user{user:04}"\naction = "s3:PutObject"\n'
                      f'resource = "arn:aws:s3:::bucket-{team}/report.csv"\nexpect = "allow"\n')
    guide = os.path.join(root, "specs/koding-route53.toml")
    cases = [
        ("who-can over 5,000 users (s3:PutObject on one bucket)",
         [binary, "who-can", big, "s3:PutObject", "arn:aws:s3:::bucket-7/x"], 0),
        ("validate of the 5,000-user spec", [binary, "validate", big], 0),
        ("validate of the 5,000-user spec with 1,000 [[checks]]", [binary, "validate", checked], 0),
        ("can: the guide's koding-user ec2:RunInstances", [binary, "can", guide, "user/koding-user", "ec2:RunInstances"], 0),
    ]
    times = {name: [] for name, _, _ in cases}
    for _ in range(runs):
        for name, command, code in cases:
            start = time.perf_counter()
            out = subprocess.run(command, capture_output=True, text=True)
            times[name].append(time.perf_counter() - start)
            if out.returncode != code:
                sys.exit(f"{name}: exit {out.returncode}\n{out.stdout[-2000:]}{out.stderr[-2000:]}")
    print(f"median of {runs} runs (min-max), release build:\n")
    print("| run | ms |")
    print("| --- | --- |")
    for name, _, _ in cases:
        t = [x * 1000 for x in times[name]]
        print(f"| {name} | {statistics.median(t):.1f} ({min(t):.1f}-{max(t):.1f}) |")
