from pathlib import Path

import pytest

from copilot.core.config import Config, as_toml, load
from copilot.core.errors import ConfigError


def test_defaults_live_in_home(tmp_path: Path) -> None:
    config = load(env={"COPILOT_HOME": str(tmp_path)})
    assert config.home == tmp_path.resolve()
    assert config.index_dir == tmp_path.resolve() / "index"
    assert config.model == "qwen2.5-coder-1.5b"


def test_file_then_env_then_flags(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('top_k = 7\nmodel = "/m/file.gguf"\nmin_score = 0.4\n')
    env = {"COPILOT_HOME": str(tmp_path), "COPILOT_TOP_K": "9"}
    config = load(env=env, model="/flag.gguf")
    assert config.min_score == 0.4  # file
    assert config.top_k == 9  # env beats file
    assert config.model == "/flag.gguf"  # flag beats both


def test_home_flag_beats_env(tmp_path: Path) -> None:
    config = load(env={"COPILOT_HOME": "/elsewhere"}, home=tmp_path)
    assert config.home == tmp_path.resolve()


def test_unrelated_env_is_ignored(tmp_path: Path) -> None:
    config = load(env={"COPILOT_HOME": str(tmp_path), "COPILOT_UNKNOWN_THING": "1", "TOP_K": "3"})
    assert config.top_k == Config().top_k


@pytest.mark.parametrize(
    "text, message",
    [("top_k = 'many'", "should be int"), ("colour = 1", "unknown setting"), ("top_k = [", "not valid TOML")],
)
def test_bad_file_is_one_clear_error(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "config.toml").write_text(text)
    with pytest.raises(ConfigError, match=message):
        load(env={"COPILOT_HOME": str(tmp_path)})


def test_bad_env_value_names_its_origin(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="environment"):
        load(env={"COPILOT_HOME": str(tmp_path), "COPILOT_TOP_K": "lots"})


def test_config_is_frozen_and_round_trips(tmp_path: Path) -> None:
    config = load(env={"COPILOT_HOME": str(tmp_path)}, top_k=3)
    with pytest.raises(AttributeError):
        config.top_k = 4  # type: ignore[misc]
    (tmp_path / "config.toml").write_text(as_toml(config))
    assert load(env={"COPILOT_HOME": str(tmp_path)}) == config
