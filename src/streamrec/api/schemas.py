"""Every request and response body of the HTTP API, defined once as msgspec Structs.

The OpenAPI document's schemas are generated from these Structs (see ``streamrec.api.openapi``), and
request bodies are checked against them before a route reads them (:func:`decode_body`), so the
document and the validation cannot drift. The limits are the constants of the modules that own the
data (``streamrec.events``, ``streamrec.catalogue``). Rules JSON Schema cannot state are checked
after the Struct by the domain validators and answered with a 400 naming the field: a timestamp
relative to the clock (at most 5 minutes ahead, milliseconds refused with a hint), the encoded size
of ``properties``, and the filter grammar (a query parameter).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, TypeVar

import msgspec

from streamrec.catalogue.base import (
    MAX_CATEGORIES,
    MAX_ITEMS_PER_REQUEST,
    MAX_TITLE_LENGTH,
)
from streamrec.errors import ValidationError
from streamrec.events import (
    MAX_EVENT_TYPE_LENGTH,
    MAX_EVENTS_PER_REQUEST,
    MAX_ID_LENGTH,
    MAX_IMPRESSION_ITEMS,
    MILLISECONDS_THRESHOLD,
)
from streamrec.experiments.definition import Experiment, ExperimentSpec
from streamrec.experiments.results import ExperimentResults
from streamrec.models.layout import NAME_PATTERN as VERSION_PATTERN
from streamrec.recommenders.registry import RECIPES

MAX_RANK_ITEMS = 500

Id = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_ID_LENGTH)]
EventType = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_EVENT_TYPE_LENGTH)]
FiniteNumber = Annotated[float, msgspec.Meta(ge=-1e300, le=1e300)]
EpochSeconds = Annotated[float, msgspec.Meta(ge=0, le=MILLISECONDS_THRESHOLD)]
Scalar = str | FiniteNumber | bool | None
Flat = dict[str, Scalar]


class _Body(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    pass


class EventIn(_Body):
    """One interaction. ``timestamp``: epoch seconds or ISO-8601 text (no zone = UTC), at most
    5 minutes in the future; default: the time of receipt. ``properties``: at most 4 KB as JSON."""

    user_id: Id
    item_id: Id
    event_id: Id | None = None
    event_type: EventType | None = None
    event_value: FiniteNumber | None = None
    session_id: Id | None = None
    timestamp: EpochSeconds | str | None = None
    properties: Flat | None = None
    impression: Annotated[list[Id], msgspec.Meta(max_length=MAX_IMPRESSION_ITEMS)] | None = None
    recommendation_id: Id | None = None


class EventBatch(_Body):
    events: Annotated[list[EventIn], msgspec.Meta(min_length=1, max_length=MAX_EVENTS_PER_REQUEST)]


class RejectedEvent(msgspec.Struct):
    """``field`` names what was wrong, as a single event's 400 does; ``error`` starts with it."""

    index: int
    field: str
    error: str


class EventsAccepted(msgspec.Struct, omit_defaults=True):
    """``event_id`` is given for a single event."""

    accepted: int
    rejected: list[RejectedEvent]
    event_id: str | None = None


# An id a client may send as a JSON integer: taken as its text (streamrec.events.id_text, which
# checks the text's length), as POST /v1/events takes integer ids.
IdOrInteger = Id | int


class AliasIn(_Body):
    """The anonymous id (tracker.js's, before sign-in) that is the user of the URL from now on;
    an integer is taken as its text."""

    anonymous_id: IdOrInteger


class AliasAccepted(msgspec.Struct):
    """The alias is durable in the stream; ``event_id`` is its stream event's."""

    user_id: str
    anonymous_id: str
    event_id: str


class Interaction(_Body):
    """The AWS sample's interaction (API Gateway -> Kinesis PutRecord); integer ids are taken as
    their text."""

    userId: IdOrInteger
    itemId: IdOrInteger
    type: EventType | None = None
    sessionId: IdOrInteger | None = None
    time: EpochSeconds | str | None = None


class ItemIn(_Body):
    """An item of the catalogue; in ``PUT /v1/items/{item_id}`` the URL names it."""

    item_id: Id | None = None
    title: Annotated[str, msgspec.Meta(max_length=MAX_TITLE_LENGTH)] | None = None
    categories: Annotated[list[Id], msgspec.Meta(max_length=MAX_CATEGORIES)] | None = None
    properties: Flat | None = None
    created_at: FiniteNumber | str | None = None
    hidden: bool | None = None


class ItemWithId(ItemIn):
    item_id: Id


