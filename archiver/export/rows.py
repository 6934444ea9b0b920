"""Flat exports, one row per capture: JSON Lines and CSV for spreadsheets and code."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import datetime
from typing import IO, Any

from archiver.model import utc_iso
from archiver.store import models

#: The capture fields exported, in order (the same names as the CLI's --json capture object).
FIELDS = (
    "id",
    "url",
    "final_url",
    "canonical_url",
    "platform",
    "captured_at",
    "status",
    "http_status",
    "error",
    "sha256",
    "title",
    "authors",
    "published_at",
    "modified_at",
    "site_name",
    "language",
    "description",
    "parent_id",
)


def capture_record(capture: models.Capture) -> dict[str, Any]:
    """The exported fields of one capture, timestamps in UTC with a Z."""
    record: dict[str, Any] = {}
    for name in FIELDS:
        value = getattr(capture, name)
        if isinstance(value, datetime):
            value = utc_iso(value)
        if name == "authors":
            value = list(value or [])
        record[name] = value
    return record


def write_jsonl(fh: IO[str], captures: Iterator[models.Capture]) -> int:
    """Write one JSON object per capture, non-ASCII kept as is; return how many."""
    count = 0
    for capture in captures:
        fh.write(json.dumps(capture_record(capture), ensure_ascii=False) + "\n")
        count += 1
    return count


def write_csv(fh: IO[str], captures: Iterator[models.Capture]) -> int:
    """Write a header and one row per capture, CRLF-ended as RFC 4180 says; return how many."""
    writer = csv.DictWriter(fh, fieldnames=FIELDS, lineterminator="\r\n")
    writer.writeheader()
    count = 0
    for capture in captures:
        record = capture_record(capture)
        record["authors"] = "; ".join(record["authors"])
        writer.writerow({k: "" if v is None else v for k, v in record.items()})
        count += 1
    return count
