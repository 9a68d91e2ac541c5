# SPDX-License-Identifier: MIT
"""No heap allocation per message on the hot path (issue 13), counted in the real daemon.

wspushd runs with a file sink and one Unix-socket reader under an LD_PRELOAD shim
(malloc_counter.c) that counts every malloc, calloc, realloc and aligned allocation into a
file mapped shared, which the test reads while the daemon runs. After a warm-up that fills
the store's memory, the record pool and every queue to their working size, a phase of N
messages and then one of 10·N: what the second costs more than the first, over 9·N, is what
one more message costs; what a phase costs once (a timer, the push command) cancels out.

The stores have their default sizes: records kept in memory are not spare for the next
message, so the warm-up must go past what memory holds (16 MiB in memory, about 25,000
records of 200 B; 8 MiB on disk), and the reader, which may lag by up to its max_queue,
must lag within it."""

import os
import struct
import time

import harness
from store_files import store_yaml

SHIM = os.environ.get("WSPUSH_MALLOC_COUNTER", "")
SIZE = 200
WARM_UP = 30000  # more than the memory store's 16 MiB hold
N = 5000
# Allocations per extra message allowed: one every hundred messages would fail it.
BOUND = 0.01


class Allocations(harness.DaemonTestCase):
    def setUp(self):
        super().setUp()
        if harness.SANITIZED:
            self.skipTest("ASan replaces malloc itself")
        if not os.path.exists(SHIM):
            self.skipTest(f"no allocation counter built ({SHIM or 'WSPUSH_MALLOC_COUNTER'})")
        self.socket_path = os.path.join(self.workdir, "wspushd.sock")
        self.count_file = os.path.join(self.workdir, "allocations")
        self.last_seq = 0

    def allocations(self):
        with open(self.count_file, "rb") as counted:
            return struct.unpack("=Q", counted.read(8))[0]

    def start(self, store):
        server = self.server()
        config = harness.config_yaml(server.url(), self.sink,
                                     sinks_yaml=harness.unix_sink_yaml(self.socket_path),
                                     extra=store)
        daemon = self.daemon(config, env={"LD_PRELOAD": SHIM,
                                          "WSPUSH_MALLOC_COUNT_FILE": self.count_file})
        server.wait_for("connected ")
        reader = self.unix_reader(self.socket_path)
        reader.status()  # taken on: it gets every record from now on
        self.assertGreater(self.allocations(), 0, "the shim counted nothing: not loaded?")
        return server, daemon, reader

    def wait_file_seq(self, seq, timeout=harness.DEFAULT_WAIT):
        """Waits until the file sink's last whole line is record `seq`."""
        deadline = time.monotonic() + timeout
        last = None
        while True:
            with open(self.sink, "rb") as sink:
                sink.seek(max(0, os.path.getsize(self.sink) - 4096))
                tail = sink.read()
            lines = tail[:tail.rfind(b"\n")].rsplit(b"\n", 1)
            if lines[-1].startswith(b'{"seq":'):
                last = int(lines[-1][7:lines[-1].index(b",")])
                if last == seq:
                    return
            if time.monotonic() > deadline:
                raise AssertionError(f"the file sink's last record is {last}, not {seq}, "
                                     f"after {timeout} s")
            time.sleep(0.01)  # a file gives no event to await

    def run_phase(self, server, reader, count):
        """Pushes `count` messages; returns when the reader and the file have them all."""
        server.command(f"push {count} {SIZE} 0")
        first, self.last_seq = self.last_seq + 1, self.last_seq + count
        seqs = []
        deadline = time.monotonic() + 30
        while not seqs or seqs[-1] < self.last_seq:
            reader.fill(1, timeout=max(deadline - time.monotonic(), 0))
            if reader.pending() == 0:
                raise AssertionError(f"the reader got {len(seqs)} of {count} records; "
                                     f"last lines: {reader.last_lines()}")
            for line in reader.take_lines(reader.pending()):
                if line.startswith(b'{"seq":'):
                    seqs.append(int(line[7:line.index(b",")]))
        self.assertEqual(seqs, list(range(first, self.last_seq + 1)))
        self.wait_file_seq(self.last_seq, timeout=30)

    def measure(self, label, store):
        server, daemon, reader = self.start(store)
        self.run_phase(server, reader, WARM_UP)
        before = self.allocations()
        self.run_phase(server, reader, N)
        middle = self.allocations()
        self.run_phase(server, reader, 10 * N)
        after = self.allocations()
        self.assertEqual(daemon.stop(), 0)
        short, long = middle - before, after - middle
        per_message = (long - short) / (9 * N)
        print(f"\n{label}: {short} allocations for {N} messages, {long} for {10 * N}: "
              f"{per_message:.5f} per message ({SIZE} B; after {WARM_UP} to warm up; "
              f"{self.allocations()} in the daemon's whole run)")
        self.assertLess(per_message, BOUND)

    def test_store_in_memory(self):
        self.measure("store in memory", "")

    def test_store_on_disk(self):
        self.measure("store on disk", store_yaml(os.path.join(self.workdir, "store")))


if __name__ == "__main__":
    harness.main()
