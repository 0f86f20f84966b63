#!/usr/bin/env bash
# The release binary, side by side: built with cargo's default release settings and with the
# project's [profile.release] (LTO, one codegen unit, symbols stripped, abort on panic), then
# its size, and its start-up time measured by running each binary in turn (interleaved, so a
# noisy machine slows both alike). Writes the table to stdout; BENCHMARKS.md records it.
#   scripts/bench-release.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-200}

echo "building with cargo's default release settings (target/release-default)..." >&2
CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
  CARGO_PROFILE_RELEASE_STRIP=none CARGO_PROFILE_RELEASE_PANIC=unwind \
  cargo build --release --locked --quiet --bin iamspec --target-dir target/release-default
echo "building with [profile.release] (target/release)..." >&2
cargo build --release --locked --quiet --bin iamspec

default=target/release-default/release/iamspec
tuned=target/release/iamspec
spec=specs/koding-route53.toml

python3 - "$runs" "$default" "$tuned" "$spec" <<'PY'
import os, statistics, subprocess, sys, time
runs, default, tuned, spec = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
binaries = {"default release": default, "[profile.release]": tuned}
commands = {"--version": ["--version"], "validate the guide": ["validate", spec]}
times = {(b, c): [] for b in binaries for c in commands}
for _ in range(runs):
    for c, args in commands.items():
        for b, path in binaries.items():
            start = time.perf_counter()
            subprocess.run([path, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
            times[(b, c)].append(time.perf_counter() - start)
print(f"| build | size MB | {' | '.join(f'{c} ms (median of {runs})' for c in commands)} |")
print("| --- | --- |" + " --- |" * len(commands))
for b, path in binaries.items():
    size = os.path.getsize(path) / 1e6
    cells = " | ".join(f"{statistics.median(times[(b, c)]) * 1000:.2f}" for c in commands)
    print(f"| {b} | {size:.1f} | {cells} |")
PY
