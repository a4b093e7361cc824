"""What the model registry stores for the recommender, and the holdout the promotion compares on.

A registered version is the chosen candidate twice: as the test figures saw it (learned on
data before the test window, ``evaluated``) and refit on all data (``scoring``). Promotion
must compare models on data neither has learned from, so it re-scores the *evaluated*
models of challenger and champion on today's test window, whatever their families; the
score tables come from the champion's *scoring* model rebased onto today's data (histories,
already-bought items and recent popularity as of the end of the data), so that an older
champion still sees today's customers and purchases.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ml.recommender.candidates import FitData, ItemBasedRecommender, TwoTowerFitted
from ml.recommender.evaluation import FULL, EvaluationTask, metrics_table, run_scorer
from ml.recommender.features import check_orders, customer_states
from ml.recommender.frames import object_ids
from ml.recommender.scorer import TwoTowerRecommender
from ml.recommender.split import data_end, known_before, split_by_time
from ml.recommender.train import TrainingLog
from ml.registry import NotComparable

HOLDOUT_METRIC = "hr_at_10"


def _recent_days(model) -> int:
    if isinstance(model, ItemBasedRecommender):
        return model.recent_days
    prior = model.network.prior
    return prior.days if prior is not None else 30


def fit_data(model, known: pd.DataFrame, boundary, customers, products, orders) -> FitData:
    """What ``model`` needs to score as of ``boundary`` from these marts."""
    known, customers, products, orders = (object_ids(frame) for frame in (known, customers, products, orders))
    return FitData(
        known=known,
        boundary=pd.Timestamp(boundary),
        catalog=products.sort_values("product_id", kind="stable").reset_index(drop=True),
        states=customer_states(customers),
        orders=None if orders is None else check_orders(orders),
        recent_days=_recent_days(model),
    )


@dataclass
class RegisteredRecommender:
    """``scoring``: refit on all data; ``evaluated``: learned on data before ``evaluated_through``."""

    scoring: object
    evaluated: object
    evaluated_through: pd.Timestamp
    test_days: int
    top_k: int = 10

    def __setstate__(self, state: dict) -> None:
        # Versions registered before the candidates came in hold a bare two-tower network.
        for role in ("scoring", "evaluated"):
            if isinstance(state.get(role), TwoTowerRecommender):
                state[role] = TwoTowerFitted(state[role], {}, TrainingLog())
        self.__dict__.update(state)

    @classmethod
    def from_result(cls, result) -> RegisteredRecommender:
        return cls(
            scoring=result.model,
            evaluated=result.evaluated_model,
            evaluated_through=pd.Timestamp(result.split["cutoff"]),
            test_days=result.config.test_days,
            top_k=result.config.top_k,
        )

    @property
    def family(self) -> str:
        return self.scoring.family

    def predict(self, customers: pd.DataFrame) -> pd.DataFrame:
        """MLflow's pyfunc entry point: top-K recommendations of ``customers`` as of the training data's end."""
        return self.scoring.recommend(customers, self.top_k)

    def for_data(
        self,
        interactions: pd.DataFrame,
        customers: pd.DataFrame,
        products: pd.DataFrame,
        orders: pd.DataFrame | None = None,
    ):
        """The refit model scoring as of the end of these marts."""
        end = data_end(interactions)
        return self.scoring.rebased(
            fit_data(self.scoring, known_before(interactions, end), end, customers, products, orders)
        )

    def holdout_metrics(
        self,
        interactions: pd.DataFrame,
        customers: pd.DataFrame,
        products: pd.DataFrame,
        orders: pd.DataFrame | None = None,
        test_days: int | None = None,
    ) -> pd.Series:
        """Full-catalog metrics (all customers) of the evaluated model on the last ``test_days`` of these marts.

        Fair between versions only if each was evaluated through a moment no later than the
        window's start; a version that saw part of the window (trained on marts with a later
        as-of date than today's) raises NotComparable rather than earn an inflated score.
        """
        split = split_by_time(interactions, test_days or self.test_days, 1)
        if self.evaluated_through > split.cutoff:
            raise NotComparable(f"saw data up to {self.evaluated_through}, after the holdout's start {split.cutoff}")
        model = self.evaluated.rebased(
            fit_data(self.evaluated, split.history, split.cutoff, customers, products, orders)
        )
        catalog_ids = pd.Index(products.sort_values("product_id", kind="stable")["product_id"])
        task = EvaluationTask.build(split.history, split.test, catalog_ids, 0)
        table = metrics_table(task, {"model": run_scorer(task, model.scorer(task.customers))})
        row = table.loc[(table["protocol"] == FULL) & (table["segment"] == "all")].iloc[0]
        return row.drop(["model", "protocol", "segment"])
