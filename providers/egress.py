"""Where the server may connect on a tenant's behalf: the policy of the egress guard.

A tenant admin chooses URLs (a provider's ``base_url``, a notification URL), so every such
destination is untrusted. The rules, applied to every address a host name resolves to:

* cloud metadata addresses (``169.254.169.254``, ``fd00:ec2::254``, …) are refused always, even
  when an allowlist entry would cover them: no provider lives there;
* a host named in ``PROVIDER_EGRESS_ALLOWLIST``, or an address inside one of its IPs / CIDR
  networks, is allowed, over https or plain http (a self-hosted bridge on a private network is
  the normal use);
* anything else must be https to a public internet address: loopback, private, link-local,
  shared (CGNAT), multicast, reserved and unspecified addresses are refused, including IPv4
  addresses hidden inside IPv6 (``::ffff:127.0.0.1``, 6to4, NAT64, Teredo).

This module only decides. ``providers.http`` enforces the decision on the address it actually
connects to (so a DNS answer that changes between a check and the connection cannot slip
through), and ``providers.config`` uses ``url_problem`` to refuse a URL when it is saved.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util import connection as urllib3_connection

from providers.deadlines import clamped, current_operation
from providers.errors import EgressRefused

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_URL_LENGTH = 2048

METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(address)
    for address in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean, Oracle instance metadata
        "169.254.170.2",  # AWS ECS task metadata and credentials
        "fd00:ec2::254",  # AWS instance metadata over IPv6
        "100.100.100.200",  # Alibaba Cloud metadata
        "168.63.129.16",  # Azure WireServer (a public address, so named here)
        "192.0.0.192",  # Oracle Cloud Classic metadata
    )
)
METADATA_HOSTNAMES = frozenset({"metadata.google.internal", "metadata.goog", "instance-data", "metadata"})
NAT64 = ipaddress.ip_network("64:ff9b::/96")
HOSTNAME = re.compile(r"(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*")
# Characters that never belong in a URL we send: whitespace and controls (header injection).
UNSAFE_URL_CHARACTERS = re.compile(r"[\x00-\x20\x7f-\x9f\\]")


def normalize_host(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


def ip_literal(host: str) -> Address | None:
    """The address when ``host`` is written as an IP address (IPv6 with or without brackets)."""
    try:
        return ipaddress.ip_address(normalize_host(host).split("%", 1)[0])
    except ValueError:
        return None


def _embedded_ipv4(address: Address) -> ipaddress.IPv4Address | None:
    if address.version != 6:
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.teredo is not None:
        return address.teredo[1]
    return None


def is_metadata(address: Address) -> bool:
    inner = _embedded_ipv4(address)
    return address in METADATA_ADDRESSES or (inner is not None and inner in METADATA_ADDRESSES)


def address_problem(address: Address) -> str | None:
    """Why ``address`` is not a public internet address, or None when it is one."""
    if is_metadata(address):
        return "a cloud metadata address"
    inner = _embedded_ipv4(address)
    if inner is not None:
        return address_problem(inner)
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_private:
        return "a private network address"
    if address.is_reserved or not address.is_global:
        return "a reserved address"
    return None


@dataclass(frozen=True)
class EgressPolicy:
    """The operator's allowlist: host names (exact, case-insensitive) and IP networks."""

    hostnames: frozenset[str] = frozenset()
    networks: tuple[Network, ...] = field(default=())

    @classmethod
    def parse(cls, entries: Iterable[str] | str) -> EgressPolicy:
        if isinstance(entries, str):
            entries = entries.split(",")
        hostnames: set[str] = set()
        networks: list[Network] = []
        for raw in entries:
            entry = normalize_host(str(raw))
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
                continue
            except ValueError:
                pass
            if not HOSTNAME.fullmatch(entry):
                raise ImproperlyConfigured(
                    f"PROVIDER_EGRESS_ALLOWLIST: {str(raw)[:80]!r} is not a host name, an IP address or a CIDR network."
                )
            hostnames.add(entry)
        return cls(frozenset(hostnames), tuple(networks))

    def names(self, host: str) -> bool:
        return normalize_host(host) in self.hostnames

    def covers(self, address: Address) -> bool:
        return any(address.version == network.version and address in network for network in self.networks)

    def refusal(self, host: str, address: Address, *, plain_http: bool) -> str | None:
        """Why connecting to ``address`` (which ``host`` resolved to) is refused, or None."""
        if is_metadata(address):
            return "it resolves to a cloud metadata address"
        if self.names(host) or self.covers(address):
            return None
        if plain_http:
            return "plain http is allowed only to hosts in PROVIDER_EGRESS_ALLOWLIST"
        problem = address_problem(address)
        return f"it resolves to {problem}, which is not on the public internet" if problem else None

    def permits_plain_http(self, host: str) -> bool:
        """Whether http:// can work for ``host``: named, an allowlisted IP, or (for a name) an
        allowlist with networks its addresses may fall in, which the connection then decides."""
        literal = ip_literal(host)
        if literal is not None:
            return self.covers(literal) and not is_metadata(literal)
        return self.names(host) or bool(self.networks)


