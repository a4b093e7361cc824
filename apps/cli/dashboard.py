"""``retail-intel dashboard``: the Streamlit dashboard of the tenant's warehouse (apps/dashboard/)."""

from __future__ import annotations

import click

from apps.cli.options import warehouse_options
from retail_intel.settings import Settings


@click.command()
@click.option("--port", type=click.IntRange(1, 65535), default=8501, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--operator", is_flag=True, help="Any tenant, chosen in the sidebar, and a page across all tenants.")
@click.pass_obj
@warehouse_options
def dashboard(settings: Settings, port: int, host: str, operator: bool) -> None:
    """Revenue with its forecast, segments, recommendations and coupons, model health and
    experiments, in the browser (after `retail-intel run`)."""
    import os
    import sys
    from pathlib import Path

    import apps.dashboard

    script = Path(apps.dashboard.__file__).parent / "app.py"
    environ = {**os.environ, **settings.environ()}
    command = [
        sys.executable, "-m", "streamlit", "run", str(script),
        "--server.port", str(port), "--server.address", host, "--server.headless", "true",
        "--browser.gatherUsageStats", "false", "--global.developmentMode", "false", "--client.toolbarMode", "viewer",
        "--", *(["--operator"] if operator else []),
    ]  # fmt: skip
    click.echo(f"dashboard of tenant {settings.tenant_id} on http://{host}:{port}/ (Ctrl-C stops)")
    # This process becomes Streamlit: a stop signal reaches the server itself, and its exit
    # code (a port in use, a bad address) is the command's.
    os.execve(sys.executable, command, environ)
