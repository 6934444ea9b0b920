"""archiver: archive social-media posts and the pages they link to, with their provenance.

The public API, loaded on first use so that `import archiver` stays cheap:

    from archiver import archive, load_config, open_database
    config = load_config()
    engine = open_database(config.database_url)
    for outcome in archive(["https://x.com/…/status/…"], config=config, engine=engine):
        print(outcome.capture_id, outcome.status)
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "archive": "archiver.archiving",
    "capture_url": "archiver.archiving",
    "CaptureOutcome": "archiver.archiving",
    "Config": "archiver.config",
    "load_config": "archiver.config",
    "Fetcher": "archiver.fetch",
    "Response": "archiver.fetch",
    "extract_page": "archiver.extract",
    "open_database": "archiver.store.db",
    "ArchiverError": "archiver.errors",
    "Post": "archiver.model",
    "Page": "archiver.model",
    "Platform": "archiver.model",
    "Status": "archiver.model",
    "add_watch": "archiver.watches",
    "enqueue": "archiver.queue",
    "queue_status": "archiver.queue",
    "Daemon": "archiver.daemon",
    "timeline": "archiver.history",
    "diff_captures": "archiver.history",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'archiver' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
