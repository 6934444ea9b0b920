"""The provenance, search, export and verify commands, end to end on a SQLite archive."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from archiver.cli import app
from archiver.store.db import open_database
from tests.fixtures.archive import ARTICLE_URL, PASSAGE, ArchiveBuilder, SampleArchive, build_sample


@pytest.fixture
def cli(sqlite_url: str, tmp_path: Path) -> Iterator[tuple[CliRunner, list[str], SampleArchive]]:
    engine = open_database(sqlite_url)
    with Session(engine, expire_on_commit=False) as session:
        sample = build_sample(ArchiveBuilder(session))
    engine.dispose()
    config = tmp_path / "config.toml"
    config.write_text(f'database_url = "{sqlite_url}"\n')
    yield CliRunner(env={"ARCHIVER_DATABASE_URL": sqlite_url}), ["--config", str(config)], sample


def test_provenance_json(cli: tuple[CliRunner, list[str], SampleArchive]) -> None:
    runner, base, sample = cli
    result = runner.invoke(app, [*base, "provenance", "--json", PASSAGE])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["query"] == PASSAGE
    assert [m["relation"] for m in data["matches"]] == ["origin", "copy", "quote"]
    assert data["matches"][0]["url"] == ARTICLE_URL
    assert data["matches"][0]["linked_from"] == [
        {
            "capture_id": sample.post.id,
            "url": sample.post.url,
            "via": ["https://t.co/Ab12Cd", "https://bit.ly/3xYz"],
        }
    ]


def test_provenance_text_from_file_and_url(
    cli: tuple[CliRunner, list[str], SampleArchive], tmp_path: Path
) -> None:
    runner, base, _ = cli
    passage = tmp_path / "passage.txt"
    passage.write_text(PASSAGE, encoding="utf-8")
    result = runner.invoke(app, [*base, "provenance", "--file", str(passage)])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].startswith(f"origin 100%  {ARTICLE_URL}")
    assert "→ https://t.co/Ab12Cd → https://bit.ly/3xYz" in result.stdout
    by_url = runner.invoke(app, [*base, "provenance", "--url", ARTICLE_URL])
    assert by_url.exit_code == 0 and ARTICLE_URL in by_url.stdout


def test_provenance_needs_exactly_one_source(
    cli: tuple[CliRunner, list[str], SampleArchive],
) -> None:
    runner, base, _ = cli
    assert runner.invoke(app, [*base, "provenance"]).exit_code == 2
    nothing = runner.invoke(app, [*base, "provenance", "words never archived anywhere at all"])
    assert nothing.exit_code == 1 and "no archived document" in nothing.stderr


def test_search(cli: tuple[CliRunner, list[str], SampleArchive]) -> None:
    runner, base, sample = cli
    result = runner.invoke(app, [*base, "search", "--json", "--site", "example.org", "okafor"])
    assert result.exit_code == 0, result.output
    hits = [json.loads(line) for line in result.stdout.splitlines()]
    assert {h["capture_id"] for h in hits} == {sample.article.id, sample.article_again.id}
    assert "[okafor]" in hits[0]["snippet"].lower()
    newest = runner.invoke(
        app, [*base, "search", "--order", "newest", "--since", "2026-11-02", "okafor"]
    )
    assert newest.exit_code == 0 and newest.stdout.startswith(f"#{sample.article_again.id} ")
    assert runner.invoke(app, [*base, "search", "zebra"]).exit_code == 1
    assert runner.invoke(app, [*base, "search", "--since", "yesterday", "okafor"]).exit_code == 2


def test_export_and_verify(
    cli: tuple[CliRunner, list[str], SampleArchive], tmp_path: Path, sqlite_url: str
) -> None:
    runner, base, sample = cli
    out = tmp_path / "out.wacz"
    result = runner.invoke(app, [*base, "export", "--format", "wacz", str(out)])
    assert result.exit_code == 0, result.output
    assert out.exists() and "wrote 7 captures" in result.stderr

    ok = runner.invoke(app, [*base, "verify", "--json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["ok"] is True

    engine = sa.create_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE captures SET text = 'edited' WHERE id = :id"), {"id": sample.copy.id}
        )
    engine.dispose()
    bad = runner.invoke(app, [*base, "verify"])
    assert bad.exit_code == 1
    assert f"meta     capture #{sample.copy.id}" in bad.stdout
