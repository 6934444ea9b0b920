"""Shared fixtures. Each test gets its own database: a SQLite file, or a fresh PostgreSQL database."""

from __future__ import annotations

pytest_plugins = ["tests.fixtures.databases", "tests.fixtures.archive"]
