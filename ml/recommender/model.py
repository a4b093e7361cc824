"""Where the two-tower's classes lived before they were split, one job per module.

- ``prior``: ``PopularityPrior``, the recent-popularity term blended into the scores.
- ``torch_runtime``: ``choose_device`` and ``seeded_torch`` (deterministic, seeded blocks).
- ``encoder``: ``FeatureEncoder`` and the tower inputs it builds (``UserInputs``, ``ItemInputs``).
- ``network``: ``TwoTowerNet`` and its ``MaskDropout``.
- ``scorer``: ``TwoTowerRecommender``, the fitted network that scores as of a moment.

Import from those modules; nothing in the package imports this one.
"""

# Registered versions are pickles, and a pickle names each object's class by module and
# name: every version saved before the split refers to ml.recommender.model.TwoTowerRecommender,
# .TwoTowerNet, .MaskDropout, .FeatureEncoder and .PopularityPrior (the classes a
# RegisteredRecommender holds through its networks). They stay importable from here so that
# those versions still load; new pickles name the modules above.
from ml.recommender.encoder import FeatureEncoder
from ml.recommender.network import MaskDropout, TwoTowerNet
from ml.recommender.prior import PopularityPrior
from ml.recommender.scorer import TwoTowerRecommender

__all__ = ["FeatureEncoder", "MaskDropout", "PopularityPrior", "TwoTowerNet", "TwoTowerRecommender"]
