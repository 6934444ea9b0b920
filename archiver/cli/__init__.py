"""The `archiver` command: parse, call one library function, render. The only place that prints."""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from archiver import __version__, integrity
from archiver.archive import CaptureOutcome, archive
from archiver.config import MEDIA_CHOICES, Config, load_config
from archiver.daemon import Daemon, archive_job, stop_on_signals
from archiver.errors import ArchiverError
from archiver.export import ExportFormat, export
from archiver.fetch import Fetcher
from archiver.history import diff_captures, timeline
from archiver.model import Status, utc_iso
from archiver.platforms import bluesky
from archiver.provenance import provenance, provenance_of_url
from archiver.queue import enqueue, queue_status, utcnow, write_session
from archiver.schedule import serve
from archiver.search import Order, search
from archiver.store import captures as store
from archiver.store import models
from archiver.store.db import make_engine, open_database, session_factory, upgrade
from archiver.urls import normalise_url, redact_text, redact_url, validate_url
from archiver.watches import (
    add_watch,
    list_watches,
    parse_interval,
    record_capture,
    remove_watch,
    set_paused,
)

app = typer.Typer(
    help="Archive social-media posts and the pages they link to, with their provenance.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(db_app, name="db")


class State:
    """Options shared by every command, resolved lazily so `--help` never touches the disk."""

    config_path: Path | None = None
    _config: Config | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.config_path)
        return self._config


state = State()


def _version(value: bool) -> None:
    if value:
        typer.echo(f"archiver {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="TOML configuration file (default: $ARCHIVER_CONFIG or the user config dir).",
            dir_okay=False,
        ),
    ] = None,
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True, help="More logging.")] = 0,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    state.config_path = config
    state._config = None
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    for handler in logging.getLogger().handlers:
        if _redact_record not in handler.filters:
            handler.addFilter(_redact_record)


def _redact_record(record: logging.LogRecord) -> bool:
    """Take user:password@ out of log lines, httpx's own request lines included."""
    message = record.getMessage()
    if "@" in message:
        record.msg, record.args = redact_text(message), None
    return True


def fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"archiver: {message}", err=True)
    return typer.Exit(code)


@contextmanager
def database() -> Iterator[Engine]:
    engine = open_database(state.config.database_url)
    try:
        yield engine
    finally:
        engine.dispose()


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, default=str))


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
                    _print_json(store.capture_dict(session, row))
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


def _lookup_keys(url: str) -> list[str]:
    keys = [url.strip()]
    if keys[0].startswith("at://"):
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
                _print_json(store.capture_dict(session, capture))
            else:
                typer.echo(_render_capture(session, capture))


