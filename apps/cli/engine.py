"""``retail-intel engine``: the recommendation engine's switch and its audit log."""

from __future__ import annotations

import click

from retail_intel.settings import Settings


@click.group()
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
