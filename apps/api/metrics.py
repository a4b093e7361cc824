"""The service's Prometheus metrics, in a registry per app: the global one would refuse a second app in a process."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "retail_intel_requests", "HTTP requests", ["endpoint", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "retail_intel_request_seconds",
            "request latency",
            ["endpoint"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=self.registry,
        )
        self.model_version = Gauge(
            "retail_intel_model_info", "model version being served (1 = current)", ["model_version"],
            registry=self.registry,
        )  # fmt: skip
        self.rule_hits = Counter(
            "retail_intel_rule_hits", "candidates removed per rule", ["rule"], registry=self.registry
        )
        self.cold_starts = Counter("retail_intel_cold_starts", "real-time cold-start answers", registry=self.registry)
        self.rate_limited = Counter(
            "retail_intel_rate_limited", "requests refused with 429, per tenant", ["tenant"], registry=self.registry
        )
