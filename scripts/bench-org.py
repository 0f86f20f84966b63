#!/usr/bin/env python3
"""An organization's cost, side by side in one run: `iamspec plan` and `iamspec apply` of an
organization file whose one layer is the guide's spec (specs/koding-route53.toml), targeted by
OU at 1 member account and at 20, each on a fresh local endpoint behind the test tree's proxy
adding 50 ms to every call (examples/slowproxy.rs). Each account is reached by assuming
OrganizationAccountAccessRole in it, as in a real organization. The sizes alternate, RUNS
times each (default 3); the table has the medians, and goes into BENCHMARKS.md between its
markers.

  scripts/bench-org.py [RUNS]
"""
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  the harness's endpoint, environment and runner

ROOT = bench.ROOT
LATENCY_MS = 50
# (accounts, accounts at once): one, twenty at the default 8, twenty all at once.
SIZES = ((1, 8), (20, 8), (20, 20))
START, END = "<!-- organization:start -->", "<!-- organization:end -->"

ORG = """version = 1
[organization]
role = "OrganizationAccountAccessRole"
concurrency = {concurrency}

[[targets]]
ous = ["Bench"]
specs = ["layers/guide.toml"]
"""


def organization(url, members):
    """An organization on the endpoint with `members` accounts in the OU Bench."""
    script = f"""
import boto3
o = boto3.client('organizations', endpoint_url='{url}', region_name='us-east-1',
                 aws_access_key_id='test', aws_secret_access_key='test')
o.create_organization(FeatureSet='ALL')
root = o.list_roots()['Roots'][0]['Id']
ou = o.create_organizational_unit(ParentId=root, Name='Bench')['OrganizationalUnit']['Id']
for i in range({members}):
    account = o.create_account(Email=f'a{{i}}@example.com', AccountName=f'bench-{{i}}')
    o.move_account(AccountId=account['CreateAccountStatus']['AccountId'],
                   SourceParentId=root, DestinationParentId=ou)
"""
    subprocess.run([os.path.join(ROOT, ".venv", "bin", "python"), "-c", script], check=True)


def once(members, concurrency, work):
    """Seconds to plan, then apply, the guide's layer to `members` accounts, `concurrency`
    accounts at once."""
    server, url = bench.moto()
    proxy = subprocess.Popen([os.path.join(bench.EXAMPLES, "slowproxy"), url, str(LATENCY_MS)],
                             stdout=subprocess.PIPE, text=True)
    try:
        proxy_url = proxy.stdout.readline().strip()
        organization(url, members)
        dir = tempfile.mkdtemp(dir=work)
        os.makedirs(os.path.join(dir, "layers"))
        with open(os.path.join(dir, "org.toml"), "w") as out:
            out.write(ORG.format(concurrency=concurrency))
        shutil.copy(os.path.join(ROOT, "specs", "koding-route53.toml"),
                    os.path.join(dir, "layers", "guide.toml"))
        org = os.path.join(dir, "org.toml")
        env = bench.aws_env(proxy_url)
        secrets = os.path.join(dir, "secrets")
        plan_s, _, out, _ = bench.run([bench.IAMSPEC, "plan", org, "--secrets-dir", secrets], env)
        assert f"{members} account" in out, out
        apply_s, _, out, _ = bench.run(
            [bench.IAMSPEC, "apply", org, "--yes", "--secrets-dir", secrets], env)
        assert out.count(" applied") == members, out
        return plan_s, apply_s
    finally:
        proxy.kill()
        proxy.wait()
        server.terminate()
        server.wait()


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    subprocess.run(["cargo", "build", "--release", "--locked", "--quiet", "--bin", "iamspec",
                    "--example", "slowproxy"], cwd=ROOT, check=True)
    times = {size: ([], []) for size in SIZES}
    with tempfile.TemporaryDirectory() as work:
        for run in range(runs):
            for members, concurrency in SIZES:
                print(f"run {run + 1}/{runs}: {members} account(s), {concurrency} at once...",
                      file=sys.stderr)
                plan_s, apply_s = once(members, concurrency, work)
                times[(members, concurrency)][0].append(plan_s)
                times[(members, concurrency)][1].append(apply_s)
    median = {n: (statistics.median(p), statistics.median(a)) for n, (p, a) in times.items()}
    one, many, all_at_once = (median[size] for size in SIZES)
    lines = [
        START,
        "## An organization",
        "",
        "`scripts/bench-org.py`: an organization file whose one layer is the guide's spec, targeted",
        "by OU at 1 member account and at 20, each on a fresh local endpoint behind the test tree's",
        f"proxy adding {LATENCY_MS} ms to every call; each account reached by assuming",
        "OrganizationAccountAccessRole; 20 accounts at the default `concurrency = 8` and at 20.",
        f"The three alternate, {runs} runs each; medians in seconds, release build.",
        "",
        "| | 1 account | 20 accounts, 8 at once | ratio | 20 accounts, 20 at once | ratio | target |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        f"| plan | {one[0]:.2f} | {many[0]:.2f} | {many[0] / one[0]:.1f}x | {all_at_once[0]:.2f} | {all_at_once[0] / one[0]:.1f}x | <= 2x |",
        f"| apply | {one[1]:.2f} | {many[1]:.2f} | {many[1] / one[1]:.1f}x | {all_at_once[1]:.2f} | {all_at_once[1] / one[1]:.1f}x | <= 3x |",
        "",
        END,
    ]
    table = "\n".join(lines)
    print(table)
    path = os.path.join(ROOT, "BENCHMARKS.md")
    with open(path) as source:
        text = source.read()
    if START in text:
        text = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: table, text, flags=re.S)
    else:
        text = text.rstrip("\n") + "\n\n" + table + "\n"
    with open(path, "w") as out:
        out.write(text)


if __name__ == "__main__":
    main()
