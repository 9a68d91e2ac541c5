# SPDX-License-Identifier: MIT
"""The syslog sink, against a datagram socket the test binds as /dev/log would be."""

import os
import re
import socket

import harness


class Syslog(harness.DaemonTestCase):
    def start(self, extra_sink=""):
        path = os.path.join(self.workdir, "log.sock")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        listener.bind(path)
        self.addCleanup(listener.close)
        server = self.server()
        sinks = ("  - type: syslog\n"
                 f"    socket: {path}\n"
                 "    facility: local3\n"
                 "    priority: notice\n"
                 "    identifier: pushy\n"
                 "    max_queue: 64KiB\n" + extra_sink)
        daemon = self.daemon(harness.config_yaml(server.url(), self.sink, sinks_yaml=sinks))
        server.wait_for("connected ")
        return listener, server, daemon

    def receive(self, listener, timeout=harness.DEFAULT_WAIT):
        listener.settimeout(timeout)
        return listener.recv(1 << 20).decode()

    def test_messages_in_syslog_form(self):
        listener, server, daemon = self.start()
        server.command('send {"a": 1}')
        server.command("binhex 00ff")
        line = self.receive(listener)
        # local3 (19) * 8 + notice (5) = 157
        pattern = (r"^<157>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d pushy\[" +
                   str(daemon.process.pid) + r"\]: \{\"a\": 1\}$")
        self.assertRegex(line, pattern)
        self.assertTrue(self.receive(listener).endswith("]: AP8="))

    def test_a_reader_that_stops_never_stalls_the_daemon(self):
        listener, server, daemon = self.start()
        server.command("push 5000 200 0")
        # The file sink gets everything while the syslog socket is full and unread.
        records = harness.wait_records(self.sink, 5000, timeout=30)
        self.assertEqual([r["seq"] for r in records], list(range(1, 5001)))
        daemon.log.wait_for_text("is not taking entries")

        # Reading again, the reader gets every record, in order: the store held them.
        received = []
        listener.settimeout(harness.DEFAULT_WAIT)
        while len(received) < 5000:
            received.append(listener.recv(1 << 20).decode())
        daemon.log.wait_for_text("writing again")
        seqs = [int(re.search(r'"n":(\d+)', text).group(1)) for text in received]
        self.assertEqual(seqs, sorted(seqs))
        self.assertEqual(len(set(seqs)), 5000)

if __name__ == "__main__":
    harness.main()
