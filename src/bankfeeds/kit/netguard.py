"""Outbound HTTP only to public addresses: no server-side request forgery through a URL we are given.

``check_url`` refuses, when the URL is registered, what can be judged without the network: a
scheme other than http(s), credentials in the URL, and a host that is (or resolves to) a
loopback, private, link-local, shared, reserved, multicast or unspecified address, however it
is written (``0x7f000001``, ``[::1]``, ``[::ffff:127.0.0.1]``, ``localhost``).

``guarded_transport`` (httpx) and ``kit.httppool`` (webhook delivery) check again when
connecting, after DNS resolution, and connect to the very address they checked, so a name that
later resolves elsewhere (DNS rebinding) cannot reach an internal service. A kept-alive
connection stays bound to the address that was checked when it was opened, and is reused only
for the same origin (scheme, host, port): reuse never reaches an address that was not checked.
Both take ``allow_private`` (``BANKFEEDS_WEBHOOKS_ALLOW_PRIVATE_TARGETS``, on in demo mode) for
a receiver on this machine or network.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx


class TargetRefused(Exception):
    """The URL or the address it leads to is not a public one."""


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return bool(address.is_global) and not address.is_multicast


def _literal(host: str) -> IPAddress | None:
    """``host`` as an IP address if it is one in any spelling the resolver accepts."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    try:  # 0x7f000001, 2130706433, 127.1, 0177.0.0.1: what inet_aton (and so connect) accepts
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except (OSError, ValueError):
        return None


def resolve(host: str, port: int) -> list[IPAddress]:
    literal = _literal(host)
    if literal is not None:
        return [literal]
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise OSError(f"cannot resolve {host}: {exc}") from None
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


def check_addresses(host: str, addresses: Iterable[IPAddress]) -> None:
    for address in addresses:
        if not is_public(address):
            raise TargetRefused(f"{host} is not a public address ({address}).")


def check_url(url: str, *, allow_private: bool) -> None:
    """Refuse a URL that can never be a public http(s) endpoint (see the module)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TargetRefused("the URL must be an absolute http or https URL.")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise TargetRefused("the URL must not carry a user name or password.")
    if allow_private:
        return
    host = parts.hostname
    if host.rstrip(".").lower() == "localhost" or host.rstrip(".").lower().endswith(".localhost"):
        raise TargetRefused(f"{host} is not a public address.")
    literal = _literal(host)
    if literal is not None:
        check_addresses(host, [literal])
        return
    try:
        addresses = resolve(host, parts.port or (443 if parts.scheme == "https" else 80))
    except OSError:
        return  # not resolvable now: checked again at every delivery
    check_addresses(host, addresses)


class _GuardedBackend(httpcore.NetworkBackend):
    """Resolves, checks every address, and connects to a checked one."""

    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self.inner = inner

    def connect_tcp(
        self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = resolve(host, port)
        except OSError as exc:
            raise httpcore.ConnectError(str(exc)) from None
        try:
            check_addresses(host, addresses)
        except TargetRefused as exc:
            raise httpcore.ConnectError(f"refused: {exc}") from None
        last: Exception | None = None
        for address in addresses:
            try:
                return self.inner.connect_tcp(str(address), port, timeout=timeout, local_address=local_address,
                                              socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are not webhook targets")

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)


def guarded_transport(*, allow_private: bool, **options: Any) -> httpx.HTTPTransport:
    """An httpx transport that connects only to public addresses unless ``allow_private``."""
    transport = httpx.HTTPTransport(**options)
    if not allow_private:
        pool = transport._pool  # httpx builds its pool without a network_backend argument
        pool._network_backend = _GuardedBackend(pool._network_backend)
    return transport
