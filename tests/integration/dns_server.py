# SPDX-License-Identifier: MIT
"""A tiny DNS server for the tests (Python's standard library only): UDP, A and AAAA
answers for the names given on the command line, NXDOMAIN for any other name, an empty
answer for other types. With --delay every answer waits that long, each on its own clock,
so a resolver's A and AAAA queries are both late by the delay, not by twice it.

    dns_server.py [--address 127.0.0.1] [--port 53] [--delay SECONDS] NAME=ADDR[,ADDR...]...

It prints "listening ADDRESS PORT" once bound, then "query NAME TYPE" for each query and
"answered NAME TYPE RCODE" when its answer is sent (TYPE as a number: 1 A, 28 AAAA)."""

import argparse
import heapq
import ipaddress
import itertools
import selectors
import socket
import struct
import sys
import time

TYPE_A = 1
TYPE_AAAA = 28
NXDOMAIN = 3
TTL = 1


def parse_names(specs):
    names = {}
    for spec in specs:
        name, _, addresses = spec.partition("=")
        if not name or not addresses:
            raise SystemExit(f"dns_server.py: expected NAME=ADDR[,ADDR...], not {spec!r}")
        names[name.rstrip(".").lower()] = [ipaddress.ip_address(a) for a in addresses.split(",")]
    return names


def parse_question(query):
    """(name, type, end of the question) of a query, or None if it is not one."""
    if len(query) < 12 or query[2] & 0x80 or struct.unpack("!H", query[4:6])[0] != 1:
        return None
    labels = []
    at = 12
    while at < len(query) and query[at] != 0:
        length = query[at]
        if length & 0xC0 or at + 1 + length > len(query):
            return None
        labels.append(query[at + 1:at + 1 + length].decode("ascii", "replace"))
        at += 1 + length
    if at + 5 > len(query):
        return None
    qtype = struct.unpack("!H", query[at + 1:at + 3])[0]
    return ".".join(labels).lower(), qtype, at + 5


def answer(query, names):
    """(response bytes, name, type, rcode), or None for what is not a query."""
    question = parse_question(query)
    if question is None:
        return None
    name, qtype, end = question
    known = names.get(name)
    records = []
    if known is not None:
        for address in known:
            if (qtype, address.version) in ((TYPE_A, 4), (TYPE_AAAA, 6)):
                records.append(address.packed)
    rcode = 0 if known is not None else NXDOMAIN
    # QR, the opcode and RD as asked, AA, RA.
    flags = 0x8000 | (struct.unpack("!H", query[2:4])[0] & 0x7900) | 0x0400 | 0x0080 | rcode
    response = query[:2] + struct.pack("!HHHHH", flags, 1, len(records), 0, 0) + query[12:end]
    for data in records:
        # The name as a pointer to the question's.
        response += struct.pack("!HHHIH", 0xC00C, qtype, 1, TTL, len(data)) + data
    return response, name, qtype, rcode


def say(text):
    print(text, flush=True)


def serve(sock, names, delay):
    due = []  # (when, order, response, to, name, type, rcode)
    order = itertools.count()
    selector = selectors.DefaultSelector()
    selector.register(sock, selectors.EVENT_READ)
    while True:
        timeout = max(0.0, due[0][0] - time.monotonic()) if due else None
        if selector.select(timeout):
            try:
                query, sender = sock.recvfrom(4096)
            except (BlockingIOError, InterruptedError):
                query = None
            result = answer(query, names) if query else None
            if result is not None:
                response, name, qtype, rcode = result
                say(f"query {name} {qtype}")
                heapq.heappush(due, (time.monotonic() + delay, next(order), response, sender,
                                     name, qtype, rcode))
        while due and due[0][0] <= time.monotonic():
            _, _, response, to, name, qtype, rcode = heapq.heappop(due)
            sock.sendto(response, to)
            say(f"answered {name} {qtype} {rcode}")


def main():
    parser = argparse.ArgumentParser(description="A tiny DNS server for the tests.")
    parser.add_argument("--address", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=53)
    parser.add_argument("--delay", type=float, default=0.0,
                        help="seconds to wait before each answer")
    parser.add_argument("names", nargs="*", metavar="NAME=ADDR[,ADDR...]")
    options = parser.parse_args()
    names = parse_names(options.names)
    family = socket.AF_INET6 if ":" in options.address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.bind((options.address, options.port))
    sock.setblocking(False)
    say(f"listening {options.address} {sock.getsockname()[1]}")
    try:
        serve(sock, names, options.delay)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
