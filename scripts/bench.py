#!/usr/bin/env python3
"""The benchmark harness: specs of growing size, each against a fresh local IAM endpoint.

For each size it measures iamspec plan, apply and the plan after apply (which must be empty):
wall time, peak memory and API calls by operation (from --stats); and, side by side on another
fresh endpoint, the same mutating calls made by a bare SDK loop at the same concurrency (the
ceiling). Results go to BENCHMARKS.md. Run it through scripts/bench.sh.
"""

import datetime
import json
import os
import platform
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RELEASE = os.path.join(ROOT, "target", "release")
IAMSPEC = os.path.join(RELEASE, "iamspec")
CONCURRENCY = "8"

SIZES = [
    ("the guide (koding-route53.toml)", None),
    ("100 users, 10 groups", (100, 10, 0)),
    ("1,000 users, 100 groups, 200 policies", (1000, 100, 200)),
    ("5,000 users, 300 groups, 1,500 policies", (5000, 300, 1500)),
]


def moto():
    """A fresh local endpoint on a free port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, MOTO_IAM_LOAD_MANAGED_POLICIES="true")
    server = subprocess.Popen(
        [os.path.join(ROOT, ".venv", "bin", "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(url + "/moto-api/", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    return server, url


def aws_env(url):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ENDPOINT_URL=url, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test",
               AWS_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true", NO_COLOR="1")
    return env


def run(args, env, expect=(0,)):
    """Runs a command; returns seconds, its own peak memory in MB, stdout and stderr."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.monotonic()
        child = subprocess.Popen(args, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.monotonic() - start
        code = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if code not in expect:
        sys.exit(f"{' '.join(args)} exited {code}:\n{stdout}\n{stderr}")
    return seconds, usage.ru_maxrss / 1024, stdout, stderr


def calls(stderr):
    match = re.search(r"API calls: (\d+) \((.*)\)", stderr)
    if not match:
        return 0, {}
    ops = dict((name, int(n)) for name, n in (item.rsplit(" ", 1) for item in match.group(2).split(", ")))
    return int(match.group(1)), ops


def measure(label, size, work):
    if size is None:
        spec = os.path.join(ROOT, "specs", "koding-route53.toml")
    else:
        spec = os.path.join(work, f"spec-{size[0]}.toml")
        with open(spec, "w") as out:
            subprocess.run([os.path.join(RELEASE, "examples", "genspec"), *map(str, size)],
                           stdout=out, check=True)
    secrets = tempfile.mkdtemp(dir=work)
    server, url = moto()
    try:
        env = aws_env(url)
        run([IAMSPEC, "plan", spec], env)  # the first call loads moto's managed policies
        plan_s, plan_mb, _, plan_err = run([IAMSPEC, "plan", spec, "--stats"], env)
        apply_s, apply_mb, apply_out, apply_err = run(
            [IAMSPEC, "apply", spec, "--yes", "--stats", "--concurrency", CONCURRENCY,
             "--secrets-dir", secrets], env)
        after_s, _, after_out, after_err = run(
            [IAMSPEC, "plan", spec, "--stats", "--detailed-exitcode", "--secrets-dir", secrets], env)
        assert after_out.startswith("No changes."), after_out
    finally:
        server.terminate()
        server.wait()
    server, url = moto()
    try:
        env = aws_env(url)
        _, _, plan_json, _ = run([IAMSPEC, "plan", spec, "--json"], env)
        changes = len(json.loads(plan_json)["changes"])
        path = os.path.join(work, "plan.json")
        with open(path, "w") as out:
            out.write(plan_json)
        ceiling_s, _, _, _ = run([os.path.join(RELEASE, "examples", "ceiling"), path, CONCURRENCY], env)
    finally:
        server.terminate()
        server.wait()
    total, by_op = calls(apply_err)
    reads = sum(n for op, n in by_op.items() if op.startswith(("Get", "List", "Generate")))
    return {
        "label": label, "changes": changes, "plan_s": plan_s, "plan_calls": calls(plan_err)[0],
        "apply_s": apply_s, "apply_calls": total, "apply_reads": reads,
        "apply_mutating": total - reads, "peak_mb": max(plan_mb, apply_mb),
        "after_s": after_s, "after_calls": calls(after_err)[0], "ceiling_s": ceiling_s,
        "apply_ops": by_op,
    }


def machine():
    memory = ""
    with open("/proc/meminfo") as info:
        for line in info:
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    moto_version = subprocess.run([os.path.join(ROOT, ".venv", "bin", "python"), "-c",
                                   "import moto; print(moto.__version__)"],
                                  capture_output=True, text=True).stdout.strip()
    return (f"{os.cpu_count()} cores, {memory}, {platform.system()} {platform.release()}; "
            f"{rustc}; moto {moto_version}; {datetime.date.today().isoformat()}")


def main():
    full = "--full" in sys.argv
    sizes = SIZES if full else SIZES[:3]
    with tempfile.TemporaryDirectory() as work:
        results = []
        for label, size in sizes:
            print(f"measuring {label}...", file=sys.stderr)
            results.append(measure(label, size, work))
    lines = [
        "# Benchmarks",
        "",
        "Made by `scripts/bench.sh` (add `--full` for the 5,000-user size). Each size runs against",
        "a fresh local IAM endpoint (moto in server mode, one Python process: about 170 calls/s",
        "whatever the concurrency), at `--concurrency 8`. Times are wall-clock seconds, measured",
        "side by side in one run; memory is the peak resident size of the iamspec process.",
        "",
        f"Machine: {machine()}.",
        "",
        "| spec | changes | plan s (calls) | apply s (reads + mutating calls) | ceiling s | apply / ceiling | plan after apply s (calls) | peak MB |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        ratio = r["apply_s"] / r["ceiling_s"] if r["ceiling_s"] else float("nan")
        lines.append(
            f"| {r['label']} | {r['changes']} | {r['plan_s']:.2f} ({r['plan_calls']}) | "
            f"{r['apply_s']:.2f} ({r['apply_reads']} + {r['apply_mutating']}) | {r['ceiling_s']:.2f} | "
            f"{ratio:.2f}x | {r['after_s']:.2f} ({r['after_calls']}) | {r['peak_mb']:.0f} |")
    lines += ["", "Calls of each apply, by operation:", ""]
    for r in results:
        ops = ", ".join(f"{op} {n}" for op, n in sorted(r["apply_ops"].items()))
        lines.append(f"- {r['label']}: {ops}")
    lines += [
        "",
        "The ceiling is `examples/ceiling.rs`: the plan's mutating calls made by a bare AWS SDK",
        "loop at the same concurrency, with no reads, checks, retries of its own or secrets written.",
        "apply also reads the account first (a plan) and lists a user's keys before creating one.",
        "",
        "Local work (load, validate and diff a 5,000-user spec against a matching live state) is",
        "the criterion bench `benches/local.rs`: `cargo bench --bench local`.",
        "",
    ]
    with open(os.path.join(ROOT, "BENCHMARKS.md"), "w") as out:
        out.write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
