"""One TOML file → one frozen Config, passed explicitly to whatever needs it."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import platformdirs

from archiver import __version__
from archiver.errors import ConfigError

APP_NAME = "archiver"
MEDIA_CHOICES = ("none", "images", "video", "all")
DEFAULT_USER_AGENT = f"archiver/{__version__} (+https://github.com/archiver-project/archiver)"


@dataclass(frozen=True)
class FetchConfig:
    user_agent: str = DEFAULT_USER_AGENT
    #: Per-host User-Agent overrides (host suffix → UA); t.co answers non-browsers with a clean 301.
    user_agents: Mapping[str, str] = field(default_factory=dict)
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    #: Wall-clock limit for one fetch including every redirect hop.
    total_timeout: float = 60.0
    max_body_bytes: int = 20 * 1024 * 1024
    max_html_bytes: int = 5 * 1024 * 1024
    max_redirects: int = 10
    proxy: str | None = None
    allow_private_networks: bool = False
    verify_tls: bool = True


@dataclass(frozen=True)
class ArchiveConfig:
    depth: int = 1
    max_links: int = 50
    #: "images" downloads post images; "video" (or "all") adds videos; "none" lists media only.
    media: str = "images"
    max_media_bytes: int = 50 * 1024 * 1024
    #: Captures fetched at once in a batch.
    concurrency: int = 8
    #: Of those, at most this many from one host (0: no limit). Short links count for no host:
    #: where they lead is not known before they are fetched.
    per_host_concurrency: int = 2


@dataclass(frozen=True)
class DaemonConfig:
    workers: int = 4
    poll_seconds: float = 2.0
    lease_seconds: float = 300.0
    max_attempts: int = 5
    backoff_base_seconds: float = 30.0
    backoff_max_seconds: float = 6 * 3600.0
    per_host_concurrency: int = 2
    per_host_delay_seconds: float = 1.0
    host_failure_threshold: int = 5


@dataclass(frozen=True)
class Config:
    database_url: str = ""
    fetch: FetchConfig = field(default_factory=FetchConfig)
    archive: ArchiveConfig = field(default_factory=ArchiveConfig)
    daemon: DaemonConfig = field(default_factory=DaemonConfig)


def default_database_url() -> str:
    data_dir = platformdirs.user_data_path(APP_NAME)
    return f"sqlite:///{data_dir / 'archive.sqlite3'}"


def default_config_path() -> Path:
    return platformdirs.user_config_path(APP_NAME) / "config.toml"


def _section(cls: type[Any], raw: Mapping[str, Any], where: str) -> Any:
    known = {f.name: f for f in fields(cls)}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in known:
            raise ConfigError(
                f"Unknown configuration key '{where}{key}'. "
                f"Known keys in [{where.rstrip('.') or 'top level'}]: {', '.join(sorted(known))}."
            )
        default = getattr(cls(), key)
        if isinstance(default, bool) and not isinstance(value, bool):
            raise ConfigError(f"'{where}{key}' must be true or false, not {value!r}.")
        if isinstance(default, int | float) and not isinstance(default, bool):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f"'{where}{key}' must be a number, not {value!r}.")
            if value < 0:
                raise ConfigError(f"'{where}{key}' must not be negative.")
            value = type(default)(value)
        if isinstance(default, Mapping):
            if not isinstance(value, Mapping) or not all(
                isinstance(v, str) for v in value.values()
            ):
                raise ConfigError(f"'{where}{key}' must be a table of strings.")
            value = dict(value)
        values[key] = value
    return cls(**values)


def parse_config(raw: Mapping[str, Any], env: Mapping[str, str] | None = None) -> Config:
    """Build a Config from parsed TOML; unknown keys are errors naming the key."""
    env = os.environ if env is None else env
    sections = {"fetch": FetchConfig, "archive": ArchiveConfig, "daemon": DaemonConfig}
    top: dict[str, Any] = {}
    for key, value in raw.items():
        if key in sections:
            if not isinstance(value, Mapping):
                raise ConfigError(f"[{key}] must be a table.")
            top[key] = _section(sections[key], value, f"{key}.")
        elif key == "database_url":
            if not isinstance(value, str):
                raise ConfigError("'database_url' must be a string.")
            top[key] = value
        else:
            raise ConfigError(
                f"Unknown configuration key '{key}'. Known: database_url, {', '.join(sections)}."
            )
    config = Config(**top)
    if env.get("ARCHIVER_DATABASE_URL"):
        config = replace(config, database_url=env["ARCHIVER_DATABASE_URL"])
    if not config.database_url:
        config = replace(config, database_url=default_database_url())
    if config.archive.media not in MEDIA_CHOICES:
        raise ConfigError(f"'archive.media' must be one of {', '.join(MEDIA_CHOICES)}.")
    return config


def load_config(path: Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Load `path`, else $ARCHIVER_CONFIG, else the user config file if it exists, else defaults."""
    env = os.environ if env is None else env
    explicit = path is not None or bool(env.get("ARCHIVER_CONFIG"))
    if path is None:
        path = Path(env["ARCHIVER_CONFIG"]) if env.get("ARCHIVER_CONFIG") else default_config_path()
    if not path.exists():
        if explicit:
            raise ConfigError(f"Configuration file {path} does not exist.")
        return parse_config({}, env)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Cannot read configuration file {path}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"Configuration file {path} is not valid TOML: {exc}") from exc
    try:
        return parse_config(raw, env)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
