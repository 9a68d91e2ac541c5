# SPDX-License-Identifier: MIT
"""Link-up to first record: the daemon and the bundled server in two network namespaces
joined by a veth pair (addresses of these test hosts only, in namespaces made here); the
daemon's link goes down for a few seconds while the server pushes 100 messages/s, then up.
The figure is the time from link-up to the first record the file sink gets after it, with
probes on (the default 2 s probe_timeout) and off (probe_timeout: 0s: only TCP's own
retransmissions or heartbeat.timeout bring the records back). Needs root."""

import os
import statistics
import subprocess
import time
import uuid

from .processes import BenchError, Child, stop_all
from .setups import daemon_config
from .throughput import edge_seqs

DAEMON_ADDRESS, SERVER_ADDRESS = "10.203.0.1", "10.203.0.2"
TIMEOUT = "10s"


def ip(*args):
    result = subprocess.run(["ip", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise BenchError(f"ip {' '.join(args)}: {result.stderr.strip()}")


def refused():
    """Why this part cannot run here, or None."""
    if os.geteuid() != 0:
        return "not root: network namespaces need CAP_SYS_ADMIN"
    try:
        name = "wsp-bench-" + uuid.uuid4().hex[:6]
        ip("netns", "add", name)
        ip("netns", "del", name)
    except BenchError as error:
        return str(error)
    return None


class Namespaces:
    def __init__(self):
        suffix = uuid.uuid4().hex[:6]
        self.daemon, self.server, self.link = f"wsp-bd-{suffix}", f"wsp-bs-{suffix}", f"wb{suffix}"
        for namespace in (self.daemon, self.server):
            ip("netns", "add", namespace)
            ip("-n", namespace, "link", "set", "lo", "up")
        ip("link", "add", self.link, "netns", self.daemon, "type", "veth", "peer", "name",
           "peer0", "netns", self.server)
        ip("-n", self.daemon, "addr", "add", f"{DAEMON_ADDRESS}/24", "dev", self.link)
        ip("-n", self.server, "addr", "add", f"{SERVER_ADDRESS}/24", "dev", "peer0")
        ip("-n", self.daemon, "link", "set", self.link, "up")
        ip("-n", self.server, "link", "set", "peer0", "up")

    def close(self):
        for namespace in (self.daemon, self.server):
            subprocess.run(["ip", "netns", "del", namespace], capture_output=True)


def records(path):
    """The last seq in the file sink, 0 before it holds one."""
    return (edge_seqs(path)[1] or 0) if os.path.exists(path) else 0


def link_up_to_first_record(tools, workdir, namespaces, probe_timeout, down_seconds):
    server = daemon = None
    sink = workdir.file(f"liveness-{probe_timeout}.jsonl")
    try:
        server = Child(["ip", "netns", "exec", namespaces.server, tools.server, "--host",
                        SERVER_ADDRESS, "--port", "0", "--quiet", "--count", "0", "--rate", "100",
                        "--size", "100"], stdin=True, name="liveness-server")
        port = int(server.wait_for("listening ").split()[1])
        config = workdir.file(f"liveness-{probe_timeout}.yaml")
        with open(config, "w") as out:
            out.write(daemon_config(f"ws://{SERVER_ADDRESS}:{port}/websocket/live", sink,
                                    heartbeat={"timeout": TIMEOUT, "ping_interval": "3s",
                                               "probe_timeout": probe_timeout},
                                    reconnect={"initial_delay": "200ms", "max_delay": "2s"}))
        daemon = Child(["ip", "netns", "exec", namespaces.daemon, tools.daemon, "--config",
                        config], name="liveness-wspushd", stderr=workdir.log("liveness-wspushd"))
        deadline = time.monotonic() + 10
        while records(sink) < 10:
            if time.monotonic() > deadline:
                raise BenchError("liveness: no records before the link went down")
            time.sleep(0.01)
        ip("-n", namespaces.daemon, "link", "set", namespaces.link, "down")
        time.sleep(down_seconds)  # the outage itself
        seen = records(sink)
        ip("-n", namespaces.daemon, "link", "set", namespaces.link, "up")
        up_at = time.monotonic()
        while records(sink) <= seen:
            if time.monotonic() - up_at > 30:
                raise BenchError("liveness: no record within 30 s of link-up")
            time.sleep(0.005)
        return time.monotonic() - up_at
    finally:
        stop_all([daemon, server])


def run(tools, workdir, runs, down_seconds):
    """Returns {"probes": median s, "timeout": median s}."""
    namespaces = Namespaces()
    try:
        results = {"probes": [], "timeout": []}
        for _ in range(runs):
            results["probes"].append(link_up_to_first_record(tools, workdir, namespaces, "2s",
                                                             down_seconds))
            results["timeout"].append(link_up_to_first_record(tools, workdir, namespaces, "0s",
                                                              down_seconds))
        return {key: statistics.median(values) for key, values in results.items()}
    finally:
        namespaces.close()
