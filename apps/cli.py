"""``retail-intel``: the platform's command line.

Exit codes: 0 success; 1 a build, a data test or a quality gate failed; 2 bad input (a raw
file, an option) or the warehouse is busy; 128 + the signal (143, 130) when SIGTERM or SIGINT
stopped a run. A failed step publishes nothing, and nothing after it runs.
"""

from __future__ import annotations

import functools
import os
import sys
import time
from pathlib import Path

import click

from retail_intel.settings import LAYERS, TARGETS, Settings


def _fail(message: str, code: int) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def warehouse_options(command):
    """``--target`` and ``--warehouse`` for every command that reads or writes the warehouse: they
    replace the command's settings (passed as its first argument) before it runs."""

    @click.option(
        "--target",
        type=click.Choice(TARGETS),
        default=None,
        help="Warehouse: duckdb (default, one file) or postgres (PG* environment variables). Env: RETAIL_INTEL_TARGET.",
    )
    @click.option(
        "--warehouse",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="DuckDB file. Default: <home>/tenants/<tenant>/warehouse.duckdb. Env: RETAIL_INTEL_WAREHOUSE.",
    )
    @functools.wraps(command)
    def with_warehouse(settings: Settings, *args, target: str | None, warehouse: Path | None, **kwargs):
        changes = {"target": target, "warehouse_override": warehouse}
        settings = settings.with_(**{key: value for key, value in changes.items() if value})
        return command(settings, *args, **kwargs)

    return with_warehouse


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Root of all state (warehouse, dbt logs, later MLflow and Dagster). Env: RETAIL_INTEL_HOME.",
)
@click.option(
    "--tenant", default=None, help="Tenant (client) id; each has its own data and warehouse. Env: RETAIL_INTEL_TENANT."
)
@click.pass_context
def main(ctx: click.Context, home: Path | None, tenant: str | None) -> None:
    """Retail intelligence platform: raw Olist orders to tested marts."""
    try:
        ctx.obj = Settings.from_env(home=home, tenant_id=tenant)
    except ValueError as error:
        _fail(str(error), 2)