class ItemBatch(_Body):
    items: Annotated[list[ItemWithId], msgspec.Meta(min_length=1, max_length=MAX_ITEMS_PER_REQUEST)]


ItemList = Annotated[list[ItemWithId], msgspec.Meta(min_length=1, max_length=MAX_ITEMS_PER_REQUEST)]


class RankRequest(_Body):
    """The items to re-order for the user; integer ids are taken as their text."""

    user_id: IdOrInteger
    item_ids: Annotated[list[IdOrInteger], msgspec.Meta(min_length=1, max_length=MAX_RANK_ITEMS)]
    session_id: IdOrInteger | None = None


RecipeName = Annotated[
    str,
    msgspec.Meta(
        pattern="^(" + "|".join(re.escape(n) for n in sorted([*RECIPES, "default"])) + ")$"
    ),
]


class TrainRequest(_Body):
    recipe: RecipeName | None = None
    activate: bool | None = None


class CampaignUpdate(_Body):
    version: Annotated[str, msgspec.Meta(pattern=VERSION_PATTERN)]


FilterParam = str | FiniteNumber | bool | list[str | FiniteNumber | bool]


class PromotionIn(_Body):
    """A promotion: ``share`` of the slots (0-1) for the user's best items passing ``filter`` (a
    filter expression, as the ``filter`` parameter) with ``params`` bound to its ``$NAMES``."""

    filter: Annotated[str, msgspec.Meta(min_length=1, max_length=4096)]
    share: Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]
    params: dict[str, FilterParam] | None = None


class PromotionOut(msgspec.Struct):
    name: str
    filter: str
    share: float
    params: dict[str, FilterParam]


class PromotionList(msgspec.Struct):
    promotions: list[PromotionOut]


class ErrorBody(msgspec.Struct, omit_defaults=True):
    """Every 4xx and 5xx answer: what was wrong and, where one field was, its name."""

    error: str
    field: str | None = None


class ModelRef(msgspec.Struct):
    """Which recipe and model version answered (version null for the stream's counts)."""

    recipe: str
    version: str | None


ReasonType = Literal[
    "because_you", "repeat", "similar_to", "popular", "trending", "exploration", "promoted"
]


class ItemReason(msgspec.Struct, omit_defaults=True):
    """Why the item is there. ``because_you`` and ``repeat``: ``item_id`` and ``event_type`` of
    the user's own event that contributed most (for ``repeat``, on the item itself);
    ``similar_to``: the item asked about; ``promoted``: the ``promotion`` whose slot it fills;
    ``popular``, ``trending``, ``exploration``: no user event ranked it."""

    type: ReasonType
    item_id: str | None = None
    event_type: str | None = None
    promotion: str | None = None


class RecommendedItem(msgspec.Struct):
    """One recommended item with its catalogue metadata where the catalogue has it; ``reason``
    on the user's recommendations, similar items, popular and trending; ``promoted`` (true) on
    a promotion's items."""

    item_id: str
    score: float | None
    categories: list[str] | None = None
    title: str | None = None
    properties: Flat | None = None
    created_at: float | None = None
    reason: ItemReason | None = None
    promoted: bool | None = None


class UserRecommendations(msgspec.Struct):
    """A user's recommendations; send ``recommendation_id`` back with the events they cause.
    Under a running experiment, ``experiment`` and ``variant`` name the arm the user is in."""

    user_id: str
    recommendation_id: str
    model: ModelRef
    items: list[RecommendedItem]
    experiment: str | None = None
    variant: str | None = None


class ItemRecommendations(msgspec.Struct):
    """Items for an item (bought together, also viewed): the item asked about and the answer."""

    item_id: str
    model: ModelRef
    items: list[RecommendedItem]
    recommendation_id: str | None = None


class PopularItems(msgspec.Struct):
    """Popular items: by decayed popularity, or counted in a window per event type."""

    model: ModelRef
    items: list[RecommendedItem]


class AttributionFigures(msgspec.Struct):
    """One interval of one campaign: ``start`` is epoch seconds; ``ctr`` is clicks per item
    shown (null when none was shown); ``conversions`` has every conversion event type."""

    start: float
    campaign: str
    recommendations: int
    items_shown: int
    clicks: int
    conversions: dict[str, int]
    revenue: float
    ctr: float | None


class AttributionReport(msgspec.Struct):
    """``from`` / ``to`` (exclusive) in epoch seconds; intervals with data, oldest first."""

    from_: float = msgspec.field(name="from")
    to: float
    interval_s: int
    conversion_types: list[str]
    intervals: list[AttributionFigures]


