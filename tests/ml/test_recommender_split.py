"""Time split, leakage and baselines of the recommender on tiny hand-made frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ml.recommend_baselines import popularity_recommendations
from ml.recommender.candidates import FitData, GlobalPopularity, ItemKnn, RecentPopularity
from ml.recommender.evaluation import EvaluationTask
from ml.recommender.features import item_dynamic_features, user_numeric_features
from ml.recommender.split import known_before, purchase_events, split_by_time, training_windows

T = pd.Timestamp


def interactions(rows: list[tuple]) -> pd.DataFrame:
    """(customer, product, category, purchase_count, quantity, spend, first, last, review)."""
    frame = pd.DataFrame(
        rows,
        columns=[
            "customer_unique_id", "product_id", "category", "purchase_count", "quantity", "spend",
            "first_purchased_at", "last_purchased_at", "last_review_score",
        ],
    )  # fmt: skip
    frame["first_purchased_at"] = pd.to_datetime(frame["first_purchased_at"])
    frame["last_purchased_at"] = pd.to_datetime(frame["last_purchased_at"])
    frame["last_review_score"] = frame["last_review_score"].astype("Int32")
    return frame


@pytest.fixture
def rows() -> pd.DataFrame:
    # Data ends 2018-03-31: end 04-01, cutoff 03-02 (test 30 days), validation from 01-31.
    return interactions(
        [
            ("a", "p1", "toys", 1, 1, 10.0, "2018-01-05 10:00", "2018-01-05 10:00", 5),
            # Bought before the validation start and again in the test window: the later
            # purchase must not reach training; it is no test target (already owned).
            ("a", "p2", "toys", 2, 3, 90.0, "2018-01-10 10:00", "2018-03-10 10:00", 4),
            ("b", "p1", "toys", 1, 1, 12.0, "2018-01-20 10:00", "2018-01-20 10:00", 3),
            ("b", "p3", "books", 1, 1, 20.0, "2018-02-10 10:00", "2018-02-10 10:00", None),
            ("c", "p3", "books", 1, 2, 40.0, "2018-03-05 10:00", "2018-03-05 10:00", 1),
            ("a", "p4", "books", 1, 1, 30.0, "2018-03-20 10:00", "2018-03-31 09:00", None),
            ("d", "p2", "toys", 1, 1, 30.0, "2018-01-02 10:00", "2018-01-02 10:00", 2),
        ]
    )


def test_split_windows_and_no_evaluation_row_before_the_cutoff(rows):
    split = split_by_time(rows, test_days=30, validation_days=30)
    assert split.end == T("2018-04-01")
    assert split.cutoff == T("2018-03-02")
    assert split.validation_start == T("2018-01-31")
    assert (split.test["first_purchased_at"] >= split.cutoff).all()
    assert sorted(zip(split.test["customer_unique_id"], split.test["product_id"], strict=True)) == [
        ("a", "p4"),
        ("c", "p3"),
    ]
    assert list(zip(split.validation["customer_unique_id"], split.validation["product_id"], strict=True)) == [
        ("b", "p3")
    ]
    assert ((split.validation["first_purchased_at"] >= split.validation_start)
            & (split.validation["first_purchased_at"] < split.cutoff)).all()  # fmt: skip


def test_training_inputs_hold_nothing_from_validation_or_test(rows):
    split = split_by_time(rows, test_days=30, validation_days=30)
    for frame, boundary in ((split.train, split.validation_start), (split.history, split.cutoff)):
        assert (frame["first_purchased_at"] < boundary).all()
        assert (frame["last_purchased_at"] < boundary).all()
        assert frame["last_review_score"].isna().all()  # reviews may be written after the boundary
    repeated = split.train.set_index(["customer_unique_id", "product_id"]).loc[("a", "p2")]
    # The March purchase is stripped: one purchase, quantity and spend unknown.
    assert repeated["purchase_count"] == 1
    assert pd.isna(repeated["spend"]) and pd.isna(repeated["quantity"])
    assert repeated["last_purchased_at"] == T("2018-01-10 10:00")
    train_pairs = set(zip(split.train["customer_unique_id"], split.train["product_id"], strict=True))
    assert not train_pairs & set(
        zip(split.validation["customer_unique_id"], split.validation["product_id"], strict=True)
    )
    assert not train_pairs & set(zip(split.test["customer_unique_id"], split.test["product_id"], strict=True))


def test_known_before_composes(rows):
    later, earlier = T("2018-03-15"), T("2018-02-01")
    direct = known_before(rows, earlier)
    pd.testing.assert_frame_equal(known_before(known_before(rows, later), earlier), direct)


def test_purchase_events_show_first_and_last_purchase_only(rows):
    events = purchase_events(known_before(rows, T("2018-04-01")))
    p2 = events.loc[(events["customer_unique_id"] == "a") & (events["product_id"] == "p2")]
    assert p2["purchased_at"].tolist() == [T("2018-01-10 10:00"), T("2018-03-10 10:00")]
    assert p2["unit_price"].tolist() == [30.0, 30.0]
    stripped = purchase_events(known_before(rows, T("2018-02-01")))
    p2 = stripped.loc[stripped["product_id"] == "p2"].set_index("customer_unique_id")["unit_price"]
    assert np.isnan(p2["a"]) and p2["d"] == 30.0  # a's row mixed in a later purchase


def test_features_ignore_everything_at_or_after_the_boundary(rows):
    boundary = T("2018-02-01")
    events = purchase_events(rows.assign(last_purchased_at=rows["first_purchased_at"], purchase_count=1))
    orders = pd.DataFrame(
        {
            "customer_unique_id": ["a", "a", "b"],
            "purchased_at": pd.to_datetime(["2018-01-05 10:00", "2018-03-20 10:00", "2018-01-20 10:00"]),
            "main_payment_type": ["boleto", "credit_card", "credit_card"],
            "max_installments": [1, 10, 3],
            "has_credit_card_payment": [False, True, True],
            "average_review_score": [5.0, 1.0, 3.0],
            "delivered_to_customer_at": pd.to_datetime(["2018-01-09", "2018-03-25", "2018-01-30"]),
        }
    )
    customers = pd.Index(["a", "b", "c"])
    products = pd.Index(["p1", "p2", "p3", "p4"])
    categories = pd.Series(["toys", "toys", "books", "books"])
    users = user_numeric_features(customers, events, orders, boundary)
    items = item_dynamic_features(products, categories, events, boundary)
    # Rewrite everything from the boundary on: the features must not move.
    future = events["purchased_at"] >= boundary
    changed = pd.concat(
        [events.loc[~future], events.loc[future].assign(product_id="p4", customer_unique_id="a", unit_price=999.0)]
    )
    changed_orders = orders.assign(
        main_payment_type=np.where(orders["purchased_at"] >= boundary, "voucher", orders["main_payment_type"])
    )
    pd.testing.assert_frame_equal(user_numeric_features(customers, changed, changed_orders, boundary), users)
    pd.testing.assert_frame_equal(item_dynamic_features(products, categories, changed, boundary), items)
    assert users.loc["c"].eq(0.0).all()  # no history before the boundary: a cold start
    assert users.loc["a", "boleto_share"] == 1.0
    # b's review: delivered 01-30, less than a week before the boundary, so not yet counted.
    assert users.loc["b", "has_review"] == 0.0 and users.loc["a", "has_review"] == 1.0
    assert items.loc["p4", "never_sold"] == 1.0 and items.loc["p4", "price_missing"] == 1.0


def test_training_windows_end_at_the_boundary(rows):
    starts = training_windows(known_before(rows, T("2018-01-31")), T("2018-01-31"), 10)
    assert starts == [T("2018-01-01"), T("2018-01-11"), T("2018-01-21")]


def _fit_data(known: pd.DataFrame, recent_days: int = 30) -> FitData:
    catalog = pd.DataFrame({"product_id": ["p1", "p2", "p3", "p4"], "category": "x"})
    return FitData(known, T("2018-03-02"), catalog, pd.Series(dtype="object"), None, recent_days)


def test_global_popularity_agrees_with_the_existing_baseline(rows):
    known = known_before(rows, T("2018-03-02"))
    catalog = pd.Index(["p1", "p2", "p3", "p4"])
    fitted = GlobalPopularity().fit(_fit_data(known), {})
    order = catalog[np.argsort(-fitted.scorer(), kind="stable")]
    existing = popularity_recommendations(known, pd.Series(["new"]), top_k=3)
    assert list(order[:3]) == list(existing["product_id"])
    assert fitted.score(pd.Index(["x", "y"])).shape == (2, 4)


def test_recent_popularity_counts_the_last_days_and_breaks_ties_by_all_time(rows):
    known = known_before(rows, T("2018-03-02"))
    catalog = pd.Index(["p1", "p2", "p3", "p4"])
    scores = RecentPopularity((30,)).fit(_fit_data(known), {"days": 30}).scorer()
    # Only p3 (b, 02-10) was bought in the 30 days before the cutoff; p1 and p2 have 2 buyers all time.
    assert catalog[np.argmax(scores)] == "p3"
    assert scores[0] > scores[1] > scores[3]  # p1 before p2 by catalogue order, within the tie-break
    assert scores[0] - scores[1] < 1e-8 and scores[1] > 0.5 > scores[3]


def test_item_knn_by_hand_with_popularity_for_cold_customers(rows):
    known = known_before(rows, T("2018-03-02"))
    fitted = ItemKnn().fit(_fit_data(known), {"shrink": 0.0})
    scores = fitted.score(pd.Index(["d", "new"]))
    similarity = scores[0] - scores[1]  # the tie-break part is the same for everyone
    # d bought p2; p2's buyers {a, d}, p1's {a, b}: cosine 1 / sqrt(2 * 2) = 0.5; p3 and p4 share no buyer.
    assert similarity == pytest.approx([0.5, 0.0, 0.0, 0.0])
    assert np.argmax(scores[1]) == 2  # no history: recent popularity (p3)
    # The tie-break only breaks ties: it stays far below the smallest positive similarity.
    assert scores[1].max() < 1e-6


def test_evaluation_refuses_held_out_items_bought_before(rows):
    history = known_before(rows, T("2018-03-02"))
    catalog = pd.Index(["p1", "p2", "p3", "p4"] + [f"x{i}" for i in range(200)])
    held = pd.DataFrame({"customer_unique_id": ["a"], "product_id": ["p1"]})
    with pytest.raises(ValueError, match="already bought"):
        EvaluationTask.build(history, held, catalog)
    task = EvaluationTask.build(history, pd.DataFrame({"customer_unique_id": ["a", "z"], "product_id": ["p3", "p1"]}),
                                catalog, negatives=99)  # fmt: skip
    assert task.repeat.tolist() == [True, False]
    owned = {catalog.get_loc(product) for product in ("p1", "p2", "p3")}  # a's history and target
    assert not owned & set(task.negatives[0])
