# SPDX-License-Identifier: MIT
"""The frames part: bench/frame_parsers, the daemon's frame parser next to wslay's frame API
on the same bytes in memory (no daemon, no socket), each figure the median of its runs."""

import os
import subprocess

from .processes import BenchError

PACKAGE = "libwslay-dev"
PROGRAM = os.path.join("bench", "frame_parsers")


def program(build_dir):
    return os.path.join(build_dir, PROGRAM)


def run(build_dir, runs, run_ms):
    """{size: {parser: {"frames_per_s", "mb_per_s", "ns_per_frame"}}}; parsers: wspushd and
    wslay (whole messages), wspushd-frames and wslay-frames (the frames alone). None when
    frame_parsers was not built (no libwslay when the build was set up)."""
    path = program(build_dir)
    if not os.access(path, os.X_OK):
        return None
    try:
        result = subprocess.run([path, "--runs", str(runs), "--run-ms", str(run_ms)],
                                capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired:
        raise BenchError("frame_parsers took more than 600 s") from None
    if result.returncode != 0:
        raise BenchError(f"frame_parsers exited with status {result.returncode}: "
                         f"{result.stderr.strip()[-300:]}")
    figures = {}
    for line in result.stdout.splitlines():
        kind, *pairs = line.split()
        fields = dict(pair.split("=", 1) for pair in pairs)
        if kind == "frames":
            figures.setdefault(int(fields["size"]), {})[fields["parser"]] = {
                key: float(fields[key]) for key in ("frames_per_s", "mb_per_s", "ns_per_frame")}
    if sorted(figures) != [200, 4096]:
        raise BenchError(f"frame_parsers printed no figures: {result.stdout[-300:]!r}")
    return figures
