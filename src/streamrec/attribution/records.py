"""A served recommendation as a stream record: the reserved event type ``$recommendation``.

Each answer of a recommending route (user recommendations, similar items, rank, the AWS sample's
``GET /recommendation``) is appended to the event stream as one record, on the user's shard, so
it comes before that user's later events in the stream order every consumer group sees. Why the
stream rather than a second log: attribution is then a consumer group like the others (it
survives restarts and is exact after a replay), and the lake archives it without a second writer.

The record is an :class:`~streamrec.events.Event` with ``event_type = "$recommendation"``:

============== =============================================================================
field          meaning
============== =============================================================================
event_id       a fresh id (replays and retries are skipped by it)
user_id        the user asked about; "" for similar items, which name no user
session_id     the request's session, if any
item_id        the first item returned ("" for an empty answer)
impression     the items returned, in order (position = index + 1)
recommendation_id  the id the response carries
timestamp, received_at  when it was served
properties     route, campaign, recipe, model_version, and experiment / variant when assigned;
               ``anchor_item`` for similar items
============== =============================================================================

Clients cannot send this type (``streamrec.events`` refuses it); consumer groups other than
the lake and attribution never see it (the runner drops it, see
:class:`~streamrec.consumers.runner.ConsumerRunner`).
"""

from __future__ import annotations

import dataclasses
import time

from streamrec.events import RECOMMENDATION_EVENT_TYPE, Event, PropertyValue, new_event_id

__all__ = ["RECOMMENDATION_EVENT_TYPE", "Served", "is_recommendation", "served_event"]


@dataclasses.dataclass(frozen=True)
class Served:
    """One recommendation response, as attribution reads it back from the stream."""

    recommendation_id: str
    route: str
    campaign: str
    user_id: str
    session_id: str | None
    items: list[str]
    served_at: float
    model_version: str | None = None
    recipe: str | None = None
    experiment: str | None = None
    variant: str | None = None

    def user_keys(self) -> list[str]:
        """The keys an event of the same user (or session) is looked up by."""
        keys = [f"user:{self.user_id}"] if self.user_id else []
        return keys + ([f"session:{self.session_id}"] if self.session_id else [])


def is_recommendation(event: Event) -> bool:
    return event.event_type == RECOMMENDATION_EVENT_TYPE


def served_event(served: Served, anchor_item: str | None = None, now: float | None = None) -> Event:
    """The stream record of ``served``."""
    when = time.time() if now is None else now
    properties: dict[str, PropertyValue] = {"route": served.route, "campaign": served.campaign}
    optional = {
        "recipe": served.recipe,
        "model_version": served.model_version,
        "experiment": served.experiment,
        "variant": served.variant,
        "anchor_item": anchor_item,
    }
    properties.update({k: v for k, v in optional.items() if v is not None})
    return Event(
        event_id=new_event_id(when),
        user_id=served.user_id,
        item_id=served.items[0] if served.items else "",
        timestamp=when,
        received_at=when,
        event_type=RECOMMENDATION_EVENT_TYPE,
        session_id=served.session_id,
        properties=properties,
        impression=list(served.items),
        recommendation_id=served.recommendation_id,
    )


def _text(props: dict[str, PropertyValue], key: str) -> str | None:
    value = props.get(key)
    return None if value is None else str(value)


def served_of(event: Event) -> Served:
    """A ``$recommendation`` record read back (see :func:`served_event`)."""
    props = event.properties or {}
    return Served(
        recommendation_id=event.recommendation_id or event.event_id,
        route=_text(props, "route") or "",
        campaign=_text(props, "campaign") or "",
        user_id=event.user_id,
        session_id=event.session_id,
        items=list(event.impression or ()),
        served_at=event.received_at,
        model_version=_text(props, "model_version"),
        recipe=_text(props, "recipe"),
        experiment=_text(props, "experiment"),
        variant=_text(props, "variant"),
    )