class _GenerateCommand(click.Command):
    """Lists the presets at the end of ``--help``; the generator is imported only then, so that
    loading the command line stays fast."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        from retail_intel.generator.presets import PRESETS

        with formatter.section("Presets (--preset NAME)"):
            formatter.write_dl(
                [(name, f"{preset.summary} (default {preset.orders:,} orders)") for name, preset in PRESETS.items()]
            )


@main.command(cls=_GenerateCommand)
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
    counts = generate_files(config, out_dir)
    for file_name, rows in counts.items():
        click.echo(f"  {file_name:<42} {rows:>10,} rows")
    label = f" (preset {preset})" if preset else ""
    click.echo(f"Wrote {len(counts)} files{label} to {out_dir.resolve()} in {time.perf_counter() - started:.1f}s")


@main.command()
@click.option(
    "--raw-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder with the nine Olist CSV files. Default: the sample shipped with the package.",
)
@click.option(
    "--as-of-date",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Build the marts as of this day (later orders ignored). Default: the last purchase day.",
)
@click.option(
    "--horizon",
    type=click.IntRange(1, 365),
    default=30,
    show_default=True,
    help="Days of revenue to forecast, from the day after the last day of data.",
)
@click.option(
    "--top-k", type=click.IntRange(1, 100), default=10, show_default=True, help="Recommendations per customer."
)
@click.option(
    "--include-bought",
    is_flag=True,
    default=False,
    help="Let recommendations include products the customer already bought (excluded by default).",
)
# Set by the supervising command on the process that does the work (see supervisor.py).
@click.option("--run-id", default=None, hidden=True)
@click.pass_obj
@warehouse_options
def run(
    settings: Settings, raw_dir, as_of_date, horizon: int, top_k: int, include_bought: bool, run_id: str | None
) -> None:
    """Materialize the whole asset graph: raw files, quality gates, dbt marts, score tables.

    SIGTERM or SIGINT stops it within seconds: each table is then as before or wholly new."""
    if raw_dir:
        settings = settings.with_(raw_dir_override=raw_dir)
    if run_id is None:
        _supervise_run(settings, as_of_date, horizon, top_k, include_bought)
    from orchestration.runner import run_graph
    from retail_intel.warehouse import WarehouseBusyError, warehouse_for

    if settings.uses_shipped_sample:
        click.echo("No --raw-dir given: using the sample data shipped with the package.")
    click.echo(f"Materializing every asset for tenant {settings.tenant_id!r} from {settings.raw_dir}")
    started = time.perf_counter()
    try:
        report = run_graph(
            settings,
            as_of_date=as_of_date.date() if as_of_date else None,
            horizon=horizon,
            top_k=top_k,
            exclude_bought=not include_bought,
            run_id=run_id,
            log=click.echo,
        )
    except WarehouseBusyError as error:
        _fail(str(error), 2)
    checks = f"{report.passed_checks} checks passed"
    if report.warned_checks:
        checks += f", {len(report.warned_checks)} warnings"
    click.echo(f"{len(report.materialized)} assets materialized, {checks}")
    if not report.success:
        failures = "\n".join(report.failures) or "see the Dagster run log"
        _fail(
            f"the run failed:\n{failures}\n"
            f"Not materialized in this run: {_by_layer(report.not_run)}\n"
            "Nothing was published by the failed step or after it; those tables are unchanged.",
            2 if report.bad_input else 1,
        )
    click.echo(warehouse_for(settings).summarize().render())
    report = settings.tenant_dir / "reports" / "model_report.md"
    if report.exists():
        click.echo("")
        click.echo(report.read_text())
        click.echo(f"(report: {report}; table: {settings.schema('ml')}.model_metrics)")
    click.echo(f"Done in {time.perf_counter() - started:.1f}s")


def _supervise_run(settings: Settings, as_of_date, horizon: int, top_k: int, include_bought: bool) -> None:
    """This command again, in a child process that a stop signal kills (see supervisor.py); exits with its code."""
    import uuid

    from apps.supervisor import supervise

    run_id = str(uuid.uuid4())
    command = [sys.executable, "-m", "apps.cli", "--home", str(settings.home), "--tenant", settings.tenant_id]
    command += ["run", "--run-id", run_id, "--target", settings.target]
    command += ["--horizon", str(horizon), "--top-k", str(top_k)]
    if settings.raw_dir_override:
        command += ["--raw-dir", str(settings.raw_dir_override)]
    if settings.warehouse_override:
        command += ["--warehouse", str(settings.warehouse_override)]
    if as_of_date:
        command += ["--as-of-date", f"{as_of_date:%Y-%m-%d}"]
    if include_bought:
        command.append("--include-bought")

    def stopped(signum: int) -> None:
        import signal

        from orchestration.runner import cancel_run
        from retail_intel.warehouse import warehouse_for

        name = signal.Signals(signum).name
        warehouse_for(settings).discard_unpublished()
        published = cancel_run(settings, run_id, f"stopped by {name}")
        click.echo(
            f"error: stopped by {name}; Dagster run {run_id} canceled. Each table is as it was or wholly new: "
            f"published before the stop: {_by_layer(published)}. The build copies were removed; "
            "the next run needs no clean-up.",
            err=True,
        )

    sys.exit(supervise(command, stopped))


def _by_layer(asset_names: list[str]) -> str:
    """'raw: a, b; marts: c', layers in pipeline order."""
    order = [*LAYERS, "ml", "serving"]
    layers: dict[str, list[str]] = {}
    for name in asset_names:
        layer, _, table = name.partition("/")
        layers.setdefault(layer, []).append(table)
    ranked = sorted(layers.items(), key=lambda item: order.index(item[0]) if item[0] in order else len(order))
    return "; ".join(f"{layer}: {', '.join(tables)}" for layer, tables in ranked) or "nothing"


@main.command()
@click.option("--port", type=int, default=3000, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.pass_obj
@warehouse_options
def dev(settings: Settings, port: int, host: str) -> None:
    """Open the Dagster UI on this tenant's assets, checks, schedule and sensor."""
    from orchestration.dbt_project import prepare_manifest
    from orchestration.runner import prepare_dagster_home

    prepare_manifest(settings)
    prepare_dagster_home(settings)
    os.environ.update(
        RETAIL_INTEL_HOME=str(settings.home),
        RETAIL_INTEL_TENANT=settings.tenant_id,
        RETAIL_INTEL_TARGET=settings.target,
    )
    if settings.raw_dir_override:
        os.environ["RETAIL_INTEL_RAW_DIR"] = str(settings.raw_dir_override)
    if settings.warehouse_override:
        os.environ["RETAIL_INTEL_WAREHOUSE"] = str(settings.warehouse_override)
    dagster = str(Path(sys.executable).parent / "dagster")
    click.echo(f"Dagster UI on http://{host}:{port} (instance in {settings.dagster_home})")
    os.execv(dagster, [dagster, "dev", "-m", "orchestration.definitions", "--host", host, "--port", str(port)])


