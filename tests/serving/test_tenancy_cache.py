"""The multi-tenant service's key cache and per-tenant services, without a graph: a key revoked
while a lookup is under way is refused next time, one tenant's slow start does not hold up
another's, archived tenants' services are dropped, a tenant's bad rules answer 503."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import pytest
from fastapi import HTTPException

from apps.api.metrics import Metrics
from apps.api.tenancy import Tenancy
from apps.rules import RulesError
from retail_intel.tenants import TenantRegistry, tenant_label
from tests.support import make_settings


@pytest.fixture
def platform(tmp_path, monkeypatch):
    settings = make_settings(tmp_path / "home")
    registry = TenantRegistry.of(settings)
    keys = {}
    for tenant in ("acme", "globex"):
        registry.add(tenant, raw_dir=tmp_path / tenant, by="test")
        keys[tenant] = registry.create_key(tenant, by="test")
    tenancy = Tenancy(settings, multi_tenant=True, refresh_seconds=1, metrics=Metrics())
    stopped: list[str] = []

    def build(tenant_id: str):
        return SimpleNamespace(
            tenant=tenant_id, snapshots=SimpleNamespace(stop=lambda: stopped.append(tenant_id)), events=None
        )

    monkeypatch.setattr(tenancy, "_build", build)
    return tenancy, registry, keys, stopped


def later_write() -> None:
    time.sleep(0.02)  # the registry's timestamp has a coarse grain: a change must land on a later tick


def test_a_key_revoked_during_its_lookup_is_refused_next_time(platform, monkeypatch):
    tenancy, registry, keys, _ = platform
    real_lookup = registry.tenant_for_key
    in_flight = {"first": True}

    def lookup_then_revoke(key: str):
        answer = real_lookup(key)
        if in_flight.pop("first", False):
            later_write()
            (listed,) = registry.keys("acme")
            registry.revoke_key("acme", listed["key_id"], by="test")
            assert tenancy._tenant_for_key("ri_unknown_x") is None  # another request sees the change
        return answer

    monkeypatch.setattr(tenancy.registry, "tenant_for_key", lookup_then_revoke)
    assert tenancy._tenant_for_key(keys["acme"]) == "acme"  # the request already under way is answered
    assert tenancy._tenant_for_key(keys["acme"]) is None  # but its stale answer was not kept
    assert tenancy._tenant_for_key(keys["globex"]) == "globex"


def test_a_resolved_key_is_asked_again_after_the_cache_time(platform, monkeypatch):
    tenancy, registry, keys, _ = platform
    assert tenancy._tenant_for_key(keys["acme"]) == "acme"
    assert tenancy.is_warm(keys["acme"]) is False  # resolved, but acme's service is not built yet
    tenancy.service_for("acme")
    assert tenancy.is_warm(keys["acme"])
    monkeypatch.setattr("apps.api.tenancy.KEY_CACHE_SECONDS", 0.0)
    calls = []
    monkeypatch.setattr(tenancy.registry, "tenant_for_key", lambda key: calls.append(key) or "acme")
    assert not tenancy.is_warm(keys["acme"])
    tenancy._tenant_for_key(keys["acme"])
    assert calls == [keys["acme"]]


def test_one_tenants_slow_start_does_not_hold_up_another(platform, monkeypatch):
    tenancy, _, _, _ = platform
    built = tenancy._build
    release = threading.Event()

    def slow_for_acme(tenant_id: str):
        if tenant_id == "acme":
            assert release.wait(10)
        return built(tenant_id)

    monkeypatch.setattr(tenancy, "_build", slow_for_acme)
    acme = threading.Thread(target=tenancy.service_for, args=("acme",))
    acme.start()
    time.sleep(0.1)  # acme's build is under way and holds its lock
    started = time.monotonic()
    assert tenancy.service_for("globex").tenant == "globex"
    assert time.monotonic() - started < 1, "globex waited for acme's build"
    release.set()
    acme.join(10)
    assert tenancy.service_for("acme").tenant == "acme"


def test_an_archived_tenants_service_is_dropped_and_its_key_refused(platform):
    tenancy, registry, keys, stopped = platform
    for tenant in ("acme", "globex"):
        assert tenancy._tenant_for_key(keys[tenant]) == tenant
        tenancy.service_for(tenant)
    later_write()
    registry.set_status("globex", "archived", by="test")
    assert tenancy._tenant_for_key(keys["acme"]) == "acme"
    assert stopped == ["globex"] and [service.tenant for service in tenancy.loaded()] == ["acme"]
    assert tenancy._tenant_for_key(keys["globex"]) is None


def test_a_tenants_bad_rules_answer_503_with_the_reason(platform, monkeypatch):
    tenancy, _, _, _ = platform
    built = tenancy._build

    def bad_rules_for_acme(tenant_id: str):
        if tenant_id == "acme":
            raise RulesError("business_rules.yml: max_per_category must be a positive integer")
        return built(tenant_id)

    monkeypatch.setattr(tenancy, "_build", bad_rules_for_acme)
    with pytest.raises(HTTPException) as refused:
        tenancy.service_for("acme")
    assert refused.value.status_code == 503 and "max_per_category" in refused.value.detail
    assert tenancy.service_for("globex").tenant == "globex"


def test_metrics_name_tenants_without_their_ids():
    assert tenant_label("acme") == tenant_label("acme") != tenant_label("globex")
    assert "acme" not in tenant_label("acme") and len(tenant_label("acme")) == 12
