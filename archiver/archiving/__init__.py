"""The use case: fetch a URL (post or page), store it, and follow what it links to.

`capture` makes one capture, `links` chooses what a capture leads to, and `batch` runs many
captures at once and writes them, each whole within one transaction.
"""

from __future__ import annotations

from archiver.archiving.batch import CaptureOutcome, archive
from archiver.archiving.capture import capture_url
from archiver.errors import FetchError

__all__ = ["CaptureOutcome", "FetchError", "archive", "capture_url"]
