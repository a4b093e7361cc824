"""``retail-intel simulate-feedback``: customers shown their lists on the days a run held back.

Run the pipeline with ``--as-of-date`` some days before the raw data ends, then replay those
days (ml/monitoring/feedback.py): each visit is shown the published list (or, with ``--api``,
what the running service answers the tenant's key) and its impressions, clicks, add-to-carts
and real purchases are written through the same path as ``POST /v1/events``: the tenant's event
store, or the service itself. The next ``retail-intel run`` measures them (monitoring/
recommender_health) and ``retail-intel monitor`` shows them.
"""

from __future__ import annotations

import os
import uuid

import click

from apps.cli.options import fail, warehouse_options
from retail_intel.settings import Settings

# Events per POST /v1/events: it takes 500, in a body of at most 64 KiB (about 230 bytes an event).
API_BATCH = 200


@click.command("simulate-feedback")
@click.option("--days", type=click.IntRange(1, 366), required=True, help="Days after the lists' as-of day to replay.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the simulated clicks and visits.")
@click.option(
    "--k", "top_k", type=click.IntRange(1, 100), default=10, show_default=True, help="Products shown a visit."
)
@click.option(
    "--api",
    "api_url",
    default=None,
    help="Ask the running service (its base URL) instead of reading the published lists; the key comes from "
    "RETAIL_INTEL_API_KEY when the service wants one.",
)
@click.pass_obj
@warehouse_options
def simulate_feedback(settings: Settings, days: int, seed: int, top_k: int, api_url: str | None) -> None:
    """Replay DAYS held-back days against the tenant's lists and write the events."""
    from ml.monitoring.online import online_metrics
    from retail_intel.warehouse import WarehouseBusyError, warehouse_for

    if api_url:
        feed = ServiceFeed(api_url, top_k)
    else:
        warehouse = warehouse_for(settings)
        if not warehouse.exists("ml", "recommendations"):
            fail(f"nothing to replay against: {settings.tenant_id} has no published ml.recommendations; run first", 2)
        try:
            feed = ListsFeed(settings, warehouse.read("ml", "recommendations"), top_k, seed)
        except WarehouseBusyError as error:
            fail(f"{error}; replay against the service instead: --api URL", 2)
    try:
        events = replay(settings, days, seed, feed, echo=click.echo)
    except (OSError, ValueError) as error:
        fail(str(error), 2)
    if events.empty:
        click.echo("nobody visited on those days: no event written")
        return
    counts = events["event_type"].value_counts()
    click.echo(
        f"{events['request_id'].nunique()} visits: "
        + ", ".join(
            f"{int(counts.get(kind, 0)):,} {kind}s" for kind in ("impression", "click", "add_to_cart", "purchase")
        )
    )
    for row in online_metrics(events).itertuples():
        click.echo(
            f"  {row.model_version}: click-through {row.click_through_rate:.2%}, purchases per impression "
            f"{row.purchase_rate:.2%}, revenue per impression {row.revenue_per_impression:.2f}"
        )


def replay(settings: Settings, days: int, seed: int, feed, echo=lambda _: None):
    """The held-back days after the marts' last day, replayed through ``feed``; the events written.
    ValueError/OSError when the tenant has no marts or the raw folder does not reach ``days``."""
    import pandas as pd

    from ml.monitoring.feedback import TruePreference, replay_days, simulate
    from retail_intel.raw.purchases import purchases_after
    from retail_intel.warehouse import warehouse_for

    warehouse = warehouse_for(settings)
    if not warehouse.exists("marts", "orders"):
        raise ValueError(f"nothing to replay against: {settings.tenant_id} has no marts; run first")
    as_of = pd.Timestamp(warehouse.read("marts", "orders")["purchased_at"].max()).normalize()
    products = warehouse.read("marts", "products")
    categories = dict(zip(products["product_id"], products["category"], strict=True))
    history = warehouse.read("marts", "user_item_interactions").groupby("customer_unique_id")["category"].agg(set)
    first_day = as_of + pd.Timedelta(days=1)
    held_back = purchases_after(settings.raw_dir, first_day)
    replayed = replay_days(held_back, first_day, days)
    held_back = held_back.assign(category=held_back["product_id"].map(categories).fillna(held_back["category"]))
    shown = held_back.loc[held_back["purchased_at"] < replayed[-1] + pd.Timedelta(days=1)]
    echo(
        f"Replaying {days} days from {replayed[0].date()} to {replayed[-1].date()} for {settings.tenant_id} "
        f"({len(shown)} order items), lists from {feed.source}"
    )
    written = []
    try:
        for visit in simulate(held_back, history.to_dict(), categories, feed.serve, replayed, TruePreference(), seed):
            written.extend(visit)
            feed.write(visit)
        feed.flush()
    finally:
        feed.close()
    return pd.DataFrame(written)


