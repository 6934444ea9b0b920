"""One capture: a URL fetched the right way for its platform; a failure is a failed capture."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from archiver import platforms
from archiver.config import Config
from archiver.errors import ArchiverError, BodyTooLarge, FetchError, RateLimited
from archiver.extract import extract_page
from archiver.fetch import Fetcher, Response
from archiver.model import Exchange, Page, Platform, Post, PostResult, Status
from archiver.platforms import PlatformModule
from archiver.store.captures import ROLE_ATTEMPT, ROLE_REDIRECT, ROLE_RESPONSE, NewCapture
from archiver.urls import redact_url, validate_url

HTML_TYPES = {"text/html", "application/xhtml+xml"}
TEXT_TYPES = {"text/plain", "text/markdown"}


def _role(exchange: Exchange, primary: Exchange | None) -> str:
    if exchange.redirect is not None:
        return ROLE_REDIRECT
    return ROLE_RESPONSE if exchange is primary else ROLE_ATTEMPT


def _content_type(exchange: Exchange | None) -> str | None:
    if exchange is None:
        return None
    for key, value in exchange.response_headers:
        if key.lower() == "content-type":
            return value
    return None


def _post_capture(
    url: str,
    result: PostResult,
    module: PlatformModule,
    now: datetime,
    hops: tuple[Exchange, ...] = (),
    final_url: str | None = None,
) -> NewCapture:
    primary = result.primary
    exchanges = tuple((_role(e, primary), e) for e in (*hops, *result.exchanges))
    post = result.post
    links: list[tuple[str, str]] = []
    if post is not None:
        links += [(link, "link") for link in post.links]
        links += [(m.url, "media") for m in post.media]
        if post.quote_of:
            links.append((post.quote_of, "quote"))
        if post.reply_to:
            links.append((post.reply_to, "reply"))
    return NewCapture(
        url=url,
        platform=module.PLATFORM,
        captured_at=now,
        status=result.status,
        final_url=final_url or url,
        canonical_url=post.url if post is not None else None,
        http_status=primary.status if primary is not None else None,
        error=result.reason if result.status == Status.FAILED else None,
        body=primary.body if primary is not None else None,
        content_type=_content_type(primary),
        via=result.via or (post.via if post is not None else None),
        exchanges=exchanges,
        post=post,
        links=tuple(dict.fromkeys(links)),
    )


def embedded_capture(post: Post, now: datetime) -> NewCapture:
    links = [(link, "link") for link in post.links] + [(m.url, "media") for m in post.media]
    return NewCapture(
        url=post.url,
        platform=post.platform,
        captured_at=now,
        status=Status.OK,
        final_url=post.url,
        canonical_url=post.url,
        via=f"embedded:{post.via}",
        post=post,
        links=tuple(dict.fromkeys(links)),
    )


@dataclass(frozen=True)
class Unextracted:
    """A fetched HTML page whose text extraction is left to a worker process."""

    url: str
    response: Response
    captured_at: datetime
    #: Platform routes that failed before the web fetch this page stands in for.
    routes: tuple[Platform, PostResult] | None = None


def _wants_extraction(response: Response, config: Config) -> bool:
    return (
        200 <= response.status < 300
        and response.content_type in HTML_TYPES
        and len(response.body) <= config.fetch.max_html_bytes
    )


def page_capture(
    url: str, response: Response, config: Config, now: datetime, page: Page | None = None
) -> NewCapture:
    """The capture of a web page; `page` is its extraction when that was done elsewhere."""
    if response.status == 429 or (response.status == 503 and response.header("retry-after")):
        # RateLimited carries Retry-After, which the daemon turns into the job's next try.
        response.raise_for_status()
    hops = tuple((ROLE_REDIRECT, e) for e in response.exchanges[:-1])
    final = response.exchanges[-1] if response.exchanges else None
    exchanges = (*hops, (ROLE_RESPONSE, final)) if final is not None else hops
    status = Status.OK if 200 <= response.status < 300 else Status.FAILED
    error = None if status == Status.OK else f"HTTP {response.status} {response.reason}".strip()
    retry: dict[str, float] = {}
    try:
        response.raise_for_status()
    except RateLimited as exc:
        # Say how long the site asked us to wait, and keep it for the queue's backoff.
        error = f"{exc.code}: {exc}"
        retry = {"retry_after": exc.retry_after} if exc.retry_after is not None else {}
    except FetchError:
        pass
    warnings: list[str] = []
    links: tuple[tuple[str, str], ...] = ()
    if status == Status.OK and response.content_type in HTML_TYPES:
        if len(response.body) > config.fetch.max_html_bytes:
            page = None
            warnings.append(
                f"HTML is {len(response.body)} bytes, over fetch.max_html_bytes "
                f"({config.fetch.max_html_bytes}); stored without text extraction"
            )
        else:
            if page is None:
                page = extract_page(response.body, response.final_url, charset=response.charset)
            warnings += page.warnings
            links = tuple(
                dict.fromkeys(
                    [(link, "link") for link in page.links]
                    + [(post, "embed") for post in page.embedded_posts]
                )
            )
    elif status == Status.OK and response.content_type in TEXT_TYPES:
        page = Page(text=response.text())
    else:
        page = None
    return NewCapture(
        url=url,
        platform=Platform.WEB,
        captured_at=now,
        status=status,
        final_url=response.final_url,
        canonical_url=page.canonical_url if page is not None else None,
        http_status=response.status,
        error=error,
        warnings=tuple(warnings),
        body=response.body,
        content_type=response.header("content-type"),
        via="http",
        exchanges=exchanges,
        page=page,
        links=links,
        extra_meta=retry,
    )


def _failed_capture(url: str, platform: Platform, exc: ArchiverError, now: datetime) -> NewCapture:
    exchanges: tuple[Exchange, ...] = getattr(exc, "exchanges", ())
    retry = {"retry_after": exc.retry_after} if isinstance(exc, RateLimited) else {}
    return NewCapture(
        url=url,
        platform=platform,
        captured_at=now,
        status=Status.FAILED,
        error=f"{exc.code}: {exc}",
        exchanges=tuple((ROLE_REDIRECT if e.redirect else ROLE_ATTEMPT, e) for e in exchanges),
        final_url=exchanges[-1].url if exchanges else None,
        http_status=exchanges[-1].status if exchanges else None,
        extra_meta=retry,
    )


def after_routes(record: NewCapture, routes: tuple[Platform, PostResult] | None) -> NewCapture:
    """A web capture standing in for a post keeps the platform's failed routes on record."""
    if routes is None:
        return record
    platform, result = routes
    attempts = tuple((ROLE_ATTEMPT, e) for e in result.exchanges)
    note = f"no {platform.value} route answered, captured as a web page: {result.reason}"
    return replace(
        record, exchanges=(*attempts, *record.exchanges), warnings=(*record.warnings, note)
    )


