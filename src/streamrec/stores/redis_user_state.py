"""The recommender's real-time state on Redis: recent events per user/session, item activity.

Keys (``ns`` = the URL's namespace):

- ``ns:us:e:<user or session:id>`` sorted set, score = the event's timestamp, member =
  ``event_seq(shard, offset)`` zero-padded to 20 digits (so equal timestamps keep the order of
  acceptance: one user's events share a shard; the shard keeps a session's events from two shards
  apart) then a JSON array ``[seq, item, type, ts, value]``; trimmed to the newest
  ``max_events`` by event time on every write.
- ``ns:us:x:<user or session:id>`` set of the items of every event of an excluded type
  (``exclude_seen_event_types``) that key ever had; never trimmed, removed by ``erase_user``.
- ``ns:us:s:<user>`` set of the session keys the user's events went to, so that ``erase_user``
  removes the session rows of the user's events (the same members as in the user's sorted set).
- ``ns:us:erased`` sorted set of erasure marks (score = mark id from ``ns:us:erased:n``, member =
  a JSON array ``[mark_id, shard, upto, digest, recorded_at]``).
- ``ns:us:b:<minute>`` hash item -> weighted activity in that minute of receipt, and
  ``ns:us:buckets`` sorted set of the minutes that have one (range reads).
- ``ns:us:seen`` / ``ns:us:positions``: applied event ids and stream positions, as in history.
- ``ns:us:alias`` hash and ``ns:us:aliases:<user>`` sets: aliases (streamrec.aliases); an alias
  merges the anonymous id's keys into the user's, later events of it go to the user.

:meth:`purge_expired` drops expired event ids and minutes older than ITEM_BUCKET_RETENTION_S.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import cast

from streamrec.aliases import ALIAS_EVENT_TYPE
from streamrec.stores.base import ErasureMark, UserEvent
from streamrec.stores.purge import ITEM_BUCKET_RETENTION_S, purge_in_chunks
from streamrec.stores.redis_common import (
    LUA_ALIASES,
    LUA_POSITIONS,
    LUA_PURGE_SEEN,
    aliases_of,
    connect,
    flatten_positions,
    forget_aliases,
    read_positions,
    rewrite_persistence,
    unavailable_on_error,
)
from streamrec.stores.sqlite_user_state import BUCKET_S, SEEN_EVENT_TTL_S, event_seq, session_key
from streamrec.stores.user_states import UserStates
from streamrec.stream.base import StreamRecord

_APPLY = (
    LUA_POSITIONS
    + LUA_ALIASES
    + r"""
local ns, seen_expires, max_events = ARGV[1], ARGV[2], tonumber(ARGV[3])
local poskey, seenkey = ns .. ':us:positions', ns .. ':us:seen'
local newpos, i = read_positions(poskey, ARGV, 4)
local cache, touched, applied = {}, {}, 0

-- An alias: the anonymous id's events, excluded items and session index become the user's.
local function merge(anonymous, user)
  for _, part in ipairs({':us:e:', ':us:x:', ':us:s:'}) do
    local akey, ukey = ns .. part .. anonymous, ns .. part .. user
    if redis.call('EXISTS', akey) == 1 then
      if part == ':us:e:' then
        redis.call('ZUNIONSTORE', ukey, 2, ukey, akey, 'AGGREGATE', 'MAX')
      else
        redis.call('SUNIONSTORE', ukey, ukey, akey)
      end
      redis.call('DEL', akey)
    end
  end
  touched[user] = true
  store_alias(ns .. ':us', anonymous, user)
end

while i <= #ARGV do
  local shard, offset, event_id = ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 2]
  local user, session, member = ARGV[i + 3], ARGV[i + 4], ARGV[i + 5]
  local item, bucket, weight, excluded = ARGV[i + 6], ARGV[i + 7], ARGV[i + 8], ARGV[i + 9]
  local ts, kind = ARGV[i + 10], ARGV[i + 11]
  i = i + 12
  if offset >= stored_position(poskey, cache, shard) and first_time(seenkey, event_id, seen_expires) then
   if kind == 'a' then
    merge(user, item)
   else
    user = resolve(ns .. ':us', user)
    redis.call('ZADD', ns .. ':us:e:' .. user, ts, member)
    touched[user] = true
    if excluded == '1' then redis.call('SADD', ns .. ':us:x:' .. user, item) end
    if session ~= '' then
      redis.call('ZADD', ns .. ':us:e:' .. session, ts, member)
      redis.call('SADD', ns .. ':us:s:' .. user, session)
      touched[session] = true
      if excluded == '1' then redis.call('SADD', ns .. ':us:x:' .. session, item) end
    end
    redis.call('HINCRBYFLOAT', ns .. ':us:b:' .. bucket, item, weight)
    redis.call('ZADD', ns .. ':us:buckets', bucket, bucket)
   end
    applied = applied + 1
  end
