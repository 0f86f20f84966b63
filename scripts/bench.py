#!/usr/bin/env python3
"""The benchmark harness: specs of growing size, each against a fresh local IAM endpoint.

For each size it measures iamspec plan, apply and the plan after apply (which must be empty):
wall time, peak memory and API calls by operation (from --stats); and, side by side on fresh
endpoints, the same mutating calls made by a bare SDK loop at the same concurrency (the
ceiling) and an Ansible playbook that builds the same state (the peer, first run and rerun).
It also measures apply at concurrency 1 and 8 with real-AWS-like latency added by a proxy, and
the peak memory of the local work at AWS's limits. Results go to BENCHMARKS.md. Run it through
scripts/bench.sh.
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
EXAMPLES = os.path.join(RELEASE, "examples")
BENCH_VENV = os.path.join(ROOT, ".bench-venv")
CONCURRENCY = "8"
# Added to every call in the concurrency comparison: about what a call to IAM takes from a
# machine in the same region.
LATENCY_MS = 50
# Ansible runs one module process per entity: past this many users a run takes hours.
ANSIBLE_MAX_USERS = 100
ANSIBLE_MAX_USERS_FULL = 1000

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
            subprocess.run([os.path.join(EXAMPLES, "genspec"), *map(str, size)],
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
        ceiling_s, _, _, _ = run([os.path.join(EXAMPLES, "ceiling"), path, CONCURRENCY], env)
    finally:
        server.terminate()
        server.wait()
    ansible = None
    limit = ANSIBLE_MAX_USERS_FULL if "--full" in sys.argv else ANSIBLE_MAX_USERS
    if size is None or size[0] <= limit:
        ansible = ansible_peer(spec, path, work)
    total, by_op = calls(apply_err)
    reads = sum(n for op, n in by_op.items() if op.startswith(("Get", "List", "Generate")))
    return {
        "ansible": ansible,
        "label": label, "changes": changes, "plan_s": plan_s, "plan_calls": calls(plan_err)[0],
        "apply_s": apply_s, "apply_calls": total, "apply_reads": reads,
        "apply_mutating": total - reads, "peak_mb": max(plan_mb, apply_mb),
        "after_s": after_s, "after_calls": calls(after_err)[0], "ceiling_s": ceiling_s,
        "apply_ops": by_op,
    }


def playbook(plan, url):
    """An Ansible playbook that builds what an iamspec plan on an empty account builds, with the
    amazon.aws modules: one task per kind of entity, one module run per entity."""
    policies, users, groups, keys = {}, {}, {}, []
    for change in plan["changes"]:
        op = change["op"]
        if op == "create_policy":
            policy = {"name": change["policy"], "path": change["path"], "document": change["document"]}
            if change.get("description"):
                policy["description"] = change["description"]
            policies[change["policy"]] = policy
        elif op == "create_user":
            users[change["user"]] = {"name": change["user"], "path": change["path"],
                                     "tags": change.get("tags", {}), "policies": []}
        elif op == "create_group":
            groups[change["group"]] = {"name": change["group"], "path": change["path"],
                                       "policies": [], "users": []}
        elif op == "attach_group_policy":
            groups[change["group"]]["policies"].append(change["policy"])
        elif op == "attach_user_policy":
            users[change["user"]]["policies"].append(change["policy"])
        elif op == "add_user_to_group":
            groups[change["group"]]["users"].append(change["user"])
        elif op == "create_access_key":
            keys.append(change["user"])
        else:
            sys.exit(f"the Ansible peer does not build `{op}`")

    def task(name, module, args, items, label="{{ item.name }}"):
        return {"name": name, module: args, "loop": items, "loop_control": {"label": label}}

    return [{
        "hosts": "localhost", "connection": "local", "gather_facts": False,
        "module_defaults": {"group/amazon.aws.aws": {
            "endpoint_url": url, "region": "us-east-1", "access_key": "test", "secret_key": "test"}},
        "tasks": [
            task("customer-managed policies", "amazon.aws.iam_managed_policy", {
                "name": "{{ item.name }}", "path": "{{ item.path }}",
                "description": "{{ item.description | default(omit) }}",
                "policy": "{{ item.document | to_json }}", "state": "present"},
                list(policies.values())),
            task("users", "amazon.aws.iam_user", {
                "name": "{{ item.name }}", "path": "{{ item.path }}", "tags": "{{ item.tags }}",
                "managed_policies": "{{ item.policies }}", "state": "present"},
                list(users.values())),
            task("groups, their policies and members", "amazon.aws.iam_group", {
                "name": "{{ item.name }}", "path": "{{ item.path }}",
                "managed_policies": "{{ item.policies }}", "users": "{{ item.users }}",
                "state": "present"},
                list(groups.values())),
            task("access keys", "amazon.aws.iam_access_key",
                 {"user_name": "{{ item }}", "state": "present"}, keys, "{{ item }}"),
        ],
    }]


def ansible_peer(spec, plan_path, work):
    """The Ansible playbook on a fresh endpoint, first run and rerun; after the first run,
    iamspec must find the account as its spec says (the same state was built)."""
    with open(plan_path) as source:
        plan = json.load(source)
    server, url = moto()
    try:
        env = aws_env(url)
        run([IAMSPEC, "plan", spec], env)  # moto loads its managed policies on the first call
        path = os.path.join(work, "playbook.json")
        with open(path, "w") as out:
            json.dump(playbook(plan, url), out)
        python = os.path.join(BENCH_VENV, "bin", "python")
        env = dict(env, ANSIBLE_PYTHON_INTERPRETER=python, ANSIBLE_PIPELINING="True",
                   ANSIBLE_LOCALHOST_WARNING="False", ANSIBLE_INVENTORY_UNPARSED_WARNING="False")
        command = [os.path.join(BENCH_VENV, "bin", "ansible-playbook"), "-i", "localhost,", path]
        first_s, _, _, _ = run(command, env)
        secrets = tempfile.mkdtemp(dir=work)
        _, _, after, _ = run([IAMSPEC, "plan", spec, "--secrets-dir", secrets], env)
        assert after.startswith("No changes."), f"Ansible built another state:\n{after}"
        rerun_s, _, _, _ = run(command, env)
    finally:
        server.terminate()
        server.wait()
    return {"first_s": first_s, "rerun_s": rerun_s}


def concurrency(work):
    """apply of the 100-user spec at concurrency 1 and 8, each on a fresh endpoint behind a
    proxy that adds LATENCY_MS to every call."""
    spec = os.path.join(work, "spec-latency.toml")
    with open(spec, "w") as out:
        subprocess.run([os.path.join(EXAMPLES, "genspec"), "100", "10", "0"], stdout=out, check=True)
    seconds = {}
    for level in ("1", "8"):
        server, url = moto()
        proxy = subprocess.Popen([os.path.join(EXAMPLES, "slowproxy"), url, str(LATENCY_MS)],
                                 stdout=subprocess.PIPE, text=True)
        try:
            proxy_url = proxy.stdout.readline().strip()
            env = aws_env(url)
            run([IAMSPEC, "plan", spec], env)  # moto's first call, without the latency
            env = aws_env(proxy_url)
            secrets = tempfile.mkdtemp(dir=work)
            seconds[level], _, _, _ = run(
                [IAMSPEC, "apply", spec, "--yes", "--concurrency", level, "--secrets-dir", secrets], env)
        finally:
            proxy.kill()
            proxy.wait()
            server.terminate()
            server.wait()
    return seconds


def local_memory():
    """Peak memory of loading, validating and diffing 5,000 users against a matching state."""
    _, peak_mb, out, _ = run([os.path.join(EXAMPLES, "localwork")], dict(os.environ))
    return peak_mb, out.strip()


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
        print("measuring concurrency 1 and 8 with latency...", file=sys.stderr)
        levels = concurrency(work)
        print("measuring the local work's memory...", file=sys.stderr)
        local_mb, local_line = local_memory()
    lines = [
        "# Benchmarks",
        "",
        "Made by `scripts/bench.sh` (add `--full` for the 5,000-user size and Ansible at 1,000",
        "users). Each size runs against a fresh local IAM endpoint (moto in server mode, one",
        "Python process: about 170 calls/s whatever the concurrency), at `--concurrency 8`. Times",
        "are wall-clock seconds, measured side by side in one run; memory is the peak resident",
        "size of the iamspec process.",
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
        "## The peer: an Ansible playbook",
        "",
        "The same state built by a playbook of the amazon.aws modules (`iam_managed_policy`,",
        "`iam_user`, `iam_group`, `iam_access_key`), generated from the plan, on a fresh endpoint;",
        "after its first run iamspec checks that the account is exactly the spec. Its rerun is",
        "not a no-op: `iam_access_key` makes a second key for every user that has one.",
        "",
        "| spec | Ansible first run s | iamspec apply s | ratio | Ansible rerun s | iamspec plan after apply s | ratio |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        a = r["ansible"]
        if a is None:
            continue
        lines.append(
            f"| {r['label']} | {a['first_s']:.2f} | {r['apply_s']:.2f} | {a['first_s'] / r['apply_s']:.0f}x | "
            f"{a['rerun_s']:.2f} | {r['after_s']:.2f} | {a['rerun_s'] / r['after_s']:.0f}x |")
    lines += [
        "",
        "## Concurrency with latency",
        "",
        f"apply of the 100-user spec behind a proxy that adds {LATENCY_MS} ms to every call",
        "(`examples/slowproxy.rs`, the test tree's proxy), each on a fresh endpoint:",
        "",
        "| --concurrency 1 s | --concurrency 8 s | speed-up |",
        "| --- | --- | --- |",
        f"| {levels['1']:.2f} | {levels['8']:.2f} | {levels['1'] / levels['8']:.1f}x |",
        "",
        "## Local work",
        "",
        "Load, validate and diff a 5,000-user spec (300 groups, 1,500 policies) against a matching",
        "live state: the criterion bench `benches/local.rs` (`cargo bench --bench local`) times it;",
        "`examples/localwork.rs` does it once, cold, in a process of its own, for the peak",
        f"memory: {local_mb:.0f} MB, the spec text and the live state included ({local_line}).",
        "",
    ]
    with open(os.path.join(ROOT, "BENCHMARKS.md"), "w") as out:
        out.write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
