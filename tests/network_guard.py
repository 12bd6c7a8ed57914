"""What pytest-socket does not refuse: DNS lookups of names outside this machine, and UDP datagrams
to addresses outside loopback.

pytest-socket (``--allow-hosts`` in pyproject's addopts) refuses TCP connects to anything but
loopback. Resolving ``api.stripe.com`` or sending a datagram (a DNS query, a metrics packet) does
not connect, so it would still leave the machine; :func:`installed` refuses both, in this process,
for the whole test session (tests/conftest.py). Subprocesses (``sam build`` in
tests/test_template.py, which downloads wheels from the package index) are outside the guard.

* ``socket.getaddrinfo``, ``gethostbyname``, ``gethostbyname_ex``: a name other than
  ``localhost`` (and ``*.localhost``) or this machine's own host name raises
  :class:`DnsLookupBlocked`, a ``socket.gaierror``, so code that handles "cannot resolve" behaves as
  on a machine without network. IP literals and empty hosts need no lookup and pass.
* ``socket.socket.sendto`` / ``sendmsg`` on a datagram socket to a non-loopback address raises
  :class:`UdpSendBlocked`. (A UDP ``connect`` to such an address is already refused by pytest-socket.)

A test may still replace ``socket.getaddrinfo`` with its own answers (monkeypatch); that is a
stand-in for DNS, not a lookup.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from collections.abc import Callable, Iterator
from typing import Any

_INHERITED = object()
LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})


class DnsLookupBlocked(socket.gaierror):
    """A test tried to resolve a name outside this machine."""

    def __init__(self, host: object) -> None:
        super().__init__(socket.EAI_NONAME, f"DNS lookup of {host!r} refused: tests never leave this machine "
                                            "(tests/network_guard.py)")


class UdpSendBlocked(RuntimeError):
    """A test tried to send a datagram outside loopback."""

    def __init__(self, address: object) -> None:
        super().__init__(f"UDP datagram to {address!r} refused: tests never leave this machine "
                         "(tests/network_guard.py)")


def _literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None


def _numeric_ipv4(name: str) -> bool:
    """The legacy numeric forms getaddrinfo reads without DNS (``2130706433``, ``0x7f.1``, ``127.1``)."""
    try:
        socket.inet_aton(name)
    except (OSError, ValueError):
        return False
    return True


def is_local_name(host: object) -> bool:
    """Whether resolving ``host`` stays on this machine (no DNS query goes out)."""
    if host is None:
        return True
    name = (host.decode() if isinstance(host, (bytes, bytearray)) else str(host)).strip().rstrip(".").lower()
    if not name or _literal(name) is not None or _numeric_ipv4(name):
        return True
    own = {socket.gethostname().lower()}
    return name in LOCAL_NAMES or name.endswith(".localhost") or name in own


def is_loopback(address: object) -> bool:
    """Whether a socket address (``(host, port[, ...])``) is on loopback."""
    if not isinstance(address, tuple) or not address:
        return True  # AF_UNIX paths and the like never leave the machine
    host = address[0].decode() if isinstance(address[0], (bytes, bytearray)) else str(address[0])
    literal = _literal(host)
    if literal is None:
        return host.lower().rstrip(".") in LOCAL_NAMES or host.lower().rstrip(".").endswith(".localhost")
    return literal.is_loopback or (literal.version == 6 and getattr(literal, "ipv4_mapped", None) is not None
                                   and literal.ipv4_mapped.is_loopback)  # type: ignore[union-attr]


def _guard_lookup(original: Callable[..., Any]) -> Callable[..., Any]:
    def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not is_local_name(host):
            raise DnsLookupBlocked(host)
        return original(host, *args, **kwargs)

    guarded.__wrapped__ = original  # type: ignore[attr-defined]
    return guarded


def _datagram(sock: socket.socket) -> bool:
    return sock.family in (socket.AF_INET, socket.AF_INET6) and sock.type == socket.SOCK_DGRAM


def _guard_sendto(original: Callable[..., Any]) -> Callable[..., Any]:
    def sendto(self: socket.socket, data: Any, *rest: Any) -> Any:
        address = rest[-1] if rest else None
        if _datagram(self) and not is_loopback(address):
            raise UdpSendBlocked(address)
        return original(self, data, *rest)

    return sendto


def _guard_sendmsg(original: Callable[..., Any]) -> Callable[..., Any]:
    def sendmsg(self: socket.socket, buffers: Any, ancdata: Any = (), flags: int = 0, address: Any = None) -> Any:
        if _datagram(self) and address is not None and not is_loopback(address):
            raise UdpSendBlocked(address)
        args = (buffers, ancdata, flags) if address is None else (buffers, ancdata, flags, address)
        return original(self, *args)

    return sendmsg


@contextlib.contextmanager
def installed() -> Iterator[None]:
    """Refuse non-local DNS lookups and non-loopback UDP sends while inside."""
    saved: list[tuple[object, str, Any]] = []

    def patch(owner: object, name: str, make: Callable[[Any], Any]) -> None:
        original = getattr(owner, name)
        saved.append((owner, name, vars(owner).get(name, _INHERITED)))
        setattr(owner, name, make(original))

    for lookup in ("getaddrinfo", "gethostbyname", "gethostbyname_ex"):
        patch(socket, lookup, _guard_lookup)
    patch(socket.socket, "sendto", _guard_sendto)
    patch(socket.socket, "sendmsg", _guard_sendmsg)
    try:
        yield
    finally:
        for owner, name, original in reversed(saved):
            if original is _INHERITED:
                delattr(owner, name)
            else:
                setattr(owner, name, original)
