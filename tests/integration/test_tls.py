# SPDX-License-Identifier: MIT
"""wss:// against the bundled server with real certificates, made here with openssl(1):
verification against a CA file, the reasons a handshake fails, verify: false, mutual TLS."""

import json
import os
import signal
import socket
import subprocess
import unittest

import harness

# The address the daemon connects to for "localhost": its first getaddrinfo answer, which is
# ::1 on hosts that list it first. The server listens there.
LOCALHOST = socket.getaddrinfo("localhost", None, type=socket.SOCK_STREAM)[0][4][0]
RETRY = "reconnecting in "


class Pki:
    """Keys and certificates in a directory: P-256 keys, valid for a day."""

    def __init__(self, directory):
        self.directory = directory

    def path(self, name):
        return os.path.join(self.directory, name)

    def openssl(self, *args, extensions=None):
        if extensions is not None:
            with open(self.path("extensions.cnf"), "w") as cnf:
                cnf.write("\n".join(extensions) + "\n")
            args += ("-extfile", self.path("extensions.cnf"))
        subprocess.run(["openssl", *args], check=True, capture_output=True,
                       timeout=harness.DEFAULT_WAIT)

    def new_key(self, name):
        self.openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                     "-out", self.path(name + ".key"))
        return self.path(name + ".key")

    def ca(self, name):
        """A self-signed CA; returns the certificate's path."""
        key = self.new_key(name)
        self.openssl("req", "-x509", "-new", "-key", key, "-out", self.path(name + ".pem"),
                     "-days", "1", "-subj", f"/CN={name}",
                     "-addext", "basicConstraints=critical,CA:TRUE",
                     "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        return self.path(name + ".pem")

    def issue(self, name, ca, names=(), usage="serverAuth"):
        """A certificate signed by `ca` for DNS names and IP addresses; returns (cert, key)."""
        key = self.new_key(name)
        self.openssl("req", "-new", "-key", key, "-out", self.path(name + ".csr"),
                     "-subj", f"/CN={names[0] if names else name}")
        extensions = ["basicConstraints=CA:FALSE", f"extendedKeyUsage={usage}"]
        if names:
            extensions.append("subjectAltName=" + ",".join(san(n) for n in names))
        ca_key = ca[:-len(".pem")] + ".key"
        self.openssl("x509", "-req", "-in", self.path(name + ".csr"), "-CA", ca,
                     "-CAkey", ca_key, "-CAcreateserial", "-out", self.path(name + ".pem"),
                     "-days", "1", extensions=extensions)
        return self.path(name + ".pem"), key

    def issue_expired(self, name, ca, names):
        """Like issue(), but valid only on 1 January 2020 (x509 -req cannot backdate)."""
        key = self.new_key(name)
        self.openssl("req", "-new", "-key", key, "-out", self.path(name + ".csr"),
                     "-subj", f"/CN={names[0]}")
        with open(self.path("index.txt"), "w"):
            pass
        with open(self.path("ca.cnf"), "w") as cnf:
            cnf.write("[ca]\ndefault_ca = test\n[test]\n"
                      f"database = {self.path('index.txt')}\n"
                      f"new_certs_dir = {self.directory}\n"
                      f"serial = {self.path('ca.serial')}\n"
                      "default_md = sha256\npolicy = any\n[any]\ncommonName = supplied\n")
        with open(self.path("ca.serial"), "w") as serial:
            serial.write("1000\n")
        self.openssl("ca", "-batch", "-notext", "-config", self.path("ca.cnf"), "-cert", ca,
                     "-keyfile", ca[:-len(".pem")] + ".key", "-in", self.path(name + ".csr"),
                     "-out", self.path(name + ".pem"), "-startdate", "20200101000000Z",
                     "-enddate", "20200102000000Z",
                     extensions=["basicConstraints=CA:FALSE", "extendedKeyUsage=serverAuth",
                                 "subjectAltName=" + ",".join(san(n) for n in names)])
        return self.path(name + ".pem"), key

    def self_signed(self, name, names):
        key = self.new_key(name)
        self.openssl("req", "-x509", "-new", "-key", key, "-out", self.path(name + ".pem"),
                     "-days", "1", "-subj", f"/CN={names[0]}",
                     "-addext", "subjectAltName=" + ",".join(san(n) for n in names))
        return self.path(name + ".pem"), key




def san(name):
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in name else socket.AF_INET, name)
        return "IP:" + name
    except OSError:
        return "DNS:" + name


