"""The suite never reaches the network: only loopback (for local SMTP/HTTP test servers) is open."""

import socket

import pytest
from pytest_socket import SocketConnectBlockedError


def test_given_the_test_run_when_code_connects_outside_this_machine_then_it_is_refused():
    with pytest.raises(SocketConnectBlockedError):
        socket.create_connection(("192.0.2.1", 443), timeout=1)   # TEST-NET-1, never routed
