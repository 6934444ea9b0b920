"""The `archiver` command as a whole: every command module is registered when the package loads."""

from __future__ import annotations

import typer.main
from typer.core import TyperGroup

from archiver.cli import app


def test_help_lists_every_command_in_its_order() -> None:
    """The commands live in several modules; `archiver --help` lists them in import order."""
    root = typer.main.get_command(app)
    assert isinstance(root, TyperGroup)
    assert list(root.commands) == [
        *("archive", "show"),  # cli.capture
        *("daemon", "status"),  # cli.daemon
        *("history", "diff", "provenance", "search", "export", "verify"),  # cli.questions
        *("db", "watch"),  # groups follow the commands
    ]
    db, watch = root.commands["db"], root.commands["watch"]
    assert isinstance(db, TyperGroup) and isinstance(watch, TyperGroup)
    assert list(db.commands) == ["upgrade"]
    assert list(watch.commands) == ["add", "list", "remove", "pause", "resume"]
