"""What a worker reports about a job, and the retry policy that reads it.

Pure, no database: which failures a retry will not fix, which are rate limits (whose Retry-After
is honoured), and exponential backoff with jitter for the rest. Both a job's retry and its
host's backoff are timed from here.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from archiver.config import DaemonConfig
from archiver.model import Status

#: Failures a retry will not fix: the URL is refused, or the page is not there (a watch still
#: comes back to it at its next due time).
PERMANENT_ERRORS = ("invalid-url", "blocked-address", "HTTP 404", "HTTP 410")
RATE_LIMITED = "rate-limited"


@dataclass(frozen=True)
class JobResult:
    """What running a job gave: the requested URL's capture, or why there is none."""

    status: Status | None
    capture_id: int | None = None
    error: str | None = None
    retry_after: float | None = None
    change: str | None = None


def retry_delay(attempt: int, config: DaemonConfig, rng: random.Random) -> float:
    """Exponential backoff with jitter, so jobs that failed together do not return together."""
    base = config.backoff_base_seconds * 2.0 ** max(attempt - 1, 0)
    delay = min(config.backoff_max_seconds, base)
    return float(delay * (0.5 + rng.random() / 2))
