"""Provenance: the article is the origin, republications are copies, commentary quotes."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from archiver import fingerprint as fp
from archiver import provenance as prov
from archiver.provenance import ProvenanceError, provenance, provenance_of_url
from tests.fixtures.archive import ARTICLE_URL, PASSAGE, QUOTE, ArchiveBuilder, SampleArchive


def test_article_is_origin_copy_and_quote_follow(session: Session, sample: SampleArchive) -> None:
    result = provenance(session, PASSAGE)
    relations = [(m.url, m.relation) for m in result.matches]
    assert relations == [
        (ARTICLE_URL, "origin"),
        ("https://aggregator.example.net/story/998", "copy"),
        ("https://blog.example.com/posts/drought-again", "quote"),
    ]
    origin, copy, quote = result.matches
    assert origin.capture_ids == (sample.article.id, sample.article_again.id)
    assert origin.capture_id == sample.article.id
    assert origin.coverage == 1.0
    assert copy.coverage >= 0.95
    assert 0.2 <= quote.coverage < 0.8


def test_paraphrase_is_not_matched(session: Session, sample: SampleArchive) -> None:
    matched = {i for m in provenance(session, PASSAGE).matches for i in m.capture_ids}
    assert sample.paraphrase.id not in matched
    assert sample.post.id not in matched
    assert sample.unrelated.id not in matched


def test_linked_from_gives_the_post_and_its_short_links(
    session: Session, sample: SampleArchive
) -> None:
    origin = provenance(session, PASSAGE).matches[0]
    assert [(k.capture_id, k.url, k.via) for k in origin.linked_from] == [
        (
            sample.post.id,
            "https://x.com/alice/status/1850000000000000001",
            ("https://t.co/Ab12Cd", "https://bit.ly/3xYz"),
        )
    ]


def test_small_edits_still_match(session: Session, sample: SampleArchive) -> None:
    edited = PASSAGE.replace("lowest level", "lowest ever level").replace("fifth", "5th")
    result = provenance(session, edited)
    assert result.matches[0].url == ARTICLE_URL
    assert 0.6 < result.matches[0].coverage < 1.0


def test_short_passage_found_through_full_text(session: Session, sample: SampleArchive) -> None:
    result = provenance(session, "“Maria Okafor”")
    assert {m.url for m in result.matches} >= {
        ARTICLE_URL,
        "https://aggregator.example.net/story/998",
    }
    assert sample.paraphrase.id in {i for m in result.matches for i in m.capture_ids}


def test_quote_text_traces_back_to_article(session: Session, sample: SampleArchive) -> None:
    result = provenance_of_url(session, "https://blog.example.com/posts/drought-again")
    assert result.query == "https://blog.example.com/posts/drought-again"
    first = result.matches[0]
    assert first.url == "https://blog.example.com/posts/drought-again"
    assert first.relation == "origin"
    assert {m.url: m.relation for m in result.matches}[ARTICLE_URL] == "quote"


def test_unknown_url_and_empty_passage_are_errors(session: Session, sample: SampleArchive) -> None:
    with pytest.raises(ProvenanceError, match="archive it first"):
        provenance_of_url(session, "https://nowhere.example/")
    with pytest.raises(ProvenanceError, match="no words"):
        provenance(session, " — … ")


def test_json_shape(session: Session, sample: SampleArchive) -> None:
    data = json.loads(json.dumps(provenance(session, PASSAGE).as_dict()))
    assert set(data) == {"query", "matches"}
    assert data["query"] == PASSAGE
    first = data["matches"][0]
    assert set(first) == {
        "capture_id",
        "capture_ids",
        "url",
        "title",
        "published_at",
        "first_captured_at",
        "coverage",
        "relation",
        "linked_from",
    }
    assert first["published_at"] == "2026-10-30T18:00:00Z"
    assert first["first_captured_at"] == "2026-11-01T08:01:00Z"
    assert first["linked_from"][0]["via"] == ["https://t.co/Ab12Cd", "https://bit.ly/3xYz"]


def test_earliest_published_full_copy_wins(session: Session, builder: ArchiveBuilder) -> None:
    # Publication date decides, not capture order: the later-captured older page is the origin.
    from datetime import UTC, datetime

    builder.capture(
        "https://b.example/", text=PASSAGE, published_at=datetime(2026, 5, 2, tzinfo=UTC)
    )
    builder.capture(
        "https://a.example/", text=PASSAGE, published_at=datetime(2026, 5, 1, tzinfo=UTC)
    )
    builder.capture("https://c.example/", text=PASSAGE)
    session.commit()
    assert [(m.url, m.relation) for m in provenance(session, PASSAGE).matches] == [
        ("https://a.example/", "origin"),
        ("https://b.example/", "copy"),
        ("https://c.example/", "copy"),
    ]


def test_index_is_used_not_a_text_scan(session: Session, sample: SampleArchive) -> None:
    # With the fingerprints gone, a long passage finds nothing: candidates come from the index.
    session.execute(sa.text("DELETE FROM shingles"))
    session.commit()
    assert provenance(session, PASSAGE).matches == ()
    assert prov.reindex(session) == 7
    session.commit()
    assert len(provenance(session, PASSAGE).matches) == 3


def test_normalisation() -> None:
    assert fp.words("Don’t — STOP… “now”") == fp.words('don\'t - stop... "NOW"')
    assert fp.words("ﬁle") == ["file"]


@given(st.text(max_size=400))
def test_fast_shingle_hashes_equal_the_defined_ones(text: str) -> None:
    # Stored fingerprints must not depend on which of the two computes them.
    tokens = fp.words(text)
    assert fp.shingle_hashes(tokens) == [fp.shingle_hash(s) for s in fp.shingles(tokens)]


def test_winnow_is_the_minimum_of_every_window() -> None:
    hashes = [5, -3, 8, 1, 9, 2, 7, 7, -4, 6]
    expected = {min(hashes[i : i + 3]) for i in range(len(hashes) - 2)}
    assert fp.winnow(hashes, window=3) == expected == {-3, 1, 2, -4}
    assert fp.winnow(hashes[:2], window=3) == {5, -3}


def test_winnowing_guarantee() -> None:
    tokens = QUOTE.split()
    hashes = [fp.shingle_hash(s) for s in fp.shingles(fp.words(QUOTE))]
    stored = fp.winnow(hashes)
    for start in range(len(tokens) - fp.GUARANTEED_WORDS):
        window = " ".join(tokens[start : start + fp.GUARANTEED_WORDS])
        assert fp.fingerprints(window) & stored
