"""`archiver archive` and `archiver show`: capture URLs now, and show what was captured."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from archiver.cli import app, database, fail, print_json, state
from archiver.config import MEDIA_CHOICES
from archiver.errors import ArchiverError
from archiver.model import Status
from archiver.queue import enqueue, utcnow, write_session
from archiver.store import captures as store
from archiver.store import models
from archiver.store.db import session_factory
from archiver.urls import normalise_url, redact_url, validate_url
from archiver.watches import add_watch, parse_interval, record_capture

if TYPE_CHECKING:
    from archiver.archiving import CaptureOutcome


def _read_urls(urls: list[str], from_file: Path | None) -> list[str]:
    found = list(urls)
    if from_file is not None:
        text = sys.stdin.read() if str(from_file) == "-" else from_file.read_text(encoding="utf-8")
        found += [
            line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
        ]
    return found


def _describe(outcome: CaptureOutcome) -> str:
    indent = "" if outcome.requested else "  ↳ "
    text = f"{indent}#{outcome.capture_id} {outcome.status.value:6} {outcome.platform.value:8} {outcome.url}"
    if outcome.error:
        text += f" ({outcome.error})"
    return text


@app.command("archive")
def archive_command(
    urls: Annotated[list[str] | None, typer.Argument(help="Post or page URLs.")] = None,
    depth: Annotated[
        int | None, typer.Option(help="Follow links this many levels (default from config: 1).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per capture.")] = False,
    media: Annotated[
        str | None,
        typer.Option(help="Download post media: none, images, video (images and videos) or all."),
    ] = None,
    from_file: Annotated[
        Path | None,
        typer.Option(
            "--from-file", "-f", help="Read URLs from a file, one per line ('-' for stdin)."
        ),
    ] = None,
    queue: Annotated[
        bool, typer.Option("--queue", help="Queue the URLs for `archiver daemon` instead.")
    ] = False,
    watch: Annotated[
        str | None,
        typer.Option(
            "--watch", metavar="INTERVAL", help="Capture now, then again every INTERVAL (6h, 1d)."
        ),
    ] = None,
) -> None:
    """Capture URLs now, with what they link to."""
    targets = _read_urls(urls or [], from_file)
    if not targets:
        raise fail("no URL given. Usage: archiver archive URL... (or --from-file FILE)", 2)
    config = state.config
    if media is not None:
        if media not in MEDIA_CHOICES:
            raise fail(f"--media must be one of {', '.join(MEDIA_CHOICES)}, not {media!r}", 2)
        config = replace(config, archive=replace(config.archive, media=media))
    if queue:
        # Queued jobs are captured with the daemon's configuration (--media does not travel).
        _queue_urls(targets, depth)
        return
    # The capture stack (HTTP, platforms, extraction) loads only for the commands that capture,
    # so that `show`, `search` and the other questions start quickly.
    from archiver.archiving import archive

    watched = _watch_urls(targets, watch, depth) if watch else {}
    failed_requested: list[CaptureOutcome] = []
    printed: list[int] = []
    counts = {s: 0 for s in Status}
    with database() as engine:
        sessions = session_factory(engine)
        show_progress = not as_json and sys.stderr.isatty() and len(targets) > 1
        with (
            typer.progressbar(length=len(targets), label="Archiving", file=sys.stderr)
            if show_progress
            else _null_bar() as bar
        ):
            for outcome in archive(targets, config=config, engine=engine, depth=depth):
                counts[outcome.status] += 1
                if outcome.requested:
                    bar.update(1)
                    if outcome.url in watched:
                        _note_watched(engine, watched[outcome.url], outcome)
                if outcome.status == Status.FAILED:
                    typer.echo(f"archiver: failed {outcome.url}: {outcome.error}", err=True)
                    if outcome.requested:
                        failed_requested.append(outcome)
                if as_json:
                    # Printed once the run is over, so links carry the ids of what they led to.
                    printed.append(outcome.capture_id)
                elif not show_progress:
                    typer.echo(_describe(outcome))
        if printed:
            with sessions() as session:
                for capture_id in printed:
                    row = session.get(models.Capture, capture_id)
                    assert row is not None
                    print_json(store.capture_dict(session, row))
                    session.expunge_all()
    summary = ", ".join(f"{n} {s.value}" for s, n in counts.items() if n)
    typer.echo(f"archiver: {summary}", err=True)
    if failed_requested:
        raise typer.Exit(1)


@contextmanager
def _null_bar() -> Iterator[Any]:
    class Bar:
        def update(self, _n: int) -> None:
            pass

    yield Bar()


def _queue_urls(urls: list[str], depth: int | None) -> None:
    config = state.config
    with database() as engine, write_session(engine) as session:
        ids = enqueue(
            session,
            urls,
            depth=config.archive.depth if depth is None else depth,
            now=utcnow(),
            max_attempts=config.daemon.max_attempts,
        )
    for job_id, url in zip(ids, urls, strict=True):
        typer.echo(f"queued job #{job_id} {url}")
    typer.echo(f"archiver: {len(ids)} job(s) queued; `archiver daemon` captures them", err=True)


def _watch_urls(urls: list[str], every: str, depth: int | None) -> dict[str, int]:
    """Watch `urls` from the next interval on (they are captured now); URL → watch id."""
    seconds = parse_interval(every)
    now = utcnow()
    with database() as engine, write_session(engine) as session:
        infos = [
            add_watch(
                session,
                url,
                every_seconds=seconds,
                depth=state.config.archive.depth if depth is None else depth,
                now=now,
                first_due=now + timedelta(seconds=seconds),
            )
            for url in urls
        ]
    return {info.url: info.id for info in infos}


def _note_watched(engine: Engine, watch_id: int, outcome: CaptureOutcome) -> None:
    with write_session(engine) as session:
        record_capture(
            session,
            watch_id,
            capture_id=outcome.capture_id,
            status=outcome.status.value,
            change=outcome.change,
            captured_at=utcnow(),
        )


def _lookup_keys(url: str) -> list[str]:
    keys = [url.strip()]
    if keys[0].startswith("at://"):
        from archiver.platforms import bluesky

        url = bluesky.web_url(keys[0])  # archived under the post's bsky.app address
        keys.append(url)
    for transform in (validate_url, normalise_url):
        with suppress(ArchiverError):
            keys.append(transform(url))
            keys.append(redact_url(transform(url)))  # stored without user:password
    return keys


def _render_capture(session: Session, capture: models.Capture) -> str:
    data = store.capture_dict(session, capture)
    lines = [
        f"#{data['id']} {data['captured_at']} {data['status']} {data['platform']} {data['url']}"
    ]
    for hop in data["redirects"]:
        lines.append(f"    ↪ {hop['status']} {hop['kind']}: {hop['url']} → {hop['location']}")
    if data["final_url"] and data["final_url"] != data["url"]:
        lines.append(f"    final: {data['final_url']}")
    if data["canonical_url"] and data["canonical_url"] not in (data["url"], data["final_url"]):
        lines.append(f"    canonical: {data['canonical_url']}")
    if data["error"]:
        lines.append(f"    error: {data['error']}")
    for key in ("title", "site_name", "language", "published_at", "modified_at", "via", "sha256"):
        if data[key]:
            lines.append(f"    {key}: {data[key]}")
    if data["authors"]:
        lines.append(f"    authors: {', '.join(data['authors'])}")
    if data["parent_id"]:
        parent = session.get(models.Capture, data["parent_id"])
        lines.append(f"    linked from: #{data['parent_id']} {parent.url if parent else ''}")
    for link in data["links"]:
        target = f" → #{link['capture_id']}" if link["capture_id"] else ""
        lines.append(f"    {link['kind']}: {link['url']}{target}")
    if data["text"]:
        text = " ".join(data["text"].split())
        lines.append(f"    text: {text[:300]}{'…' if len(text) > 300 else ''}")
    return "\n".join(lines)


@app.command("show")
def show_command(
    url: Annotated[
        str,
        typer.Argument(help="Any URL of a capture: requested, final, canonical or a redirect hop."),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per capture.")] = False,
) -> None:
    """Show what was captured for a URL, newest first, and how the pieces link together."""
    with database() as engine, session_factory(engine)() as session:
        found = store.find_captures(session, _lookup_keys(url))
        if not found:
            raise fail(f"nothing archived for {url}. Archive it with: archiver archive {url}")
        for capture in found:
            if as_json:
                print_json(store.capture_dict(session, capture))
            else:
                typer.echo(_render_capture(session, capture))
