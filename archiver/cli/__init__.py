"""The `archiver` command: parse, call one library function, render. The only place that prints.

This package holds the Typer app, the global options, the helpers every command shares and
`main`; each command family lives in its own module: `capture` (archive, show), `daemon`
(daemon, status, watch) and `questions` (history, diff, provenance, search, export, verify).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy.engine import Engine

from archiver import __version__
from archiver.config import Config, load_config
from archiver.errors import ArchiverError
from archiver.model import utc_iso
from archiver.store.db import (
    current_revision,
    head_revision,
    make_engine,
    open_database,
    refuse_unknown,
    upgrade,
)
from archiver.urls import redact_text

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


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, default=str))


def when(value: datetime | None) -> str:
    """A time for a table column: UTC to the second, '-' when there is none."""
    return utc_iso(value.replace(microsecond=0)) or "-" if value is not None else "-"


@db_app.command("upgrade")
def db_upgrade_command() -> None:
    """Migrate the database to this version's schema (back it up first)."""
    engine = make_engine(state.config.database_url)
    try:
        before = current_revision(engine)
        refuse_unknown(before)
        upgrade(engine)
    finally:
        engine.dispose()
    if before == head_revision():
        typer.echo(f"archiver: the database is already at schema revision {before}", err=True)
    else:
        typer.echo(
            f"archiver: database upgraded from schema revision {before or 'none (new)'} "
            f"to {head_revision()}",
            err=True,
        )


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


# Imported last, for their commands: they need `app` and the helpers above, and Typer lists
# commands in the order they are registered, so this order is the order of `archiver --help`.
from archiver.cli import capture, daemon, questions  # noqa: E402, F401
