# SPDX-License-Identifier: MIT
"""kill -9 at random moments of a 200,000-record burst, 20 rounds, each restarting the
daemon on the same store and file sink (meson suite `crash`).

Across all rounds the file sink holds every seq once, one above the one before, the pushed
messages in the order pushed; every record it ever got is in the store (checked in the
segment files after each kill, before the restart cuts a torn tail, and once more at the
end); `--verify-store` finds nothing but a torn tail of the newest segment after a kill, and
nothing at all after the last, clean stop. Most rounds use `sync: always`, every fourth
`sync: interval`; every other one a `sync_interval` of 1h, so that the cursors file is not
saved while it runs (the first round's: only when the file sink was new).

The moment of each kill: right after the push, or when the file sink or the store has
grown by a random part of the burst (polled every 20 ms). Between rounds, with the daemon
dead, the test keeps only the file sink's last line and what follows it (the daemon reads
nothing else of it at start), so the disk holds one round's lines, not twenty. Under ASan
(scripts/test --sanitize) a round's burst is 50,000 records."""

import os
import random
import re
import signal
import subprocess
import time

import harness
from store_files import (SinkFollower, read_segment, read_store, segment_paths, store_yaml,
                         verify_store)

ROUNDS = 20
# ASan makes the daemon several times slower: fewer records per round there.
RECORDS = 50_000 if harness.SANITIZED else 200_000
SIZE = 200
LINE_BYTES = SIZE + 60  # a file sink line for one of these records, about
STORED_BYTES = SIZE + 28  # a record in a segment
N_VALUE = re.compile(rb'^\{"n":([0-9]+),')


class LoggedServer(harness.TestServer):
    """The bundled server with its stderr kept in a file, to tell why it ended."""

    def __init__(self, log_path):
        self.log_path = log_path
        super().__init__()

    def start(self, port=0):
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [harness.TESTSERVER, "--port", str(port), *self.args],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log)
        self.out = harness.LineReader(self.process.stdout, "testserver")
        line = self.out.wait_for(lambda l: l.startswith("listening "), what="listening")
        self.port = int(line.split()[1])

    def wait_for(self, prefix, timeout=harness.DEFAULT_WAIT):
        try:
            return super().wait_for(prefix, timeout)
        except AssertionError as error:
            with open(self.log_path, errors="replace") as log:
                raise AssertionError(f"{error}; exit status {self.process.poll()}; stderr: "
                                     f"{log.read()[-2000:]}") from None


