"""The export formats and `export()`, which writes the selected captures in one of them."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from sqlalchemy.orm import Session

from archiver.errors import ArchiverError
from archiver.export.rows import write_csv, write_jsonl
from archiver.export.selection import iter_captures, select_capture_ids
from archiver.export.wacz import write_wacz
from archiver.export.warc import write_warc


class ExportFormat(StrEnum):
    WARC = "warc"
    WACZ = "wacz"
    JSONL = "jsonl"
    CSV = "csv"


class ExportError(ArchiverError):
    code = "export"


@dataclass
class ExportSummary:
    path: Path
    format: ExportFormat
    captures: int = 0
    #: WARC records written, by WARC-Type.
    records: dict[str, int] = field(default_factory=dict)
    bytes: int = 0


def export(
    session: Session,
    out: Path,
    *,
    format: ExportFormat | str,
    url: str | None = None,
    since: datetime | None = None,
    now: datetime | None = None,
) -> ExportSummary:
    """Write the selected captures to `out` (replaced only once complete) in `format`."""
    try:
        fmt = ExportFormat(format)
    except ValueError:
        raise ExportError(
            f"Unknown export format {format!r}; use one of {', '.join(f.value for f in ExportFormat)}."
        ) from None
    ids = select_capture_ids(session, url=url, since=since)
    if ids == []:
        raise ExportError(f"Nothing archived for {url}; check the URL with `archiver show {url}`.")
    captures = iter_captures(session, ids, since=since)
    summary = ExportSummary(path=out, format=fmt)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial")
    try:
        if fmt in (ExportFormat.JSONL, ExportFormat.CSV):
            with partial.open("w", encoding="utf-8", newline="") as text:
                writer = write_jsonl if fmt == ExportFormat.JSONL else write_csv
                summary.captures = writer(text, captures)
        elif fmt == ExportFormat.WARC:
            with partial.open("wb") as fh:
                summary.captures, warc = write_warc(session, fh, captures, filename=out.name)
            summary.records = warc.records
        else:
            summary.captures, warc = write_wacz(
                session, partial, captures, now=now or datetime.now(UTC)
            )
            summary.records = warc.records
        os.replace(partial, out)
    except OSError as exc:
        raise ExportError(f"Cannot write {out}: {exc.strerror or exc}") from exc
    finally:
        partial.unlink(missing_ok=True)
    summary.bytes = out.stat().st_size
    return summary
