"""HTTP to addresses chosen by users (webhooks), without letting them reach our own network.

A URL written in a map (or rendered from a contact's data) could point at the cloud's metadata
service, a database in the VPC or ``localhost``. :func:`request` refuses every address that is
not public unicast: private, loopback, link-local (169.254.0.0/16, which holds the instance
metadata service), multicast, reserved, shared (100.64.0.0/10), unspecified, and IPv6 forms that
carry one of those (IPv4-mapped ``::ffff:127.0.0.1``, 6to4, Teredo, NAT64). The check happens
**after** DNS resolution, on every address the name resolves to, and the connection then goes
to the checked address itself (Host header and TLS SNI/certificate name from the URL), so a
DNS answer that changes between check and connect (rebinding) cannot swap it. Redirects are
followed by hand, each hop checked the same way, at most :data:`MAX_REDIRECTS`; across origins
only the headers of :data:`CROSS_ORIGIN_HEADERS` follow. ``timeout`` is a total deadline for
the whole exchange, redirects and a slowly dripped answer included.

The deployment may allow networks explicitly: ``WEBHOOK_ALLOWED_NETWORKS`` (comma-separated
CIDRs, template parameter ``WebhookAllowedNetworks``, empty by default). The cloud metadata
endpoints are refused even then: no webhook has a reason to go there.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

ALLOWED_NETWORKS_ENV = "WEBHOOK_ALLOWED_NETWORKS"
MAX_REDIRECTS = 3
MAX_RESPONSE_BYTES = 1024 * 1024
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# instance metadata, ECS task metadata, the VPC DNS resolver and time service, in both families
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",
        "169.254.170.2",
        "169.254.169.253",
        "169.254.169.123",
        "fd00:ec2::254",
        "fd00:ec2::23",
        "fd00:ec2::123",
    )
)
# the only headers that follow a redirect to another origin: custom ones (X-Api-Key,
# Authorization, a signature...) stay with the origin they were written for
CROSS_ORIGIN_HEADERS = frozenset({"accept", "accept-language", "user-agent", "content-type", "x-automaps-delivery"})

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class BlockedAddress(ValueError):
    """The URL points (or redirects) at an address webhooks may not reach."""


class BadUrl(ValueError):
    """Not an absolute http(s) URL we can call."""


class TooManyRedirects(RuntimeError):
    pass


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    url: str
    redirects: list[str] = field(default_factory=list)

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


# ------------------------------------------------------------------ the policy


def allowed_networks() -> list[IPNetwork]:
    """The deployment's explicit allow-list (read on each call)."""
    raw = os.environ.get(ALLOWED_NETWORKS_ENV, "")
    networks = []
    for part in raw.split(","):
        if part.strip():
            try:
                networks.append(ipaddress.ip_network(part.strip(), strict=False))
            except ValueError:
                raise BadUrl(f"{ALLOWED_NETWORKS_ENV} holds {part.strip()!r}, which is not a CIDR") from None
    return networks


def _embedded(address: IPAddress) -> list[IPAddress]:
    """The address and every IPv4 address an IPv6 form of it carries."""
    found: list[IPAddress] = [address]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            found.append(address.ipv4_mapped)
        if address.sixtofour is not None:
            found.append(address.sixtofour)
        if address.teredo is not None:
            found.extend(address.teredo)
        if address in ipaddress.ip_network("64:ff9b::/96"):  # NAT64 well-known prefix
            found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        if address in ipaddress.ip_network("::/96") and int(address) > 1:  # IPv4-compatible (deprecated)
            found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


def refusal(address: IPAddress) -> str | None:
    """Why ``address`` may not be reached, or None when it may."""
    forms = _embedded(address)
    if any(form in METADATA_ADDRESSES for form in forms):
        return f"{address} is a cloud metadata address"
    if any(address in network for network in allowed_networks()):
        return None
    for form in forms:
        if form.is_multicast:
            return f"{address} is a multicast address"
        if form.is_loopback:
            return f"{address} is a loopback address"
        if form.is_link_local:
            return f"{address} is a link-local address"
        if form.is_unspecified or form.is_reserved or form.is_private or not form.is_global:
            return f"{address} is not a public address"
    return None


