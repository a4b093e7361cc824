"""``retail-intel generate``: a synthetic data set in the Olist Kaggle format."""

from __future__ import annotations

import time
from pathlib import Path

import click


class _GenerateCommand(click.Command):
    """Lists the presets at the end of ``--help``; the generator is imported only then, so that
    loading the command line stays fast."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        from retail_intel.generator.presets import PRESETS

        with formatter.section("Presets (--preset NAME)"):
            formatter.write_dl(
                [(name, f"{preset.summary} (default {preset.orders:,} orders)") for name, preset in PRESETS.items()]
            )


@click.command(cls=_GenerateCommand)
@click.option(
    "--preset",
    metavar="NAME",
    default=None,
    help="A client-like shape (listed below); it fixes everything but the size, seed and messiness.",
)
@click.option(
    "--orders",
    type=click.IntRange(min=1),
    default=None,
    help="Number of orders. Default: 10,000, or the preset's size (scaled presets keep their shape).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder to write the nine CSV files into.",
)
@click.option(
    "--seed", type=int, default=42, show_default=True, help="Random seed; the same seed gives identical files."
)
@click.option(
    "--repeat-rate",
    type=click.FloatRange(0, 1, max_open=True),
    default=None,
    help="Share of customers (people) who order more than once. Default: 0.03. Not with --preset.",
)
@click.option(
    "--messy-rate",
    type=click.FloatRange(min=0),
    default=1.0,
    show_default=True,
    help="Multiplier on Olist-like rates of quirky records (0 = clean).",
)
def generate(
    preset: str | None, orders: int | None, out_dir: Path, seed: int, repeat_rate: float | None, messy_rate: float
) -> None:
    """Write a synthetic data set in the Olist Kaggle format."""
    from apps.cli.progress import terminal_progress
    from retail_intel.generator import GeneratorConfig
    from retail_intel.generator import generate as generate_files
    from retail_intel.generator.presets import PRESETS, preset_config

    started = time.perf_counter()
    if preset is None:
        config = GeneratorConfig(
            orders=10_000 if orders is None else orders,
            seed=seed,
            repeat_rate=0.03 if repeat_rate is None else repeat_rate,
            messy_rate=messy_rate,
        )
    elif preset not in PRESETS:
        raise click.BadParameter(f"unknown preset {preset!r}; presets: {', '.join(PRESETS)}", param_hint="--preset")
    elif repeat_rate is not None:
        raise click.BadParameter(f"preset {preset!r} fixes the repeat rate", param_hint="--repeat-rate")
    else:
        config = preset_config(preset, orders=orders, seed=seed, messy_rate=messy_rate)
    counts = generate_files(config, out_dir, terminal_progress())
    for file_name, rows in counts.items():
        click.echo(f"  {file_name:<42} {rows:>10,} rows")
    label = f" (preset {preset})" if preset else ""
    click.echo(f"Wrote {len(counts)} files{label} to {out_dir.resolve()} in {time.perf_counter() - started:.1f}s")
