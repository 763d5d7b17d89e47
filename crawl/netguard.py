"""SSRF guard: which network addresses the crawler may connect to.

A crawled page decides where we go next, so a hostile page (or a redirect, or a DNS
answer) can point us at cloud metadata (169.254.169.254), the LAN or localhost. The
guard resolves every host itself, refuses any address that is not globally routable
unless the allow-list names it, and hands the checked IP to the connection so a second
DNS answer cannot differ from the one we checked (no rebinding window).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]

# Addresses some clouds serve instance metadata on, named so the reason says so.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "100.100.100.200", "192.0.0.192", "fd00:ec2::254")
)
# RFC 6052 well-known NAT64 prefix: a gateway forwards 64:ff9b::a.b.c.d to a.b.c.d.
NAT64_WELL_KNOWN = ipaddress.ip_network("64:ff9b::/96")


class BlockedAddress(Exception):
    """The destination is not allowed; ``reason`` is a short machine-readable code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


async def system_resolver(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _as_ip(value: str) -> IPAddress | None:
    try:
        ip = ipaddress.ip_address(value.strip("[]").split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address delivers to (6to4, Teredo client, NAT64, the
    deprecated IPv4-compatible ::a.b.c.d); v4-mapped is unwrapped earlier by ``_as_ip``."""
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in NAT64_WELL_KNOWN or (int(ip) >> 32 == 0 and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFF_FFFF)
    return None


def classify(ip: IPAddress) -> str | None:
    """Why ``ip`` is not public, or None when it is globally routable. An IPv6 address
    that carries an IPv4 destination is judged by that destination too."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.is_site_local:  # fec0::/10: deprecated, but still routed inside some networks
            return "private"
        inner = _embedded_ipv4(ip)
        if inner is not None and (why := classify(inner)) is not None:
            return why
    if ip in METADATA_ADDRESSES:
        return "metadata"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link_local"
    if ip.is_multicast:
        return "multicast"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_private:
        return "private"
    if not ip.is_global:
        return "reserved"
    return None


@dataclass(frozen=True)
class NetworkPolicy:
    """Allow-list of non-public destinations.

    ``allow`` entries are IPs, CIDR networks or host names. A host name entry admits
    that name whatever it resolves to; a network entry admits any host resolving into
    it. Public addresses are always allowed; everything else is refused. The embedded
    profile allows the replay server's loopback address; production allows nothing.
    """

    allow: tuple[str, ...] = ()
    resolver: Resolver = field(default=system_resolver, compare=False, repr=False)

    def __post_init__(self) -> None:
        nets, names = [], []
        for entry in self.allow:
            try:
                nets.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            except ValueError:
                names.append(entry.lower().rstrip("."))
        object.__setattr__(self, "_nets", tuple(nets))
        object.__setattr__(self, "_names", frozenset(names))

    def _ip_allowed(self, ip: IPAddress) -> bool:
        return any(ip.version == net.version and ip in net for net in self._nets)  # type: ignore[attr-defined]

    def check_ip(self, ip: IPAddress, host: str) -> None:
        why = classify(ip)
        if why is not None and not self._ip_allowed(ip):
            raise BlockedAddress("blocked_address", f"{host} -> {ip} is {why}; not in the network allow-list")

    async def resolve(self, host: str, port: int) -> str:
        """Return an address to connect to for ``host``, or raise :class:`BlockedAddress`.

        Every resolved address must pass: one private answer among public ones
        blocks the host, since the OS could pick any of them.
        """
        host = host.lower().rstrip(".")
        literal = _as_ip(host)
        if literal is not None:
            self.check_ip(literal, host)
            return str(literal)
        try:
            answers = await self.resolver(host, port)
        except (OSError, UnicodeError) as exc:
            raise BlockedAddress("dns_error", f"cannot resolve {host}: {exc}") from exc
        ips = [ip for ip in (_as_ip(a) for a in answers) if ip is not None]
        if not ips:
            raise BlockedAddress("dns_error", f"no address for {host}")
        if host in self._names:  # type: ignore[attr-defined]
            return str(ips[0])
        for ip in ips:
            self.check_ip(ip, host)
        return str(ips[0])

    @classmethod
    def from_strings(cls, entries: Iterable[str]) -> NetworkPolicy:
        return cls(allow=tuple(e.strip() for e in entries if e and e.strip()))
