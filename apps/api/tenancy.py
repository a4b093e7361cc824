"""Which tenant a request is for, and that tenant's Service.

Multi-tenant mode: a request carries ``X-API-Key``; the key (checked against its hash in the
tenant registry) names the tenant, and the request is answered from that tenant's Service
only: its warehouse, champion, rules, switch and events store. No key or an unknown or
revoked key: 401. A tenant's Service is built on its first request and kept. Each tenant has
a token bucket, so one noisy tenant is answered 429 while the others are served.

Single-tenant mode (local use): no key; every request is the serving tenant's. It is the
default only when the registry holds at most one active tenant.

Keys already resolved are answered from memory while the registry file is unchanged, and for
at most ``KEY_CACHE_SECONDS``; a revoked key or an archived tenant is refused from the first
request after the registry changed, and an archived or purged tenant's service is dropped.
A tenant whose business rules file does not load is answered 503 with the reason (app.py's
handler of ``RulesError``); single-tenant, it stops the start.
``/metrics`` needs no key, so it names tenants by ``tenant_label`` (an HMAC prefix of the id
under the installation's secret), never by id: anyone could otherwise list the platform's
clients, or confirm a guessed client by hashing its name.
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
from retail_intel.tenants import TenantRegistry, label_key, resolve, tenant_label

API_KEY_HEADER = "X-API-Key"
# However unchanged the registry file looks (its timestamp has a coarse grain), a resolved key
# is asked again after this long.
KEY_CACHE_SECONDS = 30.0


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
        # key -> (tenant or None, when it was resolved), valid while the registry's stamp is _keys_stamp.
        self._keys: dict[str, tuple[str | None, float]] = {}
        self._keys_stamp: tuple[int, int] | None = None
        self._lock = threading.Lock()  # the services and their build locks
        self._building: dict[str, threading.Lock] = {}  # one per tenant: a slow build holds up only its tenant
        self._keys_lock = threading.Lock()  # the key cache and the buckets: requests come from several threads
        self._started = False
        self._label_key: bytes | None = None

    # ---- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        self._started = True
        if not self.multi_tenant:
            self.service_for(self.settings.tenant_id)  # loads at start-up, as one tenant's service always did

    def stop(self) -> None:
        with self._lock:
            services, self._services = list(self._services.values()), {}
        for service in services:
            _close(service)

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
        stamp = self._registry_stamp()
        with self._keys_lock:
            cached = self._keys.get(api_key) if stamp == self._keys_stamp else None
        if cached is None or time.monotonic() - cached[1] > KEY_CACHE_SECONDS:
            return False
        return cached[0] is None or cached[0] in self._services

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
            self.metrics.rate_limited.labels(self.label(tenant_id)).inc()
            raise HTTPException(
                429, f"tenant {tenant_id!r} is over its request rate", headers={"Retry-After": str(math.ceil(wait))}
            )
        return self.service_for(tenant_id)

    def label(self, tenant_id: str) -> str:
        """The tenant's name in /metrics (keyed: see retail_intel.tenants.tenant_label)."""
        if self._label_key is None:
            self._label_key = label_key(self.settings.registry_path)
        return tenant_label(tenant_id, self._label_key)

    def service_for(self, tenant_id: str) -> Service:
        service = self._services.get(tenant_id)
        if service is not None:
            return service
        with self._lock:
            building = self._building.setdefault(tenant_id, threading.Lock())
        with building:
            service = self._services.get(tenant_id)
            if service is None:
                # A RulesError leaves nothing kept: the tenant's next request tries again, the others go on.
                service = self._build(tenant_id)
                # Archived or purged while it was built (a drop meanwhile found nothing to drop):
                # kept now, it would hold the tenant's files and threads until the next change.
                if self.multi_tenant and tenant_id not in {tenant.tenant_id for tenant in self.registry.list()}:
                    _close(service)
                    raise HTTPException(401, "unknown or revoked API key", headers={"WWW-Authenticate": API_KEY_HEADER})
                with self._lock:
                    self._services[tenant_id] = service
        return service

    def _build(self, tenant_id: str) -> Service:
        settings = self.settings
        if tenant_id != settings.tenant_id:
            settings = resolve(settings.with_(tenant_id=tenant_id, raw_dir_override=None, warehouse_override=None))
        service = Service(
            settings,
            Snapshots(settings, registry_for(settings), self.refresh_seconds),
            self.metrics,
            metrics_name=self.label(tenant_id) if self.multi_tenant else None,
        )
        service.rules()  # a malformed rules file fails this tenant's requests with its message
        service.events = EventStore(settings)
        service.snapshots.start()
        return service

    def _registry_stamp(self) -> tuple[int, int] | None:
        try:
            status = self.registry.path.stat()
        except FileNotFoundError:
            return None
        return status.st_mtime_ns, status.st_size

    def _tenant_for_key(self, api_key: str) -> str | None:
        """Keys already seen are answered from memory while the registry file is unchanged (a key
        created, revoked, or a tenant archived changes it) and for KEY_CACHE_SECONDS at most, so
        a request costs no query."""
        stamp = self._registry_stamp()
        if stamp is None:
            return None
        with self._keys_lock:
            changed = stamp != self._keys_stamp
            if changed:
                self._keys, self._keys_stamp = {}, stamp
            cached = self._keys.get(api_key)
        if changed:
            self._drop_inactive()
        if cached is not None and time.monotonic() - cached[1] <= KEY_CACHE_SECONDS:
            return cached[0]
        tenant_id = self.registry.tenant_for_key(api_key)  # outside the lock: a query
        with self._keys_lock:
            # A lookup that began before the registry changed may have read what the change
            # undid (a key since revoked): it answers this request, but is not kept.
            if self._keys_stamp == stamp:
                if len(self._keys) > 10_000:  # a flood of made-up keys must not grow this without bound
                    self._keys.clear()
                self._keys[api_key] = (tenant_id, time.monotonic())
        return tenant_id

    def _drop_inactive(self) -> None:
        """Services of tenants archived or purged since: stopped, so nothing of them stays served."""
        active = {tenant.tenant_id for tenant in self.registry.list()}
        with self._lock:
            gone = [tenant for tenant in self._services if tenant not in active]
            services = [self._services.pop(tenant) for tenant in gone]
        for service in services:
            _close(service)

    def _take(self, tenant_id: str) -> float:
        with self._keys_lock:
            bucket = self._buckets.get(tenant_id)
            if bucket is None:
                bucket = self._buckets[tenant_id] = _Bucket(self.rate_limit)
            return bucket.take()


def _close(service: Service) -> None:
    service.snapshots.stop()
    if service.events is not None:
        service.events.close()


def default_multi_tenant(settings: Settings) -> bool:
    """Keys are required as soon as the registry holds more than one active tenant, or any
    unrevoked key: archiving tenants down to one must not quietly open the service to all."""
    registry = TenantRegistry.of(settings)
    return len(registry.list()) > 1 or registry.has_live_keys()
