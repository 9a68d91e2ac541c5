# SPDX-License-Identifier: MIT
"""Footprint: wspushd connected and idle (file and unix sinks, no subscriber), sending a
heartbeat every second that the server answers, next to the peers doing the same (each with a
server of its own); all watched over the same window: CPU from /proc/PID/task/*/schedstat,
RSS at its end."""

import time

from .processes import (BenchError, cpu_seconds, key_values, memory_kib, memory_rollup_kib,
                        stop_all)
from .setups import daemon_config, start_daemon, start_peer, start_server

SETTLE = 1.0


def heartbeats(server):
    server.send("stats")
    return key_values(server.wait_for("stats "))["heartbeats"]


def run(tools, workdir, seconds, peers=()):
    """`peers`: the peers watched too (setups.PEERS). Returns {"wspushd": figures, kind:
    figures, ...}; figures: cpu_percent, rss_kib, peak_rss_kib, private_kib (USS: pages no
    other process maps), pss_kib, heartbeats."""
    children = []
    try:
        watched = {}
        server, port = start_server(tools, workdir, "idle-server")
        children.append(server)
        config = daemon_config(f"ws://127.0.0.1:{port}/websocket/idle",
                               workdir.file("idle.jsonl"), workdir.file("idle.sock"),
                               heartbeat={"interval": "1s"})
        daemon = start_daemon(tools, workdir, "idle-wspushd", server, config)
        children.append(daemon)
        watched["wspushd"] = (daemon, server)
        for kind in peers:
            peer_server, peer_port = start_server(tools, workdir, f"idle-{kind}-server")
            children.append(peer_server)
            peer = start_peer(tools, workdir, kind, f"idle-{kind}", peer_server,
                              f"ws://127.0.0.1:{peer_port}/websocket/idle",
                              workdir.file(f"idle-{kind}.jsonl"),
                              workdir.file(f"idle-{kind}.sock"), heartbeat_interval=1)
            children.append(peer)
            watched[kind] = (peer, peer_server)
        time.sleep(SETTLE)
        before = {name: (cpu_seconds(process.pid), heartbeats(server))
                  for name, (process, server) in watched.items()}
        started = time.monotonic()
        time.sleep(seconds)
        window = time.monotonic() - started
        figures = {}
        for name, (process, server) in watched.items():
            process.check_alive()
            cpu, beats = before[name]
            rollup = memory_rollup_kib(process.pid)
            figures[name] = {
                "private_kib": rollup.get("Private_Clean", 0) + rollup.get("Private_Dirty", 0),
                "pss_kib": rollup.get("Pss", 0),
                "cpu_percent": (cpu_seconds(process.pid) - cpu) / window * 100,
                "rss_kib": memory_kib(process.pid, "VmRSS"),
                "peak_rss_kib": memory_kib(process.pid, "VmHWM"),
                "heartbeats": heartbeats(server) - beats,
            }
            if figures[name]["heartbeats"] < int(window) - 1:
                raise BenchError(f"idle {name}: {figures[name]['heartbeats']:.0f} heartbeats "
                                 f"in {window:.0f} s, not one a second")
        return figures
    finally:
        stop_all(reversed(children))