end
for key, _ in pairs(touched) do
  redis.call('ZREMRANGEBYRANK', ns .. ':us:e:' .. key, 0, -(max_events + 1))
end
store_positions(poskey, newpos)
return applied
"""
)

_PURGE = (
    LUA_PURGE_SEEN
    + r"""
local ns, now, oldest, limit = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local index = ns .. ':us:buckets'
local old = redis.call('ZRANGEBYSCORE', index, '-inf', '(' .. oldest, 'LIMIT', 0, limit)
for _, bucket in ipairs(old) do
  redis.call('DEL', ns .. ':us:b:' .. bucket)
  redis.call('ZREM', index, bucket)
end
local seen = purge_seen(ns .. ':us:seen', now, limit)
return {#old, seen}
"""
)


# The user's events, the session rows of the same events (the same members) and their sets.
_ERASE = r"""
local ns, user = ARGV[1], ARGV[2]
local ukey, skey = ns .. ':us:e:' .. user, ns .. ':us:s:' .. user
local members = redis.call('ZRANGE', ukey, 0, -1)
for _, session in ipairs(redis.call('SMEMBERS', skey)) do
  for i = 1, #members, 500 do
    redis.call('ZREM', ns .. ':us:e:' .. session, unpack(members, i, math.min(i + 499, #members)))
  end
end
redis.call('DEL', ukey, skey, ns .. ':us:x:' .. user)
return #members
"""

_RECORD_ERASURE = r"""
local ns, shard, upto, digest, at = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local id = redis.call('INCR', ns .. ':us:erased:n')
local mark = '[' .. id .. ',' .. shard .. ',' .. upto .. ',"' .. digest .. '",' .. at .. ']'
redis.call('ZADD', ns .. ':us:erased', id, mark)
return id
"""


class RedisUserStateStore:
    def __init__(
        self,
        url: str,
        max_events: int = 200,
        event_weights: Mapping[str, float] | None = None,
        excluded_types: Sequence[str] = (),
    ) -> None:
        self._client, self._ns = connect(url, "user_state_url")
        self._max_events = max_events
        self._weights = dict(event_weights or {})
        self._excluded_types = frozenset(excluded_types)
        self._apply = self._client.register_script(_APPLY)
        self._purge = self._client.register_script(_PURGE)
        self._erase = self._client.register_script(_ERASE)
        self._record_erasure = self._client.register_script(_RECORD_ERASURE)

    def positions(self) -> dict[int, int]:
        with unavailable_on_error("user state"):
            return read_positions(self._client, f"{self._ns}:us:positions")

    def apply(self, records: Sequence[StreamRecord], next_offsets: Mapping[int, int]) -> int:
        newest = max((r.event.received_at for r in records), default=0.0)
        args = [self._ns, repr(newest + SEEN_EVENT_TTL_S), str(self._max_events)]
        args += flatten_positions(next_offsets) + self._record_args(records)
        with unavailable_on_error("user state"):
            return int(self._apply(args=args))

    def _record_args(self, records: Sequence[StreamRecord]) -> list[str]:
        args: list[str] = []
        for r in records:
            e = r.event
            session = (
                session_key(e.session_id) if e.session_id and e.session_id != e.user_id else ""
            )
            seq = event_seq(r.shard, r.offset)
            member = f"{seq:020d}" + json.dumps(
                [seq, e.item_id, e.event_type, e.timestamp, e.event_value]
            )
            bucket = int(e.received_at // BUCKET_S)
            weight = self._weights.get(e.event_type, 1.0)
            excluded = "1" if e.event_type in self._excluded_types else "0"
            args += [str(r.shard), str(r.offset), e.event_id, e.user_id, session, member]
            args += [e.item_id, str(bucket), repr(weight), excluded, repr(e.timestamp)]
            args.append("a" if e.event_type == ALIAS_EVENT_TYPE else "e")  # item: the user
        return args

    def recent_events(self, key: str, limit: int) -> list[UserEvent]:
        if limit <= 0:
            return []
        with unavailable_on_error("user state"):
            members = cast(list[bytes], self._client.zrange(f"{self._ns}:us:e:{key}", -limit, -1))
        out = []
        for member in members:
            _, item_id, event_type, ts, value = json.loads(member[20:])
            out.append(UserEvent(item_id, event_type, float(ts), value))
        return out

    def states_of(self, keys: Sequence[str], limit: int) -> UserStates:
        """Each key's newest events and its excluded items, in one pipeline."""
        events: list[tuple[int, str, str, float, float | None, int]] = []
        excluded: list[tuple[int, str]] = []
        if not keys:
            return UserStates.of_rows(keys, events, excluded, limit)
        with unavailable_on_error("user state"):
            pipe = self._client.pipeline(transaction=False)
            for key in keys:
                pipe.zrange(f"{self._ns}:us:e:{key}", -max(limit, 1), -1)
                pipe.smembers(f"{self._ns}:us:x:{key}")
            found = pipe.execute()
        for pos in range(len(keys)):
            for member in found[2 * pos]:
                seq, item_id, event_type, ts, value = json.loads(member[20:])
                events.append((pos, item_id, event_type, float(ts), value, seq))
            excluded += [(pos, member.decode()) for member in found[2 * pos + 1]]
        return UserStates.of_rows(keys, events, excluded, limit)  # cuts to limit (0 too)

    def excluded_items(self, key: str) -> set[str]:
        with unavailable_on_error("user state"):
            members = cast(set[bytes], self._client.smembers(f"{self._ns}:us:x:{key}"))
        return {member.decode() for member in members}

    def item_activity(self, since: float, until: float | None = None) -> dict[str, float]:
        low = int(since // BUCKET_S)
        high = "+inf" if until is None else f"({int(until // BUCKET_S)}"
        with unavailable_on_error("user state"):
            buckets = cast(
                list[bytes], self._client.zrangebyscore(f"{self._ns}:us:buckets", low, high)
            )
            pipe = self._client.pipeline(transaction=False)
            for bucket in buckets:
                pipe.hgetall(f"{self._ns}:us:b:{bucket.decode()}")
            found = pipe.execute()
        totals: dict[str, float] = {}
        for weights in found:
            for item, weight in weights.items():
                name = item.decode()
                totals[name] = totals.get(name, 0.0) + float(weight)
        return totals

    def erase_user(self, user_id: str) -> int:
        with unavailable_on_error("user state"):
            return int(self._erase(args=[self._ns, user_id]))

    def record_erasure(self, shard: int, upto: int, digest: str, now: float) -> None:
        args = [self._ns, str(int(shard)), str(int(upto)), digest, repr(float(now))]
        with unavailable_on_error("user state"):
            self._record_erasure(args=args)

    def erasures(self, after: int = 0) -> list[ErasureMark]:
        return [mark for mark, _ in self._marks(after)]

    def _marks(self, after: int) -> list[tuple[ErasureMark, bytes]]:
        key = f"{self._ns}:us:erased"
        with unavailable_on_error("user state"):
            found = cast(list[bytes], self._client.zrangebyscore(key, f"({after}", "+inf"))
        out = []
        for member in found:
            i, s, u, d, t = json.loads(member)
            out.append((ErasureMark(int(i), int(s), int(u), str(d), float(t)), member))
        return out

    def forget_erasures(self, older_than: float) -> int:
        old = [member for mark, member in self._marks(0) if mark.recorded_at < older_than]
        if not old:
            return 0
        with unavailable_on_error("user state"):
            return int(self._client.zrem(f"{self._ns}:us:erased", *old))

    def aliases_of(self, user_id: str) -> list[str]:
        return aliases_of(self._client, f"{self._ns}:us", "user state", user_id)

    def forget_aliases(self, user_id: str) -> int:
        return forget_aliases(self._client, f"{self._ns}:us", "user state", user_id)

    def scrub_after_erasure(self) -> None:
        rewrite_persistence(self._client, "user state")

    def purge_expired(self, now: float | None = None, max_rows: int = 10_000) -> int:
        now = time.time() if now is None else now
        oldest_bucket = int((now - ITEM_BUCKET_RETENTION_S) // BUCKET_S)
        return purge_in_chunks(lambda: self._purge_chunk(now, oldest_bucket, max_rows), max_rows)

    def _purge_chunk(self, now: float, oldest_bucket: int, max_rows: int) -> tuple[int, int]:
        args = [self._ns, repr(now), str(oldest_bucket), str(max_rows)]
        with unavailable_on_error("user state"):
            old, seen = self._purge(args=args)
        return int(old), int(seen)

    def close(self) -> None:
        self._client.close()
