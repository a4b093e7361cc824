"""The HTTP service on a real graph run: every endpoint, rules, switch states, cold start,
champion changes picked up without a restart, bad input, and a schema-driven fuzz."""

import os
import shutil
import time

import duckdb
import hypothesis
import numpy as np
import pandas as pd
import pytest
import schemathesis
from fastapi.testclient import TestClient
from schemathesis.checks import not_a_server_error

from apps.api.app import create_app
from ml.recommender.serving import VectorScorer
from ml.registry import ModelRegistry
from retail_intel.switch import FROZEN, OFF, ON, EngineSwitch
from retail_intel.warehouse import warehouse_for


@pytest.fixture(scope="module")
def served_settings(graph_run, tmp_path_factory):
    """A copy of the graph run's home, so that switching and promoting here leaves it alone."""
    settings, report = graph_run
    assert report.success, report.failures
    home = tmp_path_factory.mktemp("served") / "home"
    shutil.copytree(settings.home, home)
    return settings.with_(home=home)


@pytest.fixture(scope="module")
def client(served_settings):
    with TestClient(create_app(served_settings, refresh_seconds=0.2)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def known(served_settings):
    with duckdb.connect(str(served_settings.warehouse_path), read_only=True) as con:
        customer, state = con.execute(
            "select r.customer_unique_id, c.customer_state from ml.recommendations r "
            "join marts.customer_rfm c using (customer_unique_id) where c.frequency > 1 order by 1 limit 1"
        ).fetchone()
        rows = con.execute(
            "select r.product_id, p.category from ml.recommendations r join marts.products p using (product_id) "
            "where customer_unique_id = ? order by rank",
            [customer],
        ).fetchall()
        product = con.execute("select product_id from marts.products order by 1 limit 1").fetchone()[0]
    return {"customer": customer, "state": state, "list": rows, "product": product}


@pytest.fixture
def rules_file(served_settings):
    path = served_settings.tenant_dir / "business_rules.yml"
    yield path
    path.unlink(missing_ok=True)
    time.sleep(0.01)


def write_rules(path, text: str) -> None:
    path.write_text(text)
    # The service reloads the file when its modification time changes.
    stamp = time.time_ns()
    os.utime(path, ns=(stamp, stamp))


def test_every_endpoint_answers(client, known):
    customer = known["customer"]
    recommendations = client.get(f"/v1/customers/{customer}/recommendations", params={"k": 3}).json()
    assert recommendations["status"] == "ok" and len(recommendations["items"]) == 3
    assert recommendations["model_version"] == "default.recommender/1"
    assert [item["product_id"] for item in recommendations["items"]] == [p for p, _ in known["list"][:3]]
    assert {"product_id", "rank", "score", "probability", "band"} <= set(recommendations["items"][0])
    real_time = client.post("/v1/recommendations", json={"customer_unique_id": customer, "k": 4}).json()
    assert real_time["status"] == "ok" and len(real_time["items"]) == 4 and real_time["cold_start"] is False
    similar = client.get(f"/v1/products/{known['product']}/similar", params={"k": 5}).json()
    assert len(similar["items"]) == 5 and known["product"] not in {i["product_id"] for i in similar["items"]}
    assert client.get(f"/v1/customers/{customer}/segment").json()["model_version"].startswith("default.customer_")
    forecast = client.get("/v1/forecast", params={"days": 7}).json()
    assert len(forecast["days"]) == 7 and forecast["model_version"].startswith("default.revenue_forecast/")
    event = {"event_type": "click", "customer_unique_id": customer, "product_id": known["product"],
             "model_version": real_time["model_version"], "request_id": real_time["request_id"]}  # fmt: skip
    assert client.post("/v1/events", json={"events": [event, {**event, "event_type": "purchase"}]}).status_code == 202
    assert client.app.state.tenancy.service_for("default").events.count() >= 2
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json()["model_version"] == "default.recommender/1"
    metrics = client.get("/metrics").text
    assert 'retail_intel_requests_total{endpoint="/v1/recommendations",status="200"}' in metrics
    assert 'retail_intel_model_info{model_version="default.recommender/1"} 1.0' in metrics
    assert "retail_intel_request_seconds_bucket" in metrics


def test_real_time_scores_equal_the_models_own(served_settings, client, known):
    """The service's numpy scorer reproduces the two-tower model's recommendations."""
    snapshot = client.app.state.tenancy.service_for("default").snapshot()
    registry = ModelRegistry(served_settings.mlflow_tracking_uri, artifact_root=served_settings.mlflow_artifact_root)
    frames = {name: warehouse_for(served_settings).read("marts", name)
              for name in ("user_item_interactions", "customer_rfm", "products", "orders")}  # fmt: skip
    model = registry.load("default.recommender", "1").for_data(
        frames["user_item_interactions"], frames["customer_rfm"], frames["products"], frames["orders"]
    )
    rfm = frames["customer_rfm"]
    expected = model.recommend(rfm.loc[rfm["customer_unique_id"] == known["customer"]], top_k=5)
    scorer: VectorScorer = snapshot.scorer
    got, cold = scorer.recommend(known["customer"], None, [], 5)
    assert not cold
    assert list(got["product_id"]) == list(expected["product_id"])
    assert np.allclose(got["score"], expected["score"], atol=1e-3)
    assert np.allclose(got["probability"], expected["probability"], atol=1e-6)


def test_cold_start_from_features(client, known):
    first = client.post("/v1/recommendations", json={"customer_unique_id": "brand-new-1", "customer_state": "SP"})
    second = client.post("/v1/recommendations", json={"customer_unique_id": "brand-new-2", "customer_state": "SP"})
    anonymous = client.post("/v1/recommendations", json={"customer_state": "SP"})
    assert first.status_code == 200 and first.json()["cold_start"] is True
    products = [[item["product_id"] for item in answer.json()["items"]] for answer in (first, second, anonymous)]
    assert products[0] == products[1] == products[2] and len(products[0]) == 10
    other_state = client.post("/v1/recommendations", json={"customer_state": "RR"}).json()
    assert other_state["cold_start"] is True and len(other_state["items"]) == 10
    # Context moves the list and is not recommended back.
    viewed = known["product"]
    in_context = client.post("/v1/recommendations", json={"customer_state": "SP", "viewed": [viewed]}).json()
    assert viewed not in {item["product_id"] for item in in_context["items"]}
    assert "retail_intel_cold_starts_total" in client.get("/metrics").text


def test_rules_apply_to_precomputed_and_real_time_alike(client, known, rules_file):
    customer = known["customer"]
    top_product, top_category = known["list"][0]
    write_rules(rules_file, f"do_not_recommend:\n  products: [{top_product}]\n")
    precomputed = client.get(f"/v1/customers/{customer}/recommendations").json()
    real_time = client.post("/v1/recommendations", json={"customer_unique_id": customer}).json()
    for answer in (precomputed, real_time):
        assert top_product not in {item["product_id"] for item in answer["items"]}
    assert 'retail_intel_rule_hits_total{rule="do_not_recommend_product"}' in client.get("/metrics").text
    write_rules(rules_file, f"not_sold_in:\n  categories:\n    {top_category}: [{known['state']}]\n")
    answer = client.get(f"/v1/customers/{customer}/recommendations").json()
    assert top_category not in {item["category"] for item in answer["items"]}
    write_rules(rules_file, "min_probability: 0.99\n")
    empty = client.get(f"/v1/customers/{customer}/recommendations").json()
    assert empty["status"] == "empty" and empty["items"] == []
    assert empty["reason"] == "no candidate reaches the minimum probability 0.99"
    write_rules(rules_file, "max_per_category: 1\nmin_probability: 0\n")
    diverse = client.post("/v1/recommendations", json={"customer_unique_id": customer, "k": 8}).json()
    categories = [item["category"] for item in diverse["items"]]
    assert len(categories) == len(set(categories)) == 8


def test_switch_states(client, served_settings, known):
    switch = EngineSwitch(served_settings.engine_switch_path)
    customer = known["customer"]
    try:
        switch.set(OFF, by="test", reason="checking")
        for answer in (
            client.get(f"/v1/customers/{customer}/recommendations"),
            client.post("/v1/recommendations", json={"customer_unique_id": customer}),
        ):
            assert answer.status_code == 200
            body = answer.json()
            assert body["status"] == "disabled" and body["items"] == [] and body["engine"] == OFF
            assert "set by test" in body["reason"]
        switch.set(FROZEN, by="test")
        frozen = client.get(f"/v1/customers/{customer}/recommendations").json()
        assert frozen["status"] == "ok" and frozen["engine"] == FROZEN and frozen["items"]
    finally:
        switch.set(ON, by="test")


@pytest.mark.parametrize(
    ("method", "url", "body", "status", "message"),
    [
        ("get", "/v1/customers/unknown-customer/recommendations", None, 404, "unknown customer_unique_id"),
        ("get", "/v1/customers/x' or '1'='1/recommendations", None, 422, "String should match pattern"),
        ("get", "/v1/customers/{customer}/recommendations?k=0", None, 422, "greater than or equal to 1"),
        ("get", "/v1/customers/{customer}/recommendations?k=101", None, 422, "less than or equal to 100"),
        ("get", "/v1/customers/{customer}/recommendations?k=ten", None, 422, "valid integer"),
        ("get", "/v1/products/unknown-product/similar", None, 404, "unknown product_id"),
        ("get", "/v1/customers/unknown-customer/segment", None, 404, "unknown customer_unique_id"),
        ("get", "/v1/forecast?days=400", None, 422, "less than or equal to 365"),
        ("get", "/v1/forecast?days=200", None, 422, "exceeds the published forecast's horizon"),
        ("post", "/v1/recommendations", "{not json", 422, "JSON decode error"),
        ("post", "/v1/recommendations", {"k": "many"}, 422, "valid integer"),
        ("post", "/v1/recommendations", {"viewed": "p1"}, 422, "valid list"),
        ("post", "/v1/recommendations", {"viewed": ["no-such-product"]}, 422, "unknown product_id(s)"),
        ("post", "/v1/recommendations", {"customer_state": "São Paulo"}, 422, "String should match pattern"),
        ("post", "/v1/recommendations", {"surprise": 1}, 422, "Extra inputs are not permitted"),
        ("post", "/v1/events", {"events": [{"event_type": "hover"}]}, 422, "Input should be"),
        ("post", "/v1/events", {"events": []}, 422, "at least 1 item"),
        ("post", "/v1/recommendations", "x" * 70_000, 413, "request body over"),
        # JSON reads 1e309 as infinity, which the validation error echoes back.
        ("post", "/v1/recommendations", '{"k": 1e309}', 422, "inf"),
        ("post", "/v1/recommendations", '{"k": -1e309}', 422, "-inf"),
        ("post", "/v1/recommendations", '{"k": NaN}', 422, "nan"),
        ("post", "/v1/recommendations", '{"viewed": [1e309]}', 422, "inf"),
        ("post", "/v1/events", '{"events": [{"event_type": "click", "occurred_at": Infinity}]}', 422, "inf"),
        ("post", "/v1/recommendations", "[" * 20_000 + "]" * 20_000, 4, ""),
        ("post", "/v1/recommendations", '{"viewed": ' + "[" * 5_000 + "]" * 5_000 + "}", 4, ""),
    ],
)
def test_bad_input_is_a_clear_4xx(client, known, method, url, body, status, message):
    url = url.format(customer=known["customer"])
    if isinstance(body, str):
        response = client.request(method.upper(), url, content=body, headers={"content-type": "application/json"})
    else:
        response = client.request(method.upper(), url, json=body)
    if status < 10:  # any 4xx: what matters is that it is no 5xx
        assert response.status_code // 100 == status, response.text
    else:
        assert response.status_code == status, response.text
    assert message in response.text


def test_oversized_chunked_body_is_refused(client):
    def chunks():
        for _ in range(100):
            yield b"x" * 1024

    response = client.post("/v1/events", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413


def test_champion_change_is_served_without_restart(client, served_settings, known):
    registry = ModelRegistry(served_settings.mlflow_tracking_uri, artifact_root=served_settings.mlflow_artifact_root)
    name = "default.recommender"
    model = registry.load(name, "1")
    logged = registry.log_model_version(
        model_name=name,
        model=model,
        input_example=pd.DataFrame({"customer_unique_id": [known["customer"]]}),
        params={},
        metrics={},
        lineage={"as_of_date": "test"},
    )
    try:
        registry.promote(name, logged.version, by="test")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if client.get("/readyz").json()["model_version"] == f"{name}/{logged.version}":
                break
            time.sleep(0.2)
        answer = client.post("/v1/recommendations", json={"customer_unique_id": known["customer"]}).json()
        assert answer["model_version"] == f"{name}/{logged.version}"
        # The precomputed list still names the version that wrote it.
        precomputed = client.get(f"/v1/customers/{known['customer']}/recommendations").json()
        assert precomputed["model_version"] == f"{name}/1"
    finally:
        registry.rollback(name, by="test")


def test_fuzzing_the_schema_finds_no_server_error(client):
    """Requests generated from the OpenAPI schema, valid and invalid, for every operation: never a 5xx."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app, config=schemathesis.Config(seed=7))
    schema.config.phases.update(phases=["fuzzing"])
    operations = [result.ok() for result in schema.exclude(path="/metrics").get_all_operations()]
    assert len(operations) == 8  # every route but /metrics
    for operation in operations:

        @hypothesis.given(case=operation.as_strategy())
        @hypothesis.settings(max_examples=30, deadline=None, derandomize=True, database=None,
                             suppress_health_check=list(hypothesis.HealthCheck))  # fmt: skip
        def fuzz(case):
            case.call_and_validate(checks=[not_a_server_error])

        fuzz()


def test_training_asset_honours_the_switch(served_settings):
    """off: the recommender asset does not train and the tables stay; frozen: it trains but promotes nothing."""
    from orchestration.assets.ml.recommendations import recommendations
    from orchestration.resources import resources_for
    from tests.support import materialize

    switch = EngineSwitch(served_settings.engine_switch_path)
    registry = ModelRegistry(served_settings.mlflow_tracking_uri, artifact_root=served_settings.mlflow_artifact_root)
    before = warehouse_for(served_settings).read("ml", "recommendations")
    versions_before = len(registry.versions("default.recommender"))
    champion = registry.version_for("default.recommender", "champion")
    config = {"ops": {"ml__recommendations": {"config": {"max_epochs": 1}}}}
    try:
        switch.set(OFF, by="test")
        result = materialize(
            served_settings, [recommendations], resources=resources_for(served_settings), run_config=config
        )
        assert result.success and result.get_asset_materialization_events() == []
        assert len(registry.versions("default.recommender")) == versions_before
        pd.testing.assert_frame_equal(warehouse_for(served_settings).read("ml", "recommendations"), before)

        switch.set(FROZEN, by="test")
        result = materialize(
            served_settings, [recommendations], resources=resources_for(served_settings), run_config=config
        )
        assert result.success
        versions = registry.versions("default.recommender")
        assert len(versions) == versions_before + 1
        latest = registry.client.get_model_version("default.recommender", str(versions.iloc[-1]["version"]))
        assert latest.tags["promotion.decision"] == "kept as challenger"
        assert latest.tags["promotion.reason"].startswith("engine frozen by test")
        assert registry.version_for("default.recommender", "champion") == champion
        assert set(warehouse_for(served_settings).read("ml", "recommendations")["model_version"]) == {
            f"default.recommender/{champion}"
        }
    finally:
        switch.set(ON, by="test")


def test_serve_and_score_use_the_warehouse_named_on_the_command_line(served_settings, known, tmp_path, monkeypatch):
    """A warehouse built with `run --warehouse FILE` is served and scored with `--warehouse FILE`."""
    import uvicorn
    from click.testing import CliRunner

    from apps.cli import main

    home = tmp_path / "home"
    shutil.copytree(served_settings.home, home)
    elsewhere = tmp_path / "elsewhere.duckdb"
    # Nothing left at the default path: only the named file can answer.
    shutil.move(served_settings.with_(home=home).warehouse_path, elsewhere)
    served = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **_: served.update(app=app))
    result = CliRunner().invoke(main, ["--home", str(home), "serve", "--warehouse", str(elsewhere)])
    assert result.exit_code == 0, result.output
    with TestClient(served["app"]) as client:
        response = client.get(f"/v1/customers/{known['customer']}/recommendations")
    assert response.status_code == 200, response.text
    assert [item["product_id"] for item in response.json()["items"]]

    scored = CliRunner().invoke(main, ["--home", str(home), "score", "--warehouse", str(elsewhere)])
    assert scored.exit_code == 0, scored.output
    with duckdb.connect(str(elsewhere), read_only=True) as con:
        assert con.execute("select count(*) from ml.coupon_targets").fetchone()[0] > 0
    assert not served_settings.with_(home=home).warehouse_path.exists()


def test_serve_finishes_a_request_in_flight_on_sigterm_then_exits(served_settings, known, tmp_path):
    """A request whose body is still arriving when SIGTERM comes is answered, then the service exits
    (uvicorn re-raises the signal once drained, so the status is the signal's)."""
    import json
    import signal
    import socket
    import subprocess
    import sys

    home = tmp_path / "home"
    shutil.copytree(served_settings.home, home)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    script = os.path.join(os.path.dirname(sys.executable), "retail-intel")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETAIL_INTEL_")}
    server = subprocess.Popen(
        [script, "--home", str(home), "serve", "--port", str(port), "--refresh-seconds", "60"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:  # until it listens
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, server.communicate()
                time.sleep(0.3)
        body = json.dumps({"customer_unique_id": known["customer"], "k": 3}).encode()
        with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
            head = (
                f"POST /v1/recommendations HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            ).encode()
            connection.sendall(head + body[:5])  # in flight: headers read, the body not all there
            time.sleep(0.5)
            server.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            assert server.poll() is None  # it waits for the request
            connection.sendall(body[5:])
            response = b""
            while chunk := connection.recv(65536):
                response += chunk
        status_line, _, rest = response.partition(b"\r\n")
        assert status_line == b"HTTP/1.1 200 OK", response[:500]
        answer = json.loads(rest.partition(b"\r\n\r\n")[2])
        assert len(answer["items"]) == 3
        assert server.wait(timeout=30) in (0, -signal.SIGTERM)
        with pytest.raises(OSError):  # and no longer listens
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
