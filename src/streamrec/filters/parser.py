"""The filter language: tokens, grammar and syntax tree (modelled on Amazon Personalize filters).

Grammar (keywords and the ``Items`` / ``Interactions`` prefixes are case-insensitive)::

    filter     := statement ( "|" statement )*
    statement  := ( "INCLUDE" | "EXCLUDE" ) "ItemID" "WHERE" or_expr
    or_expr    := and_expr ( "OR" and_expr )*
    and_expr   := unary ( "AND" unary )*
    unary      := "NOT" unary | "(" or_expr ")" | condition
    condition  := field ( "NOT"? "IN" "(" value ( "," value )* ")" | compare value )
    compare    := "=" | "!=" | "<" | "<=" | ">" | ">="
    field      := ( "Items" | "Interactions" ) "." NAME
    value      := STRING | NUMBER | "true" | "false" | "$" NAME

Strings are in double or single quotes (backslash escapes the quote); ``$NAME`` is a parameter
bound per request. A filter that does not parse raises ``ValidationError("filter", ...)`` whose
message starts with ``position N`` (0-based character offset into the filter text).

Nesting is limited: at most ``MAX_FILTER_NESTING`` levels of ``NOT`` and parentheses (together)
around any condition. A deeper filter is refused with the position of the first token past the
limit, so a hostile filter costs a 400, never a recursion overflow.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Literal

from streamrec.errors import ValidationError

__all__ = [
    "MAX_FILTER_LENGTH",
    "MAX_FILTER_NESTING",
    "And",
    "Condition",
    "Expr",
    "Filter",
    "Not",
    "Or",
    "Param",
    "Scalar",
    "Statement",
    "parse_filter",
]

MAX_FILTER_LENGTH = 4096
MAX_FILTER_NESTING = 32
Scalar = str | float | bool
Source = Literal["items", "interactions"]
Op = Literal["=", "!=", "<", "<=", ">", ">=", "in", "not in"]


@dataclasses.dataclass(frozen=True)
class Param:
    name: str
    position: int


Value = Scalar | Param


@dataclasses.dataclass(frozen=True)
class Condition:
    source: Source
    field: str
    op: Op
    values: tuple[Value, ...]
    position: int


@dataclasses.dataclass(frozen=True)
class And:
    parts: tuple[Expr, ...]


@dataclasses.dataclass(frozen=True)
class Or:
    parts: tuple[Expr, ...]


@dataclasses.dataclass(frozen=True)
class Not:
    part: Expr


Expr = Condition | And | Or | Not


@dataclasses.dataclass(frozen=True)
class Statement:
    action: Literal["include", "exclude"]
    expr: Expr


@dataclasses.dataclass(frozen=True)
class Filter:
    text: str
    statements: tuple[Statement, ...]


@dataclasses.dataclass(frozen=True)
class Token:
    kind: str  # word, string, number, param, op, "(", ")", ",", "|", end
    text: str
    position: int
    value: Scalar | None = None


_TOKEN = re.compile(
    r"""(?P<space>\s+)
    |(?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
    |(?P<number>-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
    |(?P<param>\$[A-Za-z_][A-Za-z0-9_]*)
    |(?P<word>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_\-]*)?)
    |(?P<op>!=|<=|>=|=|<|>)
    |(?P<punct>[(),|])""",
    re.VERBOSE,
)
_UNESCAPE = re.compile(r"\\(.)")


def syntax_error(position: int, message: str) -> ValidationError:
    return ValidationError("filter", f"position {position}: {message}")


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            if text[pos] in "\"'":
                raise syntax_error(pos, "unterminated string")
            raise syntax_error(pos, f"unexpected character {text[pos]!r}")
        kind = match.lastgroup or ""
        raw = match.group()
        if kind == "string":
            tokens.append(Token("string", raw, pos, _UNESCAPE.sub(r"\1", raw[1:-1])))
        elif kind == "number":
            tokens.append(Token("number", raw, pos, float(raw)))
        elif kind == "punct":
            tokens.append(Token(raw, raw, pos))
        elif kind != "space":
            tokens.append(Token(kind, raw, pos))
        pos = match.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


def _describe(token: Token) -> str:
    return "the end of the filter" if token.kind == "end" else repr(token.text)


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0

    @property
    def peek(self) -> Token:
        return self.tokens[self.i]

    def advance(self) -> Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def is_word(self, *words: str) -> bool:
        return self.peek.kind == "word" and self.peek.text.upper() in words

    def expect_word(self, word: str, display: str | None = None) -> Token:
        if not self.is_word(word.upper()):
            raise syntax_error(
                self.peek.position, f"expected {display or word}, got {_describe(self.peek)}"
            )
        return self.advance()

    def expect(self, kind: str) -> Token:
        if self.peek.kind != kind:
            raise syntax_error(self.peek.position, f"expected {kind!r}, got {_describe(self.peek)}")
        return self.advance()

    def filter(self, text: str) -> Filter:
        statements = [self.statement()]
        while self.peek.kind == "|":
            self.advance()
            statements.append(self.statement())
        if self.peek.kind != "end":
            raise syntax_error(
                self.peek.position, f"expected AND, OR, '|' or the end, got {_describe(self.peek)}"
            )
        return Filter(text, tuple(statements))

    def statement(self) -> Statement:
        if not self.is_word("INCLUDE", "EXCLUDE"):
            raise syntax_error(
                self.peek.position, f"expected INCLUDE or EXCLUDE, got {_describe(self.peek)}"
            )
        action = self.advance().text.lower()
        self.expect_word("ITEMID", "ItemID")
        self.expect_word("WHERE")
        return Statement("include" if action == "include" else "exclude", self.or_expr())

    def or_expr(self) -> Expr:
        parts = [self.and_expr()]
        while self.is_word("OR"):
            self.advance()
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def and_expr(self) -> Expr:
        parts = [self.unary()]
        while self.is_word("AND"):
            self.advance()
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def unary(self) -> Expr:
        if not (self.is_word("NOT") or self.peek.kind == "("):
            return self.condition()
        if self.depth >= MAX_FILTER_NESTING:
            raise syntax_error(
                self.peek.position,
                f"nested deeper than {MAX_FILTER_NESTING} levels of NOT and parentheses",
            )
        self.depth += 1
        try:
            return self.nested()
        finally:
            self.depth -= 1

    def nested(self) -> Expr:
        if self.advance().kind != "(":
            return Not(self.unary())
        inner = self.or_expr()
        self.expect(")")
        return inner

    def field(self) -> tuple[Source, str, int]:
        token = self.peek
        if token.kind != "word" or "." not in token.text:
            raise syntax_error(
                token.position,
                f"expected a field such as Items.categories or Interactions.event_type, "
                f"got {_describe(token)}",
            )
        prefix, _, name = token.text.partition(".")
        if prefix.lower() not in ("items", "interactions"):
            raise syntax_error(
                token.position, f"unknown dataset {prefix!r}: use Items or Interactions"
            )
        self.advance()
        source: Source = "items" if prefix.lower() == "items" else "interactions"
        return source, name, token.position

    def condition(self) -> Condition:
        source, name, position = self.field()
        if self.is_word("NOT"):
            self.advance()
            self.expect_word("IN")
            return Condition(source, name, "not in", self.value_list(), position)
        if self.is_word("IN"):
            self.advance()
            return Condition(source, name, "in", self.value_list(), position)
        if self.peek.kind != "op":
            raise syntax_error(
                self.peek.position,
                f"expected IN, NOT IN or a comparison (=, !=, <, <=, >, >=), got "
                f"{_describe(self.peek)}",
            )
        op = self.advance().text
        return Condition(source, name, op, (self.value(),), position)  # type: ignore[arg-type]

    def value_list(self) -> tuple[Value, ...]:
        self.expect("(")
        values = [self.value()]
        while self.peek.kind == ",":
            self.advance()
            values.append(self.value())
        self.expect(")")
        return tuple(values)

    def value(self) -> Value:
        token = self.peek
        if token.kind in ("string", "number") and token.value is not None:
            self.advance()
            return token.value
        if token.kind == "param":
            self.advance()
            return Param(token.text[1:], token.position)
        if self.is_word("TRUE", "FALSE"):
            self.advance()
            return token.text.upper() == "TRUE"
        raise syntax_error(
            token.position,
            f'expected a value ("text", a number or $PARAM), got {_describe(token)}',
        )


def parse_filter(text: str) -> Filter:
    """Parse a filter expression, or raise ValidationError naming the position of the error."""
    if len(text) > MAX_FILTER_LENGTH:
        raise ValidationError("filter", f"must be at most {MAX_FILTER_LENGTH} characters")
    return _Parser(text).filter(text)
