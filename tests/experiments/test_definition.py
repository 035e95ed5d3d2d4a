"""Deterministic, sticky assignment that follows the shares."""

from __future__ import annotations

from collections import Counter

from streamrec.experiments.definition import Experiment, Variant, assign


def experiment(name: str, shares: tuple[float, ...]) -> Experiment:
    variants = [Variant(f"v{i}", f"c{i}", s) for i, s in enumerate(shares)]
    return Experiment(name, variants, "click", ["recommendations"], "running", 0.0)


def test_assignment_follows_the_shares_and_is_stable() -> None:
    exp = experiment("e", (0.2, 0.8))
    counts = Counter(assign(exp, f"user{k}").name for k in range(20_000))
    assert abs(counts["v0"] / 20_000 - 0.2) < 0.01
    again = experiment("e", (0.2, 0.8))  # another process builds its own copy
    assert all(assign(exp, f"user{k}") == assign(again, f"user{k}") for k in range(500))


def test_experiments_split_users_independently() -> None:
    first, second = experiment("first", (0.5, 0.5)), experiment("second", (0.5, 0.5))
    same = sum(assign(first, f"u{k}").name == assign(second, f"u{k}").name for k in range(4000))
    assert 1800 < same < 2200  # about half: the two splits are unrelated


def test_control_is_named_control_else_first() -> None:
    exp = experiment("e", (0.5, 0.5))
    assert exp.control.name == "v0"
    named = Experiment(
        "e",
        [Variant("b", "x", 0.5), Variant("control", "y", 0.5)],
        "click",
        ["rank"],
        "running",
        0.0,
    )
    assert named.control.name == "control"