class ListsFeed:
    """The published lists, or the running experiment's arm for customers in it (logged as
    exposures, as the service logs them); events to the tenant's store, as POST /v1/events
    writes them."""

    def __init__(self, settings: Settings, lists, top_k: int, seed: int | None = None) -> None:
        from apps.experiment_serving import ExperimentServer
        from retail_intel.events import EventStore

        self.source = "the published table ml.recommendations"
        self._settings, self._published, self._k = settings, lists, top_k
        ranked = lists.loc[lists["rank"] <= top_k].sort_values(["customer_unique_id", "rank"])
        self._lists = {
            customer: (group["product_id"].tolist(), str(group["model_version"].iloc[0]))
            for customer, group in ranked.groupby("customer_unique_id")
        }
        self._store = EventStore(settings)
        self._experiments = ExperimentServer(settings.tenant_id, settings.experiments_path, self._store.since, seed)
        self._arms: tuple[str, dict] | None = None

    def serve(self, customer: str, at):
        from ml.monitoring.feedback import Served

        exposure = self._experiment_list(customer)
        if exposure is not None:
            request = uuid.uuid4().hex
            self._store.add(self._experiments.exposed(exposure, customer, request, at.floor("s").to_pydatetime()))
            return Served(exposure.products, exposure.arm, request)
        found = self._lists.get(customer)
        return Served(found[0], found[1], uuid.uuid4().hex) if found else None

    def _experiment_list(self, customer: str):
        from apps.experiment_serving import published_arms
        from ml.experiments.serving import plan_of

        experiment = self._experiments.running()
        if experiment is None:
            return None
        if self._arms is None or self._arms[0] != experiment.name:
            self._arms = (experiment.name, published_arms(self._settings, plan_of(experiment), self._published))
        arms = self._arms[1]
        return self._experiments.choose(customer, lambda arm: arms[arm].lists(customer), self._k)

    def write(self, events: list[dict]) -> None:
        from retail_intel.events import now

        received = now()
        self._store.add([{**event, "event_id": uuid.uuid4().hex, "received_at": received} for event in events])
        self._experiments.observed(events)

    def flush(self) -> None:
        return None

    def close(self) -> None:
        self._store.close()


class ServiceFeed:
    """The running service: its answer to GET /v1/customers/{id}/recommendations, events POSTed back."""

    def __init__(self, api_url: str, top_k: int, client=None) -> None:
        import httpx

        key = os.environ.get("RETAIL_INTEL_API_KEY")
        self.source = api_url
        # A client given (a test's) stays its owner's to close.
        self._owned = client is None
        self._client = client or httpx.Client(
            base_url=api_url.rstrip("/"), headers={"X-API-Key": key} if key else {}, timeout=30
        )
        self._k = top_k
        self._pending: list[dict] = []

    def serve(self, customer: str, _at):
        from ml.monitoring.feedback import Served

        answer = self._client.get(f"/v1/customers/{customer}/recommendations", params={"k": self._k})
        if answer.status_code == 404:
            return None
        _raise_for(answer)
        body = answer.json()
        return Served([item["product_id"] for item in body["items"]], body["model_version"], body["request_id"])

    def write(self, events: list[dict]) -> None:
        self._pending.extend(events)
        if len(self._pending) >= API_BATCH:
            self.flush()

    def flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[:API_BATCH], self._pending[API_BATCH:]
            body = [{**event, "occurred_at": event["occurred_at"].isoformat()} for event in batch]
            _raise_for(self._client.post("/v1/events", json={"events": _without_nulls(body)}))

    def close(self) -> None:
        if self._owned:
            self._client.close()


def _without_nulls(events: list[dict]) -> list[dict]:
    return [{key: value for key, value in event.items() if value is not None} for event in events]


def _raise_for(answer) -> None:
    if answer.status_code >= 400:
        raise ValueError(
            f"{answer.request.method} {answer.request.url} answered {answer.status_code}: {answer.text[:300]}"
        )
