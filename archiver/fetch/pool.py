"""httpcore's connection pool with a linear assignment pass, for many fetches in flight.

httpcore 1.0's pool reassigns requests to connections on every request start and end, and that
pass is quadratic in the number of open connections: it counts every connection once per idle
one (and then compares that total, not the idle count, with the keep-alive limit, so once more
connections are open than may be kept alive, every idle one is closed and reconnected), and it
rescans all connections for each queued request. bench/fetch_pool.py measures the difference:
fetching 3,000 pages from 12 local sites in 32 threads took about twice the time and CPU with it
as with this pass. Fixed upstream only in forks so far (encode/httpcore#1035).

This pass makes the same decisions in one walk, with three corrections: the keep-alive limit
counts idle connections; an idle connection goes to one queued request per pass, not to all of
them (the losers used to wake, fail and queue again); and a connection handed to a request that
has not started on it yet is neither closed as surplus nor given to another request
(encode/httpcore#1110). HTTP/1.1 only, as the fetcher speaks nothing else. Proxy pools (httpcore's
subclasses) get the same pass by `linear`.
"""

from __future__ import annotations

from httpcore import ConnectionInterface, ConnectionPool, HTTPProxy, Origin, SOCKSProxy


class LinearPool(ConnectionPool):
    """A `httpcore.ConnectionPool` whose request assignment is linear in connections + requests."""

    def _assign_requests_to_connections(self) -> list[ConnectionInterface]:
        # Runs under the pool's lock; returns the connections to close once it is released.
        closing: list[ConnectionInterface] = []
        reserved = {id(r.connection) for r in self._requests if r.connection is not None}
        kept: list[ConnectionInterface] = []
        free: list[ConnectionInterface] = []  # idle and promised to no request, oldest first
        for connection in self._connections:
            if connection.is_closed():
                continue
            if connection.has_expired():
                closing.append(connection)
                continue
            kept.append(connection)
            if id(connection) not in reserved and connection.is_idle():
                free.append(connection)
        surplus = len(free) - self._max_keepalive_connections
        if surplus > 0:
            evicted = {id(c) for c in free[:surplus]}
            closing.extend(free[:surplus])
            free = free[surplus:]
            kept = [c for c in kept if id(c) not in evicted]
        self._connections = kept

        queued = [r for r in self._requests if r.is_queued()]
        if not queued:
            return closing
        # Free connections by the origin of the queued requests that can use them.
        by_origin: dict[tuple[bytes, bytes, int], list[ConnectionInterface]] = {}
        for request in queued:
            origin = request.request.url.origin
            key = _key(origin)
            if key not in by_origin:
                by_origin[key] = [c for c in free if c.can_handle_request(origin)]
        taken: set[int] = set()
        for request in queued:
            origin = request.request.url.origin
            matching = by_origin[_key(origin)]
            while matching and id(matching[0]) in taken:
                matching.pop(0)
            if matching:
                connection = matching.pop(0)
            elif len(self._connections) < self._max_connections:
                connection = self.create_connection(origin)
                self._connections.append(connection)
            else:
                # The pool is full: close an idle connection (another origin's) to make room.
                victim = next((c for c in free if id(c) not in taken), None)
                if victim is None:
                    break  # nothing can be assigned until a request ends
                taken.add(id(victim))
                self._connections.remove(victim)
                closing.append(victim)
                connection = self.create_connection(origin)
                self._connections.append(connection)
            taken.add(id(connection))
            request.assign_to_connection(connection)
        return closing


class LinearHTTPProxy(LinearPool, HTTPProxy):
    """httpcore's HTTP proxy pool with LinearPool's assignment pass."""


class LinearSOCKSProxy(LinearPool, SOCKSProxy):
    """httpcore's SOCKS proxy pool with LinearPool's assignment pass."""


def linear(pool: object) -> None:
    """Give a pool httpx built (a proxy's) LinearPool's assignment pass, in place.

    httpx builds proxy pools from many settings of its own; switching the class of the built pool
    keeps all of them. The subclasses add no state, so the switch is safe.
    """
    for stock, faster in ((HTTPProxy, LinearHTTPProxy), (SOCKSProxy, LinearSOCKSProxy)):
        if type(pool) is stock:
            pool.__class__ = faster


def _key(origin: Origin) -> tuple[bytes, bytes, int]:
    # httpcore's Origin compares equal by value but is not hashable.
    return (origin.scheme, origin.host, origin.port)
