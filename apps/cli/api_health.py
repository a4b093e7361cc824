"""The HTTP service's health from its own /metrics: p99 latency and the share of server errors.

Read from the Prometheus text the service exposes (apps/api/metrics.py): the latency
histogram's buckets give the p99 as the smallest bucket bound that holds 99% of requests (an
upper bound, as fine as the buckets), and the request counter by status the share of 5xx.
The figures cover every request since the service started, every tenant's.
"""

from __future__ import annotations

import math
import urllib.request
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families


@dataclass(frozen=True)
class ApiHealth:
    requests: int
    p99_ms: float | None  # None before any request
    error_rate: float | None


def api_health(metrics_text: str) -> ApiHealth:
    buckets: dict[float, float] = {}
    requests = errors = 0.0
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            if sample.name == "retail_intel_request_seconds_bucket":
                bound = float(sample.labels["le"])
                buckets[bound] = buckets.get(bound, 0.0) + sample.value
            elif sample.name == "retail_intel_requests_total":
                requests += sample.value
                errors += sample.value if sample.labels.get("status", "").startswith("5") else 0.0
    total = buckets.get(math.inf, 0.0)
    p99 = None
    if total > 0:
        p99 = next(bound for bound, count in sorted(buckets.items()) if count >= 0.99 * total) * 1000
    return ApiHealth(int(requests), p99, errors / requests if requests else None)


def read_api_health(base_url: str, timeout: float = 10.0) -> ApiHealth:
    with urllib.request.urlopen(f"{base_url.rstrip('/')}/metrics", timeout=timeout) as response:
        return api_health(response.read().decode())
