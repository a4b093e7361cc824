from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from ml.forecast_baselines import seasonal_naive_forecast
from ml.recommend_baselines import popularity_recommendations
from ml.segments import (
    SEGMENTS,
    fit_segmenter,
    named_segments,
    segment_for,
    segment_movement,
    segment_stability,
    segment_summary,
    silhouette,
    silhouettes,
)


def test_seasonal_naive_repeats_last_week_and_bounds_by_past_errors():
    days = pd.date_range("2018-01-01", periods=21, freq="D")
    weekly = [10.0, 20.0, 30.0, 40.0, 50.0, 0.0, 5.0]
    # Week 3 is week 2 plus 7 on every day: the one-week-ahead errors are 0 (week 2) and 7 (week 3).
    revenue = weekly + weekly + [value + 7 for value in weekly]
    forecast = seasonal_naive_forecast(pd.DataFrame({"date": days.date, "revenue": revenue}), horizon=9)
    assert list(forecast["date"]) == list(pd.date_range("2018-01-22", periods=9, freq="D").date)
    expected = [value + 7 for value in weekly] + [17.0, 27.0]
    assert list(forecast["yhat"]) == expected
    # errors: seven 0s then seven 7s -> 10% quantile 0, 90% quantile 7
    assert list(forecast["yhat_lower"]) == expected
    assert list(forecast["yhat_upper"]) == [value + 7 for value in expected]


def test_seasonal_naive_never_negative_and_rejects_short_history():
    days = pd.date_range("2018-01-01", periods=14, freq="D")
    revenue = [0.0] * 7 + [100.0, 0.0, 0, 0, 0, 0, 0]
    forecast = seasonal_naive_forecast(pd.DataFrame({"date": days.date, "revenue": revenue}), horizon=7)
    assert (forecast[["yhat", "yhat_lower", "yhat_upper"]] >= 0).all().all()
    with pytest.raises(ValueError, match="at least 7 days"):
        seasonal_naive_forecast(pd.DataFrame({"date": days.date[:5], "revenue": revenue[:5]}), horizon=3)


@pytest.mark.parametrize(
    ("r", "f", "segment"),
    [
        (5, 5, "Champions"),
        (3, 5, "Loyal"),
        (5, 1, "New Customers"),
        (4, 1, "Promising"),
        (4, 3, "Potential Loyalist"),
        (3, 3, "Need Attention"),
        (3, 1, "About to Sleep"),
        (1, 4, "At Risk"),
        (2, 5, "Can't Lose Them"),
        (2, 1, "Hibernating"),
        (1, 1, "Lost"),
    ],
)
def test_segment_grid(r, f, segment):
    assert segment_for(r, f) == segment


def test_every_segment_is_reachable_and_scores_are_validated():
    assert {segment_for(r, f) for r in range(1, 6) for f in range(1, 6)} == set(SEGMENTS)
    with pytest.raises(ValueError, match="1-5"):
        segment_for(0, 3)


def test_segment_summary_shares_add_up():
    frame = pd.DataFrame(
        {"r_score": [5, 5, 1], "f_score": [5, 1, 1], "frequency": [4, 1, 1], "monetary": [400.0, 50.0, 50.0]}
    )
    frame["segment"] = named_segments(frame)
    summary = segment_summary(frame).set_index("segment")
    assert summary.loc["Champions", "revenue_share"] == pytest.approx(0.8)
    assert summary.loc["Champions", "average_order_value"] == pytest.approx(100.0)
    assert summary["customer_share"].sum() == pytest.approx(1.0)


def test_segment_movement_counts_stayers_movers_arrivals_and_departures():
    previous = pd.DataFrame({"customer_unique_id": ["a", "b", "c", "d"], "segment": ["Loyal", "Loyal", "Lost", "Lost"]})
    current = pd.DataFrame(
        {"customer_unique_id": ["a", "b", "c", "e"], "segment": ["Loyal", "Champions", "Lost", "Lost"]}
    )
    moved = segment_movement(previous, current).set_index(["previous_segment", "segment"])
    assert moved["customers"].to_dict() == {
        ("(new)", "Lost"): 1,
        ("Lost", "(gone)"): 1,
        ("Lost", "Lost"): 1,
        ("Loyal", "Champions"): 1,
        ("Loyal", "Loyal"): 1,
    }
    assert moved.loc[("Loyal", "Champions"), "share_of_previous"] == pytest.approx(0.5)
    first = segment_movement(None, current)
    assert set(first["previous_segment"]) == {"(new)"} and first["customers"].sum() == 4


