"""``retail-intel docs``: dbt's documentation site (models, columns, tests, lineage) of the tenant's warehouse."""

from __future__ import annotations

import click

from apps.cli.options import fail, warehouse_options
from retail_intel.settings import Settings


@click.command()
@click.option("--serve", is_flag=True, help="Serve the site on localhost after generating it.")
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True)
@click.pass_obj
@warehouse_options
def docs(settings: Settings, serve: bool, port: int) -> None:
    """Generate dbt's docs site for the tenant's warehouse (after `retail-intel run`)."""
    from orchestration.dbt_docs import generate_docs

    try:
        site = generate_docs(settings)
    except RuntimeError as error:
        fail(f"{error}\n(build the warehouse first: `retail-intel run`)", 1)
    click.echo(f"dbt docs for tenant {settings.tenant_id}: {site / 'index.html'}")
    if serve:
        import functools
        from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

        handler = functools.partial(SimpleHTTPRequestHandler, directory=str(site))
        with ThreadingHTTPServer(("127.0.0.1", port), handler) as server:
            click.echo(f"serving on http://127.0.0.1:{port}/ (Ctrl-C stops)")
            try:
                server.serve_forever()
            except KeyboardInterrupt:
                pass
