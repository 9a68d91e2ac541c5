# SPDX-License-Identifier: MIT
"""The store with a backlog: a file sink whose cursor is 1 GiB of records behind.

A first daemon with a store on disk and no sink takes N messages of 4 KiB (about 1 GiB in
the store) and stops. The store's cursors file is then rewritten so that a file sink's
cursor is 0, as if the sink had been down all along. A second daemon on that store feeds
the sink from the segment files while the server pushes live records at 1,000/s; the
figure is the store's bytes divided by the time from the daemon's "catching up" line to
the file holding every record. Its VmRSS is sampled meanwhile and compared with a daemon
on an empty store doing the same live job. Bytes on disk are compared with the encoded
lines the file sink wrote for the same records."""

import glob
import json
import os
import subprocess
import time
import zlib

from .processes import BenchError, Child, memory_kib, stop_all
from .setups import daemon_config, start_server
from .throughput import edge_seqs, wait_for_path

SIZE = 4096
LIVE_RATE = 1000


def store_bytes(path):
    return sum(os.path.getsize(segment) for segment in glob.glob(os.path.join(path, "*.seg")))


def fill(tools, workdir, store_path, count):
    """A daemon with only a store takes `count` messages and stops (SIGTERM)."""
    server, port = start_server(tools, workdir, "backlog-fill-server")
    socket_path = workdir.file("backlog-fill.sock")
    config = daemon_config(f"ws://127.0.0.1:{port}/websocket/fill", socket_path=socket_path,
                           store={"path": store_path, "max_size": "4GiB", "sync": "none"})
    daemon = None
    try:
        daemon = start_logged_daemon(tools, workdir, "backlog-fill", config)
        server.wait_for("connected ")
        wait_for_path(socket_path, daemon)
        reader = Child([tools.fanout_reader, "--socket", socket_path, "--clients", "1",
                        "--records", str(count)])
        try:
            reader.wait_for("ready")
            server.send(f"push {count} {SIZE} 0")
            done = reader.wait_for("done ", timeout=600)
        finally:
            reader.stop()
        if "complete=1" not in done:
            raise BenchError(f"backlog: the store did not take {count} records")
        daemon.process.terminate()
        daemon.process.wait(timeout=30)
    finally:
        stop_all([daemon, server])


def start_logged_daemon(tools, workdir, name, config):
    path = workdir.file(name + ".yaml")
    with open(path, "w") as out:
        out.write(config)
    # The daemon's stderr is read: it says when it starts catching up.
    return Child([tools.daemon, "--config", path], name=name, stderr=subprocess.STDOUT)


def rewind_cursor(store_path, sink_name):
    """The cursors file as the daemon writes it (JSON, then a CRC-32 line), with the sink's
    cursor at 0."""
    path = os.path.join(store_path, "cursors")
    with open(path) as current:
        content = current.read()
    state = json.loads(content[:content.rindex("crc32 ")])
    state["cursors"] = {"sink " + sink_name: 0}
    text = json.dumps(state, separators=(",", ":")) + "\n"
    with open(path, "w") as out:
        out.write(text + f"crc32 {zlib.crc32(text.encode()):08x}\n")


def sample_rss(daemon, until, samples):
    while not until():
        daemon.check_alive()
        samples.append(memory_kib(daemon.pid, "VmRSS"))
        time.sleep(0.05)  # a sampling period, not a wait for an event


def run(tools, workdir, backlog_bytes):
    """Returns the figures: records, store_mib, catch_up_mb_s, catch_up_s, rss_kib (peak
    during the catch-up), empty_rss_kib, disk_ratio (store bytes / jsonl bytes)."""
    count = backlog_bytes // (SIZE + 28)
    store_path = workdir.file("backlog-store")
    fill(tools, workdir, store_path, count)
    backlog = store_bytes(store_path)
    file_path = workdir.file("backlog.jsonl")
    rewind_cursor(store_path, f"file {file_path}")

    server = daemon = empty = None
    try:
        # Live records all along, to whoever connects.
        server, port = start_server(tools, workdir, "backlog-server",
                                    extra=["--count", "0", "--rate", str(LIVE_RATE),
                                           "--size", "200"])
        url = f"ws://127.0.0.1:{port}/websocket/backlog"
        # The same live job on an empty store, for the memory it takes.
        empty = start_logged_daemon(tools, workdir, "backlog-empty", daemon_config(
            url, workdir.file("backlog-empty.jsonl"),
            store={"path": workdir.file("backlog-empty-store"), "sync": "interval"}))
        server.wait_for("connected ")
        time.sleep(2.0)  # settle at the live rate before reading its memory
        empty_rss = memory_kib(empty.pid, "VmRSS")
        stop_all([empty])
        empty = None

        daemon = start_logged_daemon(tools, workdir, "backlog-catch-up", daemon_config(
            url, file_path, store={"path": store_path, "max_size": "4GiB",
                                   "sync": "interval"}))
        started, _ = daemon.wait_for_timed(f"<5>file {file_path}: catching up", timeout=120)
        samples = []
        sample_rss(daemon, lambda: (edge_seqs(file_path)[1] or 0) >= count, samples)
        elapsed = time.monotonic() - started
        return {"records": count, "store_mib": backlog / 2**20,
                "catch_up_mb_s": backlog / 1e6 / elapsed, "catch_up_s": elapsed,
                "rss_kib": max(samples), "empty_rss_kib": empty_rss,
                "disk_ratio": backlog / jsonl_bytes_of(file_path, count)}
    finally:
        stop_all([daemon, empty, server])


def jsonl_bytes_of(path, count):
    """The bytes of the first `count` lines of the file (the backlog's records)."""
    total = 0
    with open(path, "rb") as lines:
        for number, line in enumerate(lines, 1):
            total += len(line)
            if number == count:
                break
    return total
