"""Online experiments over model versions: assignment, A/B analysis (more to come: bandit,
interleaving). Plain functions on numbers and frames; no Dagster, MLflow or warehouse."""