def _web_address(url: str) -> str:
    """An AT-URI names a Bluesky post, not a web page: archive it under its bsky.app address."""
    text = url.strip()
    return platforms.bluesky.web_url(text) if text.startswith("at://") else text


def capture_url(
    fetcher: Fetcher, url: str, config: Config, now: datetime, *, kind: str = "link"
) -> NewCapture:
    """Fetch one URL the right way for its platform; failures become failed captures."""
    record = capture_or_defer(fetcher, url, config, now, kind=kind, defer_extraction=False)
    assert isinstance(record, NewCapture)
    return record


def capture_or_defer(
    fetcher: Fetcher,
    url: str,
    config: Config,
    now: datetime,
    *,
    kind: str,
    defer_extraction: bool,
) -> NewCapture | Unextracted:
    """`capture_url`, or with `defer_extraction` an HTML page left for a worker to extract."""
    record = _capture_unredacted(
        fetcher, url, config, now, kind=kind, defer_extraction=defer_extraction
    )
    # user:password in a URL is a secret: it is used to fetch, never stored, printed or logged.
    return replace(record, url=redact_url(record.url)) if "@" in record.url else record


def _capture_unredacted(
    fetcher: Fetcher,
    url: str,
    config: Config,
    now: datetime,
    *,
    kind: str,
    defer_extraction: bool,
) -> NewCapture | Unextracted:
    platform = Platform.WEB
    routes: tuple[Platform, PostResult] | None = None  # failed routes the web capture stands in for
    try:
        url = validate_url(_web_address(url))
        module = platforms.find(url)
        if module is not None:
            platform = module.PLATFORM
            result = module.fetch_post(fetcher, url)
            if result.status != Status.FAILED or not getattr(module, "FALLBACK_TO_WEB", False):
                return _post_capture(url, result, module, now)
            routes = (platform, result)
        max_bytes = config.archive.max_media_bytes if kind == "media" else None
        try:
            response = fetcher.get(
                url,
                stop=lambda u: platforms.find(u) is not None,
                max_bytes=max_bytes,
            )
        except BodyTooLarge as exc:
            if max_bytes is None:
                raise
            # The fetcher names its own key; this limit is the media one.
            raise BodyTooLarge(
                f"The media file {redact_url(url)} is larger than {max_bytes} bytes "
                "(archive.max_media_bytes); the rest was not read",
                url=exc.url,
                exchanges=exc.exchanges,
            ) from None
        if response.stopped:
            module = platforms.find(response.final_url)
            assert module is not None
            platform = module.PLATFORM
            result = module.fetch_post(fetcher, response.final_url)
            record = _post_capture(
                url, result, module, now, hops=response.exchanges, final_url=response.final_url
            )
            return after_routes(record, routes)
        if defer_extraction and _wants_extraction(response, config):
            return Unextracted(url=url, response=response, captured_at=now, routes=routes)
        return after_routes(page_capture(url, response, config, now), routes)
    except ArchiverError as exc:
        return after_routes(_failed_capture(url, platform, exc, now), routes)
