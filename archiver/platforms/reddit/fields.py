"""What every Reddit answer (feed, listing, oEmbed, page) is read with: loosely typed strings,
authors, and Reddit's own deleted/removed markers."""

from __future__ import annotations

from archiver.model import Author
from archiver.platforms.reddit.ids import BASE

_REMOVED_TEXT = {"[deleted]", "[removed]"}


def as_str(value: object) -> str | None:
    """`value` if it is a non-empty string: Reddit sends "", null or other types for absent text."""
    return value if isinstance(value, str) and value else None


def removal(author: str | None, body: str | None, category: object = None) -> str | None:
    """Why a post is gone, from Reddit's own markers, or None when it is not."""
    if isinstance(category, str) and category:
        return category
    if body in _REMOVED_TEXT:
        return body.strip("[]")
    if author == "[deleted]" and not body:
        return "deleted"
    return None


def author_of(name: str | None) -> Author:
    """The Author for a username; a deleted account keeps its `[deleted]` name but no profile."""
    if name is None or name == "[deleted]":
        return Author(name=name)
    return Author(name=name, handle=f"u/{name}", url=f"{BASE}/user/{name}/")
