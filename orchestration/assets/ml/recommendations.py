"""ml.recommendations, ml.user_embeddings, ml.item_embeddings: what to show each customer."""

import base64

import dagster as dg
import pandas as pd

from ml.monitoring.online import window_metric
from ml.recommender import RecommenderConfig, train_and_evaluate
from ml.recommender.pipeline import NotEnoughHistory
from ml.recommender.registered import HOLDOUT_METRIC, RegisteredRecommender
from ml.recommender.report import evaluation_report, metrics_plot
from ml.registry import NotComparable
from orchestration.champion import ChampionFlow
from orchestration.metadata import frame_preview, headline
from orchestration.partitions import PARTITIONED
from orchestration.resources import WarehouseResource
from retail_intel.monitoring_config import thresholds_for
from retail_intel.switch import FROZEN, OFF, EngineSwitch

MARTS = ("user_item_interactions", "customer_rfm", "products", "orders")


# The simple lists the chosen recommender is held against in the operator's table.
RECOMMENDER_BASELINES = ("global_popularity", "recent_popularity")


class RecommendationsConfig(dg.Config):
    top_k: int = 10
    exclude_bought: bool = True
    test_days: int = 30
    validation_days: int = 30
    max_epochs: int = 30
    seed: int = 0
    # Candidates left out of the selection, e.g. ["two_tower"] for a quick run.
    exclude_candidates: list[str] = []


def _headline(metrics: pd.DataFrame, protocol: str) -> dict[str, float]:
    table = metrics.loc[(metrics["protocol"] == protocol) & (metrics["segment"] == "all")].set_index("model")
    return {model: round(float(value), 4) for model, value in table["hr_at_10"].items()}


def _candidate_params(candidates: pd.DataFrame) -> dict[str, str]:
    """One MLflow param per candidate: its status, settings and reason, as people read them."""
    return {
        f"candidate.{row.candidate}": f"{row.status}: {row.params if isinstance(row.params, str) else '-'}"
        + (f"; {row.reason}" if row.reason else "")
        for row in candidates.itertuples()
    }


