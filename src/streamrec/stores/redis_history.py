"""The history store on Redis: a hash per user and sorted sets that index expiry.

Keys (``ns`` = the URL's namespace):

- ``ns:hist:u:<user>`` hash: field ``<event type>\\x1f<item>`` -> ``last_seen|count|expires_at``.
  The key itself expires (EXPIREAT) with its newest row, so a user who went quiet costs nothing.
- ``ns:hist:expiry`` sorted set: member ``<user>\\x1f<field>``, score = that row's expiry;
  :meth:`purge_expired` takes the due ones from its head, ``max_rows`` a script, until none is due.
- ``ns:hist:seen`` sorted set of applied event ids (score = when to forget them), for retries.
- ``ns:hist:positions`` hash: shard -> next stream offset applied.
- ``ns:hist:alias`` hash and ``ns:hist:aliases:<user>`` sets: aliases (streamrec.aliases); an
  alias merges the anonymous id's hash into the user's, later events of it go to the user.

Reads filter expired rows, so expiry is exact to the second even before a purge. Floats travel
as Python's repr and are written back as received, never re-printed by Lua (which keeps 14
digits), so ``last_seen`` is exactly the event's timestamp.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from streamrec.aliases import ALIAS_EVENT_TYPE
from streamrec.stores.base import HistoryEntry
from streamrec.stores.purge import purge_in_chunks
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
from streamrec.stream.base import StreamRecord

SEP = "\x1f"

_APPLY = (
    LUA_POSITIONS
    + LUA_ALIASES
    + r"""
local ns, seen_expires, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
local poskey, seenkey, expkey = ns .. ':hist:positions', ns .. ':hist:seen', ns .. ':hist:expiry'
local newpos, i = read_positions(poskey, ARGV, 4)
local cache, applied = {}, 0

local function set_expiry(ukey, expires)
  local key_expires = math.ceil(tonumber(expires))
  if redis.call('EXPIRETIME', ukey) < key_expires then
    redis.call('EXPIREAT', ukey, key_expires)
  end
end

-- An alias (received at `now`): the anonymous id's live rows become the user's, merged with
-- theirs (a row of the user expired by then starts afresh); its expired rows are dropped.
local function merge(anonymous, user, now)
  local akey, ukey = ns .. ':hist:u:' .. anonymous, ns .. ':hist:u:' .. user
  local rows = redis.call('HGETALL', akey)
  for j = 1, #rows, 2 do
    local field = rows[j]
    local last, count, expires = string.match(rows[j + 1], '^([^|]+)|([^|]+)|([^|]+)$')
    redis.call('ZREM', expkey, anonymous .. '\31' .. field)
    if tonumber(expires) > tonumber(now) then
      count = tonumber(count)
      local old = redis.call('HGET', ukey, field)
      if old then
        local o_last, o_count, o_expires = string.match(old, '^([^|]+)|([^|]+)|([^|]+)$')
        if tonumber(o_expires) > tonumber(now) then count = count + tonumber(o_count) end
        if tonumber(o_last) > tonumber(last) then last = o_last end
        if tonumber(o_expires) > tonumber(expires) then expires = o_expires end
      end
      redis.call('HSET', ukey, field, last .. '|' .. string.format('%d', count) .. '|' .. expires)
      redis.call('ZADD', expkey, expires, user .. '\31' .. field)
      set_expiry(ukey, expires)
    end
  end
  redis.call('DEL', akey)
  store_alias(ns .. ':hist', anonymous, user)
end

while i <= #ARGV do
  local shard, offset, event_id = ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 2]
  local user, field, ts, expires = ARGV[i + 3], ARGV[i + 4], ARGV[i + 5], ARGV[i + 6]
  local kind = ARGV[i + 7]
  i = i + 8
  if offset >= stored_position(poskey, cache, shard) and first_time(seenkey, event_id, seen_expires) then
   if kind == 'a' then
    merge(user, field, ts)
   else
    user = resolve(ns .. ':hist', user)
    local ukey = ns .. ':hist:u:' .. user
    local last, count = ts, 1
    local old = redis.call('HGET', ukey, field)
    if old then
      local o_last, o_count, o_expires = string.match(old, '^([^|]+)|([^|]+)|([^|]+)$')
      -- A row that expired before this event was received starts counting afresh.
      if tonumber(o_expires) > tonumber(expires) - ttl then
        count = tonumber(o_count) + 1
        if tonumber(o_last) > tonumber(ts) then last = o_last end
        if tonumber(o_expires) > tonumber(expires) then expires = o_expires end
      end
    end
    redis.call('HSET', ukey, field, last .. '|' .. string.format('%d', count) .. '|' .. expires)
    redis.call('ZADD', expkey, expires, user .. '\31' .. field)
    set_expiry(ukey, expires)
   end
    applied = applied + 1
  end
end
store_positions(poskey, newpos)
return applied
"""
)

_PURGE = (
    LUA_PURGE_SEEN
    + r"""
