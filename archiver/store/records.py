"""What one capture produced (`NewCapture`) and the column values it is stored as."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from archiver.model import Exchange, Page, Platform, Post, Status, utc_iso

#: Exchange roles: a redirect hop, the response that is the evidence, a fallback route tried.
ROLE_REDIRECT = "redirect"
ROLE_RESPONSE = "response"
ROLE_ATTEMPT = "attempt"


@dataclass(frozen=True)
class NewCapture:
    """Everything one capture produced, ready to be written in one transaction."""

    url: str
    platform: Platform
    captured_at: datetime
    status: Status
    final_url: str | None = None
    canonical_url: str | None = None
    http_status: int | None = None
    error: str | None = None
    warnings: tuple[str, ...] = ()
    body: bytes | None = None
    content_type: str | None = None
    via: str | None = None
    parent_id: int | None = None
    job_id: int | None = None
    #: (role, exchange) in the order they happened.
    exchanges: tuple[tuple[str, Exchange], ...] = ()
    page: Page | None = None
    post: Post | None = None
    #: (url, kind) outlinks in order.
    links: tuple[tuple[str, str], ...] = ()
    extra_meta: Mapping[str, Any] = field(default_factory=dict)
    #: Passage fingerprints of the text, when computed where it was extracted.
    fingerprints: frozenset[int] | None = None


def json_safe(value: Any) -> Any:
    if isinstance(value, datetime):
        return utc_iso(value)
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def post_dict(post: Post) -> dict[str, Any]:
    """The post record as stored and printed; embedded posts become their own captures."""
    data = asdict(post)
    data.pop("embedded", None)
    data["platform"] = post.platform.value
    return dict(json_safe(data))


#: Columns `capture_fields` may fill; a record that has none of them stores NULLs.
CONTENT_COLUMNS = (
    "title",
    "text",
    "authors",
    "published_at",
    "modified_at",
    "site_name",
    "language",
    "description",
    "meta",
)


def capture_fields(record: NewCapture) -> dict[str, Any]:
    page, post = record.page, record.post
    fields: dict[str, Any] = {}
    meta: dict[str, Any] = dict(record.extra_meta)
    if page is not None:
        fields.update(
            title=page.title,
            text=page.text,
            authors=list(page.authors) or None,
            published_at=page.published_at,
            modified_at=page.modified_at,
            site_name=page.site_name,
            language=page.language,
            description=page.description,
        )
        meta.update(
            jsonld=list(page.jsonld),
            opengraph=dict(page.opengraph),
            twitter_card=dict(page.twitter_card),
            image=page.image,
            embedded_posts=list(page.embedded_posts),
            media=[asdict(m) for m in page.media],
        )
    if post is not None:
        author = post.author
        who = author.name or author.handle
        if author.handle and author.name:
            who = f"{author.name} (@{author.handle.lstrip('@')})"
        fields.update(
            title=post.title or (f"{who} on {post.platform.value}" if who else None),
            text=post.text,
            authors=[author.name or author.handle] if (author.name or author.handle) else None,
            published_at=post.created_at,
            language=post.lang,
        )
        fields.setdefault("site_name", post.platform.value)
    # JSON-LD is parsed JSON already; walking it again cost more than the rest of the record.
    jsonld = meta.pop("jsonld", None)
    meta = json_safe(meta)
    if jsonld is not None:
        meta["jsonld"] = jsonld
    fields["meta"] = meta or None
    return fields


def exchange_values(
    capture_id: int, seq: int, role: str, exchange: Exchange, digests: Mapping[int, str]
) -> dict[str, Any]:
    redirect = exchange.redirect
    return {
        "capture_id": capture_id,
        "seq": seq,
        "role": role,
        "method": exchange.method,
        "url": exchange.url,
        "request_headers": [list(h) for h in exchange.request_headers],
        "started_at": exchange.started_at,
        "status": exchange.status,
        "reason": exchange.reason or None,
        "http_version": exchange.http_version,
        "response_headers": [list(h) for h in exchange.response_headers],
        "sha256": digests[id(exchange.body)] if exchange.status is not None else None,
        "redirect_location": redirect.location if redirect else None,
        "redirect_kind": redirect.kind.value if redirect else None,
        "error": exchange.error,
        "truncated": exchange.truncated,
    }
