"""Which shard an event goes to: a hash of the user id that is stable across processes and versions.

Python's ``hash()`` is salted per process, so it cannot be used. We take the first 8 bytes of the
BLAKE2b digest of the UTF-8 user id as an unsigned big-endian integer, modulo the shard count. Kafka
backends pass this partition explicitly, so both backends place a user on the same shard.
"""

from __future__ import annotations

import hashlib


def shard_for(user_id: str, shard_count: int) -> int:
    if shard_count <= 0:
        raise ValueError("shard_count must be positive")
    digest = hashlib.blake2b(user_id.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % shard_count
