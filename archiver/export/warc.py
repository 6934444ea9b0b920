"""WARC 1.1 writer: a response and a request record per stored exchange, repeated bodies as revisits.

Bodies are stored content-decoded, so response records drop Content-Encoding and
Transfer-Encoding and carry a recomputed Content-Length; a body already written earlier in the
file becomes a revisit record (identical-payload-digest). HTTP/2 answers are written with an
HTTP/1.1 status line, which is what WARC readers and replay tools understand.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from http import HTTPStatus
from typing import IO, Any
from urllib.parse import urlsplit

from sqlalchemy.orm import Session
from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date
from warcio.warcwriter import WARCWriter

from archiver import __version__
from archiver.export.selection import utc
from archiver.model import utc_iso
from archiver.store import models
from archiver.store.captures import capture_exchanges, get_body, header_pairs

SOFTWARE = f"archiver {__version__}"
_DROPPED_HEADERS = {"content-encoding", "transfer-encoding", "content-length"}


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


class WarcExport:
    """One WARC being written: the records counted by type and indexed, payloads seen so far."""

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
        started = utc(exchange.started_at)
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
) -> tuple[int, WarcExport]:
    """Write a WARC of `captures`; `pages` collects a replay entry point per ok capture."""
    export = WarcExport(session, fh, filename)
    export.warcinfo()
    count = 0
    for capture in captures:
        page_url = export.capture(capture)
        if pages is not None and page_url and capture.status == "ok":
            pages.append(_page(capture, page_url))
        count += 1
    return count, export


def _page(capture: models.Capture, url: str) -> dict[str, Any]:
    """A WACZ pages.jsonl entry: where replay of `capture` starts, with its text for search."""
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