class CrashRounds(harness.DaemonTestCase):
    def setUp(self):
        super().setUp()
        self.store = os.path.join(self.workdir, "store")
        self.socket_path = os.path.join(self.workdir, "wspushd.sock")
        # WSPUSH_TEST_SEED=N repeats a run.
        self.seed = int(os.environ.get("WSPUSH_TEST_SEED") or random.randrange(1 << 32))
        self.random = random.Random(self.seed)
        print(f"random seed {self.seed}; {ROUNDS} rounds of {RECORDS} records", flush=True)

    def config(self, server, sync, sync_interval="200ms"):
        return harness.config_yaml(
            server.url(), self.sink, sinks_yaml=harness.unix_sink_yaml(self.socket_path),
            extra=store_yaml(self.store, sync=sync, sync_interval=sync_interval,
                             max_size="64MiB"))

    def sink_size(self):
        try:
            return os.path.getsize(self.sink)
        except FileNotFoundError:
            return 0

    def store_size(self):
        total = 0
        for path in segment_paths(self.store):
            try:
                total += os.path.getsize(path)
            except FileNotFoundError:
                pass  # removed by retention meanwhile
        return total

    def kill_at_random(self, server, daemon, round_):
        """Pushes the burst and kills the daemon at once, or when the file sink or the
        store has grown by a random part of the burst. Returns what triggered the kill."""
        choice = self.random.random()
        if choice < 0.15:
            trigger, size, target = "at once", self.sink_size, 0
        elif choice < 0.55:
            trigger, size = "sink", self.sink_size
            target = size() + self.random.randrange(RECORDS * LINE_BYTES * 9 // 10)
        else:
            trigger, size = "store", self.store_size
            target = size() + self.random.randrange(RECORDS * STORED_BYTES * 9 // 10)
        seen = len(server.out.seen)
        server.command(f"push {RECORDS} {SIZE} 0")

        def said(prefix):
            server.out.drain()
            return any(line.startswith(prefix) for line in server.out.seen[seen:])

        harness.wait_until(lambda: size() >= target or said("pushed "),
                           f"round {round_}: the {trigger} past {target} bytes", timeout=120)
        daemon.kill()
        # Killed by us, not dead of anything else before.
        self.assertEqual(daemon.process.returncode, -signal.SIGKILL,
                         f"round {round_}: wspushd ended by itself; its log: "
                         f"{daemon.log.read_to_end()[-15:]}")
        # The job ends with its client gone.
        for prefix in ("pushed ", "disconnected"):
            if not said(prefix):
                server.wait_for(prefix, timeout=60)
        return trigger

    def check_stored(self, records):
        """Every record the sink got is in the store's files, the same message."""
        if not records:
            return
        first, last = records[0]["seq"], records[-1]["seq"]
        segments = segment_paths(self.store)
        starts = [int(os.path.basename(path)[:20]) for path in segments]
        index = max([i for i, start in enumerate(starts) if start <= first] or [0])
        stored = {}
        for path in segments[index:]:
            for record in read_segment(path)[0]:
                if first <= record.seq <= last:
                    stored[record.seq] = record.payload
        for record in records:
            payload = stored.get(record["seq"])
            if payload is None:
                raise AssertionError(f"record {record['seq']} reached the file sink but is "
                                     "not in the store")
            match = N_VALUE.match(payload)
            if not match or int(match.group(1)) != record["data"]["n"]:
                raise AssertionError(f"record {record['seq']}: the store holds "
                                     f"{payload[:40]!r}, the sink got n={record['data']['n']}")

    def check_verify(self, config_path):
        """--verify-store after a kill: sound, or a torn tail of the newest segment only.
        Returns the torn tail's size (0: none)."""
        code, out, err = verify_store(config_path)
        damaged = [line for line in out.splitlines() if "DAMAGED" in line]
        if code == 0:
            self.assertEqual(damaged, [], out)
            return 0
        self.assertEqual(code, 1, err)
        newest = os.path.basename(segment_paths(self.store)[-1])
        self.assertEqual(len(damaged), 2, out)  # the segment, and the summary
        match = re.match(re.escape(newest) + r": .*, DAMAGED: (\d+) bytes in 1 place\(s\) at "
                         r"the end \(a torn tail\)$", damaged[0])
        self.assertIsNotNone(match, out)
        return int(match.group(1))

    def keep_last_line(self, follower):
        """Cuts the sink to its last whole line and what follows (the daemon is dead)."""
        with open(self.sink, "rb") as sink:
            data = sink.read()
        whole = data[:follower.offset]
        start = whole.rfind(b"\n", 0, len(whole) - 1) + 1
        with open(self.sink + ".new", "wb") as trimmed:
            trimmed.write(data[start:])
        os.replace(self.sink + ".new", self.sink)
        follower.offset -= start

    def test_kill_9_during_bursts(self):
        began = time.monotonic()
        server = LoggedServer(os.path.join(self.workdir, "testserver.log"))
        self.addCleanup(server.stop)
        follower = SinkFollower(self.sink)
        during = torn_tails = sink_behind = 0
        torn = stored_last = 0
        for round_ in range(ROUNDS):
            sync = "interval" if round_ % 4 == 3 else "always"
            # 1h: the cursors are saved when a sink is new and at a clean stop, not in
            # these runs; what the file sink holds tells where it goes on.
            sync_interval = "1h" if round_ % 2 == 0 else "200ms"
            daemon = self.daemon(self.config(server, sync, sync_interval))
            if torn:
                daemon.log.wait_for_text(f"cut a torn tail of {torn} bytes off")
            server.wait_for("connected ")
            trigger = self.kill_at_random(server, daemon, round_)

            records = follower.read_new()
            self.check_stored(records)
            torn = self.check_verify(daemon.config_path)
            newest = read_store(self.store, max(0, len(segment_paths(self.store)) - 2))
            received = max([record.seq for record in newest] + [stored_last]) - stored_last
            stored_last += received
            # Killed before the whole burst was in: during it. The sink behind the store:
            # it catches up from the files after the restart.
            during += received < RECORDS
            torn_tails += torn != 0
            sink_behind += follower.last_seq < stored_last
            print(f"round {round_ + 1} (sync: {sync}, every {sync_interval}, kill: {trigger}): "
                  f"{received} records "
                  f"stored, {len(records)} written by the sink, which is at seq "
                  f"{follower.last_seq}, the store at {stored_last}; torn tail {torn} bytes; "
                  f"{time.monotonic() - began:.1f} s", flush=True)
            if follower.offset > 0:
                self.keep_last_line(follower)

        # A last run, stopped cleanly: the sink gets every record the store holds, and the
        # last message pushed.
        daemon = self.daemon(self.config(server, "always"))
        if torn:
            daemon.log.wait_for_text(f"cut a torn tail of {torn} bytes off")
        server.wait_for("connected ")
        server.command("push 100 200 0")
        server.wait_for("pushed 100")
        # The server numbers its messages across jobs: the last one is n = all pushed.
        pushed = sum(int(line.split()[1]) for line in server.out.seen
                     if line.startswith("pushed "))
        records = []
        harness.wait_until(lambda: records.extend(follower.read_new()) or
                           follower.last_n == pushed, f"message n={pushed} in the sink",
                           timeout=60)
        reader = self.unix_reader(self.socket_path)
        status = reader.status()
        reader.close()
        self.assertEqual(status["store"]["last"], follower.last_seq)
        self.assertEqual(status["sinks"][0]["lag"], 0)
        self.assertEqual(daemon.stop(), 0)
        self.check_stored(records)
        code, out, _ = verify_store(daemon.config_path)
        self.assertEqual(code, 0, out)
        self.assertTrue(out.endswith(": sound\n"), out)
        stored = [record.seq for record in read_store(self.store)]
        self.assertEqual(stored, list(range(stored[0], follower.last_seq + 1)))
        print(f"{ROUNDS} rounds: {follower.count} records in the sink, seq 1 to "
              f"{follower.last_seq}; {during} kills during a burst, {torn_tails} torn tails, "
              f"the sink behind the store at {sink_behind} kills; "
              f"{time.monotonic() - began:.1f} s", flush=True)
        self.assertGreaterEqual(during, ROUNDS // 2)


if __name__ == "__main__":
    harness.main()
