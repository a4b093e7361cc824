"""The per-customer next-purchase split: each customer's last new-item order held out, nothing of it in training."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ml.recommender.next_purchase import known_before_each, orders_before_each, split_next_purchase

T = pd.Timestamp


def _row(customer, product, first, last=None, count=1):
    last = last or first
    return {
        "customer_unique_id": customer,
        "product_id": product,
        "category": "toys",
        "purchase_count": count,
        "quantity": count,
        "spend": 10.0 * count,
        "first_purchased_at": T(first),
        "last_purchased_at": T(last),
        "last_review_score": 5,
    }


@pytest.fixture
def interactions() -> pd.DataFrame:
    return pd.DataFrame(
        [
            # a: three moments; p1 is bought again in the last order (a re-buy, not a target).
            _row("a", "p1", "2018-01-01", "2018-03-01", count=2),
            _row("a", "p2", "2018-02-01"),
            _row("a", "p3", "2018-03-01"),
            # b: two moments.
            _row("b", "p2", "2018-01-05"),
            _row("b", "p4", "2018-02-10"),
            _row("b", "p5", "2018-02-10"),
            # c: one order only: never held out, in training whole.
            _row("c", "p1", "2018-02-20"),
            # d: bought p1 twice and nothing new later: the re-buy is not a new item, its only new-item
            # moment has nothing before it.
            _row("d", "p1", "2018-01-10", "2018-02-15", count=2),
        ]
    )


def _pairs(frame: pd.DataFrame) -> set[tuple[str, str]]:
    return set(zip(frame["customer_unique_id"], frame["product_id"], strict=True))


def test_each_customer_with_two_orders_has_their_last_new_item_order_held_out(interactions):
    split = split_next_purchase(interactions)
    assert _pairs(split.test) == {("a", "p3"), ("b", "p4"), ("b", "p5")}
    assert split.test_moments.to_dict() == {"a": T("2018-03-01"), "b": T("2018-02-10")}
    # Validation repeats the cut on what is left: a's order of 02-01 (b has one order left).
    assert _pairs(split.validation) == {("a", "p2")}


def test_training_holds_nothing_from_or_after_the_held_out_order(interactions):
    split = split_next_purchase(interactions)
    for training, held_out, moments in (
        (split.history, split.test, split.test_moments),
        (split.train, split.validation, split.validation_moments),
    ):
        assert not _pairs(training) & _pairs(held_out)
        at = training["customer_unique_id"].map(moments)
        assert not (training["first_purchased_at"] >= at).any()
        assert not (training["last_purchased_at"] >= at).any()
        assert training["last_review_score"].isna().all()  # reviews are undated: never used
    history = split.history.set_index(["customer_unique_id", "product_id"])
    # a's re-buy of p1 in the held-out order is stripped: one purchase known, amounts unknown.
    assert history.loc[("a", "p1"), "purchase_count"] == 1
    assert history.loc[("a", "p1"), "last_purchased_at"] == T("2018-01-01")
    assert pd.isna(history.loc[("a", "p1"), "spend"])
    # Customers who are not held out keep everything.
    assert history.loc[("d", "p1"), "purchase_count"] == 2 and ("c", "p1") in history.index


def test_known_before_each_equals_known_before_for_one_customer(interactions):
    from ml.recommender.split import known_before

    only_a = interactions.loc[interactions["customer_unique_id"] == "a"].reset_index(drop=True)
    cut = known_before_each(only_a, pd.Series({"a": T("2018-02-15")}))
    pd.testing.assert_frame_equal(cut, known_before(only_a, T("2018-02-15")))


def test_orders_are_cut_per_customer_with_reviews_written_later_removed():
    orders = pd.DataFrame(
        {
            "customer_unique_id": ["a", "a", "a", "c"],
            "purchased_at": [T("2018-01-01"), T("2018-02-20"), T("2018-03-01"), T("2018-03-05")],
            "delivered_to_customer_at": [T("2018-01-05"), T("2018-02-27"), T("2018-03-04"), T("2018-03-08")],
            "average_review_score": [5.0, 1.0, 3.0, 4.0],
        }
    )
    kept = orders_before_each(orders, pd.Series({"a": T("2018-03-01")}))
    assert kept["purchased_at"].tolist() == [T("2018-01-01"), T("2018-02-20"), T("2018-03-05")]
    # The 02-20 order was delivered two days before a's moment: its review came too late to be known.
    assert kept["average_review_score"].tolist()[:2] == [5.0, None] or pd.isna(kept["average_review_score"][1])
    assert kept["average_review_score"][0] == 5.0 and kept["average_review_score"][2] == 4.0
    assert orders_before_each(None, pd.Series(dtype="datetime64[ns]")) is None


def test_no_repeat_customers_means_an_empty_protocol():
    rows = pd.DataFrame([_row(f"c{i}", "p1", "2018-01-01") for i in range(5)])
    split = split_next_purchase(rows)
    assert split.test.empty and split.validation.empty
    assert np.array_equal(split.history["customer_unique_id"], rows["customer_unique_id"])
