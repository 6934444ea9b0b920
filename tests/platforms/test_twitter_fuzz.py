"""Parsers meet odd shapes: whatever X or FxTwitter send, the only error is ParseError."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archiver.errors import ParseError
from archiver.model import Post
from archiver.platforms.twitter import parse_fxtwitter, parse_oembed, parse_syndication

DATA = Path(__file__).parent.parent / "data" / "twitter"

_SCALARS = st.none() | st.booleans() | st.integers(-5, 10**20) | st.floats() | st.text(max_size=30)
_JSON = st.recursive(
    _SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


def _mutated(name: str) -> st.SearchStrategy[Any]:
    """A recorded answer with one to three nodes anywhere in the tree replaced by arbitrary JSON."""
    original = json.loads((DATA / name).read_text(encoding="utf-8"))
    paths = [p for p in _paths(original) if p]

    @st.composite
    def build(draw: st.DrawFn) -> Any:
        data = json.loads(json.dumps(original))
        for _ in range(draw(st.integers(1, 3))):
            path = draw(st.sampled_from(paths))
            node = data
            try:
                for key in path[:-1]:
                    node = node[key]
                node[path[-1]] = draw(_JSON)
            except (KeyError, IndexError, TypeError):
                continue  # an earlier replacement removed this path
        return data

    return build()


def _only_parse_errors(parse: Any, *args: Any) -> None:
    try:
        post = parse(*args)
    except ParseError:
        return
    assert isinstance(post, Post)
    assert post.id.isdigit()
    assert all(isinstance(link, str) for link in post.links)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        _mutated("tweet-result_1641895049427550208_quote.json"),
        _mutated("tweet-result_1703436713362870723_card_reddit-link.json"),
        _mutated("tweet-result_1641086480675225601_image.json"),
    )
)
def test_syndication_parser_raises_only_parse_error(data: Any) -> None:
    _only_parse_errors(parse_syndication, data)


@settings(max_examples=200)
@given(
    st.one_of(
        _mutated("publish.x.com_oembed_pepephone_436461658601713664_2024.body.json"),
        _JSON.filter(lambda v: isinstance(v, dict)),
    )
)
def test_oembed_parser_raises_only_parse_error(data: Any) -> None:
    _only_parse_errors(parse_oembed, data, "https://x.com/pepephone/status/436461658601713664")


@settings(max_examples=300)
@given(_mutated("api.fxtwitter.com_amXFreeze_1972284213232861204.json"))
def test_fxtwitter_parser_raises_only_parse_error(data: Any) -> None:
    _only_parse_errors(parse_fxtwitter, data)
