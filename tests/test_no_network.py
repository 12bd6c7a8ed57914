"""The suite never reaches the network: only loopback (for local SMTP/HTTP test servers) is open.

TCP connects are refused by pytest-socket (``--allow-hosts`` in pyproject's addopts); DNS lookups
of names outside this machine and UDP datagrams outside loopback by tests/network_guard.py, for the
whole session (tests/conftest.py). Subprocesses (``sam build``) are outside both guards."""

import asyncio
import socket

import pytest
from pytest_socket import SocketConnectBlockedError

from tests.network_guard import DnsLookupBlocked, UdpSendBlocked


async def _resolve_in_event_loop(host: str) -> list:
    return await asyncio.get_running_loop().getaddrinfo(host, 80)   # as aiosmtpd and asyncio clients do


def test_given_the_test_run_when_code_connects_outside_this_machine_then_it_is_refused():
    with pytest.raises(SocketConnectBlockedError):
        socket.create_connection(("192.0.2.1", 443), timeout=1)   # TEST-NET-1, never routed


@pytest.mark.parametrize("lookup", [
    lambda: socket.getaddrinfo("api.stripe.com", 443),
    lambda: socket.getaddrinfo(b"example.com", None),
    lambda: socket.gethostbyname("example.com"),
    lambda: socket.gethostbyname_ex("hooks.example.org"),
    lambda: asyncio.run(_resolve_in_event_loop("example.com")),
])
def test_given_the_test_run_when_code_resolves_a_name_outside_this_machine_then_no_query_is_sent(lookup):
    with pytest.raises(DnsLookupBlocked, match="refused") as caught:
        lookup()

    assert isinstance(caught.value, socket.gaierror), "handled like a machine without network"


def test_given_the_test_run_when_code_resolves_a_local_name_or_an_address_then_it_is_answered():
    assert {info[4][0] for info in socket.getaddrinfo("localhost", 25)} <= {"127.0.0.1", "::1"}
    assert socket.getaddrinfo("192.0.2.1", 443)[0][4][0] == "192.0.2.1"   # a literal needs no lookup
    assert socket.gethostbyname("127.0.0.1") == "127.0.0.1"
    assert socket.gethostbyname("0x7f.1") == socket.gethostbyname("2130706433") == "127.0.0.1"   # numeric forms
    assert socket.getaddrinfo(None, 0, flags=socket.AI_PASSIVE)
    socket.getaddrinfo(socket.gethostname(), None)   # this machine's own name (smtplib's EHLO)


@pytest.mark.parametrize("address", [("192.0.2.1", 53), ("8.8.8.8", 53), ("10.0.0.1", 514)])
def test_given_the_test_run_when_code_sends_udp_outside_loopback_then_it_is_refused(address):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        with pytest.raises(UdpSendBlocked):
            udp.sendto(b"query", address)
        with pytest.raises(UdpSendBlocked):
            udp.sendto(b"query", 0, address)
        with pytest.raises(UdpSendBlocked):
            udp.sendmsg([b"query"], [], 0, address)
        with pytest.raises(SocketConnectBlockedError):
            udp.connect(address)


def test_given_the_test_run_when_code_sends_udp_on_loopback_then_it_arrives():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        server.bind(("127.0.0.1", 0))
        server.settimeout(2)
        client.sendto(b"ping", server.getsockname())
        client.sendmsg([b"pong"], [], 0, server.getsockname())

        assert [server.recv(16), server.recv(16)] == [b"ping", b"pong"]
