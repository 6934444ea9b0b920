"""Every capture of a URL over time, and what changed between two of them."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from archiver.errors import NotFound
from archiver.model import Status, utc_iso
from archiver.queue import as_utc, as_utc_or_none
from archiver.store.captures import resolve_captures
from archiver.store.models import Capture
from archiver.urls import validate_url

#: Metadata compared by `diff`, in the order they are reported.
DIFF_FIELDS = ("status", "title", "authors", "published_at", "modified_at")


@dataclass(frozen=True)
class TimelineEntry:
    """One capture in a URL's history."""

    id: int
    captured_at: datetime
    status: str
    #: first | unchanged | changed | gone | back | failed, against the capture before it.
    change: str | None
    http_status: int | None
    content_hash: str | None
    title: str | None
    error: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "captured_at": utc_iso(self.captured_at),
            "status": self.status,
            "change": self.change,
            "http_status": self.http_status,
            "content_hash": self.content_hash,
            "title": self.title,
            "error": self.error,
        }


def _entry(capture: Capture) -> TimelineEntry:
    return TimelineEntry(
        id=capture.id,
        captured_at=as_utc(capture.captured_at),
        status=capture.status,
        change=capture.change,
        http_status=capture.http_status,
        content_hash=capture.content_hash,
        title=capture.title,
        error=capture.error,
    )


def timeline(session: Session, url: str) -> list[TimelineEntry]:
    """Captures of `url`, oldest first; NotFound when there are none."""
    url = validate_url(url)
    captures = list(
        session.scalars(
            sa.select(Capture).where(Capture.url == url).order_by(Capture.captured_at, Capture.id)
        )
    )
    if not captures:
        raise NotFound(f"No capture of {url} is stored. Archive it first: archiver archive URL.")
    return [_entry(c) for c in resolve_captures(session, captures)]


@dataclass(frozen=True)
class FieldChange:
    field: str
    before: Any
    after: Any


@dataclass(frozen=True)
class CaptureDiff:
    """What differs between two captures of one URL: metadata fields and a unified text diff."""

    url: str
    before: TimelineEntry
    after: TimelineEntry
    fields: tuple[FieldChange, ...]
    text_changed: bool
    #: Unified diff of the extracted text, empty when the text is the same.
    text_diff: str

    @property
    def changed(self) -> bool:
        return self.text_changed or bool(self.fields)

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "from": self.before.to_dict(),
            "to": self.after.to_dict(),
            "changed": self.changed,
            "fields": [{"field": f.field, "from": f.before, "to": f.after} for f in self.fields],
            "text_changed": self.text_changed,
            "text_diff": self.text_diff,
        }


def _value(capture: Capture, name: str) -> Any:
    value = getattr(capture, name)
    if isinstance(value, datetime):
        return utc_iso(as_utc(value))
    if name == "authors":
        return list(value or [])
    return value


def _pick(session: Session, url: str, capture_id: int) -> Capture:
    capture = session.get(Capture, capture_id)
    if capture is None or capture.url != url:
        raise NotFound(
            f"Capture {capture_id} is not a capture of {url}. "
            f"`archiver history {url}` lists its captures."
        )
    return capture


def diff_captures(
    session: Session,
    url: str,
    *,
    from_id: int | None = None,
    to_id: int | None = None,
    context: int = 3,
) -> CaptureDiff:
    """Compare two captures of `url`; by default the latest one with content and the one before.

    Failed captures hold no content, so they are skipped when picking defaults (name them to
    compare them anyway).
    """
    url = validate_url(url)
    with_content = (
        sa.select(Capture)
        .where(Capture.url == url, Capture.status != Status.FAILED)
        .order_by(Capture.captured_at.desc(), Capture.id.desc())
    )
    after = (
        _pick(session, url, to_id) if to_id is not None else session.scalar(with_content.limit(1))
    )
    if after is None:
        raise NotFound(
            f"No successful capture of {url} is stored to compare. "
            f"`archiver history {url}` lists its captures."
        )
    if from_id is not None:
        before = _pick(session, url, from_id)
    else:
        earlier = sa.or_(
            Capture.captured_at < after.captured_at,
            sa.and_(Capture.captured_at == after.captured_at, Capture.id < after.id),
        )
        found = session.scalar(with_content.where(earlier).limit(1))
        if found is None:
            raise NotFound(
                f"Capture {after.id} is the first of {url} with content; there is nothing "
                "earlier to compare it with. Give --from and --to to pick two captures."
            )
        before = found
    before, after = resolve_captures(session, [before, after])
    fields = tuple(
        FieldChange(name, _value(before, name), _value(after, name))
        for name in DIFF_FIELDS
        if _value(before, name) != _value(after, name)
    )
    old_text, new_text = before.text or "", after.text or ""
    text_diff = "".join(
        difflib.unified_diff(
            _lines(old_text),
            _lines(new_text),
            fromfile=f"capture {before.id} ({utc_iso(as_utc_or_none(before.captured_at))})",
            tofile=f"capture {after.id} ({utc_iso(as_utc_or_none(after.captured_at))})",
            n=context,
        )
    )
    return CaptureDiff(
        url=url,
        before=_entry(before),
        after=_entry(after),
        fields=fields,
        text_changed=old_text != new_text,
        text_diff=text_diff,
    )


def _lines(text: str) -> list[str]:
    # A missing final newline would glue the last line to difflib's next marker.
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    return lines
