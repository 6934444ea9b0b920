"""The watch, queue, daemon, history, diff and status commands, run in-process on SQLite."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from archiver.cli import app
from archiver.errors import ConfigError, NotFound
from tests.site_server import Site, article


@pytest.fixture
def site() -> Iterator[Site]:
    site = Site()
    yield site
    site.stop()


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    config = tmp_path / "config.toml"
    config.write_text(
        f"database_url = 'sqlite:///{tmp_path / 'a.sqlite3'}'\n"
        "[fetch]\nallow_private_networks = true\n"
        "[archive]\ndepth = 0\n"
        "[daemon]\nper_host_delay_seconds = 0\npoll_seconds = 0.05\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("ARCHIVER_CONFIG", str(config))
    monkeypatch.delenv("ARCHIVER_DATABASE_URL", raising=False)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    return CliRunner()


def run(cli: CliRunner, *args: str) -> Result:
    result = cli.invoke(app, list(args))
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def json_lines(result: Result) -> list[dict[str, object]]:
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


def test_watch_commands(cli: CliRunner) -> None:
    url = "https://example.org/story"
    added = run(cli, "watch", "add", url, "--every", "6h", "--depth", "0")
    assert f"watching {url} every 6h" in added.stdout
    run(cli, "watch", "add", "https://example.org/cron", "--cron", "0 */6 * * *")
    run(cli, "watch", "pause", "https://example.org/cron")
    listed = run(cli, "watch", "list")
    assert "every 6h" in listed.stdout and "cron 0 */6 * * *" in listed.stdout
    rows = {row["url"]: row for row in json_lines(run(cli, "watch", "list", "--json"))}
    assert rows[url]["interval_seconds"] == 21600 and rows[url]["depth"] == 0
    assert rows["https://example.org/cron"]["state"] == "paused"
    run(cli, "watch", "resume", "https://example.org/cron")
    run(cli, "watch", "remove", url)
    assert [r["url"] for r in json_lines(run(cli, "watch", "list", "--json"))] == [
        "https://example.org/cron"
    ]
    bad = cli.invoke(app, ["watch", "add", url, "--every", "6 hours"])
    assert isinstance(bad.exception, ConfigError) and "6 hours" in str(bad.exception)
    missing = cli.invoke(app, ["watch", "remove", url])
    assert isinstance(missing.exception, NotFound)


def test_queue_then_daemon_once_then_status(cli: CliRunner, site: Site) -> None:
    site.set("/a", article("A", "First page."))
    site.set("/b", article("B", "Second page."))
    queued = run(cli, "archive", "--queue", site.url("/a"), site.url("/b"))
    assert queued.stdout.splitlines() == [
        f"queued job #1 {site.url('/a')}",
        f"queued job #2 {site.url('/b')}",
    ]
    assert site.requests("/a") == []  # nothing fetched yet
    [status] = json_lines(run(cli, "status", "--json"))
    assert (status["queued"], status["due"], status["done"]) == (2, 2, 0)
    daemon = run(cli, "daemon", "--once", "--workers", "2")
    assert "2 capture(s); jobs 2 done" in daemon.stderr
    [status] = json_lines(run(cli, "status", "--json"))
    assert (status["queued"], status["leased"], status["done"]) == (0, 0, 2)
    assert "done     2" in run(cli, "status").stdout


def test_archive_watch_captures_now_and_keeps_watching(cli: CliRunner, site: Site) -> None:
    site.set("/w", article("Watched", "Text."))
    before = datetime.now(UTC)
    run(cli, "archive", "--watch", "1h", site.url("/w"))
    assert len(site.requests("/w")) == 1
    [watch] = json_lines(run(cli, "watch", "list", "--json"))
    assert watch["last_status"] == "ok" and watch["last_capture_id"] == 1
    assert watch["state"] == "scheduled"
    next_due = datetime.fromisoformat(str(watch["next_due_at"]))
    assert before + timedelta(hours=1) <= next_due <= datetime.now(UTC) + timedelta(hours=1)
    # Not due yet: a daemon run now captures nothing.
    run(cli, "daemon", "--once")
    assert len(site.requests("/w")) == 1


def test_history_and_diff(cli: CliRunner, site: Site) -> None:
    url = site.url("/story")
    site.set("/story", article("Vote", "The motion passed."))
    run(cli, "archive", url)
    run(cli, "archive", url)
    site.set("/story", article("Vote (corrected)", "The motion failed."))
    run(cli, "archive", url)
    history = run(cli, "history", url)
    changes = [line.split()[3] for line in history.stdout.splitlines()]
    assert changes == ["first", "unchanged", "changed"]
    assert [e["change"] for e in json_lines(run(cli, "history", url, "--json"))] == changes
    diff = run(cli, "diff", url)
    assert "capture #2" in diff.stdout and "#3" in diff.stdout
    assert "title: 'Vote' → 'Vote (corrected)'" in diff.stdout
    assert "-The motion passed.\n+The motion failed.\n" in diff.stdout
    [data] = json_lines(run(cli, "diff", url, "--from", "1", "--to", "2", "--json"))
    assert data["changed"] is False and data["fields"] == [] and data["text_diff"] == ""
    assert "no change" in run(cli, "diff", url, "--from", "1", "--to", "2").stdout
