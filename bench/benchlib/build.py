# SPDX-License-Identifier: MIT
"""The benchmark's own optimised build."""

import os
import subprocess
import sys

from .processes import BenchError
from .setups import SOURCE_DIR

BENCH_BUILD_DIR = os.path.join(SOURCE_DIR, "build-bench")
TARGETS = ["src/daemon/wspushd", "src/testserver/wspush-testserver", "bench/discard_client",
           "bench/fanout_reader", "bench/latency_reader"]


def build(build_dir):
    """meson setup (release) the first time, then ninja for the programs the bench runs."""
    if not os.path.exists(os.path.join(build_dir, "build.ninja")):
        print(f"run: setting up {build_dir} (buildtype=release)", file=sys.stderr)
        command(["meson", "setup", build_dir, SOURCE_DIR, "--buildtype=release",
                 "-Dtests=false"])
    print(f"run: building in {build_dir}", file=sys.stderr)
    command(["ninja", "-C", build_dir, "-j2", *TARGETS])


def command(args):
    result = subprocess.run(args, capture_output=True, text=True)
    if result.returncode != 0:
        sys.stderr.write(result.stdout[-4000:] + result.stderr[-4000:])
        raise BenchError(f"{' '.join(args[:3])} ... failed (status {result.returncode})")
