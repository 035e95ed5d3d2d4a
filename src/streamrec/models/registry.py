"""ModelRegistry: trained versions on disk, campaigns pointing at them, and the model each serves.

Every API process holds its own registry. ``active(campaign)`` is on the request path, so it is a
dictionary lookup almost always: at most once per ``refresh_s`` it stats the campaign's pointer
file, and only when the file changed does it read it. A new version is loaded completely on a
background thread and swapped in with one reference assignment, so requests keep using the old
model meanwhile and none fails; a version that does not load (corrupt, partial) is refused, logged,
and the previous one keeps serving. Only the very first load of a campaign in a process happens
on the calling thread, because until then there is nothing to serve.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from streamrec.config import Settings
from streamrec.errors import ModelError, NotFoundError
from streamrec.models.layout import (
    CAMPAIGNS_DIR,
    METADATA_FILE,
    TMP_PREFIX,
    VERSIONS_DIR,
    campaign_file_name,
    campaign_from_file_name,
    check_name,
    fsync_dir,
    local_root,
    new_version_id,
    write_json_atomic,
)

if TYPE_CHECKING:
    from streamrec.recommenders.base import Recommender

__all__ = ["DEFAULT_REFRESH_S", "ActiveModel", "ModelRegistry"]

log = logging.getLogger(__name__)

DEFAULT_REFRESH_S = 1.0
_PointerKey = tuple[int, int, int]  # (inode, size, mtime_ns): os.replace always changes the inode


@dataclass(frozen=True)
class ActiveModel:
    """A loaded, fitted model and its metadata: the interface serving is built on."""

    version: str
    recipe: str
    model: Recommender
    metadata: Mapping[str, Any]


@dataclass
class _Slot:
    """One campaign's state in this process."""

    current: ActiveModel | None = None
    pointer_key: _PointerKey | None = None
    next_check: float = 0.0
    loading: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


