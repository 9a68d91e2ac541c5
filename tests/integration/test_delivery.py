# SPDX-License-Identifier: MIT
"""Messages from the real server reach the file sink as records: order, format, limits."""

import base64
import json

import harness


class Delivery(harness.DaemonTestCase):
    def start(self, extra_server=(), **config):
        server = self.server(*extra_server)
        daemon = self.daemon(harness.config_yaml(server.url(), self.sink, **config))
        server.wait_for("connected ")
        return server, daemon

    def test_ten_thousand_messages_in_order_without_gap(self):
        server, daemon = self.start()
        server.command("push 10000 200 0")
        server.wait_for("pushed 10000", timeout=60)
        records = harness.wait_records(self.sink, 10000, timeout=60)
        self.assertEqual(len(records), 10000)
        self.assertEqual([r["seq"] for r in records], list(range(1, 10001)))
        self.assertEqual([r["data"]["n"] for r in records], list(range(1, 10001)))
        self.assertEqual(daemon.stop(), 0)
        # Nothing arrived twice or late.
        self.assertEqual(len(harness.read_records(self.sink)), 10000)

    def test_heartbeat_on_open_and_on_interval_answers_filtered(self):
        server, daemon = self.start(heartbeat={"interval": "300ms"})
        server.wait_for("heartbeat 1")
        server.wait_for("heartbeat 3", timeout=5)
        server.command("send after heartbeats")
        records = harness.wait_records(self.sink, 1)
        # The greeting and every SUCCESS were dropped by the filter and used no seq.
        self.assertEqual(records, [{"seq": 1, "ts": records[0]["ts"],
                                    "data": "after heartbeats"}])
        self.assertRegex(records[0]["ts"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")

    def test_record_forms(self):
        server, _ = self.start()
        sent = [
            ('send {"type": "order",\\n "id": 7}', {"type": "order", "id": 7}),
            ("send 42", 42),
            ('send "x"', "x"),
            ("send [1]", [1]),
            ("send null", None),
            ("send 42 is not JSON", "42 is not JSON"),
            ("send true story", "true story"),
            ('send {"a":1,}', '{"a":1,}'),
            ("send line one\\nline two", "line one\nline two"),
            ("send 来自服务器的消息 ✓", "来自服务器的消息 ✓"),
            ("sendhex 61c328ff7a", "a\ufffd(\ufffdz"),
        ]
        for command, _ in sent:
            server.command(command)
        server.command("binhex 0001ff")
        records = harness.wait_records(self.sink, len(sent) + 1)
        for record, (command, data) in zip(records, sent):
            with self.subTest(command):
                self.assertEqual(record["data"], data)
                self.assertNotIn("binary", record)
        self.assertEqual(records[-1]["binary"], True)
        self.assertEqual(base64.b64decode(records[-1]["data"]), b"\x00\x01\xff")
        with open(self.sink, "rb") as sink:
            lines = sink.read().split(b"\n")
        self.assertEqual(len(lines), len(records) + 1)  # one raw newline per record

    def test_oversized_messages_are_dropped_and_the_next_delivered(self):
        server, daemon = self.start(server={"max_message_size": "4KiB"})
        server.command("oversize 5000")
        server.command("fragmented 5000 10")
        server.command("send after")
        server.command("fragmented 3000 10")
        records = harness.wait_records(self.sink, 2)
        self.assertEqual([r["seq"] for r in records], [1, 2])
        self.assertEqual(records[0]["data"], "after")
        self.assertEqual(len(json.dumps(records[1]["data"], separators=(",", ":"))), 3000)
        daemon.log.wait_for_text("dropped a message of 5000 bytes")
        daemon.log.wait_for_text("dropped a message of 5000 bytes")


if __name__ == "__main__":
    harness.main()
