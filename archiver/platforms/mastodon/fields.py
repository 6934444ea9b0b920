"""What both the API and the ActivityPub parsers read fediverse JSON with."""

from __future__ import annotations


def as_str(value: object) -> str | None:
    """`value` if it is a non-empty string: servers send "", null or other types for absent text."""
    return value if isinstance(value, str) and value else None
