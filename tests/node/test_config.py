"""The config file: written with safe permissions, read back exactly, and every problem named."""

from __future__ import annotations

from pathlib import Path

import pytest

from node.config import NodeConfig, UnlockMethod, load_config, write_config
from node.errors import ConfigError, NodeNotInitialised


def _config(tmp_path: Path, **changes: object) -> NodeConfig:
    tmp_path.mkdir(exist_ok=True)
    values: dict[str, object] = {
        "data_dir": tmp_path.resolve(),
        "name": "Test University",
        "base_url": "https://mentornet.example.org",
        "unlock": UnlockMethod.KEY_FILE,
        "key_file": tmp_path.resolve() / "node.key",
    }
    values.update(changes)
    return NodeConfig(**values)  # type: ignore[arg-type]


def test_a_written_config_loads_back_identically_and_is_private(tmp_path: Path) -> None:
    config = _config(tmp_path, port=9000, metrics_allow=("127.0.0.1/32",), invite_ttl_days=3)
    write_config(config)
    assert load_config(tmp_path) == config
    assert config.config_path.stat().st_mode & 0o777 == 0o600


def test_the_key_file_is_stored_relative_to_the_data_dir_so_the_dir_can_move(tmp_path: Path) -> None:
    write_config(_config(tmp_path))
    assert 'key_file = "node.key"' in (tmp_path / "mentornet.toml").read_text()


def test_a_missing_config_means_no_node(tmp_path: Path) -> None:
    with pytest.raises(NodeNotInitialised, match="mentornet init"):
        load_config(tmp_path)


def test_a_corrupted_config_is_reported_with_its_path(tmp_path: Path) -> None:
    (tmp_path / "mentornet.toml").write_text("[node\nname = ")
    with pytest.raises(ConfigError, match=str(tmp_path / "mentornet.toml")):
        load_config(tmp_path)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('[node]\nname = "A"\n', "node.base_url"),
        ('[node]\nname = "A"\nbase_url = "ftp://x"\n', "http"),
        ('[node]\nname = "A"\nbase_url = "http://x"\n[server]\nport = "eighty"\n', "server.port must be int"),
        ('[node]\nname = "A"\nbase_url = "http://x"\n[server]\nport = 70000\n', "server.port"),
        ('[node]\nname = "A"\nbase_url = "http://x"\n[keys]\nunlock = "key-file"\n', "keys.key_file"),
        ('[node]\nname = "A"\nbase_url = "http://x"\n[metrics]\nallow = ["everyone"]\n', "metrics.allow"),
        ('[node]\nname = "A"\nbase_url = "http://x"\n[database]\nurl = "mysql://x"\n', "database.url"),
    ],
)
def test_an_invalid_setting_is_named(tmp_path: Path, text: str, problem: str) -> None:
    (tmp_path / "mentornet.toml").write_text(text)
    with pytest.raises(ConfigError, match=problem):
        load_config(tmp_path)
