# SPDX-License-Identifier: MIT
"""The journal sink against a real systemd-journald (started here, as root, if none runs)."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid

import harness

JOURNAL_SOCKET = "/run/systemd/journal/socket"
JOURNALD = "/lib/systemd/systemd-journald"
SKIP = 77  # meson's "skipped"


def journald_listens():
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        probe.connect(JOURNAL_SOCKET)
        return True
    except OSError:
        return False
    finally:
        probe.close()


def ensure_journald():
    """Returns the journald process started here, or None when one was running already."""
    if journald_listens():
        return None
    if os.geteuid() != 0 or not os.path.exists(JOURNALD):
        print("no journald runs and this test cannot start one (needs root)")
        sys.exit(SKIP)
    os.makedirs("/run/systemd/journal", exist_ok=True)
    process = subprocess.Popen([JOURNALD], start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + harness.DEFAULT_WAIT
    while not journald_listens():
        if time.monotonic() > deadline:
            raise RuntimeError("systemd-journald did not create its socket")
        time.sleep(0.05)  # nothing to await but the file
    return process


STARTED = None  # the journald this test started, if it had to


def journald_pid():
    if STARTED:
        return STARTED.pid
    output = subprocess.run(["pgrep", "-o", "-x", "systemd-journal"], capture_output=True,
                            text=True, check=True)
    return int(output.stdout.split()[0])


def entries(identifier, *matches):
    output = subprocess.run(["journalctl", "--no-pager", "-o", "json",
                             f"SYSLOG_IDENTIFIER={identifier}", *matches],
                            capture_output=True, text=True, check=True)
    return [json.loads(line) for line in output.stdout.splitlines()]


def wait_entries(identifier, count, timeout=harness.DEFAULT_WAIT, match=None):
    deadline = time.monotonic() + timeout
    while True:
        found = entries(identifier, *([match] if match else []))
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.1)  # journald writes its files on its own schedule


class Journal(harness.DaemonTestCase):
    def start(self, extra=""):
        self.identifier = "wspush-test-" + uuid.uuid4().hex[:8]
        server = self.server()
        sinks = f"  - type: journal\n    identifier: {self.identifier}\n    max_queue: 1MiB\n"
        daemon = self.daemon(harness.config_yaml(server.url(), self.sink, sinks_yaml=sinks,
                                                 extra=extra))
        server.wait_for("connected ")
        return server, daemon

    def test_one_entry_per_record_with_its_fields(self):
        server, _ = self.start()
        server.command('send {"a": 1}')
        server.command("send two\\nlines")
        server.command("binhex 00ff")
        found = wait_entries(self.identifier, 3)
        self.assertEqual([e["WSPUSH_SEQ"] for e in found], ["1", "2", "3"])
        self.assertEqual([e["MESSAGE"] for e in found], ['{"a": 1}', "two\nlines", "AP8="])
        self.assertEqual(found[2]["WSPUSH_BINARY"], "1")
        for entry in found:
            self.assertEqual(entry["PRIORITY"], "6")
            self.assertEqual(entry["WSPUSH_SERVER"], server.url())
            self.assertRegex(entry["WSPUSH_TS"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
        records = harness.read_records(self.sink)
        self.assertEqual([e["WSPUSH_TS"] for e in found], [r["ts"] for r in records])
        self.assertEqual(len(entries(self.identifier, "WSPUSH_SEQ=2")), 1)

    def test_a_stopped_journald_never_stalls_the_daemon(self):
        # The store in memory holds 1 MiB (about 1,500 of these records), so that fewer
        # entries reach journald than its rate limit (10,000 per 30 s) lets through.
        server, daemon = self.start(extra="store:\n  max_size: 1MiB\n")
        journald = journald_pid()
        os.kill(journald, signal.SIGSTOP)
        try:
            server.command("push 10000 200 0")
            records = harness.wait_records(self.sink, 10000, timeout=60)
            self.assertEqual([r["seq"] for r in records], list(range(1, 10001)))
            daemon.log.wait_for_text("is not taking entries")
        finally:
            os.kill(journald, signal.SIGCONT)
        daemon.log.wait_for_text("journal: writing again", timeout=30)
        # The in-memory store (1 MiB) holds what journald did not take, up to its size;
        # the records it no longer held were skipped, logged and counted.
        wait_entries(self.identifier, 1, timeout=30, match="WSPUSH_SEQ=10000")
        daemon.log.drain()
        skipped = sum(int(to) - int(first) + 1 for first, to in
                      (re.search(r"journal: records (\d+) to (\d+) were no longer", line).groups()
                       for line in daemon.log.seen if "were no longer in the store" in line))
        self.assertGreater(skipped, 0)
        found = wait_entries(self.identifier, 10000 - skipped, timeout=30)
        self.assertEqual(len(found), 10000 - skipped)
        seqs = [int(e["WSPUSH_SEQ"]) for e in found]
        self.assertEqual(seqs, sorted(set(seqs)))

if __name__ == "__main__":
    STARTED = ensure_journald()
    try:
        harness.main()
    finally:
        if STARTED:
            STARTED.terminate()
            STARTED.wait()
