# SPDX-License-Identifier: MIT
"""A file sink on a full disk (/dev/full): no crash, no stall, no record lost on recovery."""

import os

import harness


class FullDisk(harness.DaemonTestCase):
    def test_dev_full_holds_records_and_recovers(self):
        link = os.path.join(self.workdir, "messages.jsonl")
        os.symlink("/dev/full", link)
        server = self.server()
        daemon = self.daemon(harness.config_yaml(server.url(), link))
        server.wait_for("connected ")
        server.command("push 500 200 0")
        server.wait_for("pushed 500")
        daemon.log.wait_for_text("No space left on device")

        # The link is unaffected: heartbeats are still answered and messages received.
        server.command("send while full")

        real = os.path.join(self.workdir, "real.jsonl")
        open(real, "w").close()
        # Swapped in one step: the daemon reopens the path every second meanwhile.
        os.symlink(real, link + ".new")
        os.replace(link + ".new", link)
        daemon.log.wait_for_text("writing again; 0 records dropped")
        records = harness.wait_records(real, 501)
        self.assertEqual([r["seq"] for r in records], list(range(1, 502)))
        self.assertEqual(records[-1]["data"], "while full")
        self.assertEqual(daemon.stop(), 0)
        self.assertEqual(len(harness.read_records(real)), 501)


if __name__ == "__main__":
    harness.main()
