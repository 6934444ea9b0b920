"""Secrets stay secret: a proxy password and user:password in URLs are used to fetch, and appear
in no log line (even at -vv), no printed capture, no error message, no stored row and no export."""

from __future__ import annotations

import base64
import gzip
import socket
import sqlite3
from pathlib import Path

import pytest

from archiver.store.bodies import decompress
from tests.fixtures.cli import ArchiverCLI
from tests.hostile_server import ForwardProxy, HostileServer

pytestmark = pytest.mark.slow

PROXY_PASSWORD = "pr0xy-s3cret"
URL_PASSWORD = "url-s3cret"
SECRETS = (
    PROXY_PASSWORD,
    URL_PASSWORD,
    base64.b64encode(f"alice:{PROXY_PASSWORD}".encode()).decode(),
    base64.b64encode(f"bob:{URL_PASSWORD}".encode()).decode(),
)


def _leaks(text: str) -> list[str]:
    return [line for line in text.splitlines() if any(s in line for s in SECRETS)]


def _database_text(database: Path) -> str:
    """Every value of every row of every table, bodies decompressed, as one text."""
    values: list[str] = []
    with sqlite3.connect(database) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            cursor = conn.execute(f'SELECT * FROM "{table}"')
            names = [d[0] for d in cursor.description]
            for row in cursor:
                for name, value in zip(names, row, strict=True):
                    if isinstance(value, bytes):
                        if table == "bodies" and name == "data":
                            value = decompress(row[names.index("compression")], value)
                        values.append(value.decode("utf-8", "replace"))
                    else:
                        values.append(str(value))
    return "\n".join(values)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_no_secret_in_logs_output_database_or_exports(
    hostile_server: HostileServer, tmp_path: Path
) -> None:
    proxy = ForwardProxy({"hostile.example": "127.0.0.1"})
    try:
        proxy_url = proxy.url.replace("http://", f"http://alice:{PROXY_PASSWORD}@")
        cli = ArchiverCLI(tmp_path, {"fetch": {"proxy": proxy_url}})
        base = f"http://bob:{URL_PASSWORD}@hostile.example:{hostile_server.port}"
        urls = [f"{base}{path}" for path in ("/set-cookie", "/500", "/loop/a", "/to-loopback")]
        run = cli.run("-vv", "archive", "--depth", "0", "--json", *urls)
        seen = proxy.seen
    finally:
        proxy.stop()
    assert run.returncode == 1 and "DEBUG" in run.stderr  # -vv really logged, failures happened
    # The secrets were used: the proxy got its password, the origin the URL's user:password.
    assert {s.headers.get("Proxy-Authorization") for s in seen} == {f"Basic {SECRETS[2]}"}
    assert f"Basic {SECRETS[3]}" in {s.headers.get("Authorization") for s in seen}
    assert any(s.headers.get("Cookie") == "session=c00kie" for s in seen)

    assert _leaks(run.stderr) == []
    assert _leaks(run.stdout) == []
    captures = run.json_lines()
    # Captures come out in the order they finished, not the order asked.
    assert sorted(c["url"] for c in captures) == sorted(
        u.replace(f"bob:{URL_PASSWORD}@", "***@") for u in urls
    )
    assert "archiver: failed http://***@hostile.example" in run.stderr

    stored = _database_text(cli.database)
    assert _leaks(stored) == []
    # The cookie we sent back is not kept; the server's Set-Cookie is part of its answer.
    assert "session=c00kie; Path=/" in stored
    assert '["Cookie", "[redacted]"]' in stored and '["Authorization", "[redacted]"]' in stored

    for kind in ("jsonl", "warc", "csv"):
        out = tmp_path / f"export.{kind}"
        exported = cli.run("export", str(out), "--format", kind)
        assert exported.returncode == 0, exported.stderr
        data = out.read_bytes()
        text = (gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data).decode(
            "utf-8", "replace"
        )
        assert "hostile.example" in text and _leaks(text) == [], kind

    # Captures are found by the URL as it was given, password and all.
    shown = cli.run("show", urls[1], "--json")
    assert shown.returncode == 0 and shown.json_lines()[0]["status"] == "failed"
    assert _leaks(shown.stdout + shown.stderr) == []


def test_proxy_password_from_the_environment_stays_out_of_errors(
    hostile_server: HostileServer, tmp_path: Path
) -> None:
    dead = f"http://alice:{PROXY_PASSWORD}@127.0.0.1:{_closed_port()}"
    cli = ArchiverCLI(tmp_path, env={"HTTP_PROXY": dead})
    url = f"http://hostile.example:{hostile_server.port}/ok"
    run = cli.run("-vv", "archive", "--json", url)
    assert run.returncode == 1
    assert "Cannot connect to the proxy" in run.json_lines()[0]["error"]
    assert _leaks(run.stderr + run.stdout + _database_text(cli.database)) == []
