# SPDX-License-Identifier: MIT
"""Reconnects after a server restart (the server killed, a new one started on the same port).

- First record: one wspushd (unix sink) with a fixed backoff (initial_delay D, multiplier 1,
  no jitter, no fleet spread), so the attempt is due exactly D after the link was lost. latency_reader stamps
  the `disconnected` event and the first record after it (CLOCK_REALTIME); the new server
  pushes one stamped message the moment the daemon connects (--count 1 --stamp). The figure
  is first record − (disconnected + D): the timer, TCP connect, upgrade, push and delivery,
  with the pending backoff taken out. The server is back long before D runs out.
- Spread: N light daemons (no sinks, heartbeat timeout 5 s, the default reconnect settings)
  connected to one server; the server is killed, stays down for a while, and a new one
  starts on the same port; each daemon's reconnect is the time its `connected` line was
  read, relative to the new server's `listening` line. Jitter should keep any 2-second
  window below 25% of them."""

import statistics
import subprocess
import time

from .processes import BenchError, Child, key_values, stop_all
from .setups import daemon_config, start_daemon, start_server
from .throughput import wait_for_path

SPREAD_WINDOW = 2.0


def first_record(tools, workdir, runs, delay_ms=500):
    """Returns the median figures (milliseconds): total, connect (due → stamped push),
    deliver (push → reader)."""
    server = daemon = reader = None
    socket_path = workdir.file("reconnect.sock")
    try:
        server, port = start_server(tools, workdir, "reconnect-server")
        config = daemon_config(f"ws://127.0.0.1:{port}/websocket/reconnect",
                               socket_path=socket_path,
                               reconnect={"initial_delay": f"{delay_ms}ms", "multiplier": 1.0,
                                          "jitter": 0, "fleet_spread": "0s"})
        daemon = start_daemon(tools, workdir, "reconnect-wspushd", server, config)
        wait_for_path(socket_path, daemon)
        results = []
        for _ in range(runs):
            reader = Child([tools.latency_reader, "--socket", socket_path, "--records", "1",
                            "--timeout", "20"])
            reader.wait_for("ready")
            server.stop()
            lost_ns = int(reader.wait_for("event disconnected").split("at=")[1])
            server, _ = start_server(tools, workdir, "reconnect-server", port=port,
                                     extra=["--count", "1", "--rate", "0", "--stamp"])
            back_ns = time.time_ns()
            done = key_values(reader.wait_for("done ", timeout=30))
            reader.stop()
            due_ns = lost_ns + delay_ms * 1_000_000
            if done["complete"] != 1:
                raise BenchError("reconnect: no record arrived after the server came back")
            if back_ns > due_ns:
                raise BenchError(f"reconnect: the server took {(back_ns - lost_ns) / 1e6:.0f} ms "
                                 f"to restart, longer than the {delay_ms} ms backoff")
            results.append({"total_ms": (done["first_received"] - due_ns) / 1e6,
                            "connect_ms": (done["first_sent"] - due_ns) / 1e6,
                            "deliver_ms": (done["first_received"] - done["first_sent"]) / 1e6})
        return {key: statistics.median(run[key] for run in results) for key in results[0]}
    finally:
        stop_all([reader, daemon, server])


def largest_window_share(offsets, window=SPREAD_WINDOW):
    """The largest share of `offsets` (seconds) inside any window of that length."""
    ordered = sorted(offsets)
    best, end = 0, 0
    for start, value in enumerate(ordered):
        while end < len(ordered) and ordered[end] < value + window:
            end += 1
        best = max(best, end - start)
    return best / len(ordered)


def spread(tools, workdir, daemons, down_seconds):
    """Returns: daemons, reconnected, first_s, median_s, last_s (after the new server's
    `listening`), largest_share (of the daemons, in any 2-second window)."""
    server = None
    fleet = []
    log = workdir.log("fleet-wspushd")
    try:
        server, port = start_server(tools, workdir, "fleet-server")
        for index in range(daemons):
            config_path = workdir.file(f"fleet-{index}.yaml")
            with open(config_path, "w") as out:
                out.write(daemon_config(f"ws://127.0.0.1:{port}/websocket/fleet-{index}",
                                        heartbeat={"timeout": "5s", "ping_interval": "2s"}))
            fleet.append(subprocess.Popen([tools.daemon, "--config", config_path],
                                          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                          stderr=log))
        for _ in range(daemons):
            server.wait_for("connected ", timeout=60)
        server.stop()
        time.sleep(down_seconds)
        server, _ = start_server(tools, workdir, "fleet-server", port=port)
        back = time.monotonic()
        offsets = []
        deadline = back + 60
        try:
            while len(offsets) < daemons:
                left = deadline - time.monotonic()
                read_at, _ = server.wait_for_timed("connected ", timeout=left)
                offsets.append(read_at - back)
        except BenchError:
            pass  # the count says how many came back
        dead = sum(1 for process in fleet if process.poll() is not None)
        if dead:
            raise BenchError(f"reconnect spread: {dead} of {daemons} daemons exited")
        if not offsets:
            raise BenchError("reconnect spread: no daemon came back within 60 s")
        return {"daemons": daemons, "reconnected": len(offsets), "first_s": min(offsets),
                "median_s": statistics.median(offsets), "last_s": max(offsets),
                "largest_share": largest_window_share(offsets) * len(offsets) / daemons,
                "down_s": down_seconds}
    finally:
        for process in fleet:
            if process.poll() is None:
                process.kill()
        for process in fleet:
            process.wait()
        stop_all([server])