local ns, now, limit = ARGV[1], ARGV[2], tonumber(ARGV[3])
local expkey = ns .. ':hist:expiry'
local due = redis.call('ZRANGEBYSCORE', expkey, '-inf', now, 'LIMIT', 0, limit)
for _, member in ipairs(due) do
  local sep = string.find(member, '\31', 1, true)
  redis.call('HDEL', ns .. ':hist:u:' .. string.sub(member, 1, sep - 1), string.sub(member, sep + 1))
  redis.call('ZREM', expkey, member)
end
local seen = purge_seen(ns .. ':hist:seen', now, limit)
return {#due, seen}
"""
)

_ERASE = r"""
local ns, user = ARGV[1], ARGV[2]
local ukey = ns .. ':hist:u:' .. user
local fields = redis.call('HKEYS', ukey)
for _, field in ipairs(fields) do
  redis.call('ZREM', ns .. ':hist:expiry', user .. '\31' .. field)
end
redis.call('DEL', ukey)
return #fields
"""


def _record_args(records: Sequence[StreamRecord], ttl_s: float) -> list[str]:
    args: list[str] = []
    for r in records:
        e = r.event
        # an alias: the field is the user's id, the timestamp when it was received
        alias = e.event_type == ALIAS_EVENT_TYPE
        args += [
            str(r.shard),
            str(r.offset),
            e.event_id,
            e.user_id,
            e.item_id if alias else f"{e.event_type}{SEP}{e.item_id}",
            repr(e.received_at if alias else e.timestamp),
            repr(e.received_at + ttl_s),
            "a" if alias else "e",
        ]
    return args


class RedisHistoryStore:
    def __init__(self, url: str, history_days: float) -> None:
        self._client, self._ns = connect(url, "history_url")
        self._ttl_s = history_days * 86400.0
        self._apply = self._client.register_script(_APPLY)
        self._purge = self._client.register_script(_PURGE)
        self._erase = self._client.register_script(_ERASE)

    def positions(self) -> dict[int, int]:
        with unavailable_on_error("history"):
            return read_positions(self._client, f"{self._ns}:hist:positions")

    def apply(self, records: Sequence[StreamRecord], next_offsets: Mapping[int, int]) -> int:
        newest = max((r.event.received_at for r in records), default=time.time())
        args = [self._ns, repr(newest + self._ttl_s), repr(self._ttl_s)]
        args += flatten_positions(next_offsets) + _record_args(records, self._ttl_s)
        with unavailable_on_error("history"):
            return int(self._apply(args=args))

    def recent(
        self, user_id: str, limit: int, event_type: str | None = None, now: float | None = None
    ) -> list[HistoryEntry]:
        now = time.time() if now is None else now
        with unavailable_on_error("history"):
            raw = self._client.hgetall(f"{self._ns}:hist:u:{user_id}")
        rows = _live_rows(raw, now)  # type: ignore[arg-type]
        if event_type is not None:
            entries = [r for r in rows if r.event_type == event_type]
        else:
            entries = _one_per_item(rows)
        entries.sort(key=lambda r: (-r.last_seen, r.item_id))
        return entries[:limit]

    def erase_user(self, user_id: str) -> int:
        with unavailable_on_error("history"):
            return int(self._erase(args=[self._ns, user_id]))

    def aliases_of(self, user_id: str) -> list[str]:
        return aliases_of(self._client, f"{self._ns}:hist", "history", user_id)

    def forget_aliases(self, user_id: str) -> int:
        return forget_aliases(self._client, f"{self._ns}:hist", "history", user_id)

    def scrub_after_erasure(self) -> None:
        rewrite_persistence(self._client, "history")

    def purge_expired(self, now: float | None = None, max_rows: int = 10_000) -> int:
        now = time.time() if now is None else now
        return purge_in_chunks(lambda: self._purge_chunk(now, max_rows), max_rows)

    def _purge_chunk(self, now: float, max_rows: int) -> tuple[int, int]:
        with unavailable_on_error("history"):
            due, seen = self._purge(args=[self._ns, repr(now), str(max_rows)])
        return int(due), int(seen)

    def close(self) -> None:
        self._client.close()


def _live_rows(raw: Mapping[bytes, bytes], now: float) -> list[HistoryEntry]:
    rows = []
    for field, value in raw.items():
        event_type, _, item_id = field.decode().partition(SEP)
        last_seen, count, expires_at = value.decode().split("|")
        if float(expires_at) > now:
            rows.append(HistoryEntry(item_id, event_type, float(last_seen), int(count)))
    return rows


def _one_per_item(rows: Sequence[HistoryEntry]) -> list[HistoryEntry]:
    """Per item: the newest row's event type and time, and the count over all its types."""
    newest: dict[str, HistoryEntry] = {}
    totals: dict[str, int] = {}
    for row in rows:
        totals[row.item_id] = totals.get(row.item_id, 0) + row.count
        best = newest.get(row.item_id)
        if best is None or row.last_seen > best.last_seen:
            newest[row.item_id] = row
    return [
        HistoryEntry(item, row.event_type, row.last_seen, totals[item])
        for item, row in newest.items()
    ]