def _embedding_tables(champion, customers: pd.DataFrame, version: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The champion's user and item vectors; empty tables when its family has none (item-kNN, EASE^R)."""
    embeddings = getattr(champion, "embeddings", None)
    vectors = embeddings(customers) if embeddings is not None else None
    if vectors is None:
        return (
            pd.DataFrame({"customer_unique_id": pd.Series(dtype="str"), "model_version": pd.Series(dtype="str")}),
            pd.DataFrame({"product_id": pd.Series(dtype="str"), "model_version": pd.Series(dtype="str")}),
        )
    users, items = vectors
    return users.assign(model_version=version), items.assign(model_version=version)


TABLES = {
    "recommendations": {
        "customer_unique_id": "str", "product_id": "str", "rank": "int64", "score": "float64",
        "probability": "float64", "model_version": "str", "model_family": "str",
    },
    "user_embeddings": {"customer_unique_id": "str", "model_version": "str"},
    "item_embeddings": {"product_id": "str", "model_version": "str"},
}  # fmt: skip


def _skipped(context: dg.AssetExecutionContext, warehouse: WarehouseResource, reason: str):
    """No recommender this run: keep what is published (or publish empty tables) and say why."""
    context.log.warning(f"recommender not trained: {reason}")
    for name, columns in TABLES.items():
        if warehouse.exists("ml", name):
            metadata = {"kept": "the table published by an earlier run is unchanged"}
        else:
            empty = pd.DataFrame({column: pd.Series(dtype=dtype) for column, dtype in columns.items()})
            metadata = {"dagster/row_count": warehouse.write("ml", name, empty), "kept": "nothing was published before"}
        yield dg.MaterializeResult(asset_key=["ml", name], metadata={**metadata, "skipped_reason": reason})


@dg.multi_asset(
    name="ml__recommendations",
    specs=[
        dg.AssetSpec(
            ["ml", "recommendations"],
            group_name="ml",
            deps=[["marts", name] for name in MARTS],
            kinds={"pytorch"},
            skippable=True,
        ),
        *(
            dg.AssetSpec(
                ["ml", name], group_name="ml", deps=[["ml", "recommendations"]], kinds={"pytorch"}, skippable=True
            )
            for name in ("user_embeddings", "item_embeddings")
        ),
    ],
    **PARTITIONED,
)
def recommendations(context: dg.AssetExecutionContext, config: RecommendationsConfig, warehouse: WarehouseResource):
    """Top-K products per customer from the recommender chosen for this client's data, and
    the user and item embeddings that reproduce its scores where its family has them.

    Every candidate (global and recent popularity, item-kNN, EASE^R, ALS matrix
    factorisation, the two-tower network) is scored under two protocols: the last
    `test_days` (time window) and each customer's last order (next purchase). It is fitted
    before a validation window (or order) that mirrors the test one and scored there; the
    best on HR@10 (full catalogue, all customers; equal ones by NDCG@10, then the simpler)
    under next purchase, or the time window when next purchase has fewer than 500 validation
    customers or fewer than the time window's, is the challenger. Test figures are reported,
    never chosen on. The challenger, refit on everything, becomes champion only if its
    pre-refit model beats the champion's on today's test window (HR@10, full catalogue),
    never while the model is frozen. The tables are written by the champion, rebased onto
    today's data, with its version and family; `probability` is its calibrated purchase
    probability. A candidate that does not apply to the data (too few items for the sampled
    protocol, too few interactions for a network, too many customers x items to score
    densely) steps aside with the reason in the metadata; the run goes on. A history too
    short for any evaluation window trains nothing: the published tables stay (or empty ones
    are created) and `skipped_reason` says why.

    The engine switch (`retail-intel engine`) is honoured: `off` skips training and leaves
    the tables as they are (downstream assets are skipped too); `frozen` trains and logs a
    challenger but promotes nothing.
    """
    settings = warehouse.settings()
    engine = EngineSwitch(settings.engine_switch_path).current()
    if engine.state == OFF:
        context.log.warning(
            f"the recommendation engine is off (set by {engine.changed_by} at {engine.changed_at}): "
            "not trained, tables unchanged"
        )
        return
    marts = {name: warehouse.read("marts", name) for name in MARTS}
    interactions, customers, products, orders = (marts[name] for name in MARTS)
    recommender_config = RecommenderConfig(
        top_k=config.top_k,
        test_days=config.test_days,
        validation_days=config.validation_days,
        max_epochs=config.max_epochs,
        seed=config.seed,
        exclude_candidates=tuple(config.exclude_candidates),
    )
    try:
        result = train_and_evaluate(interactions, customers, products, orders, recommender_config)
    except NotEnoughHistory as error:
        # Nothing can be evaluated, so nothing is registered; the other models' tables are published.
        yield from _skipped(context, warehouse, str(error))
        return
    challenger = RegisteredRecommender.from_result(result)

    flow = ChampionFlow(settings, "recommender")
    as_of = str(pd.Timestamp(result.split["end"]) - pd.Timedelta(days=1))[:10]
    report = evaluation_report(result)
    plot = metrics_plot(result.metrics, title=f"{flow.model_name}: test window from {result.split['cutoff'][:10]}")

    def holdout(model: RegisteredRecommender, days: int | None = None) -> float:
        window = days or challenger.test_days
        return float(model.holdout_metrics(interactions, customers, products, orders, window)[HOLDOUT_METRIC])

    # What the lists promise over the window monitoring/recommender_health measures them on: HR
    # over 14 days is not HR over the 30-day test window (customers buy more in a longer one).
    window_days = int(thresholds_for(settings)["recommender"]["window_days"])
    try:
        promise = {window_metric(window_days): holdout(challenger, window_days)}
    except NotComparable as error:
        context.log.info(f"no {window_days}-day promise: {error}")
        promise = {}

    crowned = flow.crown(
        challenger,
        trained_on=interactions,
        as_of=as_of,
        input_example=customers[["customer_unique_id", "customer_state"]].head(3),
        params={**result.params(), **_candidate_params(result.candidates), "exclude_bought": config.exclude_bought},
        # "hr_at_10": what the lists promise; monitoring/recommender_health holds them to it.
        metrics={
            **result.flat_metrics(),
            "hr_at_10": _headline(result.metrics, "full_catalog")[result.chosen_name],
            **promise,
        },
        artifacts={
            "report.md": report,
            "metrics.png": plot,
            "candidates.csv": result.candidates.to_csv(index=False),
            "test_metrics.csv": result.metrics.to_csv(index=False),
            "lead_over_candidates.csv": result.comparisons.to_csv(index=False),
            "validation_lead_over_candidates.csv": result.validation_comparisons.to_csv(index=False),
            "validation_metrics.csv": result.validation_metrics.to_csv(index=False),
        },
        evaluate=holdout,
        metric=f"{HOLDOUT_METRIC} (full catalogue, all customers)",
        higher_is_better=True,
        holdout=f"first purchases from {result.split['cutoff'][:10]} to {as_of}",
        hold=f"engine frozen by {engine.changed_by} at {engine.changed_at}" if engine.state == FROZEN else None,
        log=context.log,
        prepare=lambda model: model.for_data(interactions, customers, products, orders),
    )
    champion, version_label = crowned.champion, crowned.version_label

    table = champion.recommend(customers, config.top_k, config.exclude_bought)
    table = table[["customer_unique_id", "product_id", "rank", "score", "probability"]]
    table = table.assign(model_version=version_label, model_family=champion.family)
    users, items = _embedding_tables(champion, customers, version_label)
    # One publish: the lists and the vectors that reproduce their scores come from one version.
    rows = warehouse.write_many(
        {("ml", "recommendations"): table, ("ml", "user_embeddings"): users, ("ml", "item_embeddings"): items}
    )

    yield dg.MaterializeResult(
        asset_key=["ml", "recommendations"],
        metadata={
            "dagster/row_count": rows[("ml", "recommendations")],
            "customers": int(table["customer_unique_id"].nunique()),
            "champion_version": crowned.champion_version,
            "champion_family": champion.family,
            "challenger_version": crowned.challenger_version,
            "challenger_family": result.chosen_name,
            "chosen_because": result.chosen_reason,
            "candidates": dg.MetadataValue.md(
                result.candidates.drop(columns="family").to_markdown(index=False, floatfmt=".4f")
            ),
            "protocols_not_applicable": dg.MetadataValue.json(result.not_applicable),
            "promotion": crowned.decision.reason,
            "headline": headline(
                "hr_at_10",
                result.chosen_name,
                _headline(result.metrics, "full_catalog"),
                RECOMMENDER_BASELINES,
                higher_is_better=True,
            ),
            "beats_every_baseline": result.beats_baselines(),
            "beats_every_baseline_beyond_noise": result.beats_baselines(significant=True),
            "hr_at_10_full_catalog": dg.MetadataValue.json(_headline(result.metrics, "full_catalog")),
            "hr_at_10_sampled_100": dg.MetadataValue.json(_headline(result.metrics, "sampled_100")),
            "hr_at_10_validation": dg.MetadataValue.json(_headline(result.validation_metrics, "full_catalog")),
            "calibration_ece": float(result.calibration["ece"]),
            "chosen_on_validation": dg.MetadataValue.json({k: str(v) for k, v in result.chosen.items()}),
            "catalog_coverage": float(table["product_id"].nunique() / max(len(products), 1)),
            "report": dg.MetadataValue.md(report),
            "plot": dg.MetadataValue.md(f"![metrics](data:image/png;base64,{base64.b64encode(plot).decode()})"),
            "preview": frame_preview(table),
        },
    )
    yield dg.MaterializeResult(
        asset_key=["ml", "user_embeddings"],
        metadata={"dagster/row_count": rows[("ml", "user_embeddings")], "model_version": version_label},
    )
    yield dg.MaterializeResult(
        asset_key=["ml", "item_embeddings"],
        metadata={"dagster/row_count": rows[("ml", "item_embeddings")], "model_version": version_label},
    )
