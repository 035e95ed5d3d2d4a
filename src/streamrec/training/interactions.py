"""From an event table (the loaders' and the lake's columnar shape) to model inputs.

The table has columns user_id, item_id, timestamp (float64 unix seconds) and optionally
event_type and event_value. Ids are mapped to dense ints here, once, in first-seen order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from streamrec.errors import ValidationError
from streamrec.recommenders.data import EventWeights, Interactions, event_type_codes
from streamrec.recommenders.vocab import Vocabulary

__all__ = ["EncodedEvents", "encode_events", "encode_ids"]

REQUIRED_COLUMNS = ("user_id", "item_id", "timestamp")


@dataclass(frozen=True)
class EncodedEvents:
    """Every event of a table as int codes, in table order."""

    user: np.ndarray  # int32
    item: np.ndarray  # int32
    timestamp: np.ndarray  # float64
    event_type: np.ndarray  # int8 codes into EVENT_TYPES
    users: Vocabulary
    items: Vocabulary

    def interactions(self, weights: EventWeights | None = None) -> Interactions:
        """All events as training Interactions with per-event-type weights."""
        w = (weights or EventWeights()).of(self.event_type)
        return Interactions.build(
            self.user, self.item, self.timestamp, w, self.event_type,
            len(self.users), len(self.items),
        )  # fmt: skip


def encode_ids(column: pa.Array | pa.ChunkedArray) -> tuple[Vocabulary, np.ndarray]:
    """Dense int32 codes in first-seen order, via Arrow's dictionary encoding (fast, in C++)."""
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if arr.null_count:
        raise ValidationError("id", f"{arr.null_count} events have no id")
    encoded = pc.dictionary_encode(arr.cast(pa.string()))
    vocab = Vocabulary(encoded.dictionary.to_pylist())
    return vocab, encoded.indices.to_numpy(zero_copy_only=False).astype(np.int32)


def encode_events(table: pa.Table) -> EncodedEvents:
    """Encode an event table; raises ValidationError naming a missing column."""
    for name in REQUIRED_COLUMNS:
        if name not in table.column_names:
            raise ValidationError(name, "column missing from the event table")
    users, user = encode_ids(table.column("user_id"))
    items, item = encode_ids(table.column("item_id"))
    ts = table.column("timestamp").cast(pa.float64()).to_numpy()
    if "event_type" in table.column_names:
        types = event_type_codes(table.column("event_type").to_numpy(zero_copy_only=False))
    else:
        types = np.zeros(len(table), dtype=np.int8)
    return EncodedEvents(user, item, np.asarray(ts, np.float64), types, users, items)
