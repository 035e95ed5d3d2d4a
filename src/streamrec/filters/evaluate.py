"""Binding ``$PARAM`` values and evaluating a filter to a mask of allowed items.

Semantics:

- ``Items.<field>`` tests the catalogue: ``categories`` matches when any of the item's categories
  is listed; ``item_id``, ``title``, ``created_at`` and every property compare with ``=``/``IN``,
  and numerically with ``<``, ``<=``, ``>``, ``>=``. An item without the field never matches a
  positive test, so ``!=`` and ``NOT IN`` (the negations) match it.
- ``Interactions.<field>`` (``event_type``, ``event_value``, ``timestamp``, ``item_id``) selects
  the items the user has an event for that passes the test: ``EXCLUDE ItemID WHERE
  Interactions.event_type IN ("purchase")`` drops what the user bought. ``NOT IN`` here means "an
  event whose type is not listed", still among the user's items.
- ``INCLUDE`` keeps only matching items, ``EXCLUDE`` drops them; statements joined by ``|`` all
  apply. Hidden items are never recommended whatever the filter says.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from streamrec.errors import ValidationError
from streamrec.filters.index import ItemIndex, lookup_keys
from streamrec.filters.parser import And, Condition, Expr, Filter, Not, Or, Param, Scalar, Statement

__all__ = ["FilterContext", "UserInteractions", "allowed_items", "bind", "uses_interactions"]

ParamValue = Scalar | Sequence[Scalar]
_ORDER_OPS: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {
    "<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal,
}  # fmt: skip


@dataclasses.dataclass(frozen=True)
class UserInteractions:
    """The user's recent events, items as serving-space indices (-1: unknown to the space)."""

    items: np.ndarray  # int64
    event_types: np.ndarray  # object (str)
    values: np.ndarray  # float64, NaN when the event has no value
    timestamps: np.ndarray  # float64

    @classmethod
    def empty(cls) -> UserInteractions:
        return cls(np.zeros(0, np.int64), np.zeros(0, object), np.zeros(0), np.zeros(0))


@dataclasses.dataclass(frozen=True)
class FilterContext:
    index: ItemIndex
    size: int  # the serving space's size now (may exceed index.size: items newer than the index)
    indices_of: Callable[[Sequence[str]], np.ndarray]  # item ids -> space indices (-1 unknown)
    interactions: UserInteractions


# -- binding ----------------------------------------------------------------------------------


def _bind_values(cond: Condition, params: Mapping[str, ParamValue]) -> Condition:
    values: list[Any] = []
    for value in cond.values:
        if not isinstance(value, Param):
            values.append(value)
            continue
        if value.name not in params:
            raise ValidationError(
                "filter_params", f"${value.name} (filter position {value.position}) has no value"
            )
        bound = params[value.name]
        values.extend(bound if isinstance(bound, list | tuple) else [bound])
    if not values:
        raise ValidationError("filter_params", f"position {cond.position}: an empty list of values")
    if cond.op not in ("in", "not in") and len(values) != 1:
        raise ValidationError(
            "filter_params", f"position {cond.position}: {cond.op} compares with one value"
        )
    return dataclasses.replace(cond, values=tuple(values))


def _bind_expr(expr: Expr, params: Mapping[str, ParamValue]) -> Expr:
    if isinstance(expr, Condition):
        return _bind_values(expr, params)
    if isinstance(expr, Not):
        return Not(_bind_expr(expr.part, params))
    parts = tuple(_bind_expr(p, params) for p in expr.parts)
    return And(parts) if isinstance(expr, And) else Or(parts)


def bind(filt: Filter, params: Mapping[str, ParamValue]) -> Filter:
    """The filter with every ``$NAME`` replaced by ``params[NAME]`` (a list expands inside IN)."""
    statements = tuple(Statement(s.action, _bind_expr(s.expr, params)) for s in filt.statements)
    return Filter(filt.text, statements)


def uses_interactions(expr: Expr) -> bool:
    if isinstance(expr, Condition):
        return expr.source == "interactions"
    if isinstance(expr, Not):
        return uses_interactions(expr.part)
    return any(uses_interactions(p) for p in expr.parts)


# -- evaluation -------------------------------------------------------------------------------