class StopRequest(_Body):
    """An optional empty object: stopping takes no options."""


class PromoteRequest(_Body):
    variant: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class ExperimentList(msgspec.Struct):
    experiments: list[Experiment]


class ExperimentWithResults(Experiment):
    """The experiment and its results (``experiments.results``), null before any user."""

    results: ExperimentResults | None = None


T = TypeVar("T")


def field_of(error: msgspec.ValidationError) -> tuple[str, str]:
    """(field, message) from msgspec's "Object missing required field `x` - at `$.items[3]`"."""
    message, _, path = str(error).partition(" - at `$")
    field = path.rstrip("`").lstrip(".")
    missing = _MISSING.match(message) or _UNKNOWN.match(message)
    if missing:
        field = f"{field}.{missing[1]}" if field else missing[1]
        message = "is required" if message.startswith("Object missing") else "is not a known field"
    return field or "body", in_words(message)


_MISSING = re.compile(r"Object missing required field `(.*)`$")
_UNKNOWN = re.compile(r"Object contains unknown field `(.*)`$")
_WRONG_TYPE = re.compile(r"Expected `([^`]+)`, got `([^`]+)`$")
_LENGTH = re.compile(r"Expected `(str|array|object)` of length (>=|<=) (\d+)$")
_BOUND = re.compile(r"Expected `(?:int|float)` (>=|<=|>|<) (\S+)$")
_TYPE_WORDS = {
    "str": "text",
    "int": "a whole number",
    "float": "a number",
    "bool": "true or false",
    "array": "a list",
    "object": "an object",
    "null": "null",
}
_LENGTH_WORDS = {"str": ("text of", "characters"), "array": ("a list of", "entries"),
                 "object": ("an object of", "fields")}  # fmt: skip
_BOUND_WORDS = {">=": "at least", "<=": "at most", ">": "more than", "<": "less than"}


def in_words(message: str) -> str:
    """msgspec's "Expected `int | str`, got `float`" as the project's messages say it ("must be
    a whole number or text, got a number"); other messages as they are."""
    if wrong := _WRONG_TYPE.match(message):
        return f"must be {_types(wrong[1])}, got {_types(wrong[2])}"
    if length := _LENGTH.match(message):
        kind, unit = _LENGTH_WORDS[length[1]]
        limit = "at least" if length[2] == ">=" else "at most"
        return f"must be {kind} {limit} {length[3]} {unit}"
    if bound := _BOUND.match(message):
        return f"must be {_BOUND_WORDS[bound[1]]} {bound[2]}"
    return message


def _types(names: str) -> str:
    return " or ".join(_TYPE_WORDS.get(name, name) for name in names.split(" | "))


def decode_body(raw: Any, body_type: type[T]) -> T:
    """Check a parsed JSON body against its Struct; a mismatch is a 400 naming the field."""
    try:
        return msgspec.convert(raw, body_type)
    except msgspec.ValidationError as exc:
        raise ValidationError(*field_of(exc)) from exc


def check_body(raw: Any, body_type: type[Any]) -> None:
    """Check `raw` against a Struct after a domain validator accepted it (items, interactions):
    the body must also fit what the OpenAPI document declares."""
    decode_body(raw, body_type)


REQUEST_BODIES: dict[str, Any] = {
    "EventIn": EventIn,
    "EventBatch": EventBatch,
    "AliasIn": AliasIn,
    "Interaction": Interaction,
    "ItemIn": ItemIn,
    "ItemBatch": ItemBatch,
    "ItemList": ItemList,
    "RankRequest": RankRequest,
    "TrainRequest": TrainRequest,
    "CampaignUpdate": CampaignUpdate,
    "PromotionIn": PromotionIn,
    "ExperimentSpec": ExperimentSpec,
    "PromoteRequest": PromoteRequest,
    "StopRequest": StopRequest,
}
RESPONSE_BODIES: dict[str, Any] = {
    "ErrorBody": ErrorBody,
    "EventsAccepted": EventsAccepted,
    "AliasAccepted": AliasAccepted,
    "ItemRecommendations": ItemRecommendations,
    "PopularItems": PopularItems,
    "UserRecommendations": UserRecommendations,
    "PromotionOut": PromotionOut,
    "PromotionList": PromotionList,
    "AttributionReport": AttributionReport,
    "Experiment": Experiment,
    "ExperimentList": ExperimentList,
    "ExperimentWithResults": ExperimentWithResults,
}
