"""Versions, campaigns and the hot swap: what every API process relies on."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamrec.config import Settings
from streamrec.errors import ConfigError, ModelError, NotFoundError, ValidationError
from streamrec.models.layout import (
    VERSIONS_DIR,
    campaign_file_name,
    campaign_from_file_name,
    check_name,
)
from streamrec.models.registry import ModelRegistry
from streamrec.recommenders import Recommender, UserHistory

FittedFactory = Callable[[str], Recommender]


def _versions(registry: ModelRegistry) -> Path:
    return Path(registry.location) / VERSIONS_DIR


def _save(registry: ModelRegistry, fitted: FittedFactory, ndcg: float = 0.1) -> str:
    return registry.save(fitted("item-knn"), {"metrics": {"ndcg@10": ndcg}})


def _wait_for(registry: ModelRegistry, campaign: str, version: str, timeout_s: float) -> float:
    """Seconds until ``registry`` serves ``version`` for ``campaign`` (fails after timeout)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        active = registry.active(campaign)
        if active is not None and active.version == version:
            return time.monotonic() - started
        time.sleep(0.005)
    pytest.fail(f"{version} not served after {timeout_s} s")


def test_version_round_trip_scores_identically(
    registry: ModelRegistry, fitted: FittedFactory
) -> None:
    model = fitted("item-knn")
    version = registry.save(model, {"metrics": {"ndcg@10": 0.25}})
    loaded = registry.load(version)
    history = UserHistory.of([0, 3, 5])
    assert loaded.version == version and loaded.recipe == "item-knn"
    assert loaded.model.item_vocab == model.item_vocab
    np.testing.assert_array_equal(loaded.model.score([history]), model.score([history]))
    meta = loaded.metadata
    assert meta["metrics"] == {"ndcg@10": 0.25}
    assert meta["parameters"] == model.params()
    assert meta["data_start"] <= meta["data_end"] and meta["created_at"] > 0


def test_version_files_hold_no_pickles(registry: ModelRegistry, fitted: FittedFactory) -> None:
    version = _save(registry, fitted)
    folder = _versions(registry) / version
    assert {p.name for p in folder.iterdir()} == {"arrays.npz", "model.json", "metadata.json"}
    with np.load(folder / "arrays.npz", allow_pickle=False) as npz:
        assert all(npz[name].dtype != object for name in npz.files)


def test_list_versions_newest_first_and_skips_partial_saves(
    registry: ModelRegistry, fitted: FittedFactory
) -> None:
    first = _save(registry, fitted)
    second = _save(registry, fitted)
    (_versions(registry) / ".tmp-crashed-save").mkdir()  # what a crash mid-save leaves
    assert [m["version"] for m in registry.list_versions()] == [second, first]


def test_corrupt_version_is_refused_at_load(registry: ModelRegistry, fitted: FittedFactory) -> None:
    version = _save(registry, fitted)
    arrays = _versions(registry) / version / "arrays.npz"
    arrays.write_bytes(arrays.read_bytes()[:-100])  # truncated, as a partial copy would be
    with pytest.raises(ModelError, match="corrupt or partial"):
        registry.load(version)


def test_unknown_version_and_bad_names(registry: ModelRegistry) -> None:
    with pytest.raises(NotFoundError):
        registry.load("20240101T000000Z-none-000000")
    with pytest.raises(NotFoundError):
        registry.set_campaign("default", "nope")
    with pytest.raises(ValidationError):
        registry.load("../../etc")
    with pytest.raises(ValidationError):
        registry.active("")


def test_campaign_switch_reaches_another_process_within_refresh(
    settings: Settings, fitted: FittedFactory
) -> None:
    """Two registries on one folder behave as two API processes: no restart needed."""
    admin = ModelRegistry(settings)
    server = ModelRegistry(settings, refresh_s=0.2)
    v1, v2 = _save(admin, fitted), _save(admin, fitted)
    assert server.active("default") is None
    admin.set_campaign("default", v1)
    # How fast the switch arrives is measured in benchmarks/registry.py, not asserted here.
    _wait_for(server, "default", v1, timeout_s=30.0)
    admin.set_campaign("default", v2)
    _wait_for(server, "default", v2, timeout_s=30.0)
    assert admin.campaigns() == {"default": v2}