def _number(cond: Condition) -> float:
    value = cond.values[0]
    try:
        number = float(value) if not isinstance(value, bool | Param) else math.nan
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise ValidationError(
            "filter", f"position {cond.position}: {cond.op} needs a number, got {value!r}"
        )
    return number


def _items_positive(cond: Condition, ctx: FilterContext, name: str) -> np.ndarray:
    """Mask of items for which the (un-negated) test holds."""
    index, size = ctx.index, ctx.size
    if cond.op in _ORDER_OPS:
        column = index.number_column(name, size)
        with np.errstate(invalid="ignore"):
            return np.asarray(_ORDER_OPS[cond.op](column, _number(cond)) & ~np.isnan(column))
    if name == "item_id":
        idx = ctx.indices_of([str(v) for v in cond.values]).astype(np.int64)
        return index.mask_of([idx[idx >= 0]], size)
    if name == "categories":
        lists = [index.categories[str(v)] for v in cond.values if str(v) in index.categories]
        return index.mask_of(lists, size)
    table = index.lookups.get(name, {})
    keys = [k for v in cond.values for k in lookup_keys(v)]
    return index.mask_of([table[k] for k in keys if k in table], size)


def _items_condition(cond: Condition, ctx: FilterContext) -> np.ndarray:
    name = ctx.index.resolve(cond.field)
    positive = _items_positive(cond, ctx, name)
    return ~positive if cond.op in ("!=", "not in") else positive


def _event_test(cond: Condition, ctx: FilterContext) -> np.ndarray:
    """Per event of the user: does it pass the test?"""
    rows = ctx.interactions
    name = cond.field.lower()
    columns = {"event_value": rows.values, "timestamp": rows.timestamps}
    if name in columns:
        column = columns[name]
        if cond.op in _ORDER_OPS:
            with np.errstate(invalid="ignore"):
                return np.asarray(_ORDER_OPS[cond.op](column, _number(cond)))
        hit = np.isin(column, [k[1] for v in cond.values for k in lookup_keys(v) if k[0] == "n"])
    elif name in ("event_type", "item_id"):
        if cond.op in _ORDER_OPS:
            raise ValidationError(
                "filter", f"position {cond.position}: Interactions.{cond.field} takes =, != or IN"
            )
        if name == "event_type":
            hit = np.isin(rows.event_types, [str(v) for v in cond.values])
        else:
            hit = np.isin(rows.items, ctx.indices_of([str(v) for v in cond.values]))
    else:
        raise ValidationError(
            "filter",
            f"position {cond.position}: unknown field Interactions.{cond.field}; one of "
            "event_type, event_value, timestamp, item_id",
        )
    return ~hit if cond.op in ("!=", "not in") else hit


def _interactions_condition(cond: Condition, ctx: FilterContext) -> np.ndarray:
    rows = ctx.interactions
    mask = np.zeros(ctx.size, dtype=bool)
    passed = _event_test(cond, ctx)  # checks the field and operator even for a user with no events
    mask[rows.items[passed & (rows.items >= 0) & (rows.items < ctx.size)]] = True
    return mask


def evaluate(expr: Expr, ctx: FilterContext) -> np.ndarray:
    """Mask (length ``ctx.size``) of the items the expression selects."""
    if isinstance(expr, Condition):
        if expr.source == "items":
            return _items_condition(expr, ctx)
        return _interactions_condition(expr, ctx)
    if isinstance(expr, Not):
        return ~evaluate(expr.part, ctx)
    masks = [evaluate(p, ctx) for p in expr.parts]
    combine = np.logical_and if isinstance(expr, And) else np.logical_or
    out = masks[0].copy()
    for mask in masks[1:]:
        combine(out, mask, out=out)
    return out


def allowed_items(filt: Filter, ctx: FilterContext) -> np.ndarray:
    """Mask of items the (bound) filter lets through: INCLUDEs intersect, EXCLUDEs subtract."""
    allowed = np.ones(ctx.size, dtype=bool)
    for statement in filt.statements:
        selected = evaluate(statement.expr, ctx)
        if statement.action == "include":
            allowed &= selected
        else:
            allowed &= ~selected
    return allowed
