"""The `archiver` command as a whole: every command module is registered when the package loads."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import typer.main
from typer.core import TyperGroup

from archiver.cli import app
from archiver.store.db import head_revision

ROOT = Path(__file__).resolve().parent.parent


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


def test_the_question_commands_do_not_load_the_capture_stack() -> None:
    """Only `archive` and `daemon` need HTTP, the platforms and extraction: the rest start fast."""
    heavy = (
        "httpx",
        "bs4",
        "trafilatura",
        "archiver.archiving",
        "archiver.fetch",
        "archiver.daemon",
    )
    probe = f"import sys, archiver.cli; print([m for m in {heavy!r} if m in sys.modules])"
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"


def test_opening_an_up_to_date_archive_does_not_load_alembic(tmp_path: Path) -> None:
    """Every command checks the schema revision; only migrating needs alembic and its templates."""
    url = f"sqlite:///{tmp_path / 'archive.db'}"
    probe = (
        "import sys; from archiver.store.db import open_database; "
        f"open_database({url!r}).dispose(); print('alembic' in sys.modules)"
    )

    def opened() -> str:
        done = subprocess.run(
            [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
        )
        return done.stdout.strip()

    assert opened() == "True"  # a fresh file is migrated
    assert opened() == "False"  # then only its revision is read


def test_db_upgrade_says_what_it_did_and_refuses_a_newer_database(tmp_path: Path) -> None:
    database = tmp_path / "archive.db"
    env = {**os.environ, "ARCHIVER_DATABASE_URL": f"sqlite:///{database}"}

    def upgrade() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "archiver", "db", "upgrade"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )

    head = head_revision()
    first = upgrade()
    assert first.returncode == 0
    assert f"upgraded from schema revision none (new) to {head}" in first.stderr
    again = upgrade()
    assert again.returncode == 0
    assert f"already at schema revision {head}" in again.stderr
    with sqlite3.connect(database) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    conn.close()
    newer = upgrade()
    assert newer.returncode != 0
    assert "written by a newer archiver" in newer.stderr
    assert "Traceback" not in newer.stderr
