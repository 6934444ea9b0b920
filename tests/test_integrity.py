"""Sealing and verification: tampering with bodies, rows or the chain is found."""

from __future__ import annotations

import threading
import zlib
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from archiver import integrity
from archiver.store import models
from tests.fixtures.archive import T0, ArchiveBuilder, SampleArchive


def test_untouched_archive_verifies(session: Session, sample: SampleArchive) -> None:
    report = integrity.verify(session)
    assert report.ok, report.problems
    assert report.captures_checked == 7
    # Six pages (the article body stored once for two captures) and the empty redirect body.
    assert report.bodies_checked == 7
    last = session.scalars(sa.select(models.Capture).order_by(models.Capture.id.desc())).first()
    assert last is not None and report.head == last.chain_hash


def test_seal_chains_to_previous_capture(session: Session, sample: SampleArchive) -> None:
    post, article = sample.post, sample.article
    assert post.meta_hash and article.meta_hash
    assert article.chain_hash == integrity.chain(post.chain_hash, article.meta_hash)
    assert post.chain_hash == integrity.chain(None, post.meta_hash)


def test_altered_body_is_reported_for_every_capture_using_it(
    session: Session, sample: SampleArchive
) -> None:
    sha = sample.article.sha256
    session.execute(
        sa.text("UPDATE bodies SET data = :data WHERE sha256 = :sha"),
        {"data": zlib.compress(b"<html>nothing to see</html>"), "sha": sha},
    )
    session.commit()
    report = integrity.verify(session)
    assert not report.ok
    assert {(p.kind, p.capture_id, p.sha256) for p in report.problems} == {
        ("body", sample.article.id, sha),
        ("body", sample.article_again.id, sha),
    }


def test_altered_row_is_reported(session: Session, sample: SampleArchive) -> None:
    session.execute(
        sa.text("UPDATE captures SET title = 'A different headline' WHERE id = :id"),
        {"id": sample.copy.id},
    )
    session.commit()
    problems = integrity.verify(session).problems
    assert [(p.kind, p.capture_id) for p in problems] == [("meta", sample.copy.id)]


def test_altered_redirect_hop_is_reported(session: Session, sample: SampleArchive) -> None:
    session.execute(
        sa.text(
            "UPDATE exchanges SET redirect_location = 'https://evil.example/' WHERE seq = 0"
            " AND capture_id = :id"
        ),
        {"id": sample.article.id},
    )
    session.commit()
    problems = integrity.verify(session).problems
    assert [(p.kind, p.capture_id) for p in problems] == [("meta", sample.article.id)]


def test_rehashed_row_breaks_the_chain(session: Session, sample: SampleArchive) -> None:
    # A forger who also recomputes meta_hash is caught by the chain.
    session.execute(
        sa.text("UPDATE captures SET title = 'Forged', meta_hash = :h WHERE id = :id"),
        {"id": sample.quote.id, "h": "0" * 64},
    )
    session.commit()
    problems = integrity.verify(session).problems
    assert ("chain", sample.quote.id) in [(p.kind, p.capture_id) for p in problems]


def test_deleted_capture_breaks_the_chain(session: Session, sample: SampleArchive) -> None:
    session.execute(sa.text("DELETE FROM captures WHERE id = :id"), {"id": sample.quote.id})
    session.commit()
    problems = integrity.verify(session).problems
    assert [(p.kind, p.capture_id) for p in problems] == [("chain", sample.paraphrase.id)]


def test_unsealed_capture_is_reported(session: Session, builder: ArchiveBuilder) -> None:
    builder.capture("https://example.com/a", text="sealed")
    session.add(
        models.Capture(url="https://example.com/b", platform="web", captured_at=T0, status="ok")
    )
    session.commit()
    assert [p.kind for p in integrity.verify(session).problems] == ["unsealed"]


def test_verify_walks_batches(
    session: Session, builder: ArchiveBuilder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(integrity, "_BATCH", 3)
    for i in range(10):
        builder.capture(f"https://example.com/{i}", text=f"page {i}", captured_at=T0)
    session.commit()
    assert integrity.verify(session).ok
    session.execute(sa.text("UPDATE captures SET url = 'https://x.test/' WHERE id = 8"))
    session.commit()
    assert [(p.kind, p.capture_id) for p in integrity.verify(session).problems] == [("meta", 8)]


@pytest.mark.postgres
def test_concurrent_writers_keep_one_chain(postgres_engine: Engine) -> None:
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            for i in range(15):
                with Session(postgres_engine) as session:
                    ArchiveBuilder(session).capture(
                        f"https://example.com/{worker}/{i}",
                        text=f"worker {worker} page {i}",
                        captured_at=T0 + timedelta(seconds=i),
                    )
                    session.commit()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    with Session(postgres_engine) as session:
        report = integrity.verify(session)
    assert report.captures_checked == 60
    assert report.ok, report.problems


def test_search_and_shingle_indexes_downgrade_and_upgrade(engine: Engine) -> None:
    from alembic import command

    from archiver.store.db import alembic_config

    config = alembic_config(engine)
    command.downgrade(config, "0001")
    tables = set(sa.inspect(engine).get_table_names())
    assert "shingles" not in tables and "capture_fts" not in tables
    command.upgrade(config, "head")
    assert {"shingles", "capture_fts"} <= set(sa.inspect(engine).get_table_names())
