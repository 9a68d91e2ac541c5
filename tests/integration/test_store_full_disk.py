# SPDX-License-Identifier: MIT
"""The store on a full file system (a 2 MiB tmpfs this test mounts): the daemon runs on,
the file sink gets every record, the failure is logged, and the store catches up once
there is room again, whole records only. A kill -9 meanwhile issues no seq twice.

Needs to mount a tmpfs (root, or a user namespace that allows it); skipped (77) if the
mount is refused."""

import json
import os
import shutil
import subprocess
import sys
import tempfile

import harness
from store_files import StoreCaseMixin, read_store, store_yaml, verify_store

SKIP = 77  # meson's "skipped"


def seqs(records):
    return [record["seq"] for record in records]


def mount_tmpfs(path, size):
    """Mounts a tmpfs of `size` at `path`; the mount's error text if it is refused."""
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs",
                           path], capture_output=True, text=True, timeout=harness.DEFAULT_WAIT,
                          stdin=subprocess.DEVNULL)
    return None if done.returncode == 0 else (done.stderr.strip() or f"exit {done.returncode}")


class FullFileSystem(StoreCaseMixin, harness.DaemonTestCase):
    def setUp(self):
        super().setUp()
        self.mount = os.path.join(self.workdir, "fs")
        os.mkdir(self.mount)
        refused = mount_tmpfs(self.mount, "2m")
        self.assertIsNone(refused, "the probe in main() could mount one")
        # Registered after the work dir's removal, so it runs before it.
        self.addCleanup(subprocess.run, ["umount", "-l", self.mount], timeout=30)
        self.store = os.path.join(self.mount, "store")
        self.filler = os.path.join(self.mount, "filler")
        self.socket_path = os.path.join(self.workdir, "wspushd.sock")

    def config(self, server):
        return harness.config_yaml(server.url(), self.sink,
                                   sinks_yaml=harness.unix_sink_yaml(self.socket_path),
                                   extra=store_yaml(self.store, sync="always",
                                                    sync_interval="200ms"))

    def fill_up(self, leave):
        """Takes all but about `leave` bytes of the file system."""
        stat = os.statvfs(self.mount)
        size = stat.f_bavail * stat.f_frsize - leave
        with open(self.filler, "wb") as filler:
            filler.write(b"\0" * size)

    def assert_stored(self, records):
        stored = {record.seq: record for record in read_store(self.store)}
        for record in records:
            self.assertIn(record["seq"], stored)
            self.assertEqual(json.loads(stored[record["seq"]].payload), record["data"])

    def test_runs_on_delivers_and_recovers_when_space_is_freed(self):
        server = self.server()
        daemon = self.daemon(self.config(server))
        server.wait_for("connected ")
        self.push(server, 100)
        harness.wait_records(self.sink, 100)
        self.fill_up(leave=200 * 1024)

        # About 1.1 MB of records for 200 KiB of room.
        self.push(server, 5000)
        daemon.log.wait_for_text("cannot write: No space left on device; records wait in "
                                 "memory")
        records = harness.wait_records(self.sink, 5100)
        self.assertEqual(seqs(records), list(range(1, 5101)))
        status = self.status()
        self.assertEqual(status["store"]["last"], 5100)
        self.assertEqual(status["sinks"][0]["lag"], 0)
        self.assertIsNone(daemon.process.poll())

        os.remove(self.filler)
        daemon.log.wait_for_text("writing again after")
        self.push(server, 100)
        records = harness.wait_records(self.sink, 5200)
        self.assertEqual(seqs(records), list(range(1, 5201)))
        self.assertEqual(daemon.stop(), 0)
        self.assertNotIn("given up", "\n".join(daemon.log.read_to_end()))

        # Every record made it to the store, whole, in order.
        code, out, _ = verify_store(daemon.config_path)
        self.assertEqual(code, 0, out)
        self.assertEqual([record.seq for record in read_store(self.store)],
                         list(range(1, 5201)))
        self.assert_stored(records)

    def test_a_kill_while_full_issues_no_seq_twice(self):
        server = self.server()
        config = self.config(server)
        daemon = self.daemon(config)
        server.wait_for("connected ")
        self.fill_up(leave=200 * 1024)
        self.push(server, 3000)
        daemon.log.wait_for_text("cannot write: No space left on device")
        harness.wait_records(self.sink, 3000)
        daemon.kill()
        server.wait_for("disconnected")
        stored = [record.seq for record in read_store(self.store)]
        self.assertLess(stored[-1], 3000)
        self.assertEqual(stored, list(range(1, stored[-1] + 1)))
        # The seq the store would go on from, as far as its files know.
        with open(os.path.join(self.store, "cursors")) as cursors:
            saved_next = json.loads(cursors.readline())["next"]

        # Still full: the daemon starts, and goes on after what the file sink holds.
        daemon = self.daemon(config)
        if saved_next <= 3000:
            daemon.log.wait_for_text(
                f"file {self.sink} holds records up to 3000, the store only up to "
                f"{max(stored[-1], saved_next - 1)}; going on after 3000")
        server.wait_for("connected ")
        self.push(server, 10)
        records = harness.wait_records(self.sink, 3010)
        self.assertEqual(seqs(records), list(range(1, 3011)))

        os.remove(self.filler)
        self.push(server, 10)
        records = harness.wait_records(self.sink, 3020)
        self.assertEqual(seqs(records), list(range(1, 3021)))
        self.assertEqual(daemon.stop(), 0)
        self.assertEqual(verify_store(daemon.config_path)[0], 0)
        on_disk = [record.seq for record in read_store(self.store)]
        self.assertEqual(on_disk, stored + list(range(3001, 3021)))


def can_mount():
    """Whether a tmpfs can be mounted here; says why not when it cannot."""
    probe = tempfile.mkdtemp(prefix="wspush-mount-probe-")
    try:
        refused = mount_tmpfs(probe, "64k")
        if refused:
            print(f"cannot mount a tmpfs for the store ({refused}): skipped")
            return False
        subprocess.run(["umount", probe], check=True, timeout=30)
        return True
    finally:
        shutil.rmtree(probe, ignore_errors=True)


if __name__ == "__main__":
    if not can_mount():
        sys.exit(SKIP)
    harness.main()
