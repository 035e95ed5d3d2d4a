"""``streamrec recommend-batch``: one JSON line per user, each what ``GET /v1/recommendations``
answers for that user (``{"user_id", "recommendation_id", "model", "items"}``).

Users are scored a chunk at a time (:class:`streamrec.serving.batch.BatchScorer`) and each chunk
is appended to the output in one write and flushed to disk before the next starts. A job that
crashed is resumed by running it again with the same output: the users already in the file are
skipped, and a last line left incomplete by the crash is cut off first.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import msgspec

from streamrec.errors import ValidationError
from streamrec.events import MAX_ID_LENGTH
from streamrec.filters import ParamValue
from streamrec.serving.batch import BatchScorer
from streamrec.serving.service import Recommendations, RecommendationService

__all__ = ["BatchOutcome", "done_users", "read_users", "recommend_batch"]

_encoder = msgspec.json.Encoder()


@dataclasses.dataclass(frozen=True)
class BatchOutcome:
    written: int  # users answered by this run
    skipped: int  # users the output already held (a resumed job)


def read_users(lines: Iterable[str]) -> list[str]:
    """User ids, one a line: the id itself, or Personalize's ``{"userId": "..."}`` (or
    ``user_id``); blank lines skipped, repeats kept once. ValidationError naming the line."""
    users: dict[str, None] = {}
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line:
            continue
        user = _user_of(line, number)
        if not 1 <= len(user) <= MAX_ID_LENGTH:
            raise ValidationError(f"users line {number}", f"must be 1-{MAX_ID_LENGTH} characters")
        users[user] = None
    return list(users)


def _user_of(line: str, number: int) -> str:
    if not line.startswith("{"):
        return line
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValidationError(f"users line {number}", f"is not JSON: {exc.msg}") from exc
    user = record.get("userId", record.get("user_id")) if isinstance(record, dict) else None
    if not isinstance(user, str):
        raise ValidationError(f"users line {number}", 'needs "userId" (text)')
    return user


def done_users(path: Path) -> set[str]:
    """The users an earlier run wrote to ``path``; a trailing incomplete line is cut off."""
    if not path.exists():
        return set()
    data = path.read_bytes()
    complete = data.rfind(b"\n") + 1
    if complete < len(data):
        with path.open("r+b") as fh:
            fh.truncate(complete)
    users = set()
    for line in data[:complete].splitlines():
        try:
            users.add(str(json.loads(line)["user_id"]))
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValidationError("out", f"{path} holds a line that is not a batch answer") from exc
    return users


def recommend_batch(
    service: RecommendationService,
    users: Sequence[str],
    out: Path,
    n: int,
    filter_text: str | None = None,
    filter_params: Mapping[str, ParamValue] | None = None,
    progress: Callable[[int], None] = lambda done: None,
) -> BatchOutcome:
    """Write each user's recommendations to ``out`` (appending; resumes a crashed run);
    ``progress`` is called with the number of users done after every chunk."""
    scorer = BatchScorer(service)

    def answer(chunk: Sequence[str]) -> bytes:
        return answer_lines(service, scorer, chunk, n, filter_text, filter_params)

    return write_chunks(users, out, lambda todo: scorer.chunk_size(), map, answer, progress)


def write_chunks(
    users: Sequence[str],
    out: Path,
    step: Callable[[int], int],
    mapper: Callable[[Callable[[Sequence[str]], bytes], Iterable[Sequence[str]]], Iterable[bytes]],
    answer: Callable[[Sequence[str]], bytes],
    progress: Callable[[int], None],
) -> BatchOutcome:
    """Append the answers of the users ``out`` lacks, a chunk of ``step(users to do)`` at a
    time, in order; ``mapper`` is ``map`` or a process pool's (which answers chunks in parallel,
    in order)."""
    done = done_users(out)
    todo = [u for u in users if u not in done]
    skipped = len(users) - len(todo)
    progress(skipped)
    size = step(len(todo))
    chunks = [todo[start : start + size] for start in range(0, len(todo), size)]
    written = 0
    with out.open("ab") as fh:
        for chunk, lines in zip(chunks, mapper(answer, chunks), strict=True):
            fh.write(lines)  # one write per chunk, on disk before the next
            fh.flush()
            os.fsync(fh.fileno())
            written += len(chunk)
            progress(skipped + written)
    return BatchOutcome(written, skipped)


def answer_lines(
    service: RecommendationService,
    scorer: BatchScorer,
    chunk: Sequence[str],
    n: int,
    filter_text: str | None,
    filter_params: Mapping[str, ParamValue] | None,
) -> bytes:
    """One JSON line per user of ``chunk``, each ending in a newline."""
    with collector_paused():
        results = scorer.recommend(chunk, n, filter_text, filter_params)
        found = service.catalogue.items(list({i: None for r in results for i, _ in r.items}))
        metadata = {item_id: item.metadata() for item_id, item in found.items()}
        return b"".join(
            _line(user, r, metadata) + b"\n" for user, r in zip(chunk, results, strict=True)
        )


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while a chunk is answered: it makes some 10^5 short-lived
    objects (store rows, answers) and no cycles, and the collector's passes over them took 15%
    of the job; it runs again after the chunk (a cycle made meanwhile is collected then)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _line(user: str, result: Recommendations, metadata: Mapping[str, dict[str, Any]]) -> bytes:
    """The route's answer for the user (``answer`` in api/routes/recommendations.py, items as
    ``CatalogueView.decorate`` gives them, with the chunk's metadata read once)."""
    items = []
    for item_id, score in result.items:
        entry: dict[str, Any] = {"item_id": item_id, "score": score}
        entry.update(metadata.get(item_id, {}))
        items.append(entry)
    return _encoder.encode(
        {
            "user_id": user,
            "recommendation_id": result.recommendation_id,
            "model": result.model_json(),
            "items": items,
        }
    )
