"""What the model registry stores for the recommender, and the holdout the promotion compares on.

A registered version holds two networks: the one the test figures belong to (trained before
the validation window) and the one refit on all data. Promotion must compare models on data
neither has trained on, so it re-scores the *evaluated* networks of challenger and champion
on today's test window; the score tables come from the *refit* network of the champion,
rebased onto today's data (features, already-bought items and recent popularity as of the
end of the data), so that an older champion still sees today's customers and purchases.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ml.recommender.evaluation import FULL, EvaluationTask, metrics_table, run_scorer
from ml.recommender.features import check_orders, customer_states
from ml.recommender.model import TwoTowerRecommender
from ml.recommender.split import data_end, known_before, purchase_events, split_by_time
from ml.registry import NotComparable

HOLDOUT_METRIC = "hr_at_10"


@dataclass
class RegisteredRecommender:
    """``scoring``: refit on all data; ``evaluated``: trained on data before ``evaluated_through``."""

    scoring: TwoTowerRecommender
    evaluated: TwoTowerRecommender
    evaluated_through: pd.Timestamp
    test_days: int
    top_k: int = 10

    @classmethod
    def from_result(cls, result) -> RegisteredRecommender:
        return cls(
            scoring=result.model,
            evaluated=result.evaluated_model,
            evaluated_through=pd.Timestamp(result.split["cutoff"]),
            test_days=result.config.test_days,
            top_k=result.config.top_k,
        )

    def predict(self, customers: pd.DataFrame) -> pd.DataFrame:
        """MLflow's pyfunc entry point: top-K recommendations of ``customers`` as of the training data's end."""
        return self.scoring.recommend(customers, top_k=self.top_k)

    def for_data(
        self,
        interactions: pd.DataFrame,
        customers: pd.DataFrame,
        products: pd.DataFrame,
        orders: pd.DataFrame | None = None,
    ) -> TwoTowerRecommender:
        """The refit network scoring as of the end of these marts."""
        end = data_end(interactions)
        return self.scoring.rebased(
            end,
            purchase_events(known_before(interactions, end)),
            None if orders is None else check_orders(orders),
            customer_states(customers),
            products,
        )

    def holdout_metrics(
        self,
        interactions: pd.DataFrame,
        customers: pd.DataFrame,
        products: pd.DataFrame,
        orders: pd.DataFrame | None = None,
        test_days: int | None = None,
    ) -> pd.Series:
        """Full-catalog metrics (all customers) of the evaluated network on the last ``test_days`` of these marts.

        Fair between versions only if each was evaluated through a moment no later than the
        window's start; a version that saw part of the window (trained on marts with a later
        as-of date than today's) raises NotComparable rather than earn an inflated score.
        """
        split = split_by_time(interactions, test_days or self.test_days, 1)
        if self.evaluated_through > split.cutoff:
            raise NotComparable(f"saw data up to {self.evaluated_through}, after the holdout's start {split.cutoff}")
        catalog = products.sort_values("product_id", kind="stable").reset_index(drop=True)
        model = self.evaluated.rebased(
            split.cutoff,
            purchase_events(split.history),
            None if orders is None else check_orders(orders),
            customer_states(customers),
            catalog,
        )
        task = EvaluationTask.build(split.history, split.test, pd.Index(catalog["product_id"]))
        table = metrics_table(task, {"model": run_scorer(task, model.scorer(task.customers))})
        row = table.loc[(table["protocol"] == FULL) & (table["segment"] == "all")].iloc[0]
        return row.drop(["model", "protocol", "segment"])