@db_app.command("upgrade")
def db_upgrade_command() -> None:
    """Migrate the database to this version's schema (back it up first)."""
    engine = make_engine(state.config.database_url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    typer.echo("archiver: database is up to date", err=True)


# --- watches, queue, daemon, history (archiver.watches, .queue, .daemon, .history) -------------

watch_app = typer.Typer(
    help="URLs re-captured on a schedule by `archiver daemon`.", no_args_is_help=True
)
app.add_typer(watch_app, name="watch")


def _when(value: datetime | None) -> str:
    return utc_iso(value.replace(microsecond=0)) or "-" if value is not None else "-"


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


@watch_app.command("add")
def watch_add_command(
    urls: Annotated[list[str], typer.Argument(help="URLs to watch.")],
    every: Annotated[
        str | None, typer.Option("--every", help="Interval: 90s, 30m, 6h, 1d, 1h30m.")
    ] = None,
    cron: Annotated[
        str | None, typer.Option("--cron", help="Cron line in UTC instead: '0 */6 * * *'.")
    ] = None,
    depth: Annotated[
        int | None, typer.Option(help="Follow links this many levels (default from config).")
    ] = None,
) -> None:
    """Re-capture URLs on a schedule (first capture at the daemon's next poll)."""
    seconds = parse_interval(every) if every is not None else None
    with database() as engine, write_session(engine) as session:
        for url in urls:
            info = add_watch(
                session,
                url,
                every_seconds=seconds,
                cron=cron,
                depth=state.config.archive.depth if depth is None else depth,
                now=utcnow(),
            )
            typer.echo(f"watching {info.url} {info.schedule}, next due {_when(info.next_due_at)}")


@watch_app.command("list")
def watch_list_command(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per watch.")] = False,
) -> None:
    """Watched URLs: schedule, last capture, last change, next due, state."""
    with database() as engine, Session(engine) as session:
        watches = list_watches(session, now=utcnow())
    if as_json:
        for info in watches:
            _print_json(info.to_dict())
        return
    if not watches:
        typer.echo(
            "archiver: no watches. Add one with: archiver watch add URL --every 6h", err=True
        )
        return
    typer.echo(
        f"{'STATE':9} {'SCHEDULE':18} {'LAST CAPTURE':30} {'LAST CHANGE':20} {'NEXT DUE':20} URL"
    )
    for info in watches:
        last = "-"
        if info.last_capture_id is not None:
            last = f"{_when(info.last_captured_at)} {info.last_status} #{info.last_capture_id}"
        typer.echo(
            f"{info.state:9} {info.schedule:18} {last:30} {_when(info.last_change_at):20} "
            f"{_when(info.next_due_at):20} {info.url}"
        )


@watch_app.command("remove")
def watch_remove_command(urls: Annotated[list[str], typer.Argument(help="Watched URLs.")]) -> None:
    """Stop watching URLs (their captures are kept)."""
    with database() as engine, write_session(engine) as session:
        for url in urls:
            remove_watch(session, url)
            typer.echo(f"stopped watching {url}")


def _pause(urls: list[str], paused: bool) -> None:
    with database() as engine, write_session(engine) as session:
        for url in urls:
            info = set_paused(session, url, paused, now=utcnow())
            typer.echo(f"{info.state} {info.url}")


@watch_app.command("pause")
def watch_pause_command(urls: Annotated[list[str], typer.Argument(help="Watched URLs.")]) -> None:
    """Stop re-capturing URLs for now, keeping their schedule."""
    _pause(urls, True)


@watch_app.command("resume")
def watch_resume_command(urls: Annotated[list[str], typer.Argument(help="Watched URLs.")]) -> None:
    """Re-capture paused URLs again; one that fell due meanwhile is captured at once."""
    _pause(urls, False)


@app.command("daemon")
def daemon_command(
    workers: Annotated[
        int | None, typer.Option(help="Captures run at once (default: daemon.workers).", min=1)
    ] = None,
    once: Annotated[
        bool, typer.Option("--once", help="Capture what is due now, then exit.")
    ] = False,
    grace: Annotated[
        float, typer.Option(help="Seconds running captures get to finish at shutdown.", min=0)
    ] = 30.0,
) -> None:
    """Capture queued jobs and due watches until SIGTERM or Ctrl-C (or, with --once, until idle)."""
    config = state.config
    archiver_log = logging.getLogger("archiver")
    if archiver_log.getEffectiveLevel() > logging.INFO:
        archiver_log.setLevel(logging.INFO)  # one line per capture is the daemon's output
    with database() as engine, Fetcher(config.fetch) as fetcher:
        daemon = Daemon(
            config=config,
            engine=engine,
            capture=archive_job(config, engine, fetcher=fetcher),
            workers=workers,
        )
        stop = threading.Event()
        with stop_on_signals(stop):
            if once:
                daemon.run_once(grace_seconds=grace, stop=stop)
            else:
                serve(
                    daemon,
                    stop=stop,
                    poll_seconds=config.daemon.poll_seconds,
                    lease_seconds=config.daemon.lease_seconds,
                    grace_seconds=grace,
                )
    stats = daemon.stats
    typer.echo(
        f"archiver: {stats.captures} capture(s); jobs {stats.done} done, {stats.retried} to retry, "
        f"{stats.failed} failed, {stats.released} released",
        err=True,
    )


@app.command("status")
def status_command(
    as_json: Annotated[bool, typer.Option("--json", help="As one JSON object.")] = False,
) -> None:
    """Queue depth, leased and failed jobs, what is due next, hosts being backed off."""
    with database() as engine, Session(engine) as session:
        status = queue_status(session, now=utcnow())
    if as_json:
        _print_json(status.to_dict())
        return
    typer.echo(f"queued   {status.queued} ({status.due} due now), next {_when(status.next_job_at)}")
    typer.echo(f"leased   {status.leased} ({status.expired} with an expired lease)")
    typer.echo(f"done     {status.done}")
    typer.echo(f"failed   {status.failed}")
    typer.echo(
        f"watches  {status.watches} ({status.paused_watches} paused), "
        f"next due {_when(status.next_watch_at)}"
    )
    for host in status.backed_off:
        typer.echo(
            f"backoff  {host.host} until {_when(host.backoff_until)} after "
            f"{host.consecutive_failures} failure(s): {host.last_error or '-'}"
        )


@app.command("history")
def history_command(
    url: Annotated[str, typer.Argument(help="The URL as it was archived.")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per capture.")] = False,
) -> None:
    """Every capture of a URL over time: first, unchanged, changed, gone, back, failed."""
    with database() as engine, Session(engine) as session:
        entries = timeline(session, url)
    for entry in entries:
        if as_json:
            _print_json(entry.to_dict())
            continue
        detail = entry.error or entry.title or ""
        typer.echo(
            f"{_when(entry.captured_at):20} #{entry.id:<7} {entry.status:6} "
            f"{entry.change or '-':9} {detail}".rstrip()
        )


@app.command("diff")
def diff_command(
    url: Annotated[str, typer.Argument(help="The URL as it was archived.")],
    from_id: Annotated[
        int | None, typer.Option("--from", help="Older capture id (default: the one before).")
    ] = None,
    to_id: Annotated[
        int | None, typer.Option("--to", help="Newer capture id (default: the latest).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="As one JSON object.")] = False,
) -> None:
    """What changed between two captures of a URL: metadata fields and a unified text diff."""
    with database() as engine, Session(engine) as session:
        diff = diff_captures(session, url, from_id=from_id, to_id=to_id)
    if as_json:
        _print_json(diff.to_dict())
        return
    typer.echo(
        f"capture #{diff.before.id} ({_when(diff.before.captured_at)}) → "
        f"#{diff.after.id} ({_when(diff.after.captured_at)})"
    )
    if not diff.changed:
        typer.echo("no change in text or metadata")
    for change in diff.fields:
        typer.echo(f"{change.field}: {change.before!r} → {change.after!r}")
    if diff.text_diff:
        typer.echo(diff.text_diff, nl=False)


# --- end of watches, queue, daemon, history ---------------------------------------------------


def main() -> None:
    """Console entry point: run the app and turn archiver errors into one clear line."""
    try:
        app()
    except ArchiverError as exc:
        typer.echo(f"archiver: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.echo("archiver: interrupted", err=True)
        sys.exit(130)


# --- Questions asked of the archive: provenance, search, export, verify ------------------------


def _date_option(value: str | None) -> datetime | None:
    """ISO 8601 date or time; naive values are UTC."""
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a date; use e.g. 2026-11-01 or 2026-11-01T08:00Z"
        ) from None


@app.command("provenance")
def provenance_command(
    passage: Annotated[str | None, typer.Argument(help="The passage ('-' reads stdin).")] = None,
    file: Annotated[
        Path | None, typer.Option("--file", help="Read the passage from a file.", dir_okay=False)
    ] = None,
    url: Annotated[
        str | None, typer.Option("--url", help="Use the text of an archived URL.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the matches as JSON.")] = False,
) -> None:
    """Find every archived document containing a passage, the likely origin first."""
    if sum(x is not None for x in (passage, file, url)) != 1:
        raise fail("give exactly one of PASSAGE, --file FILE or --url URL", 2)
    text = sys.stdin.read() if passage == "-" else passage
    if file is not None:
        text = file.read_text(encoding="utf-8")
    with database() as engine, session_factory(engine)() as session:
        result = provenance_of_url(session, url) if url else provenance(session, text or "")
    if as_json:
        _print_json(result.as_dict())
    for m in [] if as_json else result.matches:
        ids = ", ".join(f"#{i}" for i in m.capture_ids)
        typer.echo(f"{m.relation:6} {m.coverage:4.0%}  {m.url}  ({ids})")
        published = utc_iso(m.published_at) or "?"
        first = utc_iso(m.first_captured_at)
        typer.echo(f"       published {published}, first captured {first}  {m.title or ''}")
        for k in m.linked_from:
            typer.echo(
                f"       linked from #{k.capture_id} {k.url}"
                + "".join(f" → {hop}" for hop in k.via)
            )
    if not result.matches:
        raise fail("no archived document contains this passage", 1)


@app.command("search")
def search_command(
    query: Annotated[str, typer.Argument(help="Words to find (all of them), in titles and texts.")],
    platform: Annotated[
        str | None, typer.Option(help="twitter, mastodon, bluesky, reddit, telegram, youtube, web.")
    ] = None,
    site: Annotated[
        str | None, typer.Option(help="Domain (subdomains included) or site name.")
    ] = None,
    author: Annotated[str | None, typer.Option(help="Part of an author's name.")] = None,
    since: Annotated[str | None, typer.Option(help="Captured at or after (ISO 8601, UTC).")] = None,
    until: Annotated[str | None, typer.Option(help="Captured before (ISO 8601, UTC).")] = None,
    status: Annotated[str | None, typer.Option(help="ok, gone or failed.")] = None,
    order: Annotated[Order, typer.Option(help="best or newest.")] = Order.BEST,
    limit: Annotated[int, typer.Option(min=1, help="At most this many results.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per hit.")] = False,
) -> None:
    """Full-text search over captured titles and texts."""
    with database() as engine, session_factory(engine)() as session:
        hits = search(
            session,
            query,
            platform=platform,
            site=site,
            author=author,
            since=_date_option(since),
            until=_date_option(until),
            status=status,
            order=order,
            limit=limit,
        )
    for hit in hits:
        data = {
            "capture_id": hit.capture_id,
            "url": hit.url,
            "title": hit.title,
            "captured_at": utc_iso(hit.captured_at),
            "published_at": utc_iso(hit.published_at),
            "snippet": hit.snippet,
        }
        if as_json:
            _print_json(data)
        else:
            typer.echo(f"#{hit.capture_id} {data['captured_at']} {hit.url}")
            typer.echo(f"    {hit.title or ''}\n    {hit.snippet}")
    if not hits:
        raise fail(f"nothing archived matches {query!r}", 1)


@app.command("export")
def export_command(
    out: Annotated[
        Path, typer.Argument(help="File to write (replaced when complete).", dir_okay=False)
    ],
    format: Annotated[
        ExportFormat, typer.Option("--format", help="warc, wacz, jsonl or csv.")
    ] = ExportFormat.WARC,
    url: Annotated[
        str | None, typer.Option(help="Only this URL's captures and what they led to.")
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="Only captures made at or after (ISO 8601, UTC).")
    ] = None,
) -> None:
    """Export captures as WARC 1.1, WACZ, JSON Lines or CSV."""
    with database() as engine, session_factory(engine)() as session:
        summary = export(session, out, format=format, url=url, since=_date_option(since))
    records = "".join(f", {n} {kind}" for kind, n in summary.records.items())
    typer.echo(
        f"archiver: wrote {summary.captures} captures to {out} ({summary.bytes} bytes{records})",
        err=True,
    )


@app.command("verify")
def verify_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Re-hash every stored body and capture and walk the hash chain; exit 1 on any mismatch."""
    with database() as engine, session_factory(engine)() as session:
        report = integrity.verify(session)
    if as_json:
        _print_json(report.as_dict())
    for p in [] if as_json else report.problems:
        where = f"capture #{p.capture_id}" if p.capture_id is not None else f"body {p.sha256}"
        typer.echo(f"{p.kind:8} {where}: {p.detail}")
    typer.echo(
        f"archiver: checked {report.bodies_checked} bodies and {report.captures_checked} "
        f"captures; {len(report.problems)} problems; chain head {report.head}",
        err=True,
    )
    if not report.ok:
        raise typer.Exit(1)
