"""The only httpx code: GETs hop by hop, each hop recorded, limits that hold against hostile hosts."""

from __future__ import annotations

# Re-exported for callers that took it from here when fetch was one module.
from archiver.charset import detect_charset as detect_charset
from archiver.fetch.fetcher import (
    MAX_RETRY_AFTER_SECONDS,
    Fetcher,
    Response,
    javascript_redirect_target,
    meta_refresh_target,
    retry_after_seconds,
)

__all__ = [
    "MAX_RETRY_AFTER_SECONDS",
    "Fetcher",
    "Response",
    "javascript_redirect_target",
    "meta_refresh_target",
    "retry_after_seconds",
]
