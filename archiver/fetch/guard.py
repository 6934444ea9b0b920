"""The address guard: httpx's transport with a network backend that connects only to checked IPs.

Checking the resolved addresses, not the name, closes the DNS-rebinding gap; the lookup itself is
bounded by the connect timeout, as the system resolver has no timeout of its own.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

from archiver.config import FetchConfig
from archiver.errors import BlockedAddress, NetworkError
from archiver.fetch.pool import LinearPool
from archiver.urls import PRIVATE_NETWORK_HINT, address_problem, check_host


def _resolve(host: str, port: int, timeout: float | None) -> list[Any]:
    """getaddrinfo, given up after `timeout` seconds (the connect timeout).

    The system resolver has no timeout of its own to pass; the lookup runs in a daemon thread
    that is left to finish on its own if it takes too long, so exit never waits for it.
    """
    if timeout is None:
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    answer: list[Any] = []
    failure: list[BaseException] = []
    done = threading.Event()

    def lookup() -> None:
        try:
            answer.extend(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except BaseException as exc:  # handed to the caller below
            failure.append(exc)
        finally:
            done.set()

    threading.Thread(target=lookup, name="resolve", daemon=True).start()
    if not done.wait(timeout):
        raise httpcore.ConnectTimeout(f"resolving {host} took longer than {timeout:g}s")
    if failure:
        raise failure[0]
    return answer


class _GuardedBackend(httpcore.NetworkBackend):
    """Resolve, check every address, then connect to a checked address (no DNS-rebinding gap).

    It lives below the transport, so TLS still uses the host name for SNI and certificate checks,
    and mocked transports never reach it.
    """

    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        check_host(host, allow_private=False)
        try:
            infos = _resolve(host, port, timeout)
        except (socket.gaierror, UnicodeError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            raise NetworkError(
                f"Cannot resolve host {host} ({reason}): check the address and your network/DNS"
            ) from None
        addresses: list[str] = []
        for info in infos:
            address = str(info[4][0])
            if address not in addresses:
                addresses.append(address)
        for address in addresses:
            problem = address_problem(ipaddress.ip_address(address.split("%", 1)[0]))
            if problem:
                raise BlockedAddress(
                    f"{host} resolves to {address}, {problem} {PRIVATE_NETWORK_HINT}"
                )
        error: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for address in addresses:
            try:
                return self._inner.connect_tcp(
                    address,
                    port,
                    timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        assert error is not None  # getaddrinfo never answers with an empty list
        raise error

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        raise BlockedAddress(
            f"Refusing to connect to the local socket {path} {PRIVATE_NETWORK_HINT}"
        )

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class DirectTransport(httpx.HTTPTransport):
    """httpx's transport (so test mocks still apply) with the address guard as network backend.

    httpx offers no way to pass a network backend, so its connection pool is rebuilt with one;
    the rebuilt pool is also `LinearPool`, whose bookkeeping stays cheap with many fetches in
    flight.
    """

    def __init__(self, config: FetchConfig) -> None:
        super().__init__(verify=config.verify_tls, trust_env=True)
        limits = httpx.Limits()
        # Private httpx API (HTTPTransport._pool), pinned by the <0.29 bound.
        self._pool = LinearPool(
            ssl_context=httpx.create_ssl_context(verify=config.verify_tls, trust_env=True),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=None if config.allow_private_networks else _GuardedBackend(),
        )
