# SPDX-License-Identifier: MIT
"""Latency: the bundled server pushes stamped 200-byte messages (`push COUNT 200 RATE stamp`:
each carries its send time, CLOCK_REALTIME) at a fixed rate into wspushd (file sink + Unix
socket); latency_reader reads the socket and takes, per record, its read() time minus the
stamp. The baseline is the same stream from another server into discard_client --stamped, a
plain client taking the same difference per message: one hop instead of two, nothing done
with the message. The setups and rates take turns, run by run."""

import statistics

from .processes import BenchError, Child, cpu_seconds, key_values, stop_all
from .setups import daemon_config, start_daemon, start_server
from .throughput import wait_for_path

SIZE = 200


def measure_baseline(tools, server, port, rate, count):
    client = Child([tools.discard, "--port", str(port), "--messages", str(count), "--stamped"])
    try:
        client.wait_for("ready")
        server.send(f"push {count} {SIZE} {rate} stamp")
        done = key_values(client.wait_for("done ", timeout=count / rate + 30))
        server.wait_for(f"pushed {count}")
    finally:
        client.stop()
    if done["complete"] != 1 or done["stamped"] != count:
        raise BenchError(f"latency baseline at {rate}/s: {done['stamped']:.0f} of {count} "
                         "stamped messages")
    return {key: done[key] for key in ("p50_us", "p99_us", "max_us")}


def measure(tools, server, daemon, socket_path, rate, count):
    reader = Child([tools.latency_reader, "--socket", socket_path, "--records", str(count)])
    try:
        reader.wait_for("ready")
        before = cpu_seconds(daemon.pid)
        server.send(f"push {count} {SIZE} {rate} stamp")
        done = key_values(reader.wait_for("done ", timeout=count / rate + 30))
        used = cpu_seconds(daemon.pid) - before
        server.wait_for(f"pushed {count}")
    finally:
        reader.stop()
    if done["complete"] != 1:
        raise BenchError(f"latency at {rate}/s: the reader got {done['records']:.0f} of "
                         f"{count} stamped records ({done['unstamped']:.0f} unstamped)")
    return {"p50_us": done["p50_us"], "p99_us": done["p99_us"], "max_us": done["max_us"],
            "upstream_p50_us": done["upstream_p50_us"],
            "upstream_p99_us": done["upstream_p99_us"],
            "cpu_share": used / (count / rate)}


def run(tools, workdir, plan, runs, store=None):
    """`plan`: {rate: seconds}. Returns {rate: median figures}, the baseline's under
    "baseline", and with `store` (the store section's keys) a daemon with a store on disk
    measured in turn with the others, under "store"."""
    servers, daemons = [], []
    try:
        baseline_server, baseline_port = start_server(tools, workdir, "latency-baseline-server")
        servers.append(baseline_server)
        pipelines = {}
        for label, settings in (("wspushd", None), ("store", store)):
            if label == "store" and not store:
                continue
            server, port = start_server(tools, workdir, f"latency-{label}-server")
            servers.append(server)
            socket_path = workdir.file(f"latency-{label}.sock")
            config = daemon_config(f"ws://127.0.0.1:{port}/websocket/latency",
                                   workdir.file(f"latency-{label}.jsonl"), socket_path,
                                   store=settings and dict(settings,
                                                           path=workdir.file("latency-store")))
            daemon = start_daemon(tools, workdir, f"latency-{label}", server, config)
            daemons.append(daemon)
            wait_for_path(socket_path, daemon)
            pipelines[label] = (server, daemon, socket_path)
        results = {(label, rate): [] for label in pipelines for rate in plan}
        baselines = {rate: [] for rate in plan}
        for _ in range(runs):
            for rate, seconds in plan.items():
                count = int(rate * seconds)
                baselines[rate].append(measure_baseline(tools, baseline_server, baseline_port,
                                                        rate, count))
                for label, (server, daemon, socket_path) in pipelines.items():
                    results[(label, rate)].append(measure(tools, server, daemon, socket_path,
                                                          rate, count))
        figures = {}
        for rate in plan:
            figures[rate] = medians(results[("wspushd", rate)])
            figures[rate]["baseline"] = medians(baselines[rate])
            if "store" in pipelines:
                figures[rate]["store"] = medians(results[("store", rate)])
        return figures
    finally:
        stop_all(daemons + servers)


def medians(runs):
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}
