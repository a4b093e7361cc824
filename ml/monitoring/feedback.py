"""A simulated feedback loop: customers shown their lists on the days after the training data.

Nobody clicks on these machines, so the monitoring of the recommender is tested against a
known truth. The days replayed are real (held back from the raw files): who came back, on
which day, and what they bought. What the simulation adds is what a shop would log around
those purchases, from a documented preference model (:class:`TruePreference`):

- **Visits.** Every customer with an order on a day visits that day, before buying, and is
  shown their list. Besides them, ``browsers_per_buyer`` times as many known customers who buy
  nothing that day visit and are shown theirs.
- **Clicks.** On the item at rank ``r`` (1 first) a visitor clicks with probability
  ``base / log2(r + 1)`` (the usual position discount), where ``base`` is ``click_bought``
  when the visitor buys that product within ``horizon_days`` of the visit, ``click_category``
  when the product's category is one they bought from before or buy within the horizon, and
  ``click_other`` otherwise.
- **Add-to-carts.** A clicked product bought that day always goes to the cart; another
  clicked product with probability ``cart_after_click``.
- **Empty lists.** A visitor shown an empty list (an experiment's recommend-nothing arm)
  logs one impression without a product: when the slot was seen.
- **Purchases.** The visitor's real order items of that day, each with its price, the model
  version and request id of the list shown at the visit.

So a list that holds more of what customers really went on to buy draws more clicks, carts
and purchases of shown items: a model known to be worse looks worse, by construction, and the
size of the gap is the real data's, not a choice of the simulation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

# The realised orders replayed: one row per order item.
PURCHASE_COLUMNS = ("customer_unique_id", "product_id", "category", "price", "purchased_at")


@dataclass(frozen=True)
class TruePreference:
    click_bought: float = 0.5
    click_category: float = 0.08
    click_other: float = 0.01
    cart_after_click: float = 0.2
    horizon_days: int = 14
    browsers_per_buyer: float = 2.0

    def __post_init__(self) -> None:
        for name in ("click_bought", "click_category", "click_other", "cart_after_click"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} is a probability, got {getattr(self, name)}")
        if self.horizon_days < 1 or self.browsers_per_buyer < 0:
            raise ValueError("horizon_days must be at least 1 and browsers_per_buyer not negative")


@dataclass(frozen=True)
class Served:
    """What a visitor was shown: products best first, and where the list came from."""

    products: list[str]
    model_version: str | None
    request_id: str


# (customer, moment of the visit) -> the list shown, or None when there is none for them.
Serve = Callable[[str, pd.Timestamp], Served | None]


def replay_days(purchases: pd.DataFrame, start: pd.Timestamp, days: int) -> list[pd.Timestamp]:
    """The ``days`` calendar days from ``start``; refuses when the purchases do not reach them,
    since a day with no data would read as a day when nobody came."""
    missing = [column for column in PURCHASE_COLUMNS if column not in purchases.columns]
    if missing:
        raise ValueError(f"purchases lack the column(s) {missing}")
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    start = pd.Timestamp(start).normalize()
    last = pd.Timestamp(purchases["purchased_at"].max()).normalize() if len(purchases) else None
    wanted = start + pd.Timedelta(days=days - 1)
    if last is None or last < wanted:
        reach = "no order" if last is None else f"orders only to {last.date()}"
        raise ValueError(
            f"cannot replay {days} days from {start.date()}: the held-back data has {reach}; "
            f"hold back more days (run with an earlier --as-of-date) or replay fewer"
        )
    return [start + pd.Timedelta(days=offset) for offset in range(days)]


def simulate(
    purchases: pd.DataFrame,
    history_categories: dict[str, set[str]],
    categories: dict[str, str | None],
    serve: Serve,
    days: list[pd.Timestamp],
    truth: TruePreference = TruePreference(),
    seed: int = 0,
) -> Iterator[dict[str, object]]:
    """The events of the replayed ``days``, one visit at a time (each a list of event dicts with
    event_type, customer_unique_id, product_id, model_version, request_id, occurred_at, value).

    ``purchases``: realised order items from the first day on (see PURCHASE_COLUMNS);
    ``history_categories``: each known customer's categories bought before the first day;
    ``categories``: product -> category, for the products lists may show."""
    rng = np.random.default_rng(seed)
    purchases = purchases.assign(day=pd.to_datetime(purchases["purchased_at"]).dt.normalize())
    known = np.array(sorted(history_categories))
    for day in days:
        today = purchases.loc[purchases["day"] == day]
        ahead = purchases.loc[
            (purchases["day"] >= day) & (purchases["day"] < day + pd.Timedelta(days=truth.horizon_days))
        ]
        soon = ahead.groupby("customer_unique_id")["product_id"].agg(set).to_dict()
        soon_categories = ahead.dropna(subset=["category"]).groupby("customer_unique_id")["category"].agg(set).to_dict()
        todays = dict(iter(today.groupby("customer_unique_id")))
        buyers = sorted(todays)
        browsing = rng.poisson(truth.browsers_per_buyer * len(buyers)) if len(known) else 0
        candidates = np.setdiff1d(known, buyers)
        browsers = rng.choice(candidates, size=min(browsing, len(candidates)), replace=False).tolist()
        for customer in rng.permutation(np.array(buyers + browsers, dtype=object)).tolist():
            mine = todays.get(customer, today.iloc[0:0])
            # A buyer arrives before their first order of the day; a browser at a random hour.
            if len(mine):
                visit_at = max(day, pd.Timestamp(mine["purchased_at"].min()) - pd.Timedelta(minutes=5))
            else:
                visit_at = day + pd.Timedelta(seconds=float(rng.uniform(0, 86_000)))
            served = serve(customer, visit_at)
            liked = history_categories.get(customer, set()) | soon_categories.get(customer, set())
            soon_products = soon.get(customer, set())
            yield list(_visit_events(customer, visit_at, served, mine, soon_products, liked, categories, truth, rng))


def _visit_events(customer, visit_at, served, mine, soon, liked, categories, truth, rng):
    version, request = (served.model_version, served.request_id) if served else (None, None)
    bought_today = set(mine["product_id"])
    if served is not None and not served.products:
        # An empty list (an experiment's recommend-nothing arm): the slot was seen, empty.
        yield _event("impression", customer, None, version, request, visit_at)
    for rank, product in enumerate(served.products if served else [], start=1):
        yield _event("impression", customer, product, version, request, visit_at)
        if product in soon:
            base = truth.click_bought
        elif categories.get(product) in liked:
            base = truth.click_category
        else:
            base = truth.click_other
        if rng.random() < base / np.log2(rank + 1):
            yield _event("click", customer, product, version, request, visit_at + pd.Timedelta(seconds=rank))
            if product in bought_today or rng.random() < truth.cart_after_click:
                yield _event("add_to_cart", customer, product, version, request, visit_at + pd.Timedelta(seconds=60))
    for item in mine.itertuples():
        yield _event(
            "purchase", customer, item.product_id, version, request, pd.Timestamp(item.purchased_at), item.price
        )


def _event(kind, customer, product, version, request, at, value=None) -> dict[str, object]:
    return {
        "event_type": kind,
        "customer_unique_id": customer,
        "product_id": product,
        "model_version": version,
        "request_id": request,
        "occurred_at": pd.Timestamp(at).floor("s").to_pydatetime(),
        "value": None if value is None else float(value),
    }
