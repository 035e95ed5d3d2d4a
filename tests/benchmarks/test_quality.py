"""The quality benchmark's own logic: which runs it makes and how it words the comparison."""

from __future__ import annotations

from benchmarks.quality import comparison, markdown_table, recipe_labels, selected

from streamrec.recommenders.registry import RECIPES
from streamrec.training.intervals import Interval
from streamrec.training.served import ServedResult


def result(recipe: str, ndcg: tuple[float, float, float], error: str | None = None) -> ServedResult:
    served = {"hr@10": Interval(0.5, 0.4, 0.6), "ndcg@10": Interval(*ndcg)}
    return ServedResult(recipe, "next-event", 100, served, {}, 1.5, 0.1, "v1", {}, error)


def test_all_recipes_include_the_baselines_and_the_tuned_singles() -> None:
    labels = recipe_labels("all")
    assert labels[0] == "hybrid"
    assert set(RECIPES) <= set(labels)
    assert {"recent-distinct", "recent-cooc", "ease:tuned", "als:tuned"} <= set(labels)
    assert len(labels) == len(set(labels))
    assert recipe_labels("ease, als:tuned") == ["ease", "als:tuned"]


def test_selection_by_dataset_and_protocol() -> None:
    assert len(selected([])) == 8  # four datasets, two protocols
    assert selected(["otto-sample:next-event"]) == [("otto-sample", "otto", "next-event")]
    assert [p for _, _, p in selected(["diginetica"])] == ["leave-last-out", "next-event"]


def test_comparison_names_the_best_other_recipe_and_the_overlap() -> None:
    rows = [
        result("hybrid", (0.30, 0.28, 0.32)),
        result("recent-cooc", (0.40, 0.37, 0.43)),
        result("recent-distinct", (0.31, 0.29, 0.33)),
        result("ease", (0.0, 0.0, 0.0), error="too big"),
    ]
    text = comparison(rows)
    assert "recent-cooc 0.4000" in text and "**loses**" in text and "do not overlap" in text
    rows[1] = result("recent-cooc", (0.29, 0.27, 0.31))
    text = comparison(rows)
    assert "recent-distinct 0.3100" in text and "**loses**" in text and "intervals overlap" in text
    assert comparison(rows[1:]) == ""  # no default measured: nothing to compare


def test_table_marks_the_default_and_refusals() -> None:
    table = markdown_table([result("hybrid", (0.3, 0.2, 0.4)), result("ease", (0, 0, 0), "no")])
    assert (
        "| hybrid (default) | 0.5000 [0.4000, 0.6000] | 0.3000 [0.2000, 0.4000] | - | 1.5 |"
        in table
    )
    assert "refused: no" in table
