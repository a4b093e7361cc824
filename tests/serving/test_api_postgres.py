"""The service on the PostgreSQL warehouse: score tables read from the tenant's schemas,
events written to its events schema, and a republished table served without a restart."""

import time

import psycopg2
import pytest
from fastapi.testclient import TestClient

from apps.api.app import create_app
from apps.api.snapshot import warehouse_signature
from retail_intel.warehouse import warehouse_for

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def pg_settings(postgres_graph_run):
    settings, report = postgres_graph_run
    assert report.success, report.failures
    return settings


@pytest.fixture(scope="module")
def client(pg_settings):
    with TestClient(create_app(pg_settings, refresh_seconds=0.2)) as test_client:
        yield test_client


def fetch(query: str, *params) -> list[tuple]:
    with psycopg2.connect() as connection, connection.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchall()


def wait_for(condition, seconds: float = 60.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def test_every_endpoint_answers_from_postgres(client):
    (customer,) = fetch("select customer_unique_id from graphpg__ml.recommendations order by 1 limit 1")[0]
    expected = fetch(
        "select product_id from graphpg__ml.recommendations where customer_unique_id = %s order by rank", customer
    )
    precomputed = client.get(f"/v1/customers/{customer}/recommendations", params={"k": 3}).json()
    assert precomputed["status"] == "ok"
    assert precomputed["model_version"] == "graphpg.recommender/1"
    assert [item["product_id"] for item in precomputed["items"]] == [product for (product,) in expected]
    real_time = client.post("/v1/recommendations", json={"customer_unique_id": customer, "k": 2}).json()
    assert len(real_time["items"]) == 2 and real_time["cold_start"] is False
    product = expected[0][0]
    assert len(client.get(f"/v1/products/{product}/similar", params={"k": 4}).json()["items"]) == 4
    (segment,) = fetch("select segment from graphpg__ml.customer_segments where customer_unique_id = %s", customer)[0]
    assert client.get(f"/v1/customers/{customer}/segment").json()["segment"] == segment
    assert len(client.get("/v1/forecast", params={"days": 5}).json()["days"]) == 5
    ready = client.get("/readyz").json()
    assert ready["ready"] is True and ready["last_error"] is None


def test_events_land_in_the_tenants_events_schema(client):
    before = fetch("select count(*) from graphpg__events.serving_events")[0][0]
    event = {"event_type": "impression", "customer_unique_id": "c-1", "product_id": "p-1",
             "model_version": "graphpg.recommender/1", "request_id": "r-1"}  # fmt: skip
    assert client.post("/v1/events", json={"events": [event, {**event, "event_type": "click"}]}).status_code == 202
    rows = fetch(
        "select event_type, model_version from graphpg__events.serving_events where request_id = 'r-1' order by 1"
    )
    assert rows == [("click", "graphpg.recommender/1"), ("impression", "graphpg.recommender/1")]
    assert fetch("select count(*) from graphpg__events.serving_events")[0][0] == before + 2
    # A value that would break an unparameterized insert is stored as data.
    hostile = {**event, "request_id": "r-2'); drop table graphpg__events.serving_events; --"}
    assert client.post("/v1/events", json={"events": [hostile]}).status_code == 202
    assert fetch("select count(*) from graphpg__events.serving_events")[0][0] == before + 3


def test_republished_scores_are_served_without_restart(client, pg_settings):
    """A publish on PostgreSQL replaces the table; the service notices by its object id and reloads,
    even though the new table has as many rows and the same model version as the old one."""
    original = warehouse_for(pg_settings).read("ml", "recommendations")
    customer = original["customer_unique_id"].min()
    mine = original["customer_unique_id"] == customer
    reordered = original.copy()
    reordered.loc[mine, "product_id"] = original.loc[mine, "product_id"].to_numpy()[::-1]
    signature = warehouse_signature(pg_settings)
    try:
        warehouse_for(pg_settings).write("ml", "recommendations", reordered)
        assert warehouse_signature(pg_settings) != signature
        wanted = list(reordered.loc[mine].sort_values("rank")["product_id"])

        def served() -> list[str]:
            answer = client.get(f"/v1/customers/{customer}/recommendations").json()
            return [item["product_id"] for item in answer["items"]]

        assert wait_for(lambda: served() == wanted), served()
    finally:
        warehouse_for(pg_settings).write("ml", "recommendations", original)
