"""Exports: WARC passes warcio check and reads back; WACZ is a valid package; JSONL and CSV."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import subprocess
import sys
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session
from warcio.archiveiterator import ArchiveIterator

from archiver.export import FIELDS, ExportError, export, surt
from archiver.store.captures import get_body
from tests.fixtures.archive import ARTICLE_URL, SampleArchive


def warcio_check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "warcio.cli", "check", "-v", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )


def read_records(stream: io.BufferedIOBase | io.BytesIO) -> list[dict[str, object]]:
    records = []
    for record in ArchiveIterator(stream):
        records.append(
            {
                "type": record.rec_type,
                "headers": dict(record.rec_headers.headers),
                "http": record.http_headers,
                "payload": record.content_stream().read(),
            }
        )
    return records


def test_warc_passes_check_and_reads_back(
    session: Session, sample: SampleArchive, tmp_path: Path
) -> None:
    out = tmp_path / "archive.warc.gz"
    summary = export(session, out, format="warc")
    assert summary.captures == 7
    result = warcio_check(out)
    assert result.returncode == 0, result.stdout + result.stderr
    with out.open("rb") as fh:
        records = read_records(fh)
    counts: dict[str, int] = {}
    for record in records:
        counts[str(record["type"])] = counts.get(str(record["type"]), 0) + 1
    # Nine exchanges; the article's second capture repeats its body and becomes a revisit.
    assert counts == {"warcinfo": 1, "response": 8, "revisit": 1, "request": 9}
    assert summary.records == counts
    assert b"archiver" in records[0]["payload"]  # type: ignore[operator]

    responses = [r for r in records if r["type"] == "response"]
    by_id = {r["headers"]["WARC-Record-ID"]: r for r in records}  # type: ignore[index]
    article = next(r for r in responses if r["headers"]["WARC-Target-URI"] == ARTICLE_URL)  # type: ignore[index]
    assert article["payload"] == get_body(session, sample.article.sha256 or "")
    http = article["http"]
    assert http.protocol == "HTTP/1.1" and http.statusline.startswith("200")  # type: ignore[attr-defined]
    assert http.get_header("Content-Encoding") is None  # type: ignore[attr-defined]
    assert http.get_header("Transfer-Encoding") is None  # type: ignore[attr-defined]
    assert int(http.get_header("Content-Length")) == len(article["payload"])  # type: ignore[attr-defined, arg-type]

    hop = next(r for r in responses if r["headers"]["WARC-Target-URI"] == "https://t.co/Ab12Cd")  # type: ignore[index]
    assert hop["http"].protocol == "HTTP/1.1"  # type: ignore[attr-defined]  # it was HTTP/2
    assert hop["http"].get_header("Location") == "https://bit.ly/3xYz"  # type: ignore[attr-defined]

    for record in records:
        if record["type"] == "request":
            headers = record["headers"]
            target = by_id[headers["WARC-Concurrent-To"]]  # type: ignore[index]
            assert target["type"] in ("response", "revisit")
            assert target["headers"]["WARC-Target-URI"] == headers["WARC-Target-URI"]  # type: ignore[index]
            assert record["http"].protocol == "GET"  # type: ignore[attr-defined]

    revisit = next(r for r in records if r["type"] == "revisit")
    headers = revisit["headers"]
    assert headers["WARC-Profile"].endswith("/warc/1.1/revisit/identical-payload-digest")  # type: ignore[index, union-attr]
    assert headers["WARC-Refers-To-Target-URI"] == ARTICLE_URL  # type: ignore[index]
    assert headers["WARC-Payload-Digest"] == article["headers"]["WARC-Payload-Digest"]  # type: ignore[index]
    assert headers["WARC-Refers-To-Date"] == article["headers"]["WARC-Date"]  # type: ignore[index]


def test_warc_of_one_url_has_what_it_led_to(
    session: Session, sample: SampleArchive, tmp_path: Path
) -> None:
    out = tmp_path / "post.warc.gz"
    summary = export(session, out, format="warc", url=sample.post.url)
    assert summary.captures == 2  # the post and the article it linked to
    with out.open("rb") as fh:
        uris = [
            r["headers"].get("WARC-Target-URI") for r in read_records(fh) if r["type"] == "response"
        ]  # type: ignore[union-attr]
    assert "https://t.co/Ab12Cd" in uris and ARTICLE_URL in uris


def test_unknown_url_and_format_are_errors(
    session: Session, sample: SampleArchive, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    with pytest.raises(ExportError, match="Nothing archived"):
        export(session, out / "x.warc.gz", format="warc", url="https://none.example/")
    with pytest.raises(ExportError, match="warc, wacz, jsonl, csv"):
        export(session, out / "x.zip", format="zip")
    assert not out.exists()


def test_wacz_is_a_valid_package(session: Session, sample: SampleArchive, tmp_path: Path) -> None:
    out = tmp_path / "archive.wacz"
    now = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)
    export(session, out, format="wacz", now=now)
    with zipfile.ZipFile(out) as zf:
        assert sorted(zf.namelist()) == [
            "archive/data.warc.gz",
            "datapackage-digest.json",
            "datapackage.json",
            "indexes/index.cdxj",
            "pages/pages.jsonl",
        ]
        assert zf.getinfo("archive/data.warc.gz").compress_type == zipfile.ZIP_STORED
        package_bytes = zf.read("datapackage.json")
        package = json.loads(package_bytes)
        assert package["profile"] == "wacz"
        assert package["created"] == "2026-11-26T01:00:00Z"
        assert package["software"].startswith("archiver ")
        for resource in package["resources"]:
            data = zf.read(resource["path"])
            assert resource["bytes"] == len(data)
            assert resource["hash"] == "sha256:" + hashlib.sha256(data).hexdigest()
        digest = json.loads(zf.read("datapackage-digest.json"))
        assert digest == {
            "path": "datapackage.json",
            "hash": "sha256:" + hashlib.sha256(package_bytes).hexdigest(),
        }

        pages = [json.loads(line) for line in zf.read("pages/pages.jsonl").splitlines()]
        assert pages[0] == {"format": "json-pages-1.0", "id": "pages", "title": "All Pages"}
        assert len(pages) == 1 + 7
        assert pages[2]["url"] == ARTICLE_URL and pages[2]["ts"] == "2026-11-01T08:01:00Z"
        assert pages[2]["id"] == str(sample.article.id)
        assert "title" in pages[2] and "Okafor" in pages[2]["text"]

        warc = zf.read("archive/data.warc.gz")
        lines = zf.read("indexes/index.cdxj").splitlines()
        assert lines == sorted(lines)
        assert len(lines) == 9
        indexed_urls = set()
        for line in lines:
            key, timestamp, blob = line.decode().split(" ", 2)
            entry = json.loads(blob)
            assert key == surt(entry["url"]) and len(timestamp) == 14
            assert entry["filename"] == "data.warc.gz"
            start, length = int(entry["offset"]), int(entry["length"])
            record = next(ArchiveIterator(io.BytesIO(warc[start : start + length])))
            assert record.rec_headers.get_header("WARC-Target-URI") == entry["url"]
            assert record.rec_headers.get_header("WARC-Payload-Digest") == entry["digest"]
            assert record.rec_type == ("revisit" if entry["mime"] == "warc/revisit" else "response")
            indexed_urls.add(entry["url"])
        assert {p["url"] for p in pages[1:]} <= indexed_urls
    check = tmp_path / "data.warc.gz"
    check.write_bytes(warc)
    assert warcio_check(check).returncode == 0
    assert gzip.decompress(warc).startswith(b"WARC/1.1")


def test_surt() -> None:
    assert surt("https://www.Example.com/A/b?z=1&a=2") == "com,example)/a/b?a=2&z=1"
    assert surt("http://example.com:8080") == "com,example:8080)/"


def test_jsonl(session: Session, sample: SampleArchive, tmp_path: Path) -> None:
    out = tmp_path / "captures.jsonl"
    export(session, out, format="jsonl", since=datetime(2026, 11, 1, 8, 4, tzinfo=UTC))
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == [
        sample.article_again.id,
        sample.copy.id,
        sample.quote.id,
        sample.paraphrase.id,
        sample.unrelated.id,
    ]
    assert tuple(rows[0]) == FIELDS
    assert rows[0]["captured_at"] == "2026-11-02T08:00:00Z"
    assert rows[2]["authors"] == ["Bob Writer"]


def test_csv(session: Session, sample: SampleArchive, tmp_path: Path) -> None:
    out = tmp_path / "captures.csv"
    summary = export(session, out, format="csv")
    assert summary.captures == 7
    with out.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0]) == FIELDS
    article = next(r for r in rows if r["id"] == str(sample.article.id))
    assert article["authors"] == "Jane Doe"
    assert article["parent_id"] == str(sample.post.id)
    assert article["published_at"] == "2026-10-30T18:00:00Z"
    assert article["canonical_url"] == ARTICLE_URL
