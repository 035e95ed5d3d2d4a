"""An experiment: variants (each a campaign and a share of the users), the metric that decides,
the routes it applies to, and its status; and the deterministic, sticky assignment.

Assignment hashes ``experiment name + "\\0" + user id`` (SHA-256, the first 8 bytes as a
fraction of 2**64) into the variants' cumulative shares, so every API process, on every host,
puts a user in the same variant without asking anyone, and a user keeps it while the
experiment's variants and shares stay as they are.

The control is the variant named ``control``, else the first one listed.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Literal

import msgspec

from streamrec.errors import ValidationError

__all__ = [
    "EXPERIMENT_ROUTES",
    "METRICS",
    "Experiment",
    "ExperimentSpec",
    "Variant",
    "assign",
]

EXPERIMENT_ROUTES = ("recommendations", "rank")
METRICS = ("click", "purchase", "revenue")
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
SHARE_TOLERANCE = 1e-6

Name = Annotated[str, msgspec.Meta(pattern=NAME_PATTERN)]
Metric = Literal["click", "purchase", "revenue"]
Route = Literal["recommendations", "rank"]


class Variant(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    campaign: Name
    share: Annotated[float, msgspec.Meta(gt=0, le=1)]


class ExperimentSpec(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """``PUT /v1/experiments/{name}``: at least two variants whose shares add up to 1."""

    variants: Annotated[list[Variant], msgspec.Meta(min_length=2, max_length=10)]
    metric: Metric = "click"
    routes: Annotated[list[Route], msgspec.Meta(min_length=1)] = msgspec.field(
        default_factory=lambda: ["recommendations"]
    )


class Experiment(msgspec.Struct, omit_defaults=True):
    """A stored experiment; ``status`` is running or stopped, ``promoted`` the variant whose
    model the served campaign was pointed at."""

    name: str
    variants: list[Variant]
    metric: str
    routes: list[str]
    status: str
    created_at: float
    stopped_at: float | None = None
    promoted: str | None = None

    @property
    def control(self) -> Variant:
        named = [v for v in self.variants if v.name == "control"]
        return named[0] if named else self.variants[0]

    def variant(self, name: str) -> Variant | None:
        return next((v for v in self.variants if v.name == name), None)


def check_spec(spec: ExperimentSpec) -> None:
    """What the Struct cannot say: distinct names, shares adding up to 1."""
    names = [v.name for v in spec.variants]
    if len(set(names)) != len(names):
        raise ValidationError("variants", "variant names must be distinct")
    total = sum(v.share for v in spec.variants)
    if abs(total - 1.0) > SHARE_TOLERANCE:
        raise ValidationError("variants", f"shares must add up to 1, got {total:g}")
    if len(set(spec.routes)) != len(spec.routes):
        raise ValidationError("routes", "a route is listed twice")


def bucket(experiment: str, key: str) -> float:
    """A fraction in [0, 1) fixed by (experiment, key)."""
    digest = hashlib.sha256(f"{experiment}\0{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def assign(experiment: Experiment, key: str) -> Variant:
    """The variant of the user (or session) ``key``: deterministic and sticky."""
    point = bucket(experiment.name, key)
    edge = 0.0
    for variant in experiment.variants:
        edge += variant.share
        if point < edge:
            return variant
    return experiment.variants[-1]  # shares summing to 1 - 1e-7: the rounding gap
