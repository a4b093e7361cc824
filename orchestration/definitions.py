"""The Dagster code location: `dagster dev -m orchestration.definitions` (or `retail-intel dev`)."""

from orchestration.definitions_builder import build_definitions
from orchestration.resources import environment

defs = build_definitions(environment())
