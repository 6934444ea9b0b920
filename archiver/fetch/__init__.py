"""The only httpx code: GETs hop by hop, each hop recorded, limits that hold against hostile hosts.

`fetcher` drives the chain; `redirects` finds each next hop; `guard` checks every address below
the transport; `proxy` picks proxies as httpx would; `body` reads within the size and time limits;
`failures` words httpx's errors; `response` is what comes back.
"""

from __future__ import annotations

from archiver.fetch.fetcher import Fetcher
from archiver.fetch.redirects import javascript_redirect_target, meta_refresh_target
from archiver.fetch.response import MAX_RETRY_AFTER_SECONDS, Response, retry_after_seconds

__all__ = [
    "MAX_RETRY_AFTER_SECONDS",
    "Fetcher",
    "Response",
    "javascript_redirect_target",
    "meta_refresh_target",
    "retry_after_seconds",
]