def test_popularity_excludes_bought_items_and_breaks_ties_by_id():
    interactions = pd.DataFrame(
        {
            "customer_unique_id": ["a", "a", "b", "c", "c"],
            "product_id": ["p1", "p2", "p1", "p3", "p1"],
        }
    )
    recs = popularity_recommendations(interactions, pd.Series(["a", "b", "c", "new"]), top_k=2)
    by_customer = recs.groupby("customer_unique_id")["product_id"].apply(list).to_dict()
    # p1 has 3 buyers, p2 and p3 one each (p2 wins the tie by id)
    assert by_customer == {"a": ["p3"], "b": ["p2", "p3"], "c": ["p2"], "new": ["p1", "p2"]}
    assert recs.loc[recs["customer_unique_id"] == "new", "score"].tolist() == [pytest.approx(1.0), pytest.approx(1 / 3)]
    assert popularity_recommendations(interactions, pd.Series(["a"]), top_k=1, exclude_bought=False)[
        "product_id"
    ].tolist() == ["p1"]


def test_today_is_not_used():
    # The forecast starts the day after the data, whatever the wall clock says.
    days = pd.date_range("2016-01-01", periods=7, freq="D")
    forecast = seasonal_naive_forecast(pd.DataFrame({"date": days.date, "revenue": [1.0] * 7}), horizon=1)
    assert forecast["date"].iloc[0] == date(2016, 1, 8)


def rfm_blobs(seed: int = 0) -> pd.DataFrame:
    """Three clearly separated customer groups: recent big spenders, lapsed one-timers, regulars."""
    rng = np.random.default_rng(seed)
    groups = [((5, 4, 900), 60), ((400, 1, 40), 80), ((60, 2, 150), 70)]
    rows = []
    for (recency, frequency, monetary), size in groups:
        rows.append(
            pd.DataFrame(
                {
                    "recency_days": rng.normal(recency, recency * 0.1, size).clip(0),
                    "frequency": np.full(size, frequency),
                    "monetary": rng.normal(monetary, monetary * 0.1, size).clip(0),
                }
            )
        )
    frame = pd.concat(rows, ignore_index=True)
    frame["customer_unique_id"] = [f"c{i}" for i in range(len(frame))]
    return frame


def test_kmeans_picks_the_number_of_groups_by_silhouette_and_orders_clusters_by_value():
    rfm = rfm_blobs()
    segmenter, scores = fit_segmenter(rfm, k_range=(2, 6))
    assert segmenter.k == 3, scores
    labels = segmenter.predict(rfm)
    # cluster numbers rise with value: lapsed one-timers 0, regulars 1, recent big spenders 2
    assert (
        labels[60:140].tolist() == [0] * 80 and labels[140:].tolist() == [1] * 70 and labels[:60].tolist() == [2] * 60
    )
    again, _ = fit_segmenter(rfm, k_range=(2, 6))
    assert again.predict(rfm).tolist() == labels.tolist()
    assert silhouette(segmenter, rfm) == pytest.approx(scores[3])


def test_k_is_searched_on_a_sample_and_the_chosen_k_fitted_on_everyone():
    rfm = rfm_blobs()
    sampled, scores = fit_segmenter(rfm, k_range=(2, 6), search_sample=100)
    full, full_scores = fit_segmenter(rfm, k_range=(2, 6))
    assert sampled.k == full.k == 3
    assert scores != full_scores  # the search saw 100 of the 210 customers
    # The chosen k is refitted on every customer: the same clusters as the full search.
    assert sampled.predict(rfm).tolist() == full.predict(rfm).tolist()


def test_fixed_k_and_bad_input():
    rfm = rfm_blobs()
    assert fit_segmenter(rfm, k=4)[0].k == 4
    with pytest.raises(ValueError, match="lacks column"):
        fit_segmenter(rfm.drop(columns="monetary"))
    with pytest.raises(ValueError, match="non-negative"):
        fit_segmenter(rfm.assign(monetary=-1.0))


def test_segment_stability_counts_customers_seen_twice():
    previous = pd.DataFrame({"customer_unique_id": ["a", "b", "c"], "segment": ["Lost", "Champions", "Loyal"]})
    current = pd.DataFrame({"customer_unique_id": ["b", "c", "d"], "segment": ["Champions", "At Risk", "Lost"]})
    assert segment_stability(previous, current) == pytest.approx(0.5)
    assert segment_stability(previous, current.assign(customer_unique_id=["x", "y", "z"])) is None


def test_silhouettes_share_one_sample_and_equal_sklearns_score(monkeypatch):
    from sklearn.metrics import silhouette_score

    import ml.segments

    # Blocks of 20 of the 500 sampled points: the distances come in pieces.
    monkeypatch.setattr(ml.segments, "DISTANCE_BLOCK", 20 * 500)
    rng = np.random.default_rng(4)
    points = np.concatenate([rng.normal(centre, 0.5, size=(300, 3)) for centre in (0.0, 3.0, 6.0)])
    labelings = [np.repeat([0, 1, 2], 300), rng.integers(0, 4, 900), np.repeat([5, 9], [450, 450])]
    scores = silhouettes(points, labelings, sample=500, seed=3)
    expected = [silhouette_score(points, labels, sample_size=500, random_state=3) for labels in labelings]
    assert scores == pytest.approx(expected, abs=1e-9)
    assert scores[0] > 0.5 > scores[2] and abs(scores[1]) < 0.1
    assert silhouettes(points, [np.zeros(900, dtype=int)]) == [-1.0]
