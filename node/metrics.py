"""Prometheus metrics, on a registry per application (so tests and several apps never share one)."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "mentornet_http_requests",
            "HTTP requests served, by route, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.errors = Counter(
            "mentornet_errors", "Errors returned or raised, by error code.", ["code"], registry=self.registry
        )
        self.federation_rejected = Counter(
            "mentornet_federation_rejected",
            "Federation requests refused, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.messages_blocked = Counter(
            "mentornet_messages_blocked",
            "Messages dropped because their recipient blocked the sender.",
            registry=self.registry,
        )
        self.db_seconds = Histogram(
            "mentornet_db_query_seconds",
            "Database statement durations, by operation.",
            ["operation"],
            registry=self.registry,
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
        )

    def observe_query(self, operation: str, seconds: float) -> None:
        self.db_seconds.labels(operation=operation).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)


METRICS = web.AppKey("metrics", Metrics)
