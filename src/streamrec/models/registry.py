"""ModelRegistry: trained versions (a folder or ``s3://bucket/prefix``), campaigns pointing at
them, and the model each campaign serves.

Every API process holds its own registry. ``active(campaign)`` is on the request path, so it is a
dictionary lookup almost always: at most once per ``refresh_s`` it checks the campaign's pointer
(a stat of a local file; one small GET on an object store, run on a background thread so no
request waits on the network), and only when the pointer changed does it read it. A new version
is loaded completely on a background thread and swapped in with one reference assignment, so
requests keep using the old model meanwhile and none fails; a version that does not load (corrupt,
partial) is refused, logged, and the previous one keeps serving. Only the very first load of a
campaign in a process happens on the calling thread, because until then there is nothing to serve.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from streamrec.config import Settings
from streamrec.errors import ModelError, NotFoundError
from streamrec.heap import settle
from streamrec.models.layout import (
    METADATA_FILE,
    campaign_file_name,
    campaign_from_file_name,
    check_name,
    json_bytes,
    new_version_id,
)
from streamrec.models.storage import ModelFiles, open_model_files

if TYPE_CHECKING:
    from streamrec.recommenders.base import Recommender

__all__ = ["DEFAULT_REFRESH_S", "ActiveModel", "ModelRegistry"]

log = logging.getLogger(__name__)

DEFAULT_REFRESH_S = 1.0


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
    pointer_key: Hashable | None = None
    next_check: float = 0.0
    loading: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Held while a background poll of a remote pointer runs: requests never wait on the network.
    polling: threading.Lock = field(default_factory=threading.Lock)


class ModelRegistry:
    def __init__(
        self,
        settings: Settings,
        refresh_s: float = DEFAULT_REFRESH_S,
        clock: Callable[[], float] = time.monotonic,
        files: ModelFiles | None = None,
    ) -> None:
        self.files = files or open_model_files(settings.model_location)
        self._refresh_s = refresh_s
        self._clock = clock
        self._slots: dict[str, _Slot] = {}
        self._slots_lock = threading.Lock()

    @property
    def location(self) -> str:
        """Where the versions and campaigns live: a folder or ``s3://bucket/prefix``."""
        return self.files.location

    # -- versions ---------------------------------------------------------------------------

    def save(self, model: Recommender, info: Mapping[str, Any]) -> str:
        """Store a fitted model as a new version (atomically) and return the version id.

        ``metadata.json`` gets the model's own fit metadata (data range, sizes), then ``info``
        (metrics, times...), then the version, recipe, parameters and creation time."""
        # Imported on use: recommenders pull in scipy and implicit, which a Runtime that never
        # touches a model (most CLI commands) should not pay for at start.
        from streamrec.recommenders.persistence import save_model

        version = new_version_id(model.recipe)
        with self.files.new_version(version) as folder:
            save_model(model, folder)
            metadata = {
                **model.metadata,
                **info,
                "version": version,
                "recipe": model.recipe,
                "parameters": model.params(),
                "created_at": time.time(),
            }
            (folder / METADATA_FILE).write_bytes(json_bytes(metadata))
        log.info("saved model version %s (%s) in %s", version, model.recipe, self.location)
        return version

    def exists(self, version: str) -> bool:
        return self.files.has_version(check_name("version", version))

    def metadata(self, version: str) -> dict[str, Any]:
        """The version's metadata.json; NotFoundError if unknown, ModelError if unreadable."""
        where = f"{self.location} version {check_name('version', version)}"
        try:
            data = json.loads(self.files.read(version, METADATA_FILE))
        except FileNotFoundError:
            if not self.exists(version):
                raise NotFoundError(f"unknown model version {version!r}", "version") from None
            raise ModelError(f"{where}: version metadata missing") from None
        except (OSError, ValueError) as exc:
            raise ModelError(f"{where}: version metadata unreadable: {exc}") from exc
        if not isinstance(data, dict):
            raise ModelError(f"{where}: version metadata is not a JSON object")
        return data

    def list_versions(self) -> list[dict[str, Any]]:
        """Metadata of every stored version, newest first; an unreadable one carries ``error``."""
        out: list[dict[str, Any]] = []
        for name in self.files.version_names():
            try:
                out.append(self.metadata(name))
            except (ModelError, NotFoundError) as exc:
                out.append({"version": name, "error": str(exc)})
        out.sort(key=lambda m: (float(m.get("created_at", 0.0)), m["version"]), reverse=True)
        return out

    def load(self, version: str) -> ActiveModel:
        """Load a version completely; a corrupt or partial one raises ModelError."""
        from streamrec.recommenders.persistence import load_model

        metadata = self.metadata(version)
        try:
            with self.files.local_copy(version) as folder:
                model = load_model(folder)
        except OSError as exc:  # a download that failed half way
            raise ModelError(f"model version {version!r} could not be read: {exc}") from exc
        if model.item_vocab is None or len(model.item_vocab) != model.n_items:
            raise ModelError(f"model version {version!r} has no item vocabulary matching its items")
        return ActiveModel(version, model.recipe, model, metadata)

    # -- campaigns --------------------------------------------------------------------------

    def campaign_version(self, campaign: str) -> str | None:
        """The version a campaign points to, None when the campaign does not exist."""
        name = campaign_file_name(campaign)
        where = f"{self.location} campaign {campaign!r}"
        try:
            raw = self.files.read_pointer(name)
            if raw is None:
                return None
            data = json.loads(raw)
        except (OSError, ValueError) as exc:
            raise ModelError(f"{where}: campaign pointer unreadable: {exc}") from exc
        version = data.get("version") if isinstance(data, dict) else None
        if not isinstance(version, str):
            raise ModelError(f"{where}: campaign pointer has no version")
        return version

    def campaigns(self) -> dict[str, str]:
        """Every campaign and the version it points to (unreadable pointers are skipped)."""
        out: dict[str, str] = {}
        for file_name in self.files.pointer_names():
            if file_name.startswith("."):
                continue
            campaign = campaign_from_file_name(file_name)
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
        name = campaign_file_name(campaign)
        loaded = self.load(version)
        pointer = {"campaign": campaign, "version": version, "updated_at": time.time()}
        self.files.write_pointer(name, json_bytes(pointer))
        log.info("campaign %s now points to version %s", campaign, version)
        slot = self._slots.get(campaign)
        if slot is not None:  # this process serves the campaign: swap now, not in a second
            with slot.lock:
                slot.current, slot.loading = loaded, None
                slot.pointer_key = self.files.pointer_key(name)
        return loaded

    # -- serving ----------------------------------------------------------------------------

    def active(self, campaign: str) -> ActiveModel | None:
        """The model ``campaign`` serves in this process, None before any model is active."""
        slot = self._slot(campaign)
        if self._clock() >= slot.next_check:
            if slot.current is None:
                self._check(campaign, slot, wait=True, force=False)
            elif self.files.polls_cheaply:
                self._check(campaign, slot, wait=False, force=False)
            else:
                self._poll_in_background(campaign, slot)
        return slot.current

    def loads_on_next_read(self, campaign: str) -> bool:
        """Whether ``active(campaign)`` would load a model on the calling thread now (nothing
        served yet and a check is due): an async request then calls it from a worker thread."""
        slot = self._slots.get(campaign)
        return slot is None or (slot.current is None and self._clock() >= slot.next_check)

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

    def _poll_in_background(self, campaign: str, slot: _Slot) -> None:
        """Check a remote pointer on a thread: a request returns the current model at once
        instead of waiting for a GET (or its timeout when the store is unreachable)."""
        if not slot.polling.acquire(blocking=False):
            return  # a poll is already in flight
        threading.Thread(
            target=self._poll, args=(campaign, slot), daemon=True, name=f"model-poll-{campaign}"
        ).start()

    def _poll(self, campaign: str, slot: _Slot) -> None:
        try:
            self._check(campaign, slot, wait=False, force=False)
        finally:
            slot.polling.release()

    def _check(self, campaign: str, slot: _Slot, wait: bool, force: bool) -> None:
        with slot.lock:
            now = self._clock()
            if not force and now < slot.next_check:
                return  # another thread checked meanwhile
            slot.next_check = now + self._refresh_s
            target = self._read_pointer(campaign, slot, force)
            if target is None:
                return
            slot.loading = target
            if wait:
                self._load_into(campaign, slot, target)
                return
        threading.Thread(
            target=self._load_locked, args=(campaign, slot, target), daemon=True,
            name=f"model-load-{campaign}",
        ).start()  # fmt: skip

    def _read_pointer(self, campaign: str, slot: _Slot, force: bool) -> str | None:
        """The version to load now, if the pointer moved; the caller holds ``slot.lock``."""
        try:
            key = self.files.pointer_key(campaign_file_name(campaign))
        except Exception as exc:  # a store outage must not fail requests
            log.error(
                "campaign %s: pointer unreadable: %s; %s", campaign, exc, _keeps(slot.current)
            )
            return None
        if key == slot.pointer_key and not force:
            return None
        slot.pointer_key = key
        if key is None:  # the campaign was removed: nothing to serve
            slot.current, slot.loading = None, None
            return None
        target = self._target(campaign)
        current = slot.current.version if slot.current else None
        if target in (current, slot.loading):
            return None
        return target

    def _target(self, campaign: str) -> str | None:
        try:
            return self.campaign_version(campaign)
        except Exception as exc:  # unreadable now; the current model serves on
            log.error("campaign %s: %s; the current model keeps serving", campaign, exc)
            return None

    def _load_locked(self, campaign: str, slot: _Slot, version: str) -> None:
        try:
            loaded = self.load(version)
        except Exception as exc:  # logged; the previous model serves on
            self._refused(campaign, slot, version, exc)
            return
        with slot.lock:
            if slot.loading == version:  # a newer switch may have superseded this one
                slot.current, slot.loading = loaded, None
        settle()  # the new model's objects out of the collector's full passes (streamrec.heap)
        log.info("campaign %s switched to version %s", campaign, version)

    def _load_into(self, campaign: str, slot: _Slot, version: str) -> None:
        """Load on the calling thread; the caller holds ``slot.lock``."""
        try:
            slot.current = self.load(version)
            settle()
        except Exception as exc:  # logged; the previous model serves on
            _forget_if_transient(slot, exc)
            log.error(
                "campaign %s: version %s refused: %s; %s", campaign, version, exc,
                _keeps(slot.current),
            )  # fmt: skip
        slot.loading = None

    def _refused(self, campaign: str, slot: _Slot, version: str, exc: Exception) -> None:
        with slot.lock:
            if slot.loading == version:
                slot.loading = None
            _forget_if_transient(slot, exc)
            keeps = _keeps(slot.current)
        log.error("campaign %s: version %s refused: %s; %s", campaign, version, exc, keeps)


def _keeps(current: ActiveModel | None) -> str:
    return f"version {current.version} keeps serving" if current else "no model is served"


def _forget_if_transient(slot: _Slot, exc: Exception) -> None:
    """After a failure that is not the model's fault (the store unreachable...), forget the
    pointer so the next check tries again; a corrupt or unknown version is not retried."""
    if not isinstance(exc, (ModelError, NotFoundError)):
        slot.pointer_key = None