def test_every_request_during_a_switch_gets_a_model(
    settings: Settings, fitted: FittedFactory
) -> None:
    admin = ModelRegistry(settings)
    server = ModelRegistry(settings, refresh_s=0.0)
    v1, v2 = _save(admin, fitted), _save(admin, fitted)
    admin.set_campaign("default", v1)
    assert server.active("default") is not None
    admin.set_campaign("default", v2)
    seen = set()
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline and v2 not in seen:
        active = server.active("default")
        assert active is not None  # never a gap while the new version loads
        seen.add(active.version)
    assert seen <= {v1, v2} and v2 in seen


def test_corrupt_new_version_keeps_the_previous_serving(
    settings: Settings, fitted: FittedFactory
) -> None:
    admin = ModelRegistry(settings)
    server = ModelRegistry(settings, refresh_s=0.0)
    good, bad = _save(admin, fitted), _save(admin, fitted)
    admin.set_campaign("default", good)
    assert server.active("default") is not None
    admin.set_campaign("default", bad)  # loads fine now, is corrupted afterwards
    arrays = _versions(admin) / bad / "arrays.npz"
    arrays.write_bytes(b"not a zip file")
    server.refresh("default")
    for _ in range(20):
        active = server.active("default")
        assert active is not None and active.version == good
        time.sleep(0.01)
    assert admin.campaign_version("default") == bad


def test_set_campaign_refuses_a_corrupt_version(
    registry: ModelRegistry, fitted: FittedFactory
) -> None:
    good, bad = _save(registry, fitted), _save(registry, fitted)
    registry.set_campaign("default", good)
    os.remove(_versions(registry) / bad / "model.json")
    with pytest.raises(ModelError):
        registry.set_campaign("default", bad)
    assert registry.campaign_version("default") == good


def test_active_reads_no_file_between_refreshes(
    settings: Settings, registry: ModelRegistry, fitted: FittedFactory
) -> None:
    """Its cost per call is measured in benchmarks/registry.py."""
    version = _save(registry, fitted)
    registry.set_campaign("default", version)
    slow = ModelRegistry(settings, refresh_s=60.0)
    assert slow.active("default") is not None
    moved = Path(settings.model_location).rename(Path(settings.model_location + ".moved"))
    try:
        active = slow.active("default")
        assert active is not None and active.version == version
    finally:
        moved.rename(settings.model_location)


@given(st.text(min_size=1, max_size=140))
def test_accepted_version_ids_stay_inside_the_folder(name: str) -> None:
    root = Path("/models/versions")
    try:
        check_name("version", name)
    except ValidationError:
        return
    assert (root / name).resolve().parent == root and not name.startswith(".")


@given(st.text(min_size=1, max_size=256).filter(str.isprintable))
def test_any_campaign_name_maps_to_one_visible_file_inside_the_folder(name: str) -> None:
    file_name = campaign_file_name(name)
    root = Path("/models/campaigns")
    assert (root / file_name).resolve().parent == root
    assert not file_name.startswith(".") and file_name.endswith(".json")
    assert campaign_from_file_name(file_name) == name


def test_campaign_names_like_arns_work(registry: ModelRegistry, fitted: FittedFactory) -> None:
    arn = "arn:aws:personalize:eu-west-1:123456789012:campaign/shop"
    version = _save(registry, fitted)
    registry.set_campaign(arn, version)
    assert registry.campaigns() == {arn: version}
    active = registry.active(arn)
    assert active is not None and active.version == version


def test_model_url_with_an_unknown_scheme_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="model_url"):
        ModelRegistry(Settings(data_dir=tmp_path, model_url="nosuch://bucket/models"))


def test_file_url_is_a_local_folder(tmp_path: Path, fitted: FittedFactory) -> None:
    registry = ModelRegistry(Settings(data_dir=tmp_path, model_url=f"file://{tmp_path}/m"))
    version = _save(registry, fitted)
    assert (tmp_path / "m" / VERSIONS_DIR / version / "metadata.json").is_file()


def test_loads_on_next_read_says_when_a_read_would_load_on_the_caller(
    settings: Settings, fitted: FittedFactory
) -> None:
    """Async routes ask this before calling the service inline: True only while nothing is
    served and a check is due (the read would then load the model on the event loop)."""
    admin = ModelRegistry(settings)
    now = [0.0]
    server = ModelRegistry(settings, refresh_s=10.0, clock=lambda: now[0])
    assert server.loads_on_next_read("default")
    assert server.active("default") is None  # no campaign yet: checked, nothing to load
    assert not server.loads_on_next_read("default")
    admin.set_campaign("default", _save(admin, fitted))
    now[0] = 10.0
    assert server.loads_on_next_read("default")
    assert server.active("default") is not None
    now[0] = 20.0
    assert not server.loads_on_next_read("default")  # a switch now loads in the background