_policy_cache: tuple[tuple[str, ...], EgressPolicy] | None = None


def egress_policy() -> EgressPolicy:
    """The policy of ``settings.PROVIDER_EGRESS_ALLOWLIST`` (parsed again when it changes)."""
    global _policy_cache
    from django.conf import settings

    raw = getattr(settings, "PROVIDER_EGRESS_ALLOWLIST", ()) or ()
    key = tuple(str(entry) for entry in (raw.split(",") if isinstance(raw, str) else raw))
    cached = _policy_cache
    if cached is None or cached[0] != key:
        cached = _policy_cache = (key, EgressPolicy.parse(key))
    return cached[1]


def url_problem(url: str, policy: EgressPolicy | None) -> str | None:
    """Why the guard refuses ``url`` before any DNS lookup, or None. With no policy, only the
    URL's shape is checked (a URL someone else fetches, such as Twilio's TwiML URL).

    The answer is phrased to follow "The URL …" and never repeats the URL (it can carry
    account ids or tokens).
    """
    text = str(url)
    if len(text) > MAX_URL_LENGTH:
        return f"is longer than {MAX_URL_LENGTH} characters"
    if UNSAFE_URL_CHARACTERS.search(text):
        return "contains spaces, control characters or backslashes"
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a port outside 0-65535
    except ValueError:
        return "is not a valid URL"
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        return "must start with https://"
    host = parts.hostname or ""
    if not host:
        return "must name a host"
    if "@" in parts.netloc:
        return "must not carry a user name or password"
    literal = ip_literal(host)
    name = normalize_host(host)
    if literal is None and not HOSTNAME.fullmatch(name):
        return "does not name a valid host"
    if policy is None:
        return None
    if scheme == "http" and not policy.permits_plain_http(host):
        return "must use https (plain http is allowed only to hosts the operator allowlisted)"
    if literal is not None:
        refusal = policy.refusal(host, literal, plain_http=scheme == "http")
        return f"is refused: {refusal.replace('it resolves to', 'the host is')}" if refusal else None
    if not policy.names(name) and (name == "localhost" or name.endswith(".localhost") or name in METADATA_HOSTNAMES):
        return "is refused: the host is this server or a cloud metadata service"
    return None


def resolve(host: str, port: int) -> list[tuple[Any, ...]]:
    """The DNS answer for ``host`` (``getaddrinfo``): one lookup per new connection, and the
    connection goes to an address of this answer, checked."""
    return socket.getaddrinfo(host, port, urllib3_connection.allowed_gai_family(), socket.SOCK_STREAM)


# ----- connections that enforce the guard on the address they connect to


class _GuardedConnectionMixin:
    plain_http: ClassVar[bool]
    host: str
    port: int
    timeout: Any
    source_address: Any
    socket_options: Any
    _dns_host: str

    def _new_conn(self) -> socket.socket:
        policy = egress_policy()
        host = self._dns_host
        try:
            answers = resolve(host, self.port)
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc
        addresses: list[str] = []
        for *_, sockaddr in answers:
            address = ip_literal(str(sockaddr[0]))
            refusal = "its address could not be read" if address is None else policy.refusal(
                host, address, plain_http=self.plain_http
            )
            if refusal:
                raise EgressRefused(f"Refused to connect to {self.host[:100]}: {refusal}.")
            addresses.append(str(sockaddr[0]))
        last_error: OSError | None = None
        for address in dict.fromkeys(addresses):
            try:
                sock = urllib3_connection.create_connection(
                    (address, self.port),
                    clamped(self.timeout),
                    source_address=self.source_address,
                    socket_options=self.socket_options,
                )
            except OSError as exc:
                last_error = exc
                continue
            return sock
        if isinstance(last_error, TimeoutError | socket.timeout):
            raise ConnectTimeoutError(self, f"Connection to {self.host} timed out.") from last_error
        raise NewConnectionError(self, f"Failed to establish a new connection: {last_error}") from last_error

    def request(self, *args: Any, **kwargs: Any) -> None:
        operation = current_operation()
        if operation is not None:
            operation.track(self)  # type: ignore[arg-type]
        super().request(*args, **kwargs)  # type: ignore[misc]

    def getresponse(self) -> Any:
        self.timeout = clamped(self.timeout)
        return super().getresponse()  # type: ignore[misc]


class GuardedHTTPConnection(_GuardedConnectionMixin, HTTPConnection):
    plain_http = True


class GuardedHTTPSConnection(_GuardedConnectionMixin, HTTPSConnection):
    plain_http = False


class GuardedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = GuardedHTTPConnection


class GuardedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = GuardedHTTPSConnection


class GuardedAdapter(HTTPAdapter):
    """A requests adapter whose pools use the guarded connections, with no proxy support."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": GuardedHTTPConnectionPool, "https": GuardedHTTPSConnectionPool}

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        raise EgressRefused("Outbound requests do not go through proxies.")


__all__ = [
    "GuardedAdapter",
    "METADATA_ADDRESSES",
    "EgressPolicy",
    "address_problem",
    "egress_policy",
    "ip_literal",
    "is_metadata",
    "resolve",
    "url_problem",
]
