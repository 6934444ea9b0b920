"""Standard exports: WARC 1.1 and WACZ for replay tools, JSONL and CSV for spreadsheets and code.

Bodies are stored content-decoded, so response records drop Content-Encoding and
Transfer-Encoding and carry a recomputed Content-Length; a body already written earlier in the
file becomes a revisit record (identical-payload-digest). HTTP/2 answers are written with an
HTTP/1.1 status line, which is what WARC readers and replay tools understand.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from http import HTTPStatus
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.orm import Session
from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date, datetime_to_timestamp
from warcio.warcwriter import WARCWriter

from archiver import __version__
from archiver.errors import ArchiverError
from archiver.model import utc_iso
from archiver.store import models
from archiver.store.captures import capture_exchanges, get_body, header_pairs, resolve_captures

SOFTWARE = f"archiver {__version__}"
WARC_NAME = "data.warc.gz"
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
_DROPPED_HEADERS = {"content-encoding", "transfer-encoding", "content-length"}
_DESCENDANT_DEPTH = 10
_BATCH = 200
_C = models.Capture.__table__.c
_E = models.Exchange.__table__.c


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


# -- selection ---------------------------------------------------------------------------------


def select_capture_ids(
    session: Session, *, url: str | None = None, since: datetime | None = None
) -> list[int] | None:
    """Ids to export for `url` (its captures and what they led to), or None for a range export."""
    if url is None:
        return None
    hop_ids = sa.select(_E.capture_id).where(_E.url == url)
    roots = session.execute(
        sa.select(_C.id).where(
            sa.or_(_C.url == url, _C.final_url == url, _C.canonical_url == url, _C.id.in_(hop_ids))
        )
    ).scalars()
    found = set(roots)
    # Re-captures inherit final and canonical URLs from the capture they are the same as.
    found.update(
        session.execute(sa.select(_C.id).where(_C.same_as.in_(sorted(found)))).scalars()
        if found
        else ()
    )
    frontier = sorted(found)
    for _ in range(_DESCENDANT_DEPTH):
        if not frontier:
            break
        children = session.execute(sa.select(_C.id).where(_C.parent_id.in_(frontier))).scalars()
        frontier = sorted(set(children) - found)
        found.update(frontier)
    if since is not None and found:
        kept = session.execute(
            sa.select(_C.id).where(_C.id.in_(sorted(found)), _C.captured_at >= _utc(since))
        ).scalars()
        found = set(kept)
    return sorted(found)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def iter_captures(
    session: Session, ids: Sequence[int] | None, *, since: datetime | None = None
) -> Iterator[models.Capture]:
    """Captures in id order, re-captures resolved (an export holds each one's content), a batch
    at a time so exports of any size keep memory flat."""
    if ids is not None:
        for start in range(0, len(ids), _BATCH):
            chunk = ids[start : start + _BATCH]
            yield from resolve_captures(
                session,
                session.scalars(
                    sa.select(models.Capture).where(_C.id.in_(chunk)).order_by(_C.id)
                ).all(),
            )
            session.expunge_all()
        return
    last = 0
    while True:
        query = sa.select(models.Capture).where(_C.id > last).order_by(_C.id).limit(_BATCH)
        if since is not None:
            query = query.where(_C.captured_at >= _utc(since))
        rows = list(session.scalars(query))
        if not rows:
            return
        yield from resolve_captures(session, rows)
        last = rows[-1].id
        session.expunge_all()


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


# -- JSONL and CSV -----------------------------------------------------------------------------


def write_jsonl(fh: IO[str], captures: Iterator[models.Capture]) -> int:
    count = 0
    for capture in captures:
        fh.write(json.dumps(capture_record(capture), ensure_ascii=False) + "\n")
        count += 1
    return count


def write_csv(fh: IO[str], captures: Iterator[models.Capture]) -> int:
    writer = csv.DictWriter(fh, fieldnames=FIELDS, lineterminator="\r\n")
    writer.writeheader()
    count = 0
    for capture in captures:
        record = capture_record(capture)
        record["authors"] = "; ".join(record["authors"])
        writer.writerow({k: "" if v is None else v for k, v in record.items()})
        count += 1
    return count


# -- WARC --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IndexEntry:
    """Where a response or revisit record sits in the WARC, for a CDXJ index."""

    url: str
    date: datetime
    mime: str
    status: int
    digest: str
    offset: int
    length: int


@dataclass
class _Written:
    uri: str
    date: str
    digest: str


def _request_target(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return path, parts.netloc


def _response_headers(
    headers: Sequence[Sequence[str]] | None, length: int
) -> list[tuple[str, str]]:
    kept = [
        (name, value)
        for name, value in (headers or [])
        if name.lower() not in _DROPPED_HEADERS and not name.startswith(":")
    ]
    kept.append(("Content-Length", str(length)))
    return kept


def _mime(headers: Sequence[Sequence[str]] | None) -> str:
    for name, value in headers or []:
        if name.lower() == "content-type":
            return value.split(";")[0].strip().lower() or "application/octet-stream"
    return "application/octet-stream"


def _reason(status: int, reason: str | None) -> str:
    if reason:
        return reason
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


class _WarcExport:
    def __init__(self, session: Session, fh: IO[bytes], filename: str) -> None:
        self.session = session
        self.fh = fh
        self.writer = WARCWriter(fh, gzip=True, warc_version="1.1")
        self.filename = filename
        self.payloads: dict[str, _Written] = {}
        self.records: dict[str, int] = {}
        self.index: list[IndexEntry] = []

    def _write(self, record: Any) -> tuple[int, int]:
        offset = self.fh.tell()
        self.writer.write_record(record)
        kind = record.rec_headers.get_header("WARC-Type")
        self.records[kind] = self.records.get(kind, 0) + 1
        return offset, self.fh.tell() - offset

    def warcinfo(self) -> None:
        info = {
            "software": SOFTWARE,
            "format": "WARC File Format 1.1",
            "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
            "description": "Captures exported from an archiver database",
        }
        self._write(self.writer.create_warcinfo_record(self.filename, info))

    def capture(self, capture: models.Capture) -> str | None:
        """Write the capture's exchanges; return the URL a replay of it should open."""
        exchanges = capture_exchanges(self.session, capture)
        written = [e for e in exchanges if e.status is not None]
        for exchange in written:
            self.exchange(exchange)
        urls = {e.url for e in written}
        if capture.final_url in urls:
            return capture.final_url
        # A post fetched through an API: the page is the answer that held it.
        evidence = [e.url for e in written if e.role == "response"] or [e.url for e in written]
        return evidence[-1] if evidence else None

    def exchange(self, exchange: models.Exchange) -> None:
        started = _utc(exchange.started_at)
        warc_date = datetime_to_iso_date(started.replace(tzinfo=None), use_micros=True)
        body = get_body(self.session, exchange.sha256) if exchange.sha256 else b""
        status = exchange.status or 0
        http_headers = StatusAndHeaders(
            f"{status} {_reason(status, exchange.reason)}",
            _response_headers(header_pairs(exchange.response_headers), len(body)),
            protocol="HTTP/1.1",
        )
        warc_headers = {"WARC-Date": warc_date}
        if exchange.truncated:
            warc_headers["WARC-Truncated"] = "length"
        earlier = self.payloads.get(exchange.sha256 or "") if body else None
        if earlier is not None:
            http_headers.replace_header("Content-Length", "0")
            record = self.writer.create_revisit_record(
                exchange.url,
                earlier.digest,
                earlier.uri,
                earlier.date,
                http_headers=http_headers,
                warc_headers_dict=warc_headers,
            )
            mime = "warc/revisit"
        else:
            record = self.writer.create_warc_record(
                exchange.url,
                "response",
                payload=io.BytesIO(body),
                length=len(body),
                http_headers=http_headers,
                warc_headers_dict=warc_headers,
            )
            mime = _mime(header_pairs(exchange.response_headers))
        offset, length = self._write(record)
        digest = record.rec_headers.get_header("WARC-Payload-Digest")
        if earlier is None and body and exchange.sha256:
            self.payloads[exchange.sha256] = _Written(exchange.url, warc_date, digest)
        self.index.append(IndexEntry(exchange.url, started, mime, status, digest, offset, length))

        path, host = _request_target(exchange.url)
        request_headers = [
            (k, v) for k, v in header_pairs(exchange.request_headers) if not k.startswith(":")
        ]
        if not any(k.lower() == "host" for k, _ in request_headers):
            request_headers.insert(0, ("Host", host))
        request = self.writer.create_warc_record(
            exchange.url,
            "request",
            http_headers=StatusAndHeaders(
                f"{exchange.method} {path} HTTP/1.1", request_headers, is_http_request=True
            ),
            warc_headers_dict={
                "WARC-Date": warc_date,
                "WARC-Concurrent-To": record.rec_headers.get_header("WARC-Record-ID"),
            },
        )
        self._write(request)


def write_warc(
    session: Session,
    fh: IO[bytes],
    captures: Iterator[models.Capture],
    *,
    filename: str,
    pages: list[dict[str, Any]] | None = None,
) -> tuple[int, _WarcExport]:
    """Write a WARC of `captures`; `pages` collects a replay entry point per ok capture."""
    export = _WarcExport(session, fh, filename)
    export.warcinfo()
    count = 0
    for capture in captures:
        page_url = export.capture(capture)
        if pages is not None and page_url and capture.status == "ok":
            pages.append(_page(capture, page_url))
        count += 1
    return count, export


# -- WACZ --------------------------------------------------------------------------------------


def surt(url: str) -> str:
    """Sort-friendly URI Reordering Transform: `com,example)/path?query` (as CDXJ keys use)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().rstrip(".")
    if host.startswith("www."):
        host = host[4:]
    key = ",".join(reversed(host.split("."))) if host else ""
    port = parts.port
    if port and not (
        (parts.scheme == "http" and port == 80) or (parts.scheme == "https" and port == 443)
    ):
        key += f":{port}"
    path = (parts.path or "/").lower()
    query = "&".join(sorted(parts.query.split("&"))).lower() if parts.query else ""
    return f"{key}){path}" + (f"?{query}" if query else "")


def cdxj_lines(index: Sequence[IndexEntry], filename: str) -> list[str]:
    lines = []
    for entry in index:
        data = {
            "url": entry.url,
            "mime": entry.mime,
            "status": str(entry.status),
            "digest": entry.digest,
            "length": str(entry.length),
            "offset": str(entry.offset),
            "filename": filename,
        }
        timestamp = datetime_to_timestamp(entry.date.replace(tzinfo=None))
        lines.append(f"{surt(entry.url)} {timestamp} {json.dumps(data, ensure_ascii=False)}\n")
    return sorted(lines, key=lambda line: line.encode("utf-8"))


def _page(capture: models.Capture, url: str) -> dict[str, Any]:
    page: dict[str, Any] = {
        "id": str(capture.id),
        "url": url,
        "ts": utc_iso(capture.captured_at),
    }
    if capture.title:
        page["title"] = capture.title
    if capture.text:
        page["text"] = capture.text
    return page


def _resource(
    name: str, path: str, data: bytes | None = None, file: Path | None = None
) -> dict[str, Any]:
    digest = hashlib.sha256()
    size = 0
    if file is not None:
        with file.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
                size += len(chunk)
    else:
        assert data is not None
        digest.update(data)
        size = len(data)
    return {"name": name, "path": path, "hash": f"sha256:{digest.hexdigest()}", "bytes": size}


def write_wacz(
    session: Session,
    out: Path,
    captures: Sequence[models.Capture] | Iterator[models.Capture],
    *,
    now: datetime,
) -> tuple[int, _WarcExport]:
    pages: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="archiver-wacz-") as tmp:
        warc_path = Path(tmp) / WARC_NAME
        with warc_path.open("wb") as fh:
            count, export = write_warc(session, fh, iter(captures), filename=WARC_NAME, pages=pages)
        index = "".join(cdxj_lines(export.index, WARC_NAME)).encode("utf-8")
        header = {"format": "json-pages-1.0", "id": "pages", "title": "All Pages"}
        pages_bytes = "".join(
            json.dumps(page, ensure_ascii=False) + "\n" for page in [header, *pages]
        ).encode("utf-8")
        package = {
            "profile": "wacz",
            "title": "archiver export",
            "created": utc_iso(now),
            "software": SOFTWARE,
            "resources": [
                _resource("pages.jsonl", "pages/pages.jsonl", pages_bytes),
                _resource("index.cdxj", "indexes/index.cdxj", index),
                _resource(WARC_NAME, f"archive/{WARC_NAME}", file=warc_path),
            ],
        }
        package_bytes = json.dumps(package, indent=2).encode("utf-8")
        digest = {
            "path": "datapackage.json",
            "hash": "sha256:" + hashlib.sha256(package_bytes).hexdigest(),
        }
        with zipfile.ZipFile(out, "w", allowZip64=True) as zf:
            # Replay tools read WARC records by offset through the zip: never compress it again.
            zf.write(warc_path, f"archive/{WARC_NAME}", compress_type=zipfile.ZIP_STORED)
            zf.writestr("indexes/index.cdxj", index, compress_type=zipfile.ZIP_DEFLATED)
            zf.writestr("pages/pages.jsonl", pages_bytes, compress_type=zipfile.ZIP_DEFLATED)
            zf.writestr("datapackage.json", package_bytes, compress_type=zipfile.ZIP_DEFLATED)
            zf.writestr(
                "datapackage-digest.json",
                json.dumps(digest, indent=2).encode("utf-8"),
                compress_type=zipfile.ZIP_DEFLATED,
            )
    return count, export


# -- entry point -------------------------------------------------------------------------------


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
