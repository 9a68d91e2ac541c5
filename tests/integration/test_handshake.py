# SPDX-License-Identifier: MIT
"""What the daemon puts into the upgrade request: headers, tokens, credentials, subprotocol,
and IPv6 addressing, as the bundled server sees them."""

import json
import os
import signal
import subprocess
import unittest

import harness

TOKEN = "tok-7f3a9c1e5b"




def all_log_lines(daemon):
    """Stops the daemon and returns every stderr line it wrote."""
    daemon.stop()
    daemon.log.thread.join(harness.DEFAULT_WAIT)
    daemon.log.drain()
    return daemon.log.seen


class Handshake(harness.DaemonTestCase):
    def write_token(self, token, name="token"):
        """Writes the token file whole (rename), so a connect never reads half of it."""
        path = os.path.join(self.workdir, name)
        with open(path + ".new", "w") as new:
            new.write(f"  {token}\n")  # the daemon trims surrounding whitespace
        os.replace(path + ".new", path)
        return path

    def start(self, server, url=None, args=(), env=None, **server_config):
        config = harness.config_yaml(url or server.url(), self.sink, server=server_config)
        return self.daemon(config, args=args, env=env)

    def wait_header(self, server, name):
        """The value of the next `header NAME` line; None if the request had no such header."""
        line = server.wait_for(f"header {name} ")
        value = line[len(f"header {name} "):]
        return None if value == "-" else value

    def test_extra_headers_reach_the_server(self):
        server = self.server("--show-header", "X-Test", "--show-header", "X-Other")
        self.start(server, headers='{X-Test: "hello", X-Other: "a b, c"}')
        self.assertEqual(self.wait_header(server, "X-Test"), "hello")
        self.assertEqual(self.wait_header(server, "X-Other"), "a b, c")
        server.wait_for("connected u1")

    def test_environment_variables_expand_in_url_and_headers(self):
        server = self.server("--show-header", "X-Tag")
        self.start(server, url=f"ws://127.0.0.1:{server.port}/websocket/${{WSPUSH_IT_USER}}",
                   env={"WSPUSH_IT_USER": "alice", "WSPUSH_IT_TAG": "from-env"},
                   headers='{X-Tag: "tag-${WSPUSH_IT_TAG}"}')
        self.assertEqual(self.wait_header(server, "X-Tag"), "tag-from-env")
        server.wait_for("connected alice")

    def test_token_is_sent_as_bearer_when_not_placed(self):
        server = self.server("--show-header", "Authorization")
        self.start(server, token_file=self.write_token(TOKEN))
        self.assertEqual(self.wait_header(server, "Authorization"), f"Bearer {TOKEN}")
        server.wait_for("connected u1")

    def test_token_placeholder_replaces_the_bearer_header(self):
        token_file = self.write_token(TOKEN)
        for where in ("url", "header"):
            with self.subTest(where):
                server = self.server("--show-header", "Authorization", "--show-header",
                                     "X-Token")
                if where == "url":
                    url = f"ws://127.0.0.1:{server.port}/websocket/${{TOKEN}}"
                    daemon = self.start(server, url=url, token_file=token_file)
                else:
                    daemon = self.start(server, token_file=token_file,
                                        headers='{X-Token: "t=${TOKEN}"}')
                self.assertIsNone(self.wait_header(server, "Authorization"))
                self.assertEqual(self.wait_header(server, "X-Token"),
                                 None if where == "url" else f"t={TOKEN}")
                server.wait_for(f"connected {TOKEN if where == 'url' else 'u1'}")
                self.assertEqual(daemon.stop(), 0)
                server.stop()

    def test_token_without_a_source_is_the_environment_variable(self):
        server = self.server("--show-header", "Authorization")
        self.start(server, headers='{Authorization: "Bearer ${TOKEN}"}', env={"TOKEN": TOKEN})
        self.assertEqual(self.wait_header(server, "Authorization"), f"Bearer {TOKEN}")

    def test_token_without_a_source_or_variable_is_a_config_error(self):
        server = self.server()
        env = {key: value for key, value in os.environ.items() if key != "TOKEN"}
        config = harness.config_yaml(server.url(), self.sink,
                                     server={"headers": '{Authorization: "Bearer ${TOKEN}"}'})
        path = os.path.join(self.workdir, "token-env.yaml")
        with open(path, "w") as out:
            out.write(config)
        for args in (["--check-config"], []):
            with self.subTest(args=args):
                result = subprocess.run([harness.WSPUSHD, "--config", path, *args],
                                        capture_output=True, text=True, env=env,
                                        timeout=harness.DEFAULT_WAIT)
                self.assertEqual(result.returncode, 78, result.stderr)
                self.assertIn("environment variable 'TOKEN' is not set, and neither is "
                              "server.token_file or server.token_credential", result.stderr)
        # A reload that starts using an unset ${TOKEN} is rejected; the link stays up.
        daemon = self.daemon(harness.config_yaml(server.url(), self.sink), env=env)
        server.wait_for("connected u1")
        daemon.rewrite_config(config)
        daemon.signal(signal.SIGHUP)
        line = daemon.log.wait_for_text("reload rejected")
        self.assertIn("environment variable 'TOKEN' is not set", line)
        server.command("send still here")
        self.assertEqual(harness.wait_records(self.sink, 1)[0]["data"], "still here")

    def test_token_file_is_read_again_at_every_connect(self):
        server = self.server("--show-header", "Authorization")
        token_file = self.write_token("first-token")
        self.start(server, token_file=token_file)
        self.assertEqual(self.wait_header(server, "Authorization"), "Bearer first-token")
        server.wait_for("connected u1")
        self.write_token("second-token")
        server.command("close 1000")
        self.assertEqual(self.wait_header(server, "Authorization"), "Bearer second-token")
        server.wait_for("connected u1")

    def test_token_never_appears_in_the_log(self):
        token_file = self.write_token(TOKEN)
        for where in ("bearer", "url"):
            with self.subTest(where):
                server = self.server()
                url = f"ws://127.0.0.1:{server.port}/websocket/" + (
                    "${TOKEN}" if where == "url" else "u1")
                daemon = self.start(server, url=url, args=("--verbose",), token_file=token_file)
                server.wait_for("connected ")
                # A reconnect reads a new token; neither may show up.
                self.write_token(TOKEN + "-renewed")
                server.command("close 1000")
                server.wait_for("connected ")
                daemon.log.wait_for_text("connected to", timeout=harness.DEFAULT_WAIT)
                lines = all_log_lines(daemon)
                self.assertGreater(len(lines), 20, "--verbose should log lws's info lines")
                leaks = [line for line in lines if TOKEN in line]
                self.assertEqual(leaks, [])
                if where == "url":
                    masked = f"connected to ws://127.0.0.1:{server.port}/websocket/***"
                    self.assertTrue(any(line.endswith(masked) for line in lines), lines)
                self.write_token(TOKEN)
                server.stop()

    def test_url_credentials_are_sent_as_basic_and_masked(self):
        server = self.server("--show-header", "Authorization")
        url = f"ws://alice:s3cretpw@127.0.0.1:{server.port}/websocket/u1"
        daemon = self.start(server, url=url, args=("--verbose",))
        daemon.log.wait_for_text("connected to ws://***@127.0.0.1:")
        # base64("alice:s3cretpw")
        self.assertEqual(self.wait_header(server, "Authorization"),
                         "Basic YWxpY2U6czNjcmV0cHc=")
        server.wait_for("connected u1")
        leaks = [line for line in all_log_lines(daemon) if "s3cretpw" in line]
        self.assertEqual(leaks, [])

    def test_config_errors_do_not_show_url_credentials(self):
        daemon = self.daemon(harness.config_yaml("ws://alice:s3cretpw@127.0.0.1:0/websocket/u1",
                                                 self.sink))
        self.assertEqual(daemon.wait_exit(), 78)
        leaks = [line for line in all_log_lines(daemon) if "s3cretpw" in line]
        self.assertEqual(leaks, [])

    def test_subprotocol_is_offered_and_selected(self):
        server = self.server("--subprotocol", "wspush.v1")
        daemon = self.start(server, subprotocol="wspush.v1")
        server.wait_for("subprotocol wspush.v1")
        server.wait_for("connected u1")
        server.command("send over wspush.v1")
        self.assertEqual(harness.wait_records(self.sink, 1)[0]["data"], "over wspush.v1")
        self.assertEqual(daemon.stop(), 0)

    def test_server_with_subprotocol_accepts_a_client_offering_none(self):
        server = self.server("--subprotocol", "wspush.v1")
        self.start(server)
        server.wait_for("subprotocol -")
        server.wait_for("connected u1")

    def test_missing_token_file_at_start_exits_78_naming_it(self):
        missing = os.path.join(self.workdir, "no-such-token")
        daemon = self.daemon(harness.config_yaml(
            "ws://127.0.0.1:9/websocket/u1", self.sink,
            server={"token_file": json.dumps(missing)}))
        self.assertEqual(daemon.wait_exit(), 78)
        line = daemon.log.wait_for_text(missing)
        self.assertIn("No such file or directory", line)

    def test_host_header_carries_a_non_default_port(self):
        server = self.server("--show-header", "Host")
        self.start(server)
        self.assertEqual(self.wait_header(server, "Host"), f"127.0.0.1:{server.port}")

    @unittest.skipUnless(harness.ipv6_loopback_available(), "no IPv6 loopback")
    def test_ipv6_loopback_delivers(self):
        server = self.server("--host", "::1")
        self.start(server, url=f"ws://[::1]:{server.port}/websocket/u1")
        server.wait_for("connected u1")
        server.command("send over ipv6")
        self.assertEqual(harness.wait_records(self.sink, 1)[0]["data"], "over ipv6")

    @unittest.skipUnless(harness.ipv6_loopback_available(), "no IPv6 loopback")
    def test_ipv6_host_header_keeps_its_brackets(self):
        server = self.server("--host", "::1", "--show-header", "Host")
        self.start(server, url=f"ws://[::1]:{server.port}/websocket/u1")
        self.assertIn(self.wait_header(server, "Host"), ("[::1]", f"[::1]:{server.port}"))


if __name__ == "__main__":
    harness.main()
