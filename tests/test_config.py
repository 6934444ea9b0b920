from pathlib import Path

import pytest

from archiver.config import load_config, parse_config
from archiver.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def test_example_config_loads_and_documents_every_key() -> None:
    config = load_config(ROOT / "config.example.toml", env={})
    assert config.fetch.max_redirects == 10
    text = (ROOT / "config.example.toml").read_text()
    for section in ("fetch", "archive", "daemon"):
        for key in getattr(config, section).__dataclass_fields__:
            assert f"{key} =" in text, f"config.example.toml does not document {section}.{key}"


def test_unknown_key_is_named() -> None:
    with pytest.raises(ConfigError, match=r"fetch\.max_redirect'"):
        parse_config({"fetch": {"max_redirect": 3}}, env={})


def test_wrong_type_is_refused() -> None:
    with pytest.raises(ConfigError, match="must be a number"):
        parse_config({"fetch": {"total_timeout": "soon"}}, env={})


def test_environment_overrides_database_url(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('database_url = "sqlite:///from-file.db"\n')
    config = load_config(path, env={"ARCHIVER_DATABASE_URL": "sqlite:///from-env.db"})
    assert config.database_url == "sqlite:///from-env.db"
    assert load_config(path, env={}).database_url == "sqlite:///from-file.db"


def test_config_file_from_environment_variable(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[archive]\ndepth = 2\n")
    assert load_config(env={"ARCHIVER_CONFIG": str(path)}).archive.depth == 2
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(env={"ARCHIVER_CONFIG": str(tmp_path / "missing.toml")})


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[fetch\n")
    with pytest.raises(ConfigError, match=r"bad\.toml"):
        load_config(path, env={})


def test_default_database_is_sqlite_in_user_data_dir() -> None:
    config = parse_config({}, env={})
    assert config.database_url.startswith("sqlite:///")
    assert config.database_url.endswith("archive.sqlite3")


def test_media_choice_is_checked() -> None:
    assert parse_config({"archive": {"media": "video"}}, env={}).archive.media == "video"
    with pytest.raises(ConfigError, match=r"archive\.media"):
        parse_config({"archive": {"media": "everything"}}, env={})
