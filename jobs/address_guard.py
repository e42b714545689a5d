"""Which addresses outbound requests may reach: the SSRF guard's rules.

`jobs.http` applies them twice: to an account's endpoint override before anything is
sent (`endpoint_refusal`), and to every address a name resolves to, at connect time
(`address_allowed`).
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from urllib.parse import urlsplit

# Cloud metadata services answer on these even where "private" checks miss them.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "100.100.100.200", "fd00:ec2::254", "169.254.170.2")
)
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
# What CLAPBOARD_ALLOW_PRIVATE_ENDPOINTS opens besides loopback: the networks a private
# gateway can sit on. Link-local, multicast and reserved ranges stay closed.
PRIVATE_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
)
# IPv6 prefixes that carry an IPv4 address in their last 32 bits: IPv4-translated
# (RFC 2765), NAT64 well-known and local-use (RFC 6052, 8215).
_LOW32_PREFIXES = tuple(
    ipaddress.ip_network(n) for n in ("::ffff:0:0:0/96", "64:ff9b::/96", "64:ff9b:1::/48")
)
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_SITE_LOCAL = ipaddress.ip_network("fec0::/10")  # deprecated, still not global


def embedded_ipv4(ip: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, ...]:
    """The IPv4 addresses an IPv6 transition form leads to (empty for plain IPv6).

    IPv4-mapped and -compatible, IPv4-translated, NAT64, 6to4 and Teredo (its server
    and its client) all reach an IPv4 host, which is the one to judge.
    """
    if ip.ipv4_mapped is not None:
        return (ip.ipv4_mapped,)
    if ip.sixtofour is not None:
        return (ip.sixtofour,)
    if ip.teredo is not None:
        return ip.teredo
    low32 = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if any(ip in prefix for prefix in _LOW32_PREFIXES):
        return (low32,)
    if ip in _IPV4_COMPATIBLE and ip not in (ipaddress.IPv6Address("::1"),):
        return (low32,)
    return ()


def address_allowed(
    address: str, *, allow_loopback: bool = False, allow_private: bool = False
) -> bool:
    """Whether a connection to this IP address may be opened.

    Public addresses only, unless `allow_loopback` (loopback too) or `allow_private`
    (loopback and the private networks above). Metadata, link-local, multicast and
    reserved addresses are never allowed; IPv6 forms that embed an IPv4 address are
    judged by that address.
    """
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = embedded_ipv4(ip)
        if embedded:
            return all(
                address_allowed(str(v4), allow_loopback=allow_loopback, allow_private=allow_private)
                for v4 in embedded
            )
    if ip in METADATA_ADDRESSES:
        return False
    if ip.is_loopback:
        return allow_loopback or allow_private
    if any(ip in network for network in PRIVATE_NETWORKS if network.version == ip.version):
        return allow_private
    if isinstance(ip, ipaddress.IPv6Address) and ip in _SITE_LOCAL:
        return False
    return ip.is_global and not ip.is_multicast


def kind_of(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """A few words for why an address is refused, for error messages."""
    if isinstance(ip, ipaddress.IPv6Address) and embedded_ipv4(ip):
        return "an IPv6 form of " + " and ".join(
            f"{v4} ({kind_of(v4)})" for v4 in embedded_ipv4(ip)
        )
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if any(ip in network for network in PRIVATE_NETWORKS if network.version == ip.version):
        return "a private network address"
    if ip.is_multicast:
        return "a multicast address"
    return "a public address" if ip.is_global else "a reserved address"


def _literal_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address a URL host names without DNS: IP literals, the legacy IPv4 spellings
    the resolver accepts (`127.1`, `0x7f.0.0.1`, `2130706433`) and `localhost`."""
    host = host.strip("[]").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return ipaddress.IPv4Address("127.0.0.1")
    with contextlib.suppress(ValueError):
        return ipaddress.ip_address(host.split("%", 1)[0])
    if host and all(c in "0123456789abcdefx." for c in host):
        with contextlib.suppress(OSError):
            return ipaddress.IPv4Address(socket.inet_aton(host))
    return None


def endpoint_refusal(url: str, *, allow_private: bool) -> str:
    """Why an account's endpoint override may not be used; "" when it may.

    Refused: anything but http(s) with a host, user info (it would be sent as Basic auth
    and shown in messages), and loopback or private hosts unless `allow_private`.
    Metadata and link-local hosts are always refused. Names are judged again after
    DNS, at connect time.
    """
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return "the endpoint is not a valid URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "the endpoint must be an http(s) URL with a host"
    if "@" in parts.netloc:
        return "the endpoint must not contain a user name or password"
    ip = _literal_address(parts.hostname)
    if ip is None or address_allowed(str(ip), allow_private=allow_private):
        return ""
    if address_allowed(str(ip), allow_private=True):
        return (
            f"the endpoint host {parts.hostname} is {kind_of(ip)}; private and loopback "
            "endpoints are refused unless CLAPBOARD_ALLOW_PRIVATE_ENDPOINTS is true"
        )
    return f"the endpoint host {parts.hostname} is {kind_of(ip)}, which is never allowed"
