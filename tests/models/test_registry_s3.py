"""The model registry on an S3-compatible server (real s3proxy), reached through the usual AWS
variables, the way ``model_url = "s3://bucket/prefix"`` runs in a cluster: versions committed by
their metadata.json, campaign pointers as single objects, every API process seeing a switch."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import fsspec
import numpy as np
import pytest
import s3fs
from fsspec import AbstractFileSystem

from streamrec.config import Settings
from streamrec.errors import ModelError, NotFoundError
from streamrec.models.registry import ModelRegistry
from streamrec.models.storage import ObjectModelFiles
from streamrec.recommenders import Recommender, UserHistory
from streamrec.testing.fixtures import ServerFactory
from streamrec.testing.servers import S3Server

pytestmark = pytest.mark.cluster

FittedFactory = Callable[[str], Recommender]


@dataclass(frozen=True)
class S3Models:
    """Settings whose model_url is a fresh prefix, and a direct handle on the bucket."""

    settings: Settings
    fs: AbstractFileSystem
    prefix: str  # bucket/prefix, as the filesystem names it

    def registry(self, refresh_s: float = 1.0) -> ModelRegistry:
        return ModelRegistry(self.settings, refresh_s=refresh_s)

    def version_path(self, version: str, name: str = "") -> str:
        return f"{self.prefix}/versions/{version}" + (f"/{name}" if name else "")


@pytest.fixture
def s3_models(
    s3_server: S3Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[S3Models]:
    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    s3fs.S3FileSystem.clear_instance_cache()  # fsspec caches clients made with other settings
    prefix = f"{s3_server.bucket}/models-{uuid.uuid4().hex[:8]}"
    settings = Settings(data_dir=tmp_path / "data", campaign="default", model_url=f"s3://{prefix}")
    fs = fsspec.filesystem("s3", use_listings_cache=False, **s3_server.storage_options())
    yield S3Models(settings, fs, prefix)
    s3fs.S3FileSystem.clear_instance_cache()


def _save(registry: ModelRegistry, fitted: FittedFactory, ndcg: float = 0.1) -> str:
    return registry.save(fitted("item-knn"), {"metrics": {"ndcg@10": ndcg}})


def _wait_for(registry: ModelRegistry, campaign: str, version: str, timeout_s: float) -> float:
    """Seconds until ``registry`` serves ``version`` for ``campaign`` (fails after timeout)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        active = registry.active(campaign)
        if active is not None and active.version == version:
            return time.monotonic() - started
        time.sleep(0.01)
    pytest.fail(f"{version} not served after {timeout_s} s")


def test_registry_on_s3_uses_the_object_store(s3_models: S3Models) -> None:
    registry = s3_models.registry()
    assert isinstance(registry.files, ObjectModelFiles)
    assert registry.location == s3_models.settings.model_url
    assert registry.list_versions() == [] and registry.campaigns() == {}


def test_save_list_load_round_trip_on_s3(s3_models: S3Models, fitted: FittedFactory) -> None:
    registry = s3_models.registry()
    model = fitted("item-knn")
    first = registry.save(model, {"metrics": {"ndcg@10": 0.25}})
    second = _save(registry, fitted)
    names = {p.rsplit("/", 1)[-1] for p in s3_models.fs.ls(s3_models.version_path(first))}
    assert names == {"arrays.npz", "model.json", "metadata.json"}

    other = s3_models.registry()  # another process sees what this one saved
    assert [m["version"] for m in other.list_versions()] == [second, first]
    loaded = other.load(first)
    history = UserHistory.of([0, 3, 5])
    assert loaded.recipe == "item-knn" and loaded.model.item_vocab == model.item_vocab
    np.testing.assert_array_equal(loaded.model.score([history]), model.score([history]))
    assert loaded.metadata["metrics"] == {"ndcg@10": 0.25}


def test_campaign_switch_reaches_a_second_registry_within_refresh(
    s3_models: S3Models, fitted: FittedFactory
) -> None:
    """Two registries on one prefix behave as two API processes on two hosts."""
    admin = s3_models.registry()
    server = s3_models.registry(refresh_s=0.2)
    v1, v2 = _save(admin, fitted), _save(admin, fitted)
    assert server.active("default") is None
    admin.set_campaign("default", v1)
    # How fast the switch arrives is measured in benchmarks/registry.py, not asserted here.
    _wait_for(server, "default", v1, timeout_s=30.0)
    admin.set_campaign("default", v2)
    _wait_for(server, "default", v2, timeout_s=30.0)
    assert server.campaigns() == {"default": v2}
    pointer = s3_models.fs.cat_file(f"{s3_models.prefix}/campaigns/default.json")
    assert b'"version": "' + v2.encode() in pointer


