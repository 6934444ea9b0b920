"""Reading X's loosely typed JSON: typed field access, authors and the two timestamp forms."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from archiver.model import Author

#: English names, whatever the process locale (X's timestamps and oEmbed dates are English).
MONTHS = (
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
)  # fmt: skip
_MONTHS = {name[:3]: number for number, name in enumerate(MONTHS, 1)}
_CLASSIC_TIME = re.compile(
    r"[A-Za-z]{3} (?P<mon>[A-Za-z]{3}) (?P<day>\d{1,2}) (?P<h>\d{2}):(?P<m>\d{2}):(?P<s>\d{2}) "
    r"(?P<sign>[+-])(?P<oh>\d{2})(?P<om>\d{2}) (?P<year>\d{4})"
)


def parse_time(value: object) -> datetime | None:
    """A timestamp in either of X's forms: ISO 8601 or `Wed Oct 10 20:19:24 +0000 2018`.

    The classic form is parsed by hand because `strptime`'s `%a %b` follow the process locale.
    """
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    found = _CLASSIC_TIME.fullmatch(text)
    if found:
        month = _MONTHS.get(found["mon"].lower())
        if month is None:
            return None
        offset = timedelta(hours=int(found["oh"]), minutes=int(found["om"]))
        try:
            local = datetime(
                int(found["year"]),
                month,
                int(found["day"]),
                int(found["h"]),
                int(found["m"]),
                int(found["s"]),
                tzinfo=UTC,
            )
            return local - offset if found["sign"] == "+" else local + offset
        except (ValueError, OverflowError):
            return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def as_dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def as_str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def as_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def author_of(name: object, handle: object) -> Author:
    screen_name = as_str(handle)
    return Author(
        name=as_str(name),
        handle=screen_name,
        url=f"https://x.com/{screen_name}" if screen_name else None,
    )


def unique(urls: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(u for u in urls if u))


def pick(data: Mapping[str, Any], keys: Iterable[str]) -> dict[str, Any]:
    return {k: data[k] for k in keys if data.get(k) is not None}
