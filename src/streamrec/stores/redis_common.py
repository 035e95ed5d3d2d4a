"""What the Redis stores share: the URL, the client, error translation and the positions hash.

URL: ``redis://[:password@]host:port/db?namespace=NAME`` (any other query option is redis-py's).
Every key starts with the namespace (default ``streamrec``), so several deployments or test runs
can share one server. Each ``apply`` runs as one Lua script: Redis runs a script atomically, so a
batch, its event-id marks and the stream positions it reached are stored together or not at all,
which is what makes a replay after a crash change nothing. Scripts build key names themselves, so
these stores need a single Redis (or a primary with replicas), not Redis Cluster.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis

from streamrec.errors import ConfigError, StoreUnavailable

log = logging.getLogger(__name__)

DEFAULT_NAMESPACE = "streamrec"
_TIMEOUT_S = 5.0


def connect(url: str, key: str) -> tuple[redis.Redis, str]:
    """A client for `url` (``key`` names the setting in errors) and the key namespace."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss"):
        raise ConfigError(key, f"{url!r} is not a redis:// URL")
    query = parse_qsl(parts.query)
    namespace = dict(query).get("namespace", DEFAULT_NAMESPACE)
    rest = urlencode([(k, v) for k, v in query if k != "namespace"])
    client = redis.Redis.from_url(
        urlunsplit(parts._replace(query=rest)),
        socket_timeout=_TIMEOUT_S,
        socket_connect_timeout=_TIMEOUT_S,
        health_check_interval=30,
    )
    return client, namespace


@contextlib.contextmanager
def unavailable_on_error(what: str) -> Iterator[None]:
    """Turn "Redis cannot be reached" into StoreUnavailable (the API's 503, not a 500)."""
    try:
        yield
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        raise StoreUnavailable(f"{what}: redis unavailable: {exc}") from exc
    except redis.ResponseError as exc:
        if str(exc).startswith(("LOADING", "BUSY", "MASTERDOWN", "READONLY")):
            raise StoreUnavailable(f"{what}: redis not ready: {exc}") from exc
        raise


def read_positions(client: redis.Redis, key: str) -> dict[int, int]:
    raw: Mapping[bytes, bytes] = client.hgetall(key)  # type: ignore[assignment]
    return {int(shard): int(offset) for shard, offset in raw.items()}


def flatten_positions(next_offsets: Mapping[int, int]) -> list[str]:
    """Script arguments: the count, then shard, offset pairs."""
    out = [str(len(next_offsets))]
    for shard, offset in next_offsets.items():
        out += [str(shard), str(offset)]
    return out


# Lua helpers pasted in front of each apply script: read the positions once per shard, and store
# the new ones only when they move forward (a late, older checkpoint never moves one back).
LUA_POSITIONS = """
local function read_positions(poskey, argv, i)
  local count = tonumber(argv[i])
  local newpos = {}
  for p = 1, count do
    newpos[#newpos + 1] = {argv[i + 2 * p - 1], argv[i + 2 * p]}
  end
  return newpos, i + 1 + 2 * count
end

local function stored_position(poskey, cache, shard)
  local pos = cache[shard]
  if pos == nil then
    pos = tonumber(redis.call('HGET', poskey, shard) or '0')
    cache[shard] = pos
  end
  return pos
end

local function store_positions(poskey, newpos)
  for _, p in ipairs(newpos) do
    local cur = tonumber(redis.call('HGET', poskey, p[1]) or '0')
    if tonumber(p[2]) > cur then redis.call('HSET', poskey, p[1], p[2]) end
  end
end

local function first_time(seenkey, event_id, expires)
  if redis.call('ZSCORE', seenkey, event_id) then return false end
  redis.call('ZADD', seenkey, expires, event_id)
  return true
end
"""

LUA_PURGE_SEEN = """
local function purge_seen(seenkey, now, limit)
  local ids = redis.call('ZRANGEBYSCORE', seenkey, '-inf', now, 'LIMIT', 0, limit)
  for _, id in ipairs(ids) do redis.call('ZREM', seenkey, id) end
  return #ids
end
"""


def rewrite_persistence(client: redis.Redis, what: str) -> None:
    """After an erasure: Redis's append-only file logs every write (the erased user's events and
    the erasure's own commands, with the id), and its RDB file is the last snapshot. Rewrite the
    AOF from the live keys and save the RDB again (both in the background), so Redis's files on
    disk lose the user too. A service that refuses these commands (managed Redis): logged."""
    try:
        with unavailable_on_error(what):
            info = client.info("persistence")
            if int(info.get("aof_enabled", 0)):
                client.bgrewriteaof()
            if client.config_get("save").get("save"):
                client.bgsave(schedule=True)
    except redis.ResponseError as exc:
        log.warning("%s: redis did not rewrite its files after an erasure: %s", what, exc)


# Aliases (streamrec.aliases) in a store's namespace ``ns:<part>``: hash ``:alias`` anonymous id ->
# user, and per user a set ``:aliases:<user>`` of their anonymous ids (for an erasure).
LUA_ALIASES = r"""
local function resolve(base, user)
  local known = redis.call('HGET', base .. ':alias', user)
  if known then return known end
  return user
end
local function store_alias(base, anonymous, user)
  local old = redis.call('HGET', base .. ':alias', anonymous)
  if old then redis.call('SREM', base .. ':aliases:' .. old, anonymous) end
  redis.call('HSET', base .. ':alias', anonymous, user)
  redis.call('SADD', base .. ':aliases:' .. user, anonymous)
end
"""


def aliases_of(client: Any, base: str, what: str, user_id: str) -> list[str]:
    with unavailable_on_error(what):
        members = client.smembers(f"{base}:aliases:{user_id}")
    return sorted(m.decode() for m in members)


def forget_aliases(client: Any, base: str, what: str, user_id: str) -> int:
    """Drop the user's aliases and any alias of an id the user is (an erasure)."""
    anonymous = aliases_of(client, base, what, user_id)
    with unavailable_on_error(what):
        own = client.hget(f"{base}:alias", user_id)
        pipe = client.pipeline(transaction=True)
        if anonymous:
            pipe.hdel(f"{base}:alias", *anonymous)
        pipe.delete(f"{base}:aliases:{user_id}")
        if own is not None:
            pipe.hdel(f"{base}:alias", user_id)
            pipe.srem(f"{base}:aliases:{own.decode()}", user_id)
        pipe.execute()
    return len(anonymous) + (own is not None)
