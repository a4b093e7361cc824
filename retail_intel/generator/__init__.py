"""Deterministic synthetic Olist data: the nine Kaggle CSV files from a latent model.

    from retail_intel.generator import GeneratorConfig, generate, preset_config
    counts = generate(GeneratorConfig(orders=10_000, seed=7), Path("data/raw"))
    counts = generate(preset_config("subscription", seed=7), Path("data/subscription"))

See docs/generator.md for the generative model, its calibration and the presets.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .config import GeneratorConfig
from .model import simulate
from .presets import PRESETS, preset_config
from .writer import write_tables

__all__ = ["PRESETS", "GeneratorConfig", "generate", "preset_config"]


def generate(config: GeneratorConfig, out_dir: Path, progress: Callable[[str], None] | None = None) -> dict[str, int]:
    """Writes the nine files into out_dir (created if missing); returns {file_name: data_row_count}.
    ``progress``, if given, is told each stage of the simulation and each file as it is written."""
    if not isinstance(config, GeneratorConfig):
        raise TypeError(f"config must be a GeneratorConfig, got {type(config).__name__}")
    config.validate()
    tables = simulate(config, progress)
    return write_tables(tables, Path(out_dir), progress)