MODELS = ("revenue_forecast", "customer_segmenter", "recommender")


def _registry(settings: Settings):
    from ml.registry import ModelRegistry

    settings.tenant_dir.mkdir(parents=True, exist_ok=True)
    return ModelRegistry(settings.mlflow_tracking_uri, artifact_root=settings.mlflow_artifact_root)


@main.group()
def models() -> None:
    """List the tenant's model versions; freeze, unfreeze, promote and roll back champions."""


@models.command("list")
@click.pass_obj
def models_list(settings: Settings) -> None:
    """Every version of the tenant's models with its aliases and last promotion decision."""
    listing = _registry(settings).versions()
    listing = listing[listing["model"].str.startswith(f"{settings.tenant_id}.")]
    if listing.empty:
        click.echo(f"No model versions yet for tenant {settings.tenant_id!r} (MLflow: {settings.mlflow_tracking_uri}).")
        return
    click.echo(listing.drop(columns="run_id").to_string(index=False))


def _model_action(action: str, help_text: str, with_version: bool = False):
    @click.argument("model", type=click.Choice(MODELS))
    @click.pass_obj
    def command(settings: Settings, model: str, version: str | None = None) -> None:
        from ml.registry import RegistryError

        registry = _registry(settings)
        name = settings.registered_model_name(model)
        try:
            if action == "promote":
                registry.promote(name, version)
                click.echo(f"{name}: version {version} is now the champion")
            elif action == "rollback":
                click.echo(f"{name}: version {registry.rollback(name)} is the champion again")
            else:
                getattr(registry, action)(name)
                click.echo(f"{name}: {action}d")
        except RegistryError as error:
            _fail(str(error), 2)

    command.__doc__ = help_text
    if with_version:
        command = click.argument("version")(command)
    return models.command(action)(command)


_model_action("freeze", "Keep serving the current champion; no promotion until unfrozen.")
_model_action("unfreeze", "Allow promotions again.")
_model_action("promote", "Make VERSION the champion (a person's decision, recorded on the version).", with_version=True)
_model_action("rollback", "Make the previous champion the champion again.")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option(
    "--refresh-seconds",
    type=click.FloatRange(min=0.1),
    default=10.0,
    show_default=True,
    help="How often to look for a new champion or a newly published warehouse.",
)
@click.option(
    "--drain-seconds",
    type=click.FloatRange(min=0),
    default=30.0,
    show_default=True,
    help="On SIGTERM or SIGINT, how long requests in flight may take to finish before the service exits.",
)
@click.pass_obj
@warehouse_options
def serve(settings: Settings, host: str, port: int, refresh_seconds: float, drain_seconds: float) -> None:
    """Serve recommendations, similar products, segments and the forecast over HTTP (/docs for the schema)."""
    import uvicorn

    from apps.api.app import create_app
    from apps.rules import RulesError

    try:
        app = create_app(settings, refresh_seconds=refresh_seconds)
    except RulesError as error:
        _fail(str(error), 2)
    click.echo(f"Serving tenant {settings.tenant_id!r} on http://{host}:{port} (OpenAPI at /docs)")
    # On SIGTERM or SIGINT uvicorn stops accepting connections, lets requests in flight finish
    # (at most the bound below, so that one stuck client cannot hold a deploy), then exits by the
    # signal it received.
    uvicorn.run(
        app, host=host, port=port, log_level="warning", access_log=False, timeout_graceful_shutdown=drain_seconds
    )


