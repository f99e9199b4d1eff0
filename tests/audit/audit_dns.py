"""A loopback DNS server for the CNAME tests: a table of names, answered over UDP.

It answers CNAME questions from ``records`` (name -> target) and says
NXDOMAIN for everything else, the way an authoritative server would. Only
loopback, only the questions the auditor asks.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import dns.exception
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset


@contextmanager
def dns_server(records: Mapping[str, str]) -> Iterator[tuple[str, int]]:
    """Serve ``records`` (CNAMEs) on a free loopback UDP port; yield (host, port)."""
    table = {k.rstrip(".").lower(): v.rstrip(".").lower() for k, v in records.items()}
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.1)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                query = dns.message.from_wire(data)
            except dns.exception.DNSException:
                continue
            response = dns.message.make_response(query)
            response.flags |= dns.flags.AA
            question = query.question[0]
            name = question.name.to_text().rstrip(".").lower()
            target = table.get(name)
            if target is None:
                response.set_rcode(dns.rcode.NXDOMAIN)
            elif question.rdtype == dns.rdatatype.CNAME:
                response.answer.append(
                    dns.rrset.from_text(question.name, 60, "IN", "CNAME", target + ".")
                )
            sock.sendto(response.to_wire(), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield "127.0.0.1", sock.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=2)
        sock.close()
