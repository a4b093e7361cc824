"""``retail-intel``: the platform's command line, one module per command or command group.

Exit codes: 0 success; 1 a build, a data test or a quality gate failed; 2 bad input (a raw
file, an option) or the warehouse is busy; 128 + the signal (143, 130) when SIGTERM or SIGINT
stopped a run. A failed step publishes nothing, and nothing after it runs.

Each command imports what it needs when it runs, so that loading the command line (``--help``)
stays fast.
"""

from __future__ import annotations

from pathlib import Path

import click

from apps.cli import (
    dashboard,
    dev,
    docs,
    engine,
    experiments,
    export,
    generate,
    models,
    monitor,
    run,
    score,
    serve,
    simulate,
    tenants,
)
from apps.cli.options import fail
from retail_intel.settings import PLATFORM_TENANT, Settings
from retail_intel.tenants import resolve


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
        settings = Settings.from_env(home=home, tenant_id=tenant)
    except ValueError as error:
        fail(str(error), 2)
    if settings.tenant_id == PLATFORM_TENANT:
        # Its warehouse holds the operator's table, rewritten after every run; no command runs as it.
        fail(f"tenant id {PLATFORM_TENANT!r} is reserved for the operator's own tables: name a client's tenant", 2)
    ctx.obj = resolve(settings)


main.add_command(generate.generate)
main.add_command(run.run)
main.add_command(dev.dev)
main.add_command(models.models)
main.add_command(serve.serve)
main.add_command(score.score)
main.add_command(engine.engine)
main.add_command(monitor.monitor)
main.add_command(simulate.simulate_feedback)
main.add_command(experiments.experiments)
main.add_command(tenants.tenants)
main.add_command(docs.docs)
main.add_command(export.export)
main.add_command(dashboard.dashboard)
