"""The ml__recommendations asset alone, on marts written by the test: every data shape publishes or says why."""

from __future__ import annotations

import os

import duckdb
import numpy as np
import pandas as pd
import pytest

from orchestration.assets.ml.recommendations import recommendations
from orchestration.resources import WarehouseResource
from retail_intel.settings import Settings
from retail_intel.warehouse import warehouse_for
from tests.support import materialize


@pytest.fixture
def settings(tmp_path) -> Settings:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("RETAIL_INTEL_", "MLFLOW_"))}
    return Settings.from_env(env).with_(home=tmp_path / "home")


def publish_marts(settings: Settings, days: int, products: int = 10, customers: int = 300) -> None:
    """A shop of ``products`` items whose purchases span ``days`` days."""
    rng = np.random.default_rng(days)
    start = pd.Timestamp("2018-01-01")
    pairs = {
        (f"c{rng.integers(customers):04d}", f"p{rng.integers(products):02d}"): start
        + pd.Timedelta(days=int(rng.integers(days)))
        for _ in range(3 * customers)
    }
    interactions = pd.DataFrame(
        [(c, p, when) for (c, p), when in pairs.items()],
        columns=["customer_unique_id", "product_id", "first_purchased_at"],
    ).assign(category="toys", purchase_count=1, quantity=1, spend=10.0, last_review_score=5)
    interactions["last_purchased_at"] = interactions["first_purchased_at"]
    ids = sorted(interactions["customer_unique_id"].unique())
    warehouse_for(settings).write("marts", "user_item_interactions", interactions)
    warehouse_for(settings).write(
        "marts", "customer_rfm", pd.DataFrame({"customer_unique_id": ids, "customer_state": "SP"})
    )
    warehouse_for(settings).write(
        "marts",
        "products",
        pd.DataFrame({"product_id": [f"p{i:02d}" for i in range(products)], "category": "toys"}),
    )
    first = interactions.groupby("customer_unique_id")["first_purchased_at"].min()
    warehouse_for(settings).write(
        "marts",
        "orders",
        pd.DataFrame({"customer_unique_id": first.index, "purchased_at": first.to_numpy()}).assign(
            main_payment_type="credit_card", max_installments=1, has_credit_card_payment=True,
            average_review_score=5.0, delivered_to_customer_at=first.to_numpy(),
        ),
    )  # fmt: skip


def materialize_lists(settings: Settings) -> dict[str, dict[str, object]]:
    result = materialize(
        settings,
        [recommendations],
        resources={"warehouse": WarehouseResource.from_settings(settings)},
        run_config={"ops": {"ml__recommendations": {"config": {"max_epochs": 1, "exclude_candidates": ["als"]}}}},
    )
    assert result.success
    return {
        "/".join(event.asset_key.path): {key: value.value for key, value in event.metadata.items()}
        for event in result.asset_materializations_for_node("ml__recommendations")
    }


def table(settings: Settings, name: str) -> pd.DataFrame:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        return con.execute(f"select * from ml.{name}").df()


def test_a_few_days_of_history_publish_empty_tables_with_the_reason(settings):
    publish_marts(settings, days=20)
    metadata = materialize_lists(settings)
    assert set(metadata) == {"ml/recommendations", "ml/user_embeddings", "ml/item_embeddings"}
    assert "20 days of purchases" in metadata["ml/recommendations"]["skipped_reason"]
    empty = table(settings, "recommendations")
    assert empty.empty and {"customer_unique_id", "product_id", "model_version", "model_family"} <= set(empty.columns)


def test_a_ten_product_shop_gets_lists_carrying_the_champions_version_and_family(settings):
    publish_marts(settings, days=200)
    metadata = materialize_lists(settings)["ml/recommendations"]
    lists = table(settings, "recommendations")
    assert lists["model_version"].unique().tolist() == ["default.recommender/1"]
    assert lists["model_family"].unique().tolist() == [metadata["champion_family"]]
    assert metadata["protocols_not_applicable"]["sampled_100"].startswith("the catalogue has 10 items")
    assert "two_tower" in metadata["candidates"]  # the table of every candidate, stepped aside or not
    # Then a short history: what was published stays.
    publish_marts(settings, days=20)
    assert "skipped_reason" in materialize_lists(settings)["ml/recommendations"]
    pd.testing.assert_frame_equal(table(settings, "recommendations"), lists)
