"""Which tenant a request is for, and that tenant's Service.

Multi-tenant mode: a request carries ``X-API-Key``; the key (checked against its hash in the
tenant registry) names the tenant, and the request is answered from that tenant's Service
only: its warehouse, champion, rules, switch and events store. No key or an unknown or
revoked key: 401. A tenant's Service is built on its first request and kept. Each tenant has
a token bucket, so one noisy tenant is answered 429 while the others are served.

Single-tenant mode (local use): no key; every request is the serving tenant's. It is the
default only when the registry holds at most one active tenant.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

from fastapi import HTTPException

from apps.api.metrics import Metrics
from apps.api.service import Service
from apps.api.snapshot import Snapshots
from orchestration.lineage import registry_for
from retail_intel.events import EventStore
from retail_intel.settings import Settings
from retail_intel.tenants import TenantRegistry, resolve

API_KEY_HEADER = "X-API-Key"


@dataclass(frozen=True)
class RateLimit:
    per_second: float = 50.0
    burst: float = 100.0


class _Bucket:
    def __init__(self, limit: RateLimit) -> None:
        self.limit = limit
        self.tokens = limit.burst
        self.updated = time.monotonic()

    def take(self) -> float:
        """0 when the request may go; else the seconds until a token is back."""
        now = time.monotonic()
        self.tokens = min(self.limit.burst, self.tokens + (now - self.updated) * self.limit.per_second)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.limit.per_second


class Tenancy:
    def __init__(
        self,
        settings: Settings,
        *,
        multi_tenant: bool,
        refresh_seconds: float,
        metrics: Metrics,
        rate_limit: RateLimit | None = None,
    ) -> None:
        self.settings = settings
        self.multi_tenant = multi_tenant
        self.refresh_seconds = refresh_seconds
        self.metrics = metrics
        self.rate_limit = rate_limit or RateLimit()
        self.registry = TenantRegistry.of(settings)
        self._services: dict[str, Service] = {}
        self._buckets: dict[str, _Bucket] = {}
        self._keys: dict[str, str | None] = {}
        self._keys_stamp: int | None = None
        self._lock = threading.Lock()  # builds services
        self._keys_lock = threading.Lock()  # the key cache and the buckets: requests come from several threads
        self._started = False

    # ---- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        self._started = True
        if not self.multi_tenant:
            self.service_for(self.settings.tenant_id)  # loads at start-up, as one tenant's service always did

    def stop(self) -> None:
        with self._lock:
            services, self._services = list(self._services.values()), {}
        for service in services:
            service.snapshots.stop()
            if service.events is not None:
                service.events.close()

    def loaded(self) -> list[Service]:
        return list(self._services.values())

    # ---- per request -------------------------------------------------------------------------
    def is_warm(self, api_key: str | None) -> bool:
        """Whether ``service_for_request`` answers from memory (no registry query, no service to
        build), so that the event loop may call it rather than a worker thread."""
        if not self.multi_tenant:
            return self.settings.tenant_id in self._services
        if not api_key:
            return True
        with self._keys_lock:
            if api_key not in self._keys:
                return False
            tenant_id = self._keys[api_key]
        return tenant_id is None or tenant_id in self._services

    def service_for_request(self, api_key: str | None) -> Service:
        if not self.multi_tenant:
            return self.service_for(self.settings.tenant_id)
        if not api_key:
            raise HTTPException(401, f"missing {API_KEY_HEADER} header", headers={"WWW-Authenticate": API_KEY_HEADER})
        tenant_id = self._tenant_for_key(api_key)
        if tenant_id is None:
            raise HTTPException(401, "unknown or revoked API key", headers={"WWW-Authenticate": API_KEY_HEADER})
        wait = self._take(tenant_id)
        if wait:
            self.metrics.rate_limited.labels(tenant_id).inc()
            raise HTTPException(
                429, f"tenant {tenant_id!r} is over its request rate", headers={"Retry-After": str(math.ceil(wait))}
            )
        return self.service_for(tenant_id)

    def service_for(self, tenant_id: str) -> Service:
        service = self._services.get(tenant_id)
        if service is not None:
            return service
        with self._lock:
            service = self._services.get(tenant_id)
            if service is None:
                service = self._build(tenant_id)
                self._services[tenant_id] = service
        return service

    def _build(self, tenant_id: str) -> Service:
        settings = self.settings
        if tenant_id != settings.tenant_id:
            settings = resolve(settings.with_(tenant_id=tenant_id, raw_dir_override=None, warehouse_override=None))
        service = Service(settings, Snapshots(settings, registry_for(settings), self.refresh_seconds), self.metrics)
        service.rules()  # a malformed rules file fails this tenant's requests with its message
        service.events = EventStore(settings)
        service.snapshots.start()
        return service

    def _tenant_for_key(self, api_key: str) -> str | None:
        """Keys already seen are answered from memory until the registry file changes (a key
        created, revoked, or a tenant archived changes it), so a request costs no query."""
        try:
            stamp = self.registry.path.stat().st_mtime_ns
        except FileNotFoundError:
            return None
        with self._keys_lock:
            if stamp != self._keys_stamp:
                self._keys, self._keys_stamp = {}, stamp
            if api_key in self._keys:
                return self._keys[api_key]
        tenant_id = self.registry.tenant_for_key(api_key)  # outside the lock: a query
        with self._keys_lock:
            if len(self._keys) > 10_000:  # a flood of made-up keys must not grow this without bound
                self._keys.clear()
            self._keys[api_key] = tenant_id
        return tenant_id

    def _take(self, tenant_id: str) -> float:
        with self._keys_lock:
            bucket = self._buckets.get(tenant_id)
            if bucket is None:
                bucket = self._buckets[tenant_id] = _Bucket(self.rate_limit)
            return bucket.take()


def default_multi_tenant(settings: Settings) -> bool:
    """Keys are required as soon as the registry holds more than one active tenant."""
    return len(TenantRegistry.of(settings).list()) > 1
