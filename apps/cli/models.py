"""``retail-intel models``: the tenant's model versions and their champions in the registry."""

from __future__ import annotations

import click

from apps.cli.options import fail
from retail_intel.settings import Settings

MODELS = ("revenue_forecast", "customer_segmenter", "recommender")


def _registry(settings: Settings):
    from orchestration.lineage import registry_for

    return registry_for(settings)


@click.group()
def models() -> None:
    """List the tenant's model versions; freeze, unfreeze, promote and roll back champions."""


@models.command("list")
@click.pass_obj
def models_list(settings: Settings) -> None:
    """Every version of the tenant's models with its aliases and last promotion decision."""
    listing = _registry(settings).versions()
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
            fail(str(error), 2)

    command.__doc__ = help_text
    if with_version:
        command = click.argument("version")(command)
    return models.command(action)(command)


_model_action("freeze", "Keep serving the current champion; no promotion until unfrozen.")
_model_action("unfreeze", "Allow promotions again.")
_model_action("promote", "Make VERSION the champion (a person's decision, recorded on the version).", with_version=True)
_model_action("rollback", "Make the previous champion the champion again.")
