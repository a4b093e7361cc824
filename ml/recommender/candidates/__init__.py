"""Recommender candidates behind one interface (see ``base``); adding one is a module and a line below."""

from ml.recommender.candidates.als import Als
from ml.recommender.candidates.base import Candidate, DataShape, FitData, FittedRecommender, ItemBasedRecommender
from ml.recommender.candidates.ease import Ease
from ml.recommender.candidates.item_knn import ItemKnn
from ml.recommender.candidates.popularity import GlobalPopularity, RecentPopularity
from ml.recommender.candidates.two_tower import TwoTower, TwoTowerFitted


def default_candidates(config) -> list[Candidate]:
    """Every family, simplest first; ``config`` is a RecommenderConfig."""
    return [
        GlobalPopularity(),
        RecentPopularity(config.recent_days_choices),
        ItemKnn(),
        Ease(max_items=config.ease_max_items),
        Als(threads=config.threads or 0),
        TwoTower(config),
    ]


__all__ = [
    "Als",
    "Candidate",
    "DataShape",
    "Ease",
    "FitData",
    "FittedRecommender",
    "GlobalPopularity",
    "ItemBasedRecommender",
    "ItemKnn",
    "RecentPopularity",
    "TwoTower",
    "TwoTowerFitted",
    "default_candidates",
]