def test_version_without_metadata_is_invisible(s3_models: S3Models, fitted: FittedFactory) -> None:
    """What an upload that died before its commit marker leaves behind."""
    registry = s3_models.registry()
    good = _save(registry, fitted)
    partial = "20240101T000000Z-item-knn-abcdef"
    for name in ("arrays.npz", "model.json"):
        s3_models.fs.copy(s3_models.version_path(good, name), s3_models.version_path(partial, name))
    assert [m["version"] for m in registry.list_versions()] == [good]
    assert not registry.exists(partial) and registry.exists(good)
    with pytest.raises(NotFoundError):
        registry.load(partial)
    with pytest.raises(NotFoundError):
        registry.set_campaign("default", partial)
    assert registry.campaign_version("default") is None


def test_failed_upload_publishes_nothing(
    s3_models: S3Models, fitted: FittedFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = s3_models.registry()
    assert isinstance(registry.files, ObjectModelFiles)
    fs = registry.files.fs
    real_put = fs.put_file
    uploaded: list[str] = []

    def put_then_die_at_commit(lpath: str, rpath: str, **kwargs: object) -> None:
        if rpath.endswith("/metadata.json"):
            raise ConnectionError("store went away before the commit marker")
        uploaded.append(rpath)
        real_put(lpath, rpath, **kwargs)

    monkeypatch.setattr(fs, "put_file", put_then_die_at_commit)
    with pytest.raises(ConnectionError):
        _save(registry, fitted)
    assert sorted(p.rsplit("/", 1)[-1] for p in uploaded) == ["arrays.npz", "model.json"]
    assert registry.list_versions() == []
    assert not s3_models.fs.exists(f"{s3_models.prefix}/versions")  # cleaned up too


def test_corrupt_model_is_refused_and_the_previous_keeps_serving(
    s3_models: S3Models, fitted: FittedFactory
) -> None:
    admin = s3_models.registry()
    server = s3_models.registry(refresh_s=0.0)
    good, bad = _save(admin, fitted), _save(admin, fitted)
    admin.set_campaign("default", good)
    assert server.refresh("default") is not None
    admin.set_campaign("default", bad)  # loads fine now, is corrupted afterwards
    arrays = s3_models.version_path(bad, "arrays.npz")
    s3_models.fs.pipe_file(arrays, s3_models.fs.cat_file(arrays)[:-100])
    with pytest.raises(ModelError, match="corrupt or partial"):
        admin.load(bad)
    server.refresh("default")
    for _ in range(20):
        active = server.active("default")
        assert active is not None and active.version == good
        time.sleep(0.01)
    assert admin.campaign_version("default") == bad
    with pytest.raises(ModelError):
        admin.set_campaign("other", bad)  # a pointer never moves to a model that cannot serve
    assert "other" not in admin.campaigns()


def test_requests_do_not_wait_for_the_store(s3_models: S3Models, fitted: FittedFactory) -> None:
    """Between loads, ``active`` answers from memory even when every poll is due: the GET of the
    pointer runs on a background thread."""
    admin = s3_models.registry()
    admin.set_campaign("default", _save(admin, fitted))
    server = s3_models.registry(refresh_s=0.0)
    assert server.active("default") is not None
    for _ in range(200):  # each call has a poll due; the GET runs off the request's thread
        assert server.active("default") is not None


def test_store_outage_keeps_serving_and_recovers(
    server_factory: ServerFactory,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    fitted: FittedFactory,
) -> None:
    """The S3 server down: requests keep the loaded model without waiting; once it is back,
    a switch made meanwhile is picked up with no restart."""
    server = server_factory(S3Server)
    for name, value in server.env().items():
        monkeypatch.setenv(name, value)
    s3fs.S3FileSystem.clear_instance_cache()
    settings = Settings(data_dir=tmp_path, model_url=f"s3://{server.bucket}/models")
    admin, api = ModelRegistry(settings), ModelRegistry(settings, refresh_s=0.1)
    v1, v2 = _save(admin, fitted), _save(admin, fitted)
    admin.set_campaign("default", v1)
    _wait_for(api, "default", v1, timeout_s=30.0)
    server.stop()
    for _ in range(50):  # the store is down: requests keep the loaded model
        active = api.active("default")
        assert active is not None and active.version == v1
        time.sleep(0.01)
    server.restart()
    admin.set_campaign("default", v2)
    _wait_for(api, "default", v2, timeout_s=30.0)
    s3fs.S3FileSystem.clear_instance_cache()
