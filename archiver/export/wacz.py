"""WACZ packaging: the WARC zipped with its CDXJ index, its pages and a hashed datapackage."""

from __future__ import annotations

import hashlib
import json
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.orm import Session
from warcio.timeutils import datetime_to_timestamp

from archiver.export.warc import SOFTWARE, IndexEntry, WarcExport, write_warc
from archiver.model import utc_iso
from archiver.store import models

WARC_NAME = "data.warc.gz"


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
    """CDXJ lines for `index`, sorted bytewise because replay tools binary-search them."""
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


def _resource(
    name: str, path: str, data: bytes | None = None, file: Path | None = None
) -> dict[str, Any]:
    """A datapackage resource: sha256 and size, a file read in chunks to keep memory flat."""
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
) -> tuple[int, WarcExport]:
    """Write a WACZ of `captures` to `out`; the WARC is written to a temporary file first, as
    the datapackage needs its hash before it goes into the zip."""
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
