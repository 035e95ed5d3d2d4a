"""Helpers for tests, benchmarks and local clusters: real servers on loopback (no mocks)."""

from streamrec.testing.servers import (
    KafkaServer,
    PostgresServer,
    RedisServer,
    S3Server,
    ServerUnavailableError,
)

__all__ = ["KafkaServer", "PostgresServer", "RedisServer", "S3Server", "ServerUnavailableError"]