def yaml_map(values):
    return "{" + ", ".join(f"{key}: {json.dumps(value)}" for key, value in values.items()) + "}"


class Tls(harness.DaemonTestCase):
    def setUp(self):
        super().setUp()
        self.pki = Pki(self.workdir)
        self.ca = self.pki.ca("test-ca")
        self.server_cert = self.pki.issue("server", self.ca,
                                          ("localhost", "127.0.0.1", "::1"))

    def tls_server(self, cert_and_key=None, *args, host=LOCALHOST):
        cert, key = cert_and_key or self.server_cert
        return self.server("--host", host, "--tls-cert", cert, "--tls-key", key, *args)

    def config(self, server, tls=None, host="localhost"):
        server_config = {"tls": yaml_map(tls)} if tls is not None else {}
        return harness.config_yaml(f"wss://{host}:{server.port}/websocket/u1", self.sink,
                                   server=server_config)

    def wait_retry(self, daemon, reason):
        """The next retry line, which must give `reason`; a connect instead fails at once."""
        line = daemon.log.wait_for(lambda l: RETRY in l or "connected to" in l,
                                   what="a retry or a connect")
        self.assertIn(RETRY, line)
        self.assertIn(reason, line)
        return line

    def assert_never_connected(self, server):
        server.out.drain()
        self.assertFalse([line for line in server.out.seen if line.startswith("connected")])

    def assert_delivers(self, server, text):
        server.command(f"send {text}")
        records = harness.wait_records(self.sink, 1)
        self.assertEqual(records[-1]["data"], text)

    def test_ca_file_verifies_the_server(self):
        server = self.tls_server()
        daemon = self.daemon(self.config(server, {"ca_file": self.ca}))
        server.wait_for("connected u1")
        daemon.log.wait_for_text(f"connected to wss://localhost:{server.port}/websocket/u1")
        self.assert_delivers(server, "over tls")
        server.command("push 3 64 0")
        self.assertEqual(len(harness.wait_records(self.sink, 4)), 4)

    def test_system_store_fails_then_reload_with_the_ca_connects(self):
        server = self.tls_server()
        daemon = self.daemon(self.config(server))
        self.wait_retry(daemon, "unable to get local issuer certificate")
        daemon.rewrite_config(self.config(server, {"ca_file": self.ca}))
        daemon.signal(signal.SIGHUP)
        server.wait_for("connected u1")
        self.assert_delivers(server, "after reload")

    def test_reload_from_ws_to_wss_sets_up_tls_then(self):
        # A ws:// daemon never initialises TLS; the reload to wss:// must do it.
        plain = self.server()
        daemon = self.daemon(harness.config_yaml(plain.url(), self.sink))
        plain.wait_for("connected ")
        secure = self.tls_server()
        daemon.rewrite_config(self.config(secure, {"ca_file": self.ca}))
        daemon.signal(signal.SIGHUP)
        secure.wait_for("connected u1")
        self.assert_delivers(secure, "now over TLS")

    def test_certificate_for_another_name_is_rejected(self):
        other = self.pki.issue("other", self.ca, ("other.example",))
        server = self.tls_server(other)
        daemon = self.daemon(self.config(server, {"ca_file": self.ca}))
        self.wait_retry(daemon, "hostname mismatch")
        self.wait_retry(daemon, "hostname mismatch")

    def test_certificate_for_another_address_is_rejected(self):
        # The certificate names 127.0.0.1 and localhost, not 127.0.0.2.
        server = self.tls_server(host="127.0.0.2")
        daemon = self.daemon(self.config(server, {"ca_file": self.ca}, host="127.0.0.2"))
        self.wait_retry(daemon, "IP address mismatch")

    @unittest.skipUnless(harness.ipv6_loopback_available(), "no IPv6 loopback")
    def test_ipv6_literal_with_a_certificate_for_another_name_is_rejected(self):
        other = self.pki.issue("other", self.ca, ("other.example",))
        server = self.tls_server(other, host="::1")
        daemon = self.daemon(self.config(server, {"ca_file": self.ca}, host="[::1]"))
        self.wait_retry(daemon, "mismatch")

    def test_expired_certificate_is_rejected_with_the_reason(self):
        expired = self.pki.issue_expired("expired", self.ca, ("localhost", "127.0.0.1", "::1"))
        server = self.tls_server(expired)
        daemon = self.daemon(self.config(server, {"ca_file": self.ca}))
        self.wait_retry(daemon, "certificate has expired")
        self.assert_never_connected(server)

    def test_self_signed_server_is_rejected_by_default(self):
        server = self.tls_server(self.pki.self_signed("self", ("localhost", "127.0.0.1", "::1")))
        daemon = self.daemon(self.config(server))
        self.wait_retry(daemon, "self-signed certificate")

    def test_verify_false_accepts_a_self_signed_server_and_warns(self):
        server = self.tls_server(self.pki.self_signed("self", ("localhost", "127.0.0.1", "::1")))
        daemon = self.daemon(self.config(server, {"verify": False}))
        warning = daemon.log.wait_for_text("server.tls.verify is false")
        self.assertTrue(warning.startswith("<4>"), warning)
        self.assertIn("certificate is NOT checked", warning)
        server.wait_for("connected u1")
        self.assert_delivers(server, "unverified")

    def test_client_certificate_from_the_ca_is_accepted(self):
        server = self.tls_server(None, "--tls-client-ca", self.ca)
        cert, key = self.pki.issue("client", self.ca, usage="clientAuth")
        daemon = self.daemon(self.config(server, {"ca_file": self.ca, "cert_file": cert,
                                                  "key_file": key}))
        server.wait_for("connected u1")
        daemon.log.wait_for_text("connected to wss://localhost:")
        self.assert_delivers(server, "mutual")

    def test_without_a_client_certificate_it_retries_until_given_one(self):
        server = self.tls_server(None, "--tls-client-ca", self.ca)
        daemon = self.daemon(self.config(server, {"ca_file": self.ca}))
        self.wait_retry(daemon, "")
        self.wait_retry(daemon, "")
        self.assert_never_connected(server)
        cert, key = self.pki.issue("client", self.ca, usage="clientAuth")
        daemon.rewrite_config(self.config(server, {"ca_file": self.ca, "cert_file": cert,
                                                   "key_file": key}))
        daemon.signal(signal.SIGHUP)
        server.wait_for("connected u1")
        self.assert_delivers(server, "given a certificate")

    def test_client_certificate_from_another_ca_is_rejected(self):
        server = self.tls_server(None, "--tls-client-ca", self.ca)
        cert, key = self.pki.issue("stranger", self.pki.ca("other-ca"), usage="clientAuth")
        daemon = self.daemon(self.config(server, {"ca_file": self.ca, "cert_file": cert,
                                                  "key_file": key}))
        self.wait_retry(daemon, "the server refused the TLS handshake: unknown CA")
        self.wait_retry(daemon, "the server refused the TLS handshake: unknown CA")
        self.assert_never_connected(server)

    def test_refused_client_certificate_is_named_in_the_retry_reason(self):
        # Under TLS 1.3 the server judges the certificate after the client considers the
        # handshake done, and hangs up right after its alert: lws may act on the hang-up
        # without reading the alert, and logs alerts at INFO level only. The daemon reads it.
        server = self.tls_server(None, "--tls-client-ca", self.ca)
        daemon = self.daemon(self.config(server, {"ca_file": self.ca}))
        self.wait_retry(daemon, "the server refused the TLS handshake: certificate required")


if __name__ == "__main__":
    harness.main()
