"""The `archiver` command: parse, call one library function, render. The only place that prints."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from archiver import __version__
from archiver.archive import CaptureOutcome, archive
from archiver.config import MEDIA_CHOICES, Config, load_config
from archiver.errors import ArchiverError
from archiver.model import Status
from archiver.store import captures as store
from archiver.store import models
from archiver.store.db import make_engine, open_database, session_factory, upgrade
from archiver.urls import normalise_url, validate_url

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
    for transform in (validate_url, normalise_url):
        with suppress(ArchiverError):
            keys.append(transform(url))
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
