# SPDX-License-Identifier: MIT
"""The benchmark's own optimised build, the Go peer's build, and the packages of the peers
and of the frames part (libwslay-dev)."""

import os
import subprocess
import sys

from . import frames
from .processes import BenchError
from .setups import PEER_PACKAGES, PEERS, SOURCE_DIR, go_installed, go_peer_path

BENCH_BUILD_DIR = os.path.join(SOURCE_DIR, "build-bench")
TARGETS = ["src/daemon/wspushd", "src/testserver/wspush-testserver", "bench/discard_client",
           "bench/fanout_reader", "bench/latency_reader"]


def build(build_dir):
    """meson setup (release) the first time, then ninja for the programs the bench runs."""
    if not os.path.exists(os.path.join(build_dir, "build.ninja")):
        print(f"run: setting up {build_dir} (buildtype=release)", file=sys.stderr)
        command(["meson", "setup", build_dir, SOURCE_DIR, "--buildtype=release",
                 "-Dtests=false"])
    elif wslay_installed() and not has_target(build_dir, frames.PROGRAM):
        # libwslay-dev came after the build directory was set up: meson looks again.
        command(["meson", "setup", "--reconfigure", build_dir, SOURCE_DIR])
    print(f"run: building in {build_dir}", file=sys.stderr)
    optional = [frames.PROGRAM] if has_target(build_dir, frames.PROGRAM) else []
    command(["ninja", "-C", build_dir, "-j2", *TARGETS, *optional])


def wslay_installed():
    return os.path.exists("/usr/include/wslay/wslay.h")


def has_target(build_dir, target):
    with open(os.path.join(build_dir, "build.ninja")) as ninja:
        return f"\nbuild {target}:" in ninja.read()


def install_wslay():
    """apt-get installs libwslay-dev, the frames part's other parser, when it is missing (as
    the peers' packages are); without it that part says it did not run."""
    helper = os.path.join(SOURCE_DIR, "scripts", "common.sh")
    result = subprocess.run(["bash", "-c", 'source "$0" && install_packages "$@"', helper,
                             frames.PACKAGE], stdout=sys.stderr)
    if result.returncode != 0:
        print(f"run: {frames.PACKAGE} is not installed; the frames part does not run",
              file=sys.stderr)


def install_peer_packages():
    """apt-get installs the Debian packages the peers need that are missing, with
    scripts/common.sh's install_packages (as root; otherwise it names them, and the peers that
    cannot run say n/a in the table)."""
    packages = [package for kind in PEERS for package in PEER_PACKAGES[kind]]
    helper = os.path.join(SOURCE_DIR, "scripts", "common.sh")
    result = subprocess.run(["bash", "-c", 'source "$0" && install_packages "$@"', helper,
                             *packages], stdout=sys.stderr)
    if result.returncode != 0:
        print("run: the peers' packages are not all installed; those peers say n/a",
              file=sys.stderr)


def build_go_peer(build_dir):
    """go build of bench/peers/go into build_dir (setups.go_peer_path), when Go and
    gorilla/websocket are installed. Offline: go.mod replaces the module with Debian's copy,
    and nothing is fetched (GOPROXY=off); the build cache is in build_dir, so a second build
    takes a second."""
    if not go_installed():
        return
    output = go_peer_path(build_dir)
    os.makedirs(os.path.dirname(output), exist_ok=True)
    env = dict(os.environ, GO111MODULE="on", GOPROXY="off", GOFLAGS="-mod=readonly",
               GOTOOLCHAIN="local", GOCACHE=os.path.join(build_dir, "bench", "peers", "go-cache"))
    print(f"run: building the Go peer in {os.path.dirname(output)}", file=sys.stderr)
    command(["go", "build", "-trimpath", "-o", output, "."],
            cwd=os.path.join(SOURCE_DIR, "bench", "peers", "go"), env=env)


def command(args, **kwargs):
    result = subprocess.run(args, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        sys.stderr.write(result.stdout[-4000:] + result.stderr[-4000:])
        raise BenchError(f"{' '.join(args[:3])} ... failed (status {result.returncode})")
