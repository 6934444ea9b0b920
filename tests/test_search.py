"""Full-text search on SQLite FTS5 and PostgreSQL, with filters and hostile query text."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from archiver.search import SearchError, SearchHit, fts5_query, search
from tests.fixtures.archive import ArchiveBuilder, SampleArchive


def ids(hits: list[SearchHit]) -> set[int]:
    return {hit.capture_id for hit in hits}


def test_finds_every_capture_with_all_words(session: Session, sample: SampleArchive) -> None:
    hits = search(session, "northern reservoir capacity")
    assert ids(hits) == {
        sample.article.id,
        sample.article_again.id,
        sample.copy.id,
        sample.quote.id,
    }
    hit = next(h for h in hits if h.capture_id == sample.article.id)
    assert hit.url == "https://t.co/Ab12Cd"
    assert hit.title == "Reservoir at record low as authority asks for cuts"
    assert hit.published_at is not None
    assert hit.published_at.replace(tzinfo=UTC) == datetime(2026, 10, 30, 18, 0, tzinfo=UTC)
    assert "[reservoir]" in hit.snippet.lower()


def test_title_is_searched(session: Session, sample: SampleArchive) -> None:
    assert ids(search(session, "cup final report")) == {sample.unrelated.id}


def test_accents_and_case_do_not_matter(session: Session, sample: SampleArchive) -> None:
    assert ids(search(session, "OKAFOR")) == ids(search(session, "okafor"))
    assert sample.copy.id in ids(search(session, "okafor"))


def test_filters(session: Session, sample: SampleArchive) -> None:
    assert ids(search(session, "meeting", platform="twitter")) == {sample.post.id}
    assert ids(search(session, "reservoir", site="news.example.org")) == {
        sample.article.id,
        sample.article_again.id,
    }
    assert ids(search(session, "reservoir", site="example.com")) == {
        sample.quote.id,
        sample.paraphrase.id,
    }
    assert ids(search(session, "reservoir", site="Aggregator")) == {sample.copy.id}
    assert ids(search(session, "reservoir", author="jane")) == {sample.article.id}
    assert ids(search(session, "reservoir", since=datetime(2026, 11, 2))) == {
        sample.article_again.id
    }
    assert sample.article_again.id not in ids(
        search(session, "reservoir", until=datetime(2026, 11, 2, tzinfo=UTC))
    )
    assert ids(search(session, "reservoir", status="gone")) == set()


def test_newest_first(session: Session, sample: SampleArchive) -> None:
    hits = search(session, "reservoir", order="newest")
    assert hits[0].capture_id == sample.article_again.id
    times = [h.captured_at for h in hits]
    assert times == sorted(times, reverse=True)


def test_limit(session: Session, sample: SampleArchive) -> None:
    assert len(search(session, "reservoir", limit=2)) == 2


@pytest.mark.parametrize(
    "query",
    ['reservoir" OR', "NEAR(reservoir", "reservoir*", "-reservoir", "^reservoir:", "(((", '"'],
)
def test_query_syntax_is_never_interpreted(
    session: Session, sample: SampleArchive, query: str
) -> None:
    hits = search(session, query)
    assert all(h.capture_id != sample.unrelated.id for h in hits)


def test_empty_query_finds_nothing(session: Session, sample: SampleArchive) -> None:
    assert search(session, "  ?! ") == []


def test_unknown_order_is_refused(session: Session, sample: SampleArchive) -> None:
    with pytest.raises(SearchError, match="best"):
        search(session, "reservoir", order="oldest")


def test_index_follows_updates_and_deletes(session: Session, sample: SampleArchive) -> None:
    session.execute(
        sa.text("UPDATE captures SET text = 'a completely new wording' WHERE id = :id"),
        {"id": sample.quote.id},
    )
    session.execute(sa.text("DELETE FROM captures WHERE id = :id"), {"id": sample.unrelated.id})
    session.commit()
    assert sample.quote.id not in ids(search(session, "reservoir"))
    assert ids(search(session, "wording")) == {sample.quote.id}
    assert search(session, "stadium") == []


def test_fts5_query_quotes_each_word() -> None:
    assert fts5_query('say "hi" OR bye*') == '"say" "hi" "OR" "bye"'


def test_text_too_big_for_one_index_entry_is_still_stored(
    session: Session, builder: ArchiveBuilder
) -> None:
    # PostgreSQL refuses tsvectors over 1 MB; the capture must be kept and its start indexed.
    text = " ".join(f"w{i}" for i in range(150_000))
    capture = builder.capture("https://huge.example/", text=text)
    session.commit()
    assert ids(search(session, "w12")) == {capture.id}
    assert session.get(type(capture), capture.id) is not None