@main.command()
@click.option(
    "--high-visibility", type=click.FloatRange(0, 1), default=None, help="Band threshold (rules file's by default)."
)
@click.option("--coupon", type=click.FloatRange(0, 1), default=None, help="Band threshold (rules file's by default).")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Campaign CSV. Default: <home>/tenants/<tenant>/campaigns/coupon_targets_<date>.csv.",
)
@click.pass_obj
@warehouse_options
def score(settings: Settings, high_visibility: float | None, coupon: float | None, out: Path | None) -> None:
    """Coupon targeting: write ml.coupon_targets and a campaign CSV, and summarise the bands."""
    import dataclasses
    from datetime import date

    from apps.activation import coupon_targets
    from apps.rules import Bands, RulesError, load_rules
    from retail_intel.switch import OFF, EngineSwitch
    from retail_intel.warehouse import warehouse_for

    engine = EngineSwitch(settings.engine_switch_path).current()
    if engine.state == OFF:
        _fail(
            f"the recommendation engine is off (set by {engine.changed_by} at {engine.changed_at}): nothing scored", 1
        )
    try:
        rules = load_rules(settings.rules_path)
        bands = Bands(
            high_visibility=rules.bands.high_visibility if high_visibility is None else high_visibility,
            coupon=rules.bands.coupon if coupon is None else coupon,
        )
    except (RulesError, ValueError) as error:
        _fail(str(error), 2)
    rules = dataclasses.replace(rules, bands=bands)
    warehouse = warehouse_for(settings)
    if not warehouse.exists("ml", "recommendations"):
        _fail("ml.recommendations is not published yet: run `retail-intel run` first", 1)
    frames = warehouse.read_consistent(
        {"products": ("marts", "products"), "customers": ("marts", "customer_rfm"), "lists": ("ml", "recommendations")}
    )
    products = frames["products"].set_index("product_id")["category"]
    states = frames["customers"].set_index("customer_unique_id")["customer_state"]
    result = coupon_targets(frames["lists"], products, states, rules)
    warehouse.write("ml", "coupon_targets", result.targets)
    out = out or settings.campaigns_dir / f"coupon_targets_{date.today().isoformat()}.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    campaign = result.targets.loc[result.targets["band"] != "standard"]
    campaign.to_csv(out, index=False)
    click.echo(f"ml.coupon_targets: {len(result.targets):,} customers (engine {engine.state}, rules {rules.version})")
    if result.without_items:
        click.echo(f"{result.without_items:,} customers had no item left after the business rules")
    click.echo("\n" + result.summary.to_string(index=False, float_format=lambda value: f"{value:.4g}"))
    click.echo(
        "\nexpected_purchases sums the calibrated probabilities: purchases of the recommended item within "
        "30 days, given that the customer buys something then."
    )
    click.echo("Thresholds that would target the most likely customers instead:")
    click.echo(result.suggestions.to_string(index=False, float_format=lambda value: f"{value:.4g}"))
    click.echo(f"\nCampaign file ({len(campaign):,} customers in the coupon and high-visibility bands): {out}")


@main.group()
def engine() -> None:
    """The recommendation engine's switch: on, frozen (no promotions) or off (nothing served)."""


def _engine_action(state: str, help_text: str):
    @click.option("--reason", default="", help="Why; kept in the audit log.")
    @click.option("--by", default=None, help="Who (default: the user running the command).")
    @click.pass_obj
    def command(settings: Settings, reason: str, by: str | None) -> None:
        from retail_intel.switch import EngineSwitch

        record = EngineSwitch(settings.engine_switch_path).set(state, by=by, reason=reason)
        click.echo(f"engine {record.previous} -> {record.state} (by {record.changed_by} at {record.changed_at})")

    command.__doc__ = help_text
    return engine.command({"on": "on", "frozen": "freeze", "off": "off"}[state])(command)


_engine_action("on", "Train, promote and serve normally.")
_engine_action("frozen", "Keep serving the current champion; training promotes nothing.")
_engine_action("off", "Serve nothing: the API answers 'disabled', the batch scorer and training skip.")


@engine.command("status")
@click.pass_obj
def engine_status(settings: Settings) -> None:
    """The current state and its audit log."""
    from retail_intel.switch import EngineSwitch

    switch = EngineSwitch(settings.engine_switch_path)
    current = switch.current()
    click.echo(f"engine: {current.state} (by {current.changed_by} at {current.changed_at or '-'})")
    for record in switch.history():
        click.echo(
            f"  {record.changed_at}  {record.previous} -> {record.state}  by {record.changed_by}  {record.reason}"
        )


if __name__ == "__main__":
    main()
