"""``retail-intel run --all-tenants``: every active tenant's run, one after another, each in a
process of its own (as ``retail-intel --tenant ID run``), so that one tenant's bad input or
failure stops only its own run. One summary line per tenant, then a total; each tenant's
full output goes to ``<tenant dir>/logs/run_all_tenants.log``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import click

from apps.cli.options import fail
from retail_intel.settings import Settings
from retail_intel.tenants import TenantRegistry, resolve

TENANT_VARIABLES = ("RETAIL_INTEL_WAREHOUSE", "RETAIL_INTEL_RAW_DIR", "RETAIL_INTEL_TENANT")


class _Stopped(Exception):
    def __init__(self, signum: int) -> None:
        self.signum = signum


def run_all_tenants(settings: Settings, options: list[str]) -> None:
    """``options``: the run options every tenant's run gets (horizon, top-k, as-of date...)."""
    registry = TenantRegistry.of(settings)
    tenants = registry.list()
    if not tenants:
        fail(f"no active tenant in {settings.registry_path}; add them with `retail-intel tenants add`", 2)
    click.echo(f"Running {len(tenants)} tenants one after another from {settings.registry_path}")
    current: dict[str, subprocess.Popen | None] = {"process": None}

    def forward(signum: int, _frame) -> None:
        process = current["process"]
        if process is not None and process.poll() is None:
            process.send_signal(signum)  # the tenant's run stops cleanly (see supervisor.py)
        raise _Stopped(signum)

    previous = {signum: signal.signal(signum, forward) for signum in (signal.SIGTERM, signal.SIGINT)}
    started = time.perf_counter()
    outcomes: list[tuple[str, str]] = []
    try:
        for tenant in tenants:
            own = resolve(settings.with_(tenant_id=tenant.tenant_id, raw_dir_override=None, warehouse_override=None))
            log_path = own.tenant_dir / "logs" / "run_all_tenants.log"
            log_path.parent.mkdir(parents=True, exist_ok=True)
            command = [sys.executable, "-m", "apps.cli", "--home", str(settings.home), "--tenant", tenant.tenant_id]
            command += ["run", "--target", settings.target, *options]
            tenant_started = time.perf_counter()
            before = registry.last_runs().get(tenant.tenant_id)
            with log_path.open("w") as log:
                current["process"] = subprocess.Popen(
                    command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=_child_env()
                )
                code = current["process"].wait()
            current["process"] = None
            seconds = time.perf_counter() - tenant_started
            outcome = "ok" if code == 0 else f"failed (exit {code})"
            outcomes.append((tenant.tenant_id, outcome))
            detail = _detail(registry, tenant, code, log_path, before)
            click.echo(f"  {tenant.tenant_id:<31} {outcome:<16} {seconds:7.1f} s  {detail}")
    except _Stopped as stopped:
        if current["process"] is not None:
            current["process"].wait()
        name = signal.Signals(stopped.signum).name
        not_run = [tenant.tenant_id for tenant in tenants[len(outcomes) :]]
        click.echo(f"error: stopped by {name}; not run or not finished: {', '.join(not_run)}", err=True)
        sys.exit(128 + stopped.signum)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    failed = [tenant for tenant, outcome in outcomes if outcome != "ok"]
    click.echo(
        f"{len(outcomes)} tenants in {time.perf_counter() - started:.1f} s: "
        f"{len(outcomes) - len(failed)} ok, {len(failed)} failed" + (f" ({', '.join(failed)})" if failed else "")
    )
    if failed:
        sys.exit(1)


def _child_env() -> dict[str, str]:
    """This environment without the variables that name one tenant's folder, file or id: each
    tenant's run must take its own from the registry, not all of them the same one."""
    return {key: value for key, value in os.environ.items() if key not in TENANT_VARIABLES}


def _detail(registry: TenantRegistry, tenant, code: int, log_path, before: dict | None) -> str:
    """The run's failed-check count, or its first failure (the child's last error line when the
    run did not get as far as recording itself, e.g. a missing raw folder). ``before``: the
    tenant's last recorded run before this one, whose outcome is not this run's."""
    run = registry.last_runs().get(tenant.tenant_id)
    if run is not None and before is not None and run["run_id"] == before["run_id"]:
        run = None
    if code == 0 and run is not None:
        return f"{run['failed_checks']} failed checks" if run["failed_checks"] else "all checks passed"
    lines = log_path.read_text(errors="replace").splitlines()
    first = (run or {}).get("first_failure") or "see the log"
    for index, line in enumerate(lines):
        if line.startswith("error:"):
            # "error: the run failed:" has its reasons on the lines after it.
            first = lines[index + 1] if line.endswith(":") and index + 1 < len(lines) else line[len("error: ") :]
            break
    return f"{first.strip()[:150]} (log: {log_path})"
