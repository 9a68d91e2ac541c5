# SPDX-License-Identifier: MIT
"""Throughput: the bundled server pushing at rate 0 (many frames per send()) into
- the ceiling: discard_client, which reads 1 MiB at a time and only counts frames;
- wspushd with a file sink and one Unix-socket reader (ws:// or wss://);
- the peers doing the same job (Python, Go, Node.js: bench/peers/).

The pipelines' sink files are in workdir.sinks, a tmpfs directory when there is one: a file
truncated before each run takes fresh page-cache pages, which the workdir's filesystem may hand
out slower than the programs write (ext4 on this VM: ~0.5 GB/s at times). fresh_page_writes()
measures both, in the same run.

Every setup keeps its own server and stays up for all runs; the runs go round the setups
(ceiling, wspushd, ..., the peers, then again), so a machine that gets busier slows all
alike."""

import os
import statistics
import time

from .processes import BenchError, Child, cpu_seconds, key_values, memory_kib, stop_all
from .setups import daemon_config, start_daemon, start_peer, start_server

WAIT = 300.0


class Ceiling:
    label = "ceiling"

    def __init__(self, tools, workdir, size):
        self.tools, self.size = tools, size
        self.server, self.port = start_server(tools, workdir, f"ceiling-{size}-server")

    def measure(self, count):
        client = Child([self.tools.discard, "--port", str(self.port), "--messages", str(count)])
        try:
            client.wait_for("ready")
            self.server.send(f"push {count} {self.size} 0")
            done = client_done(client)
            self.server.wait_for(f"pushed {count}", timeout=WAIT)
        finally:
            client.stop()
        if done["complete"] != 1 or done["seconds"] <= 0:
            raise BenchError(f"discard_client got {done['messages']:.0f} of {count} messages")
        return {"rate": count / done["seconds"], "cpu_us": done["cpu"] / count * 1e6,
                "cpu_share": done["cpu"] / done["seconds"]}

    def peak_rss_kib(self):
        return None

    def stop(self):
        stop_all([self.server])


class Pipeline:
    """wspushd or a peer (`kind`: "wspushd" or one of setups.PEERS): a file sink and one
    Unix-socket reader."""

    def __init__(self, tools, workdir, size, kind, tls=None, store=None):
        self.tools, self.size, self.kind = tools, size, kind
        self.label = kind + ("-tls" if tls else "") + ("-store" if store else "")
        name = f"{self.label}-{size}"
        self.file_path = workdir.sink(name + ".jsonl")
        self.socket_path = workdir.file(name + ".sock")
        self.server, port = start_server(tools, workdir, name + "-server", tls=tls)
        self.process = None
        url = f"{'wss' if tls else 'ws'}://127.0.0.1:{port}/websocket/{self.label}"
        try:
            if kind == "wspushd":
                config = daemon_config(url, self.file_path, self.socket_path,
                                       ca_file=tls.ca_cert if tls else None,
                                       store=store and dict(store, path=workdir.file(name)))
                self.process = start_daemon(tools, workdir, name, self.server, config)
            else:
                self.process = start_peer(tools, workdir, kind, name, self.server, url,
                                          self.file_path, self.socket_path)
            wait_for_path(self.socket_path, self.process)
        except BaseException:
            self.stop()
            raise

    def measure(self, count):
        os.truncate(self.file_path, 0)
        reader = Child([self.tools.fanout_reader, "--socket", self.socket_path, "--clients", "1",
                        "--records", str(count)])
        try:
            reader.wait_for("ready")
            started, before = time.monotonic(), cpu_seconds(self.process.pid)
            self.server.send(f"push {count} {self.size} 0")
            done = client_done(reader)
            if done["complete"] != 1 or done["seconds"] <= 0:
                raise BenchError(f"{self.label}: the reader got {done['lines']:.0f} of {count} "
                                 "records")
            wait_for_file(self.file_path, count, self.label)
            used = cpu_seconds(self.process.pid) - before
            window = time.monotonic() - started
            self.server.wait_for(f"pushed {count}", timeout=WAIT)
        finally:
            reader.stop()
        self.process.check_alive()
        return {"rate": count / done["seconds"], "cpu_us": used / count * 1e6,
                "cpu_share": used / window, "reader_share": done["cpu"] / done["seconds"]}

    def peak_rss_kib(self):
        return memory_kib(self.process.pid, "VmHWM")

    def stop(self):
        stop_all([self.process, self.server])
        remove_sink(self.file_path)


def remove_sink(path):
    """The sink file, gone once its setup stopped: on tmpfs it holds memory (GBs at 4 KiB)."""
    try:
        os.unlink(path)
    except OSError:
        pass


