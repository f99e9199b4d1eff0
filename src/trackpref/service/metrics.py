"""Prometheus metrics for ``GET /metrics``: the service's health, never anyone's data.

Labels are bounded sets (status codes, outcomes, job names); no site, path,
address or identifier ever becomes a label, so the metrics stay small and say
nothing about any person. Each app has its own registry, so several apps in
one process (tests) do not collide.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE", "LoopCounter", "ServiceMetrics"]

CONTENT_TYPE = CONTENT_TYPE_LATEST


class _Cell:
    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0

    def inc(self, amount: float = 1) -> None:
        self.value += amount


class LoopCounter:
    """A labelled counter for the collect hot path, read when ``/metrics`` is scraped.

    prometheus_client's ``Counter`` takes a lock on every ``inc`` (about a
    microsecond here); these counters are only incremented on the event loop,
    one thread, so a plain number does. Same exposition: ``<name>_total``.
    """

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: tuple[str, ...],
        registry: CollectorRegistry,
    ) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = labelnames
        self._cells: dict[tuple[str, ...], _Cell] = {}
        registry.register(self)

    def labels(self, *values: str) -> _Cell:
        if len(values) != len(self.labelnames):
            raise ValueError(f"{self.name}: expected labels {self.labelnames}, got {values}")
        cell = self._cells.get(values)
        if cell is None:
            cell = self._cells[values] = _Cell()
        return cell

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for values, cell in list(self._cells.items()):
            family.add_metric(list(values), cell.value)
        yield family

    def describe(self) -> Iterator[Metric]:
        yield CounterMetricFamily(self.name, self.documentation, labels=self.labelnames)


class ServiceMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.collect_requests = LoopCounter(
            "trackpref_collect_requests",
            "Collect requests (collect, pixels, e-mail opens) by endpoint and HTTP status.",
            ("endpoint", "status"),
            r,
        )
        self.events = LoopCounter(
            "trackpref_events",
            "Events acknowledged, by what was kept: raw row, raw row with id, or counted only.",
            ("kept",),
            r,
        )
        self.batches = Histogram(
            "trackpref_ingest_batch_events",
            "Events per group commit.",
            buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000),
            registry=r,
        )
        self.commit_seconds = Histogram(
            "trackpref_ingest_commit_seconds",
            "Time to write and commit one batch.",
            buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=r,
        )
        self.commit_failures = Counter(
            "trackpref_ingest_commit_failures",
            "Batches whose commit failed (every request in them got 503).",
            registry=r,
        )
        self.queued = Gauge(
            "trackpref_ingest_queued_events",
            "Events waiting for the writer.",
            registry=r,
        )
        self.jobs = Counter(
            "trackpref_job_runs",
            "Scheduled job runs by this instance, by job and outcome.",
            ["job", "outcome"],
            registry=r,
        )
        self.http_requests = Counter(
            "trackpref_http_requests",
            "HTTP requests by route group and status class.",
            ["route", "status"],
            registry=r,
        )

    def observe_batch(self, events: int, seconds: float, ok: bool) -> None:
        self.batches.observe(events)
        self.commit_seconds.observe(seconds)
        if not ok:
            self.commit_failures.inc()

    def track_queue(self, queued: Callable[[], int]) -> None:
        self.queued.set_function(lambda: float(queued()))

    def render(self) -> bytes:
        return generate_latest(self.registry)
