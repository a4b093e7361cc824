"""The multi-tenant service's key cache and per-tenant services, without a graph: a key revoked
while a lookup is under way is refused next time, a tenant's service is built once and its slow
start does not hold up another's, archived and purged tenants' services are dropped, a tenant's
bad rules answer 503, and /metrics does not name tenants by id."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from types import SimpleNamespace

import pytest
from fastapi import HTTPException
from fastapi.testclient import TestClient
from prometheus_client import generate_latest

from apps.api.app import create_app
from apps.api.metrics import Metrics
from apps.api.service import Service
from apps.api.tenancy import RateLimit, Tenancy
from retail_intel.switch import OFF, EngineSwitch
from retail_intel.tenants import TenantRegistry, label_key, tenant_label
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


def test_a_tenant_archived_while_its_service_is_built_is_not_kept(platform, monkeypatch):
    tenancy, registry, keys, stopped = platform
    build = tenancy._build

    def build_then_archived(tenant_id: str):
        service = build(tenant_id)
        registry.set_status(tenant_id, "archived", by="ops")  # lands while the first request builds
        return service

    monkeypatch.setattr(tenancy, "_build", build_then_archived)
    with pytest.raises(HTTPException) as refused:
        tenancy.service_for_request(keys["acme"])
    assert refused.value.status_code == 401 and stopped == ["acme"] and tenancy.loaded() == []


def test_two_first_requests_for_one_tenant_build_it_once(platform, monkeypatch):
    tenancy, _, _, _ = platform
    built, builds = tenancy._build, []

    def slow(tenant_id: str):
        builds.append(tenant_id)
        time.sleep(0.2)  # long enough for every thread to ask before the first build ends
        return built(tenant_id)

    monkeypatch.setattr(tenancy, "_build", slow)
    services = []
    threads = [threading.Thread(target=lambda: services.append(tenancy.service_for("acme"))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert builds == ["acme"] and len(services) == 4 and all(service is services[0] for service in services)


def test_a_purged_tenants_service_is_dropped_and_its_key_refused(platform):
    tenancy, registry, keys, stopped = platform
    assert tenancy.service_for_request(keys["globex"]).tenant == "globex"
    later_write()
    registry.delete("globex", by="test")
    with pytest.raises(HTTPException) as refused:
        tenancy.service_for_request(keys["globex"])
    assert refused.value.status_code == 401
    assert stopped == ["globex"] and tenancy.loaded() == []


def test_the_serving_tenant_archived_is_dropped_like_any_other(platform):
    tenancy, registry, keys, stopped = platform
    own = tenancy.settings.tenant_id
    registry.add(own, raw_dir=None, by="test")
    key = registry.create_key(own, by="test")
    assert tenancy.service_for_request(key).tenant == own
    later_write()
    registry.set_status(own, "archived", by="test")
    with pytest.raises(HTTPException) as refused:
        tenancy.service_for_request(key)
    assert refused.value.status_code == 401 and stopped == [own] and tenancy.loaded() == []


def write_rules(path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    stamp = time.time_ns()  # the service reads the file again when its modification time changes
    os.utime(path, ns=(stamp, stamp))


def test_a_tenants_bad_rules_answer_503_with_the_reason_and_the_others_are_served(tmp_path, monkeypatch):
    settings = make_settings(tmp_path / "home")
    registry = TenantRegistry.of(settings)
    keys = {}
    for tenant in ("acme", "globex"):
        registry.add(tenant, raw_dir=None, by="test")
        keys[tenant] = registry.create_key(tenant, by="test")
        # Off: the service answers "disabled" with its rules' version and needs no snapshot.
        EngineSwitch(settings.with_(tenant_id=tenant).engine_switch_path).set(OFF, by="test")

    def build(tenancy: Tenancy, tenant_id: str) -> Service:
        service = Service(settings.with_(tenant_id=tenant_id), SimpleNamespace(stop=lambda: None), tenancy.metrics)
        service.rules()  # as Tenancy._build does
        return service

    monkeypatch.setattr(Tenancy, "_build", build)
    rules = settings.with_(tenant_id="acme").tenant_dir / "business_rules.yml"
    write_rules(rules, "max_per_category: 0\n")
    with TestClient(create_app(settings, multi_tenant=True)) as client:

        def ask(tenant: str):
            return client.get("/v1/customers/c1/recommendations", headers={"X-API-Key": keys[tenant]})

        refused = ask("acme")  # its service cannot be built
        assert refused.status_code == 503 and "max_per_category" in refused.json()["detail"]
        assert "Traceback" not in refused.text
        assert ask("globex").json()["status"] == "disabled"
        write_rules(rules, "max_per_category: 2\n")
        assert ask("acme").json()["status"] == "disabled"
        write_rules(rules, "min_probability: 2\n")  # broken again once its service is built
        refused = ask("acme")
        assert refused.status_code == 503 and "min_probability" in refused.json()["detail"]
        assert ask("globex").status_code == 200


def test_metrics_name_tenants_without_their_ids(platform):
    tenancy, _, keys, _ = platform
    tenancy.rate_limit = RateLimit(per_second=0.01, burst=1)
    tenancy.service_for_request(keys["acme"])
    with pytest.raises(HTTPException) as refused:
        tenancy.service_for_request(keys["acme"])
    assert refused.value.status_code == 429
    exposed = generate_latest(tenancy.metrics.registry).decode()
    assert f'retail_intel_rate_limited_total{{tenant="{tenancy.label("acme")}"}} 1.0' in exposed
    assert "acme" not in exposed
    assert tenancy.label("acme") != tenancy.label("globex") and len(tenancy.label("acme")) == 12
    # Keyed by the installation's secret: not the plain hash anyone could compute from a guess.
    key = label_key(tenancy.settings.registry_path)
    assert tenancy.label("acme") == tenant_label("acme", key) != hashlib.sha256(b"acme").hexdigest()[:12]
    assert tenant_label("acme", key) != tenant_label("acme", b"another installation")
    assert label_key(tenancy.settings.registry_path) == key  # made once, then kept