class ModelRegistry:
    def __init__(
        self,
        settings: Settings,
        refresh_s: float = DEFAULT_REFRESH_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.root = local_root(settings.model_location)
        self._refresh_s = refresh_s
        self._clock = clock
        self._slots: dict[str, _Slot] = {}
        self._slots_lock = threading.Lock()

    @property
    def versions_dir(self) -> Path:
        return self.root / VERSIONS_DIR

    @property
    def campaigns_dir(self) -> Path:
        return self.root / CAMPAIGNS_DIR

    # -- versions ---------------------------------------------------------------------------

    def save(self, model: Recommender, info: Mapping[str, Any]) -> str:
        """Store a fitted model as a new version (atomically) and return the version id.

        ``metadata.json`` gets the model's own fit metadata (data range, sizes), then ``info``
        (metrics, times...), then the version, recipe, parameters and creation time."""
        # Imported on use: recommenders pull in scipy and implicit, which a Runtime that never
        # touches a model (most CLI commands) should not pay for at start.
        from streamrec.recommenders.persistence import save_model

        version = new_version_id(model.recipe)
        self.versions_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.versions_dir / f"{TMP_PREFIX}{version}"
        try:
            save_model(model, tmp)
            metadata = {
                **model.metadata,
                **info,
                "version": version,
                "recipe": model.recipe,
                "parameters": model.params(),
                "created_at": time.time(),
            }
            write_json_atomic(tmp / METADATA_FILE, metadata)
            _fsync_files(tmp)
            os.rename(tmp, self.versions_dir / version)
            fsync_dir(self.versions_dir)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        log.info("saved model version %s (%s)", version, model.recipe)
        return version

    def exists(self, version: str) -> bool:
        return (self.versions_dir / check_name("version", version)).is_dir()

    def metadata(self, version: str) -> dict[str, Any]:
        """The version's metadata.json; NotFoundError if unknown, ModelError if unreadable."""
        if not self.exists(version):
            raise NotFoundError(f"unknown model version {version!r}")
        file = self.versions_dir / version / METADATA_FILE
        try:
            data = json.loads(file.read_text())
        except (OSError, ValueError) as exc:
            raise ModelError(f"{file}: version metadata missing or unreadable: {exc}") from exc
        if not isinstance(data, dict):
            raise ModelError(f"{file}: version metadata is not a JSON object")
        return data

    def list_versions(self) -> list[dict[str, Any]]:
        """Metadata of every stored version, newest first; an unreadable one carries ``error``."""
        if not self.versions_dir.is_dir():
            return []
        out: list[dict[str, Any]] = []
        for entry in self.versions_dir.iterdir():
            if entry.name.startswith(".") or not entry.is_dir():
                continue
            try:
                out.append(self.metadata(entry.name))
            except ModelError as exc:
                out.append({"version": entry.name, "error": str(exc)})
        out.sort(key=lambda m: (float(m.get("created_at", 0.0)), m["version"]), reverse=True)
        return out

    def load(self, version: str) -> ActiveModel:
        """Load a version completely; a corrupt or partial one raises ModelError."""
        from streamrec.recommenders.persistence import load_model

        metadata = self.metadata(version)
        model = load_model(self.versions_dir / version)
        if model.item_vocab is None or len(model.item_vocab) != model.n_items:
            raise ModelError(f"model version {version!r} has no item vocabulary matching its items")
        return ActiveModel(version, model.recipe, model, metadata)

    # -- campaigns --------------------------------------------------------------------------

    def _pointer(self, campaign: str) -> Path:
        return self.campaigns_dir / campaign_file_name(campaign)

    def campaign_version(self, campaign: str) -> str | None:
        """The version a campaign points to, None when the campaign does not exist."""
        file = self._pointer(campaign)
        try:
            data = json.loads(file.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise ModelError(f"{file}: campaign pointer unreadable: {exc}") from exc
        version = data.get("version") if isinstance(data, dict) else None
        if not isinstance(version, str):
            raise ModelError(f"{file}: campaign pointer has no version")
        return version

    def campaigns(self) -> dict[str, str]:
        """Every campaign and the version it points to (unreadable pointers are skipped)."""
        if not self.campaigns_dir.is_dir():
            return {}
        out: dict[str, str] = {}
        for file in sorted(self.campaigns_dir.glob("*.json")):
            if file.name.startswith("."):
                continue
            campaign = campaign_from_file_name(file.name)
            try:
                version = self.campaign_version(campaign)
            except ModelError as exc:
                log.warning("%s", exc)
                continue
            if version is not None:
                out[campaign] = version
        return out

    def set_campaign(self, campaign: str, version: str) -> ActiveModel:
        """Point ``campaign`` at ``version`` after checking that the version loads.

        NotFoundError for an unknown version, ModelError for one that does not load: a pointer
        never moves to a model that cannot serve."""
        pointer = self._pointer(campaign)
        loaded = self.load(version)
        write_json_atomic(
            pointer, {"campaign": campaign, "version": version, "updated_at": time.time()}
        )
        log.info("campaign %s now points to version %s", campaign, version)
        slot = self._slots.get(campaign)
        if slot is not None:  # this process serves the campaign: swap now, not in a second
            with slot.lock:
                slot.current, slot.loading = loaded, None
                slot.pointer_key = _stat_key(pointer)
        return loaded

    # -- serving ----------------------------------------------------------------------------

    def active(self, campaign: str) -> ActiveModel | None:
        """The model ``campaign`` serves in this process, None before any model is active."""
        slot = self._slot(campaign)
        if self._clock() >= slot.next_check:
            self._check(campaign, slot, wait=slot.current is None, force=False)
        return slot.current

    def refresh(self, campaign: str) -> ActiveModel | None:
        """Re-read the pointer now and load a changed version before returning (CLI, tests)."""
        slot = self._slot(campaign)
        self._check(campaign, slot, wait=True, force=True)
        return slot.current

    def _slot(self, campaign: str) -> _Slot:
        slot = self._slots.get(campaign)
        if slot is None:
            campaign_file_name(campaign)  # a ValidationError for a name that cannot be one
            with self._slots_lock:
                slot = self._slots.setdefault(campaign, _Slot())
        return slot

    def _check(self, campaign: str, slot: _Slot, wait: bool, force: bool) -> None:
        with slot.lock:
            now = self._clock()
            if not force and now < slot.next_check:
                return  # another thread checked meanwhile
            slot.next_check = now + self._refresh_s
            key = _stat_key(self._pointer(campaign))
            if key == slot.pointer_key and not force:
                return
            slot.pointer_key = key
            target = self._target(campaign) if key is not None else None
            if target is None:
                if key is None:
                    slot.current, slot.loading = None, None
                return
            current = slot.current.version if slot.current else None
            if target in (current, slot.loading):
                return
            slot.loading = target
            if wait:
                self._load_into(campaign, slot, target)
                return
        threading.Thread(
            target=self._load_locked, args=(campaign, slot, target), daemon=True,
            name=f"model-load-{campaign}",
        ).start()  # fmt: skip

    def _target(self, campaign: str) -> str | None:
        try:
            return self.campaign_version(campaign)
        except ModelError as exc:
            log.error("campaign %s: %s; the current model keeps serving", campaign, exc)
            return None

    def _load_locked(self, campaign: str, slot: _Slot, version: str) -> None:
        try:
            loaded = self.load(version)
        except (ModelError, NotFoundError) as exc:
            self._refused(campaign, slot, version, exc)
            return
        with slot.lock:
            if slot.loading == version:  # a newer switch may have superseded this one
                slot.current, slot.loading = loaded, None
        log.info("campaign %s switched to version %s", campaign, version)

    def _load_into(self, campaign: str, slot: _Slot, version: str) -> None:
        """Load on the calling thread; the caller holds ``slot.lock``."""
        try:
            slot.current = self.load(version)
        except (ModelError, NotFoundError) as exc:
            log.error(
                "campaign %s: version %s refused: %s; %s", campaign, version, exc,
                _keeps(slot.current),
            )  # fmt: skip
        slot.loading = None

    def _refused(self, campaign: str, slot: _Slot, version: str, exc: Exception) -> None:
        with slot.lock:
            if slot.loading == version:
                slot.loading = None
            keeps = _keeps(slot.current)
        log.error("campaign %s: version %s refused: %s; %s", campaign, version, exc, keeps)


def _keeps(current: ActiveModel | None) -> str:
    return f"version {current.version} keeps serving" if current else "no model is served"


def _stat_key(file: Path) -> _PointerKey | None:
    try:
        st = file.stat()
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def _fsync_files(folder: Path) -> None:
    for file in folder.iterdir():
        with file.open("rb") as fh:
            os.fsync(fh.fileno())
    fsync_dir(folder)
