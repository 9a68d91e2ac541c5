# SPDX-License-Identifier: MIT
"""No secret reaches a log line, STATUS=, `wspushctl status`, the Unix socket or a record:
the token, URL credentials and proxy credentials, through connects, refusals and reloads."""

import json
import os
import shutil
import signal
import sys

import harness
from test_notify import NotifySocket
from test_proxy import Proxy

TOKEN = "tok-9f8e7d6c5b4a"
URL_PASSWORD = "urlpw-123456"
PROXY_PASSWORD = "proxypw-654321"
SECRETS = (TOKEN, URL_PASSWORD, PROXY_PASSWORD)
SKIP = 77


class Secrets(harness.DaemonTestCase):
    def test_no_secret_in_any_output(self):
        proxy = Proxy(self.workdir, auth=("pushy", PROXY_PASSWORD))
        self.addCleanup(proxy.stop)
        proxy.start()
        token_file = os.path.join(self.workdir, "token")
        with open(token_file, "w") as out:
            out.write(TOKEN + "\n")
        notify_path = os.path.join(self.workdir, "notify.sock")
        notify = NotifySocket(notify_path)
        self.addCleanup(notify.socket.close)
        socket_path = os.path.join(self.workdir, "push.sock")

        server = self.server("--show-header", "X-Api-Key")
        url = f"ws://alice:{URL_PASSWORD}@127.0.0.1:{server.port}/websocket/${{TOKEN}}"
        config = harness.config_yaml(
            url, self.sink,
            server={"token_file": token_file, "headers": '{X-Api-Key: "key ${TOKEN}"}',
                    "proxy": f"http://pushy:{PROXY_PASSWORD}@127.0.0.1:{proxy.port}"},
            sinks_yaml=harness.unix_sink_yaml(socket_path))
        daemon = self.daemon(config, args=("--verbose",), env={"NOTIFY_SOCKET": notify_path})
        self.assertEqual(server.wait_for("header "), f"header X-Api-Key key {TOKEN}")
        server.wait_for("connected ")
        subscriber = self.unix_reader(socket_path)
        subscriber.status()

        # A refusal, a reconnect and a reload, each of which logs and sets STATUS=.
        server.command("refuse 401 - token expired")
        server.command("close 4000 bye")
        daemon.log.wait_for_text("authentication failed")
        server.command("refuse off")
        daemon.signal(signal.SIGHUP)
        notify.wait_text("READY=1")
        server.wait_for("connected ")
        server.command("send a record")
        harness.wait_records(self.sink, 1)
        daemon.log.wait_for_text("connected to ")

        ctl_status = harness.run_ctl("--socket", socket_path, "status")
        outputs = {
            "wspushctl status": ctl_status.stdout.decode(),
            "status event": json.dumps(subscriber.status()),
            "unix socket lines": b"\n".join(subscriber.lines).decode(),
            "records": open(self.sink).read(),
        }
        daemon.stop()
        daemon.log.thread.join(harness.DEFAULT_WAIT)
        daemon.log.drain()
        outputs["log"] = "\n".join(daemon.log.seen)
        notify.wait_text("STOPPING=1")
        outputs["STATUS="] = "\n".join(notify.seen)

        self.assertIn("ws://***@127.0.0.1", outputs["wspushctl status"])
        self.assertIn("/websocket/***", outputs["STATUS="])
        self.assertIn("authentication failed", outputs["log"])
        for name, text in outputs.items():
            for secret in SECRETS:
                with self.subTest(output=name, secret=secret):
                    self.assertNotIn(secret, text)


if __name__ == "__main__":
    if shutil.which("tinyproxy") is None:
        print("tinyproxy is not installed")
        sys.exit(SKIP)
    harness.main()
