"""ml.recommendations, ml.user_embeddings, ml.item_embeddings: what to show each customer."""

import base64

import dagster as dg
import pandas as pd

from ml.recommender import RecommenderConfig, train_and_evaluate
from ml.recommender.registered import HOLDOUT_METRIC, RegisteredRecommender
from ml.recommender.report import evaluation_report, metrics_plot
from ml.registry import CHAMPION
from orchestration.lineage import lineage, registry_for
from orchestration.metadata import frame_preview
from orchestration.resources import WarehouseResource
from retail_intel.serving.switch import FROZEN, OFF, EngineSwitch

MARTS = ("user_item_interactions", "customer_rfm", "products", "orders")


class RecommendationsConfig(dg.Config):
    top_k: int = 10
    exclude_bought: bool = True
    test_days: int = 30
    validation_days: int = 30
    max_epochs: int = 30
    seed: int = 0


def _headline(metrics: pd.DataFrame, protocol: str) -> dict[str, float]:
    table = metrics.loc[(metrics["protocol"] == protocol) & (metrics["segment"] == "all")].set_index("model")
    return {model: round(float(value), 4) for model, value in table["hr_at_10"].items()}


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
)
def recommendations(context: dg.AssetExecutionContext, config: RecommendationsConfig, warehouse: WarehouseResource):
    """Top-K products per customer with an order from the two-tower recommender, and the
    user and item embeddings that reproduce its scores (for real-time scoring and similar items).

    The model is evaluated on the last `test_days` (full catalogue and sampled protocol,
    repeat and first-time customers apart) against global popularity, recent popularity
    and item-kNN fitted on the same data, then refit on everything and registered as
    challenger. It becomes champion only if its pre-refit network beats the champion's on
    today's test window (HR@10, full catalogue), never while the model is frozen. The
    tables are written by the champion's refit network, rebased onto today's data;
    `probability` is its calibrated purchase probability.

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
    )
    result = train_and_evaluate(interactions, customers, products, orders, recommender_config)
    challenger = RegisteredRecommender.from_result(result)

    registry = registry_for(settings)
    model_name = settings.registered_model_name("recommender")
    as_of = str(pd.Timestamp(result.split["end"]) - pd.Timedelta(days=1))[:10]
    report = evaluation_report(result)
    plot = metrics_plot(result.metrics, title=f"{model_name}: test window from {result.split['cutoff'][:10]}")
    logged = registry.log_model_version(
        model_name=model_name,
        model=challenger,
        input_example=customers[["customer_unique_id", "customer_state"]].head(3),
        params={**result.params(), "exclude_bought": config.exclude_bought},
        metrics=result.flat_metrics(),
        lineage=lineage(settings, interactions, as_of),
        artifacts={
            "report.md": report,
            "metrics.png": plot,
            "test_metrics.csv": result.metrics.to_csv(index=False),
            "lead_over_baselines.csv": result.comparisons.to_csv(index=False),
            "validation_metrics.csv": result.validation_metrics.to_csv(index=False),
            "prior_search.csv": result.prior_search.to_csv(index=False),
            "training_epochs.csv": pd.DataFrame(result.training.epochs).to_csv(index=False),
        },
    )

    def holdout(model: RegisteredRecommender) -> float:
        return float(model.holdout_metrics(interactions, customers, products, orders, config.test_days)[HOLDOUT_METRIC])

    decision = registry.promote_if_better(
        model_name,
        logged.version,
        holdout,
        metric=f"{HOLDOUT_METRIC} (full catalogue, all customers)",
        higher_is_better=True,
        holdout=f"first purchases from {result.split['cutoff'][:10]} to {as_of}",
        hold=f"engine frozen by {engine.changed_by} at {engine.changed_at}" if engine.state == FROZEN else None,
    )
    context.log.info(f"{model_name} v{logged.version}: {decision.reason}")
    champion_version = registry.version_for(model_name, CHAMPION)
    champion = registry.load(model_name, champion_version).for_data(interactions, customers, products, orders)
    version_label = f"{model_name}/{champion_version}"

    table = champion.recommend(customers, products, config.top_k, config.exclude_bought)
    table = table[["customer_unique_id", "product_id", "rank", "score", "probability"]]
    table = table.assign(model_version=version_label)
    users = champion.user_embeddings(customers).assign(model_version=version_label)
    items = champion.item_embeddings(products).assign(model_version=version_label)

    yield dg.MaterializeResult(
        asset_key=["ml", "recommendations"],
        metadata={
            "dagster/row_count": warehouse.write("ml", "recommendations", table),
            "customers": int(table["customer_unique_id"].nunique()),
            "champion_version": champion_version,
            "challenger_version": logged.version,
            "promotion": decision.reason,
            "beats_every_baseline": result.beats_baselines(),
            "beats_every_baseline_beyond_noise": result.beats_baselines(significant=True),
            "hr_at_10_full_catalog": dg.MetadataValue.json(_headline(result.metrics, "full_catalog")),
            "hr_at_10_sampled_100": dg.MetadataValue.json(_headline(result.metrics, "sampled_100")),
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
        metadata={"dagster/row_count": warehouse.write("ml", "user_embeddings", users), "model_version": version_label},
    )
    yield dg.MaterializeResult(
        asset_key=["ml", "item_embeddings"],
        metadata={"dagster/row_count": warehouse.write("ml", "item_embeddings", items), "model_version": version_label},
    )
