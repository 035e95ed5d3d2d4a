"""The filter language's parser: every construct, and errors that name their position."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamrec.errors import ValidationError
from streamrec.filters import bind, compile_filter, parse_filter
from streamrec.filters.parser import MAX_FILTER_NESTING, And, Condition, Not, Or, Param


def only_condition(text: str) -> Condition:
    expr = parse_filter(text).statements[0].expr
    assert isinstance(expr, Condition)
    return expr


def test_personalize_examples() -> None:
    cond = only_condition('EXCLUDE ItemID WHERE Interactions.event_type IN ("purchase")')
    assert (cond.source, cond.field, cond.op, cond.values) == (
        "interactions",
        "event_type",
        "in",
        ("purchase",),
    )
    filt = parse_filter('INCLUDE ItemID WHERE Items.categories IN ("Comedy", "Drama")')
    assert filt.statements[0].action == "include"


@pytest.mark.parametrize(
    ("text", "op", "values"),
    [
        ("Items.price < 10", "<", (10.0,)),
        ("Items.price <= 1.5", "<=", (1.5,)),
        ("Items.price > -3", ">", (-3.0,)),
        ("Items.price >= 2e3", ">=", (2000.0,)),
        ("Items.brand = 'acme'", "=", ("acme",)),
        ('Items.brand != "a\\"b"', "!=", ('a"b',)),
        ("Items.in_stock = true", "=", (True,)),
        ("Items.in_stock = FALSE", "=", (False,)),
        ('Items.categories NOT IN ("x")', "not in", ("x",)),
    ],
)
def test_comparisons(text: str, op: str, values: tuple[object, ...]) -> None:
    cond = only_condition(f"include itemid where {text}")
    assert (cond.op, cond.values) == (op, values)


def test_precedence_and_grouping() -> None:
    expr = (
        parse_filter("INCLUDE ItemID WHERE Items.a = 1 OR Items.b = 2 AND NOT Items.c = 3")
        .statements[0]
        .expr
    )
    assert isinstance(expr, Or) and isinstance(expr.parts[1], And)
    assert isinstance(expr.parts[1].parts[1], Not)
    grouped = parse_filter("INCLUDE ItemID WHERE (Items.a = 1 OR Items.b = 2) AND Items.c = 3")
    assert isinstance(grouped.statements[0].expr, And)


def test_statements_joined_by_pipe() -> None:
    filt = parse_filter('EXCLUDE ItemID WHERE Items.a = 1 | INCLUDE ItemID WHERE Items.b IN ("x")')
    assert [s.action for s in filt.statements] == ["exclude", "include"]


def test_params_are_bound_and_lists_expand() -> None:
    cond = only_condition("INCLUDE ItemID WHERE Items.categories IN ($GENRES, 'Extra')")
    assert cond.values == (Param("GENRES", 42), "Extra")
    bound = (
        compile_filter(
            "INCLUDE ItemID WHERE Items.categories IN ($GENRES, 'Extra')",
            {"GENRES": ["Comedy", "Drama"]},
        )
        .statements[0]
        .expr
    )
    assert isinstance(bound, Condition)
    assert bound.values == ("Comedy", "Drama", "Extra")


def test_unbound_param_names_it() -> None:
    with pytest.raises(ValidationError) as err:
        compile_filter("INCLUDE ItemID WHERE Items.price < $MAX")
    assert err.value.field == "filter_params" and "$MAX" in err.value.message


def test_comparison_with_a_list_param_is_refused() -> None:
    filt = parse_filter("INCLUDE ItemID WHERE Items.price < $MAX")
    with pytest.raises(ValidationError, match="one value"):
        bind(filt, {"MAX": [1.0, 2.0]})


@pytest.mark.parametrize(
    ("text", "position", "fragment"),
    [
        ("", 0, "INCLUDE or EXCLUDE"),
        ("KEEP ItemID WHERE Items.a = 1", 0, "INCLUDE or EXCLUDE"),
        ("INCLUDE Items WHERE Items.a = 1", 8, "ItemID"),
        ("INCLUDE ItemID Items.a = 1", 15, "WHERE"),
        ("INCLUDE ItemID WHERE a = 1", 21, "a field"),
        ("INCLUDE ItemID WHERE Users.a = 1", 21, "unknown dataset"),
        ("INCLUDE ItemID WHERE Items.a LIKE 1", 29, "IN, NOT IN or a comparison"),
        ("INCLUDE ItemID WHERE Items.a IN 'x'", 32, "'('"),
        ("INCLUDE ItemID WHERE Items.a IN ('x'", 36, "')'"),
        ("INCLUDE ItemID WHERE Items.a IN ('x',)", 37, "a value"),
        ("INCLUDE ItemID WHERE Items.a = 'x", 31, "unterminated string"),
        ("INCLUDE ItemID WHERE Items.a = 1 Items.b = 2", 33, "AND, OR"),
        ("INCLUDE ItemID WHERE Items.a = 1 AND", 36, "a field"),
        ("INCLUDE ItemID WHERE Items.a = #", 31, "unexpected character"),
        ("INCLUDE ItemID WHERE Items.a NOT = 1", 33, "IN"),
        ("INCLUDE ItemID WHERE (Items.a = 1", 33, "')'"),
    ],
)
def test_errors_name_the_position(text: str, position: int, fragment: str) -> None:
    with pytest.raises(ValidationError) as err:
        parse_filter(text)
    assert err.value.field == "filter"
    assert err.value.message.startswith(f"position {position}:")
    assert fragment in err.value.message


def nested(prefix: str, depth: int) -> str:
    """A filter whose condition sits inside ``depth`` levels of NOT / parentheses."""
    inner = 'Items.genre IN ("x")'
    if prefix == "NOT":
        return "INCLUDE ItemID WHERE " + "NOT " * depth + inner
    return "INCLUDE ItemID WHERE " + "(" * depth + inner + ")" * depth


@pytest.mark.parametrize("prefix", ["NOT", "("])
def test_nesting_up_to_the_limit_parses(prefix: str) -> None:
    expr = parse_filter(nested(prefix, MAX_FILTER_NESTING)).statements[0].expr
    assert isinstance(expr, Not if prefix == "NOT" else Condition)


@pytest.mark.parametrize(("prefix", "step"), [("NOT", 4), ("(", 1)])
def test_nesting_past_the_limit_is_refused_at_its_position(prefix: str, step: int) -> None:
    with pytest.raises(ValidationError) as err:
        parse_filter(nested(prefix, MAX_FILTER_NESTING + 1))
    position = len("INCLUDE ItemID WHERE ") + step * MAX_FILTER_NESTING
    assert err.value.message.startswith(f"position {position}: nested deeper than")


@pytest.mark.parametrize("text", [nested("(", 1500), nested("NOT", 1000)[:4096]])
def test_a_deeply_nested_filter_is_a_validation_error_not_an_overflow(text: str) -> None:
    with pytest.raises(ValidationError, match=f"deeper than {MAX_FILTER_NESTING}"):
        parse_filter(text)


# -- properties ------------------------------------------------------------------------------

names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True).filter(
    lambda s: s.upper() not in {"IN", "NOT", "AND", "OR", "TRUE", "FALSE"}
)
texts = st.text(st.characters(codec="utf-8", exclude_characters="\\"), max_size=10)
values = st.one_of(
    texts.map(lambda s: '"' + s.replace('"', '\\"') + '"'),
    st.integers(-1000, 1000).map(str),
    names.map(lambda n: "$" + n),
)


@st.composite
def conditions(draw: st.DrawFn) -> str:
    source = draw(st.sampled_from(["Items", "Interactions", "items"]))
    field = draw(names)
    if draw(st.booleans()):
        items = draw(st.lists(values, min_size=1, max_size=4))
        neg = "NOT " if draw(st.booleans()) else ""
        return f"{source}.{field} {neg}IN ({', '.join(items)})"
    return f"{source}.{field} {draw(st.sampled_from(['=', '!=', '<', '<=', '>', '>=']))} {draw(values)}"


@st.composite
def filters(draw: st.DrawFn) -> tuple[str, int]:
    conds = draw(st.lists(conditions(), min_size=1, max_size=5))
    joined = conds[0]
    for cond in conds[1:]:
        joined = f"{joined} {draw(st.sampled_from(['AND', 'OR']))} {cond}"
    action = draw(st.sampled_from(["INCLUDE", "EXCLUDE", "include"]))
    return f"{action} ItemID WHERE {joined}", len(conds)


def count_conditions(expr: object) -> int:
    if isinstance(expr, Condition):
        return 1
    if isinstance(expr, Not):
        return count_conditions(expr.part)
    assert isinstance(expr, And | Or)
    return sum(count_conditions(p) for p in expr.parts)


@settings(max_examples=200, deadline=None)
@given(filters())
def test_every_generated_filter_parses_with_all_its_conditions(case: tuple[str, int]) -> None:
    text, n = case
    filt = parse_filter(text)
    assert count_conditions(filt.statements[0].expr) == n


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_any_text_parses_or_fails_with_a_position_inside_it(text: str) -> None:
    try:
        parse_filter(text)
    except ValidationError as exc:
        assert exc.field == "filter"
        position = int(exc.message.split(":")[0].removeprefix("position "))
        assert 0 <= position <= len(text)
