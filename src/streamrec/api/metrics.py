"""Prometheus metrics: request counts and latencies per route, events accepted/rejected, consumer lag.

A pure ASGI middleware (no BaseHTTPMiddleware: it costs a task per request) times every request and
labels it with the route's path template, so /v1/users/{user_id}/history is one series.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from streamrec.attribution.store import AttributionStore
from streamrec.consumers.runner import ConsumerRunner
from streamrec.shared_metrics import shared_dir
from streamrec.stream.base import EventLog

LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.002,
    0.003,
    0.005,
    0.0075,
    0.01,
    0.015,
    0.02,
    0.03,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
)


class Metrics:
    """The API's metrics. ``registry`` is what a scrape reads: under ``streamrec serve`` it sums
    every process's counts (see :mod:`streamrec.shared_metrics`), else this process's own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._shared = shared_dir()
        if self._shared is not None:
            MultiProcessCollector(self.registry, path=self._shared)  # type: ignore[no-untyped-call]
        own = None if self._shared is not None else self.registry
        self.requests = Counter(
            "streamrec_http_requests",
            "HTTP requests",
            ["method", "route", "status"],
            registry=own,
        )
        self.latency = Histogram(
            "streamrec_http_request_duration_seconds",
            "HTTP request latency",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=own,
        )
        self.events_accepted = Counter(
            "streamrec_events_accepted",
            "Events acknowledged (durable in the stream)",
            ["event_type"],
            registry=own,
        )
        self.events_rejected = Counter(
            "streamrec_events_rejected", "Events refused by validation", registry=own
        )

    def watch_stream(self, event_log: EventLog, groups: list[str]) -> None:
        self.registry.register(_LagCollector(event_log, groups))

    def watch_attribution(self, store: Callable[[], AttributionStore]) -> None:
        """Export the attribution group's totals per campaign, read from its store at each
        scrape (the figures survive restarts and every API process exports the same)."""
        self.registry.register(_AttributionCollector(store))

    def watch_consumers(self, runners: list[ConsumerRunner]) -> None:
        """Export the failures of the consumer runners of this process (the list may grow);
        in the shared folder every process counts its own (``consumer_failures``)."""
        if self._shared is None:
            self.registry.register(_FailureCollector(runners))


class _FailureCollector(Collector):
    def __init__(self, runners: list[ConsumerRunner]) -> None:
        self._runners = runners

    def collect(self) -> Iterator[Any]:
        failures = CounterMetricFamily(
            "streamrec_consumer_failures",
            "Failed consumer loop rounds (retried after a back-off), by group and error",
            labels=["group", "error"],
        )
        for runner in list(self._runners):
            for error, count in dict(runner.failures).items():
                failures.add_metric([runner.group, error], count)
        yield failures


class _AttributionCollector(Collector):
    def __init__(self, store: Callable[[], AttributionStore]) -> None:
        self._store = store

    def collect(self) -> Iterator[Any]:
        names = {
            "recommendations": ("recommendations", "Recommendations served"),
            "items_shown": ("items_shown", "Items shown in recommendations"),
            "revenue": ("revenue", "Revenue (purchase event_value) attributed"),
        }
        families = {
            key: CounterMetricFamily(f"streamrec_attribution_{name}", text, labels=["campaign"])
            for key, (name, text) in names.items()
        }
        conversions = CounterMetricFamily(
            "streamrec_attribution_conversions",
            "Conversions attributed to recommendations, by event type",
            labels=["campaign", "event_type"],
        )
        try:
            totals = self._store().totals()
        except Exception:  # a scrape must not fail because the store is busy or missing
            totals = []
        for campaign, metric, value in totals:
            if metric in families:
                families[metric].add_metric([campaign], value)
            elif metric.startswith("conversion:"):
                conversions.add_metric([campaign, metric.removeprefix("conversion:")], value)
        yield from families.values()
        yield conversions


class _LagCollector(Collector):
    def __init__(self, event_log: EventLog, groups: list[str]) -> None:
        self._log = event_log
        self._groups = groups

    def collect(self) -> Iterator[Any]:
        head = GaugeMetricFamily(
            "streamrec_stream_head_offset", "Next offset per shard", labels=["shard"]
        )
        lag = GaugeMetricFamily(
            "streamrec_consumer_lag",
            "Events not yet processed by a group",
            labels=["group", "shard"],
        )
        try:
            shards = self._log.status(self._groups)
        except Exception:  # a scrape must not fail because the stream is down
            shards = []
        for shard in shards:
            head.add_metric([str(shard.shard)], shard.head)
            for group in self._groups:
                lag.add_metric([group, str(shard.shard)], shard.lag(group))
        yield head
        yield lag


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = [500]

        async def send_and_record(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope["method"]
            self.metrics.latency.labels(method, template).observe(time.perf_counter() - start)
            self.metrics.requests.labels(method, template, str(status[0])).inc()
