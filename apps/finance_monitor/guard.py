"""The public-address guard: keeps sources and webhooks off private addresses (loopback, the
LAN, cloud metadata services), unless the config allows private ones.

Two checks: a name is resolved and every address it gives must be public (:func:`is_public_host`,
which ``fetch`` runs on every redirect hop), and connections are opened only to the addresses
that passed (:func:`public_only_transport`, the transport of the source fetcher and the webhook
client), so a name that rebinds between the check and the connection never gets a request.

>>> is_public_ip(ipaddress.ip_address("93.184.216.34")), is_public_ip(ipaddress.ip_address("10.0.0.8"))
(True, False)
"""

from __future__ import annotations

import ipaddress
import socket

import httpcore
import httpx

from .errors import FetchError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def is_public_ip(ip: IPAddress) -> bool:
    """True for a globally routable unicast address; False for private, loopback, link-local,
    shared (100.64.0.0/10, where cloud metadata services live), reserved and multicast ones.

    >>> is_public_ip(ipaddress.ip_address("100.100.100.200"))
    False
    """
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # subtle: ::ffff:127.0.0.1 is loopback, whatever 3.11 says
    return ip.is_global and not ip.is_multicast


def resolve(host: str) -> list[IPAddress]:
    """Every address ``host`` resolves to; a host that does not resolve is a ``FetchError``."""
    try:
        infos = socket.getaddrinfo(host, None)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchError(host, f"could not resolve {host} ({exc})", retryable=True) from exc
    return [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]


def is_public_host(host: str) -> bool:
    """True when every address ``host`` resolves to is public (``FetchError`` if none).

    >>> is_public_host("127.0.0.1"), is_public_host("10.0.0.8")
    (False, False)
    """
    return all(is_public_ip(ip) for ip in resolve(host))


class PublicOnlyBackend(httpcore.NetworkBackend):
    """Opens TCP connections only to public addresses: resolves the name once, refuses it if
    any address is not public, and connects to the addresses it checked.

    subtle: checking a name and then letting the socket resolve it again lets a rebinding DNS
    server answer "public" to the check and "127.0.0.1" to the connection; the request would
    reach the private service before any reply could be refused.
    """

    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None, socket_options=None):
        addresses = resolve(host)
        blocked = [ip for ip in addresses if not is_public_ip(ip)]
        if blocked:
            raise FetchError(host, f"refused: {host} resolves to {blocked[0]}, which is not "
                             "public (set fetch.allow_private = true to allow private ones)")
        error: Exception | None = None
        for ip in addresses:  # as socket.create_connection would, but only the checked ones
            try:
                return self._inner.connect_tcp(str(ip), port, timeout, local_address,
                                               socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        raise error

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options=None):
        raise FetchError(path, "unix sockets are not fetched")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def public_only_transport() -> httpx.HTTPTransport:
    """httpx's transport with its connection pool on :class:`PublicOnlyBackend`."""
    transport = httpx.HTTPTransport()
    # subtle: httpx offers no network-backend option, but its pool is httpcore's, which takes one
    transport._pool = httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(), max_connections=100,
        max_keepalive_connections=20, keepalive_expiry=5.0, network_backend=PublicOnlyBackend())
    return transport