def fresh_page_write_mb_s(directory, total, block=256 << 10):
    """What `dd if=/dev/zero of=NEW bs=256k` does, from Python: `total` bytes in `block`-sized
    write()s to a new file in `directory` (fresh page-cache pages, no fsync); MB/s (1e6). The
    file is removed afterwards."""
    data = bytes(block)
    path = os.path.join(directory, f"fresh-page-probe-{os.getpid()}")
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        written = 0
        started = time.perf_counter()
        while written < total:
            written += os.write(descriptor, data)
        seconds = time.perf_counter() - started
    finally:
        os.close(descriptor)
        os.unlink(path)
    return written / seconds / 1e6


def fresh_page_writes(workdir, total, runs):
    """fresh_page_write_mb_s in the sinks' directory and in the workdir, taking turns, `runs`
    times; the medians: {"sinks": MB/s, "workdir": MB/s} ("workdir" only when the sinks are
    in it)."""
    places = {"sinks": workdir.sinks}
    if os.path.realpath(workdir.sinks) != os.path.realpath(workdir.path):
        places["workdir"] = workdir.path
    results = {key: [] for key in places}
    try:
        for _ in range(runs):
            for key, directory in places.items():
                results[key].append(fresh_page_write_mb_s(directory, total))
    except OSError as error:
        raise BenchError(f"writing {total >> 20} MiB into {error.filename or 'a new file'}: "
                         f"{error.strerror}") from error
    return {key: statistics.median(values) for key, values in results.items()}


def client_done(child):
    return key_values(child.wait_for("done ", timeout=WAIT))


def wait_for_path(path, process, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        process.check_alive()
        if time.monotonic() > deadline:
            raise BenchError(f"{process.label}: {path} did not appear")
        time.sleep(0.01)


def wait_for_file(path, count, label, timeout=30.0):
    """Waits until the file sink holds `count` records, seq consecutive (it was truncated
    before the run); throws BenchError when it does not."""
    deadline = time.monotonic() + timeout
    while True:
        first, last = edge_seqs(path)
        if first is not None and last - first + 1 == count:
            return
        if time.monotonic() > deadline:
            raise BenchError(f"{label}: the file sink holds seq {first}..{last}, "
                             f"not {count} records")
        time.sleep(0.01)


def edge_seqs(path):
    """The seq of the first and of the last complete record line, or (None, None)."""
    with open(path, "rb") as records:
        head = records.read(64)
        records.seek(0, os.SEEK_END)
        size = records.tell()
        records.seek(max(0, size - 65536))
        tail = records.read()
    lines = tail.split(b"\n")
    if size == 0 or len(lines) < 2 or not head.startswith(b'{"seq":'):
        return None, None
    return seq_of(head), seq_of(lines[-2])


def seq_of(line):
    return int(line[len(b'{"seq":'):line.index(b",")])


def median_figures(runs):
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def next_count(count, rate, seconds, first):
    """Messages for the next run: about `seconds` at the rate just measured, within a factor
    of ten of the first run's count (so a fluke cannot make a run tiny or endless)."""
    if not seconds:
        return count
    return int(min(max(rate * seconds, first / 10), first * 10))


def run_group(tools, workdir, size, counts, runs, seconds=None, tls=None, peers=(),
              store=None):
    """One message size: every setup, `runs` times round. `counts`: each setup's messages in
    its first run; with `seconds` ({label: seconds}), later runs take about that long.
    `peers`: the peers measured too (setups.PEERS), each labelled with its kind.
    `store`: also wspushd with a store on disk with these settings ("wspushd-store").
    Returns {label: figures}, each with the medians, peak_rss_kib and the counts used."""
    setups = []
    try:
        setups.append(Ceiling(tools, workdir, size))
        setups.append(Pipeline(tools, workdir, size, "wspushd"))
        if store:
            setups.append(Pipeline(tools, workdir, size, "wspushd", store=store))
        if tls:
            setups.append(Pipeline(tools, workdir, size, "wspushd", tls=tls))
        for kind in peers:
            setups.append(Pipeline(tools, workdir, size, kind))
        results = {setup.label: [] for setup in setups}
        used = {setup.label: [] for setup in setups}
        for _ in range(runs):
            for setup in setups:
                label = setup.label
                count = (counts[label] if not used[label] else
                         next_count(used[label][-1], results[label][-1]["rate"],
                                    (seconds or {}).get(label), counts[label]))
                used[label].append(count)
                results[label].append(setup.measure(count))
        figures = {}
        for setup in setups:
            figures[setup.label] = median_figures(results[setup.label])
            figures[setup.label]["peak_rss_kib"] = setup.peak_rss_kib()
            figures[setup.label]["counts"] = used[setup.label]
        return figures
    finally:
        for setup in setups:
            setup.stop()