def check(address: str | IPAddress) -> IPAddress:
    parsed = ipaddress.ip_address(address) if isinstance(address, str) else address
    reason = refusal(parsed)
    if reason:
        raise BlockedAddress(f"refused: {reason} (allow it with {ALLOWED_NETWORKS_ENV} if it is meant)")
    return parsed


def resolve(host: str, port: int) -> IPAddress:
    """The address to connect to: every address ``host`` resolves to must pass :func:`check`."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise BadUrl(f"the host {host!r} does not resolve: {error}") from None
    addresses = list(dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos))
    if not addresses:
        raise BadUrl(f"the host {host!r} does not resolve")
    for address in addresses:
        check(address)
    return addresses[0]


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str  # path and query, as sent in the request line

    @property
    def origin(self) -> tuple[str, str, int]:
        return (self.scheme, self.host, self.port)

    @property
    def host_header(self) -> str:
        name = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return name if self.port == default else f"{name}:{self.port}"


def parse(url: str) -> Target:
    """An absolute http(s) URL, without credentials in it."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as error:
        raise BadUrl(f"not a valid URL: {error}") from None
    if parts.scheme not in ("http", "https"):
        raise BadUrl("the URL must start with http:// or https://")
    if not parts.hostname:
        raise BadUrl("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise BadUrl("the URL must not carry credentials (user:password@); send them in a header")
    if any(ch.isspace() or ord(ch) < 32 for ch in url.strip()):
        raise BadUrl("the URL contains whitespace or control characters")
    path = parts.path or "/"
    if parts.query:
        path += f"?{parts.query}"
    return Target(parts.scheme, parts.hostname.rstrip("."), port or (443 if parts.scheme == "https" else 80), path)


# ------------------------------------------------------------------ the request


def request(
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    timeout: float = 10.0,
    max_redirects: int = MAX_REDIRECTS,
) -> Response:
    """One HTTP exchange with policy checks on every hop. Raises BlockedAddress, BadUrl,
    TooManyRedirects, or urllib3's errors (timeouts, connection failures)."""
    import time

    deadline = time.monotonic() + timeout
    target = parse(url)
    sent_headers = dict(headers or {})
    hops: list[str] = []
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            from urllib3.exceptions import TimeoutError as Urllib3Timeout

            raise Urllib3Timeout("the webhook took longer than its timeout")
        status, answer_headers, data = _exchange(method, target, sent_headers, body, remaining, deadline)
        location = answer_headers.get("location")
        if status not in REDIRECT_STATUSES or not location:
            return Response(status, answer_headers, data, url, hops)
        if len(hops) >= max_redirects:
            raise TooManyRedirects(f"more than {max_redirects} redirects")
        url = urljoin(url, location)
        hops.append(url)
        following = parse(url)
        if following.origin != target.origin:
            sent_headers = {k: v for k, v in sent_headers.items() if k.lower() in CROSS_ORIGIN_HEADERS}
        if status == 303 or (status in (301, 302) and method.upper() not in ("GET", "HEAD")):
            method, body = "GET", None
            sent_headers = {k: v for k, v in sent_headers.items() if k.lower() != "content-type"}
        target = following


def _exchange(
    method: str, target: Target, headers: dict[str, str], body: bytes | None, timeout: float, deadline: float
) -> tuple[int, dict[str, str], bytes]:
    import urllib3

    from automaps.providers.http import read_within

    address = resolve(target.host, target.port)
    options: dict[str, Any] = {"timeout": urllib3.Timeout(total=timeout), "retries": False, "maxsize": 1}
    if target.scheme == "https":
        pool: Any = urllib3.HTTPSConnectionPool(
            str(address),
            target.port,
            server_hostname=target.host,
            assert_hostname=target.host,
            cert_reqs="CERT_REQUIRED",
            **options,
        )
    else:
        pool = urllib3.HTTPConnectionPool(str(address), target.port, **options)
    try:
        answer = pool.urlopen(
            method.upper(),
            target.path,
            body=body,
            headers={**headers, "Host": target.host_header},
            redirect=False,
            preload_content=False,
            assert_same_host=False,
        )
        data = read_within(answer, deadline, MAX_RESPONSE_BYTES)  # a slow drip cannot outlast the deadline
        return answer.status, {k.lower(): v for k, v in answer.headers.items()}, data
    finally:
        pool.close()
