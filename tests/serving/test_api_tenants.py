"""One HTTP service for two tenants built by the graph: each API key gets its own tenant's
lists, segments, forecast, events and switch, and nothing of the other's."""

from __future__ import annotations

import shutil

import duckdb
import pytest
from fastapi.testclient import TestClient

from apps.api.app import create_app
from apps.api.tenancy import RateLimit
from orchestration.runner import run_graph
from retail_intel.generator import GeneratorConfig, generate
from retail_intel.switch import OFF, EngineSwitch
from retail_intel.tenants import TenantRegistry, label_key, tenant_label


@pytest.fixture(scope="module")
def two_tenants(graph_run, tmp_path_factory):
    """The graph run's tenant (default) and a second one built from other data, in one home."""
    settings, report = graph_run
    assert report.success, report.failures
    home = tmp_path_factory.mktemp("tenants") / "home"
    shutil.copytree(settings.home, home)
    default = settings.with_(home=home)
    raw = tmp_path_factory.mktemp("globex-raw") / "olist"
    generate(GeneratorConfig(orders=800, seed=21), raw)
    globex = default.with_(tenant_id="globex", raw_dir_override=raw)
    built = run_graph(globex, horizon=7, top_k=5, log=lambda _: None)
    assert built.success, built.failures

    registry = TenantRegistry.of(default)
    registry.add("default", raw_dir=default.raw_dir, by="test")
    registry.add("globex", raw_dir=raw, by="test")
    keys = {tenant: registry.create_key(tenant, by="test") for tenant in ("default", "globex")}
    return {"default": default, "globex": globex}, keys


def first_customer(settings) -> str:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as connection:
        return connection.execute("select min(customer_unique_id) from ml.recommendations").fetchone()[0]


@pytest.fixture(scope="module")
def client(two_tenants):
    settings, _ = two_tenants
    with TestClient(create_app(settings["default"], refresh_seconds=0.2)) as test_client:
        yield test_client


def test_each_key_gets_its_own_tenant_and_never_the_other(client, two_tenants):
    settings, keys = two_tenants
    assert client.app.state.tenancy.multi_tenant  # two tenants in the registry: keys are required
    customers = {tenant: first_customer(settings[tenant]) for tenant in settings}
    for tenant, other in (("default", "globex"), ("globex", "default")):
        headers = {"X-API-Key": keys[tenant]}
        own = client.get(f"/v1/customers/{customers[tenant]}/recommendations", headers=headers)
        assert own.status_code == 200 and own.json()["model_version"] == f"{tenant}.recommender/1"
        for path in (f"/v1/customers/{customers[other]}/recommendations", f"/v1/customers/{customers[other]}/segment"):
            assert client.get(path, headers=headers).status_code == 404, (tenant, path)
        forecast = client.get("/v1/forecast", params={"days": 3}, headers=headers).json()
        assert forecast["model_version"].startswith(f"{tenant}.revenue_forecast/")

    # Events go to the key's tenant's store only.
    stores = {tenant: client.app.state.tenancy.service_for(tenant).events for tenant in settings}
    before = {tenant: store.count() for tenant, store in stores.items()}
    event = {"event_type": "click", "customer_unique_id": customers["globex"], "product_id": "p1"}
    accepted = client.post("/v1/events", json={"events": [event]}, headers={"X-API-Key": keys["globex"]})
    assert accepted.status_code == 202
    assert stores["globex"].count() == before["globex"] + 1 and stores["default"].count() == before["default"]


def test_requests_without_a_valid_key_are_refused_without_a_server_error(client, two_tenants):
    settings, keys = two_tenants
    customer = first_customer(settings["default"])
    path = f"/v1/customers/{customer}/recommendations"
    assert client.get(path).status_code == 401
    for hostile in (
        "nonsense",
        keys["default"][:-2],
        "ri_' or '1'='1_x",
        "ri_" + "a" * 5000,
        keys["default"] + "x",
        keys["globex"] + " ",  # not stripped: not the key
    ):
        assert client.get(path, headers={"X-API-Key": hostile}).status_code == 401, hostile
    for open_path in ("/healthz", "/readyz", "/metrics"):
        assert client.get(open_path).status_code == 200, open_path

    registry = TenantRegistry.of(settings["default"])
    (listed,) = registry.keys("default")
    registry.revoke_key("default", listed["key_id"], by="test")
    assert client.get(path, headers={"X-API-Key": keys["default"]}).status_code == 401


def test_the_switch_and_the_rate_limit_are_per_tenant(two_tenants):
    settings, _ = two_tenants
    registry = TenantRegistry.of(settings["default"])
    keys = {tenant: registry.create_key(tenant, by="test") for tenant in settings}
    customers = {tenant: first_customer(settings[tenant]) for tenant in settings}
    EngineSwitch(settings["globex"].engine_switch_path).set(OFF, by="test", reason="isolation test")
    app = create_app(settings["default"], refresh_seconds=0.2, rate_limit=RateLimit(per_second=0.5, burst=3))
    try:
        with TestClient(app) as client:

            def ask(tenant: str):
                return client.get(
                    f"/v1/customers/{customers[tenant]}/recommendations", headers={"X-API-Key": keys[tenant]}
                )

            assert ask("globex").json()["status"] == "disabled"
            assert ask("default").json()["status"] == "ok"
            statuses = [ask("default").status_code for _ in range(4)]
            assert statuses[:2] == [200, 200] and statuses[-1] == 429  # burst of 3, then refused
            assert ask("globex").status_code == 200  # the other tenant is still served
            metrics = client.get("/metrics").text
            label = tenant_label("default", label_key(settings["default"].registry_path))
            assert f'retail_intel_rate_limited_total{{tenant="{label}"}}' in metrics
            assert "globex" not in metrics, "/metrics needs no key: it must not list the clients"
    finally:
        EngineSwitch(settings["globex"].engine_switch_path).set("on", by="test", reason="isolation test over")
