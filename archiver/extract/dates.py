"""Publication and modification dates: parsing what the page states, guessing what it does not."""

from __future__ import annotations

from copy import deepcopy
from datetime import UTC, datetime
from warnings import catch_warnings, simplefilter

from dateutil import parser as dateparser
from lxml.html import HtmlElement

from archiver.extract.fields import clean_text


def parse_datetime(value: object) -> datetime | None:
    """A timezone-aware UTC datetime from an ISO-ish string; naive times are taken as UTC."""
    text = clean_text(value)
    if not text or len(text) > 64 or not any(ch.isdigit() for ch in text):
        return None
    try:
        parsed = dateparser.isoparse(text)
    except (ValueError, OverflowError):
        try:
            with catch_warnings():
                # Unknown zone names ("IST") are ambiguous; the time is then read as UTC.
                simplefilter("ignore", dateparser.UnknownTimezoneWarning)
                parsed = dateparser.parse(text, fuzzy=False)
        except (ValueError, OverflowError, TypeError, dateparser.ParserError):
            return None
    if parsed is None or not 1900 <= parsed.year <= 2200:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        result: datetime = parsed.astimezone(UTC)
        return result
    except (ValueError, OverflowError):
        return None


def first_date(*sources: object) -> datetime | None:
    """The first parseable date; sources may be callables, so costly lookups run only if needed."""
    for source in sources:
        if callable(source):
            source = source()
        values = source if isinstance(source, list) else [source]
        for value in values:
            parsed = parse_datetime(value)
            if parsed is not None:
                return parsed
    return None


def guess_published(tree: HtmlElement, url: str) -> datetime | None:
    """htmldate's reading of markup and URL, for pages that state no publication date outright."""
    try:
        from htmldate import find_date
    except ImportError:
        return None
    try:
        # htmldate prunes the tree it is given.
        found = find_date(
            deepcopy(tree),
            extensive_search=False,  # free-text date guesses are wrong too often to keep as evidence
            original_date=True,
            outputformat="%Y-%m-%dT%H:%M:%S",
            url=url or None,
        )
    except Exception:  # deliberately broad: a failing fallback guess is simply no guess
        return None
    return parse_datetime(found)
