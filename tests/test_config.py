"""Settings: defaults, TOML, environment overrides, and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamrec.config import Settings, load_settings, settings_as_toml_dict
from streamrec.errors import ConfigError


def test_defaults_match_the_aws_sample() -> None:
    s = load_settings(env={})
    assert (s.shard_count, s.tracking_id, s.campaign) == (1, None, "default")
    assert (s.recently_visited_items, s.datalake, s.history_days) == (True, True, 30)
    assert (s.host, s.port, s.admin_key) == ("127.0.0.1", 8080, None)
    assert (s.stream_retention_hours, s.lake_flush_interval_s, s.lake_flush_bytes) == (
        168,
        60.0,
        5_242_880,
    )
    assert s.stream_location.startswith("sqlite:////")


def test_toml_then_environment(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(
        'shard_count = 4\ncampaign = "summer"\nallowed_origins = ["https://a.example"]\n'
        "event_type_weights = {view = 1, purchase = 10}\n"
    )
    s = load_settings(
        path,
        env={
            "STREAMREC_SHARD_COUNT": "8",
            "STREAMREC_DATALAKE": "false",
            "STREAMREC_ALLOWED_ORIGINS": "https://b.example, https://c.example",
        },
    )
    assert s.shard_count == 8 and s.campaign == "summer" and s.datalake is False
    assert s.allowed_origins == ("https://b.example", "https://c.example")
    assert s.event_type_weights == {"view": 1.0, "purchase": 10.0}


def test_config_file_from_environment(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text("history_days = 7\n")
    assert load_settings(env={"STREAMREC_CONFIG": str(path)}).history_days == 7


@pytest.mark.parametrize(
    ("toml", "env", "key"),
    [
        ("shard_count = -1\n", {}, "shard_count"),
        ("shard_cuont = 2\n", {}, "shard_cuont"),
        ('history_days = "thirty"\n', {}, "history_days"),
        ("datalake = 1\n", {}, "datalake"),
        ("", {"STREAMREC_PORT": "eighty"}, "STREAMREC_PORT"),
        ("", {"STREAMREC_DATALAKE": "maybe"}, "STREAMREC_DATALAKE"),
        ("", {"STREAMREC_NOPE": "1"}, "STREAMREC_NOPE"),
        ("", {"STREAMREC_EXPLORATION_WEIGHT": "1.5"}, "exploration_weight"),
        ("background_nice = 20\n", {}, "background_nice"),
        ("sequence_members = 0\n", {}, "sequence_members"),
        ("keepalive_requests = -1\n", {}, "keepalive_requests"),
        ("", {"STREAMREC_EVENT_TYPE_WEIGHTS": "[1]"}, "STREAMREC_EVENT_TYPE_WEIGHTS"),
    ],
)
def test_wrong_values_name_the_key(
    tmp_path: Path, toml: str, env: dict[str, str], key: str
) -> None:
    path = tmp_path / "s.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as info:
        load_settings(path, env=env)
    assert info.value.key == key
    assert str(info.value).startswith(key)


def test_missing_and_invalid_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "missing.toml", env={})
    bad = tmp_path / "bad.toml"
    bad.write_text("shard_count = = 2")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(bad, env={})


def test_settings_round_trip_through_toml_dict(tmp_path: Path) -> None:
    import tomllib

    import tomli_w

    s = Settings(shard_count=3, allowed_origins=("https://x",), data_dir=tmp_path)
    path = tmp_path / "out.toml"
    path.write_bytes(tomli_w.dumps(settings_as_toml_dict(s)).encode())
    assert tomllib.loads(path.read_text())["shard_count"] == 3
    assert load_settings(path, env={}) == s


def test_event_value_thresholds_from_toml_and_environment(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text("event_value_thresholds = {rating = 3, watch = 30.5}\n")
    assert load_settings(path, env={}).event_value_thresholds == {"rating": 3.0, "watch": 30.5}
    env = {"STREAMREC_EVENT_VALUE_THRESHOLDS": '{"rating": 4}'}
    assert load_settings(env=env).event_value_thresholds == {"rating": 4.0}
    assert load_settings(env={}).event_value_thresholds == {}
    with pytest.raises(ConfigError, match="STREAMREC_EVENT_VALUE_THRESHOLDS"):
        load_settings(env={"STREAMREC_EVENT_VALUE_THRESHOLDS": '{"rating": "low"}'})
