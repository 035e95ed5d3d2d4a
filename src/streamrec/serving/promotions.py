"""Promotions (Personalize's ``promotions``): a share of a user's slots for items passing a filter.

An operator defines a promotion by name (``PUT /v1/promotions/{name}``): a filter expression in the
language of the ``filter`` parameter, its ``params``, and a ``share`` of the slots. A request names
promotions (``?promotion=NAME``, repeatable, shares summing to at most 1); each gets
``round(share * n)`` slots (half up, taken in the order named, never more than are left), filled
with the user's best-scored items that pass its filter and are not already in the answer.
The promoted items are spread evenly among the others, as Personalize does: with ``k`` of them in
``n`` slots, the ``j``-th goes to position ``floor((2j + 1) * n / 2k)``, the middle of the ``j``-th
of ``k`` equal stretches (n=10, k=2: positions 2 and 7). Where a filter lets through fewer items
than its slots, the user's other items fill the rest.

Promotions are stored like campaign pointers: one small JSON file each, in ``promotions/`` next to
``campaigns/`` at the model location (a folder or an object store every API process reads), and
read when a request names them, so a change reaches every process at once.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from streamrec.errors import NotFoundError, ValidationError
from streamrec.filters import ParamValue, compile_filter
from streamrec.models.layout import NAME_PATTERN
from streamrec.models.storage import ModelFiles
from streamrec.serving.reasons import Reason

if TYPE_CHECKING:
    from streamrec.serving.service import Recommendations

__all__ = [
    "PROMOTIONS_DIR",
    "Promotion",
    "PromotionStore",
    "UnknownPromotion",
    "placed",
    "promote",
    "slots_of",
]

PROMOTIONS_DIR = "promotions"
_NAME = re.compile(NAME_PATTERN)  # the names PUT /v1/promotions/{name} accepts


class UnknownPromotion(NotFoundError):
    def __init__(self, name: str) -> None:
        super().__init__(
            f"promotion {name!r} is not defined (PUT /v1/promotions/{{name}})", "promotion"
        )


@dataclass(frozen=True)
class Promotion:
    name: str
    filter: str
    share: float
    params: Mapping[str, ParamValue] = field(default_factory=dict)

    def json(self) -> dict[str, Any]:
        return {"name": self.name, "filter": self.filter, "share": self.share,
                "params": dict(self.params)}  # fmt: skip

    def check(self) -> Promotion:
        """The filter must compile with its params (a 400 naming ``filter`` otherwise)."""
        try:
            compile_filter(self.filter, self.params)
        except ValidationError as exc:
            raise ValidationError("filter", exc.message) from exc
        return self


class PromotionStore:
    """Promotions by name, one pointer file each (see the module docstring)."""

    def __init__(self, files: ModelFiles) -> None:
        self.files = files

    def put(self, promotion: Promotion) -> None:
        body = json.dumps(promotion.json(), sort_keys=True).encode()
        self.files.write_pointer(f"{promotion.name}.json", body)

    def get(self, name: str) -> Promotion:
        if not _NAME.fullmatch(name):  # no such file can exist: a name is also a file name
            raise UnknownPromotion(name)
        raw = self.files.read_pointer(f"{name}.json")
        if raw is None:
            raise UnknownPromotion(name)
        data = json.loads(raw)
        return Promotion(data["name"], data["filter"], float(data["share"]), data["params"])

    def names(self) -> list[str]:
        return [n.removesuffix(".json") for n in self.files.pointer_names()]

    def all(self) -> list[Promotion]:
        out = []
        for name in self.names():
            try:
                out.append(self.get(name))
            except UnknownPromotion:  # deleted between the listing and the read
                continue
        return out

    def delete(self, name: str) -> None:
        if not _NAME.fullmatch(name) or not self.files.delete_pointer(f"{name}.json"):
            raise UnknownPromotion(name)

    def for_request(self, names: Sequence[str]) -> list[Promotion]:
        """The named promotions (each once, in order); 404 for an unknown one, 400 when their
        shares sum to more than 1."""
        promotions = [self.get(name) for name in dict.fromkeys(names)]
        total = sum(p.share for p in promotions)
        if total > 1.0 + 1e-9:
            raise ValidationError("promotion", f"the shares sum to {total:g}; at most 1")
        return promotions


def slots_of(n: int, promotions: Sequence[Promotion]) -> list[int]:
    """Slots per promotion: ``round(share * n)`` half up, never more than are left."""
    left, out = n, []
    for promotion in promotions:
        k = min(left, int(promotion.share * n + 0.5))
        out.append(k)
        left -= k
    return out


def placed(others: Sequence[Any], promoted: Sequence[Any]) -> list[Any]:
    """``promoted`` spread evenly among ``others`` (see the module docstring)."""
    n, k = len(others) + len(promoted), len(promoted)
    positions = {(2 * j + 1) * n // (2 * k): item for j, item in enumerate(promoted)}
    rest = iter(others)
    return [positions[p] if p in positions else next(rest) for p in range(n)]


class Ranker(Protocol):
    def __call__(
        self,
        n: int,
        filter_text: str | None,
        filter_params: Mapping[str, ParamValue] | None,
        exclude: Sequence[str],
    ) -> Recommendations: ...


def promote(
    rank: Ranker,
    n: int,
    request: tuple[str | None, Mapping[str, ParamValue] | None, Sequence[str]],
    promotions: Sequence[Promotion],
) -> Recommendations:
    """The user's top ``n`` (``rank`` with the request's filter, params and exclusions) with
    the promotions' slots filled from ``rank`` under each promotion's filter and params."""
    filter_text, params, exclude = request
    main = rank(n, filter_text, params, exclude)
    slots = slots_of(n, promotions)
    used = {item_id for item_id, _ in main.items[: n - sum(slots)]}
    chosen: list[tuple[tuple[str, float | None], Reason]] = []
    for promotion, k in zip(promotions, slots, strict=True):
        if k == 0:
            continue
        found = rank(k, promotion.filter, promotion.params, [*exclude, *used])
        for item in found.items[:k]:
            chosen.append((item, Reason("promoted", promotion=promotion.name)))
            used.add(item[0])
    taken = {item[0] for item, _ in chosen}
    reasons = main.reasons or [Reason("popular")] * len(main.items)
    others = [pair for pair in zip(main.items, reasons, strict=True) if pair[0][0] not in taken]
    final = placed(others[: n - len(chosen)], chosen)
    return dataclasses.replace(
        main, items=[item for item, _ in final], reasons=[reason for _, reason in final]
    )
