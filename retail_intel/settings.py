"""One settings object from which every location is derived.

Many clients (tenants) are served from one pipeline. Nothing outside this module builds a
path, a schema name or a model name by hand: it asks `Settings`. Two tenants' settings never
share a warehouse file, schema or artifacts folder; they share the platform's registry, its
one Dagster instance (each tenant a partition) and its one MLflow store (each tenant's models
named after it), all under ``<home>/platform/``.

Environment variables (all optional):
    RETAIL_INTEL_HOME       root of all state; default ``./.retail-intel`` under the working directory
    RETAIL_INTEL_TENANT     tenant id; default ``default``
    RETAIL_INTEL_TARGET     ``duckdb`` (default) or ``postgres``
    RETAIL_INTEL_RAW_DIR    folder with the nine Olist CSV files; default: the shipped sample
    RETAIL_INTEL_WAREHOUSE  DuckDB file; default ``<tenant dir>/warehouse.duckdb``
    PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE   PostgreSQL connection (libpq's own names)
    RETAIL_INTEL_PG_LOCK_TIMEOUT  seconds a PostgreSQL publish waits for readers' locks; default 60
    RETAIL_INTEL_DAGSTER_STORAGE  ``sqlite`` (default) or ``postgres``: where Dagster keeps runs,
                            event logs and the tenant partitions (PostgreSQL: the PG* database)
    RETAIL_INTEL_MAX_CONCURRENT_RUNS  tenants' runs the Dagster instance runs at once; default half the cores
    RETAIL_INTEL_MONITORING  monitoring thresholds file; default the tenant's monitoring.yml, else the shipped one
    RETAIL_INTEL_ALERT_WEBHOOK    URL that alerts are POSTed to as JSON (besides the tenant's alerts.jsonl)
    RETAIL_INTEL_ALERT_SMTP_HOST, _SMTP_PORT, _SMTP_USER, _SMTP_PASSWORD, _FROM, _TO   alerts by e-mail
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

Target = Literal["duckdb", "postgres"]
TARGETS: tuple[Target, ...] = ("duckdb", "postgres")
DEFAULT_TENANT = "default"
# The operator's own space (retail_intel/tenant_status.py): reserved, never a client's id.
PLATFORM_TENANT = "platform"
LAYERS = ("raw", "staging", "intermediate", "marts")

# No "__": it separates the tenant from the layer in PostgreSQL schema names ("acme__marts"),
# so no tenant's schemas can start with another tenant's prefix.
_TENANT_ID = re.compile(r"^[a-z](?:_?[a-z0-9])*$")  # nor a trailing "_": "acme_" + "__raw" starts "acme__"
_PACKAGE_DIR = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    """A folder shipped with the code: ``dbt_project``, ``seeds`` or ``expectations``.

    A wheel carries them inside the package (``retail_intel/_bundled``); a source checkout
    or editable install has them at the repository root.
    """
    for candidate in (_PACKAGE_DIR / "_bundled" / name, _PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"the packaged folder {name!r} is missing: looked in {_PACKAGE_DIR / '_bundled'} "
        f"and {_PACKAGE_DIR.parent}; reinstall the package"
    )


def validate_tenant_id(tenant_id: str) -> str:
    if len(tenant_id) > 31 or not _TENANT_ID.match(tenant_id):
        raise ValueError(
            f"tenant id {tenant_id!r} is invalid: use 1-31 lower-case letters, digits or single "
            "underscores, starting with a letter and not ending with an underscore (it becomes part of schema names)"
        )
    return tenant_id


@dataclass(frozen=True)
class Settings:
    home: Path
    tenant_id: str = DEFAULT_TENANT
    target: Target = "duckdb"
    raw_dir_override: Path | None = None
    warehouse_override: Path | None = None
    env: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        validate_tenant_id(self.tenant_id)
        if self.target not in TARGETS:
            raise ValueError(f"target {self.target!r} is not one of {', '.join(TARGETS)}")

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: object) -> Settings:
        environ = dict(os.environ if environ is None else environ)
        raw_dir = environ.get("RETAIL_INTEL_RAW_DIR")
        warehouse = environ.get("RETAIL_INTEL_WAREHOUSE")
        settings = cls(
            home=Path(environ.get("RETAIL_INTEL_HOME") or Path.cwd() / ".retail-intel").resolve(),
            tenant_id=environ.get("RETAIL_INTEL_TENANT") or DEFAULT_TENANT,
            target=environ.get("RETAIL_INTEL_TARGET") or "duckdb",  # type: ignore[arg-type]
            raw_dir_override=Path(raw_dir).resolve() if raw_dir else None,
            warehouse_override=Path(warehouse).resolve() if warehouse else None,
            env=environ,
        )
        given = {key: value for key, value in overrides.items() if value is not None}
        return settings.with_(**given) if given else settings

    def environ(self) -> dict[str, str]:
        """The RETAIL_INTEL_* variables that give a child process these same settings (``from_env``)."""
        variables = {"RETAIL_INTEL_HOME": str(self.home), "RETAIL_INTEL_TENANT": self.tenant_id}
        variables["RETAIL_INTEL_TARGET"] = self.target
        if self.raw_dir_override:
            variables["RETAIL_INTEL_RAW_DIR"] = str(self.raw_dir_override)
        if self.warehouse_override:
            variables["RETAIL_INTEL_WAREHOUSE"] = str(self.warehouse_override)
        return variables

    def with_(self, **changes: object) -> Settings:
        for key in ("raw_dir_override", "warehouse_override", "home"):
            if isinstance(changes.get(key), (str, Path)):
                changes[key] = Path(changes[key]).resolve()  # type: ignore[arg-type]
        return replace(self, **changes)  # type: ignore[arg-type]

    # ---- files ---------------------------------------------------------------------------
    @property
    def registry_path(self) -> Path:
        """The tenant registry (retail_intel/tenants.py): the operator's, outside every tenant's folder."""
        return self.home / "platform" / "tenants.sqlite"

    @property
    def tenant_dir(self) -> Path:
        return self.home / "tenants" / self.tenant_id

    @property
    def raw_dir(self) -> Path:
        return self.raw_dir_override or resource_dir("seeds") / "olist_sample"

    @property
    def uses_shipped_sample(self) -> bool:
        return self.raw_dir_override is None

    @property
    def warehouse_path(self) -> Path:
        """The published DuckDB file that analysts and later steps read."""
        return self.warehouse_override or self.tenant_dir / "warehouse.duckdb"

    @property
    def build_dir(self) -> Path:
        """Where a DuckDB build is assembled before it replaces the published file.

        It sits beside the published file (same filesystem, so the swap is a rename) and
        the file inside keeps the published file's name, because DuckDB names its catalog
        after the file and the staging views refer to it.
        """
        return self.warehouse_path.parent / f".{self.warehouse_path.stem}.build"

    @property
    def publish_dir(self) -> Path:
        """Where a changed copy of the published DuckDB file (new raw tables, a score table) is
        written before it replaces the published file; beside it, like ``build_dir``."""
        return self.warehouse_path.parent / f".{self.warehouse_path.stem}.publish"

    @property
    def dbt_project_dir(self) -> Path:
        return resource_dir("dbt_project")

    @property
    def dbt_profiles_dir(self) -> Path:
        """A user's own DBT_PROFILES_DIR wins; otherwise the project's env-driven profiles.yml."""
        return Path(self.env.get("DBT_PROFILES_DIR") or self.dbt_project_dir)

    @property
    def quality_reports_dir(self) -> Path:
        """Great Expectations Data Docs (HTML) of the latest validations."""
        return self.tenant_dir / "quality"

    @property
    def dbt_state_dir(self) -> Path:
        """dbt's target/ and logs/ per tenant: the packaged project may be read-only."""
        return self.tenant_dir / "dbt"

    @property
    def dagster_home(self) -> Path:
        """One Dagster instance for every tenant (each one a partition): the operator's."""
        return self.home / "platform" / "dagster"

    @property
    def dagster_storage(self) -> str:
        """Where Dagster keeps its own runs and events: not the warehouse (that is ``target``)."""
        dagster_storage = self.env.get("RETAIL_INTEL_DAGSTER_STORAGE") or "sqlite"
        if dagster_storage not in ("sqlite", "postgres"):
            raise ValueError(f"RETAIL_INTEL_DAGSTER_STORAGE must be sqlite or postgres, got {dagster_storage!r}")
        return dagster_storage

    @property
    def max_concurrent_runs(self) -> int:
        """How many tenants' runs the Dagster instance runs at once (RETAIL_INTEL_MAX_CONCURRENT_RUNS)."""
        return int(self.env.get("RETAIL_INTEL_MAX_CONCURRENT_RUNS") or max(1, (os.cpu_count() or 2) // 2))

    @property
    def mlflow_store_dir(self) -> Path:
        return self.home / "platform"

    @property
    def mlflow_tracking_uri(self) -> str:
        """One MLflow store for every tenant, which the operator browses (``mlflow ui``); each
        tenant sees only its own models in it (ml.registry.ModelRegistry's namespace). Runs of
        several tenants at once write to it together: give it a server database then
        (MLFLOW_TRACKING_URI=postgresql+psycopg2://...), not the SQLite file."""
        return self.env.get("MLFLOW_TRACKING_URI") or f"sqlite:///{self.mlflow_store_dir / 'mlflow.db'}"

    @property
    def mlflow_artifact_root(self) -> Path:
        """Where run artifacts go. MLflow's own default, ./mlruns, would follow the working directory."""
        return self.tenant_dir / "mlartifacts"

    @property
    def rules_path(self) -> Path:
        """Business rules for serving and activation: RETAIL_INTEL_RULES, else the tenant's own
        ``business_rules.yml``, else the defaults shipped with the package."""
        if self.env.get("RETAIL_INTEL_RULES"):
            return Path(self.env["RETAIL_INTEL_RULES"]).resolve()
        own = self.tenant_dir / "business_rules.yml"
        return own if own.exists() else _PACKAGE_DIR / "business_rules.yml"

    @property
    def alerts_path(self) -> Path:
        """Every alert sent for the tenant, one JSON line each (the file sink, always on)."""
        return self.tenant_dir / "alerts.jsonl"

    @property
    def alert_ledger_path(self) -> Path:
        """The open breaches of every tenant: the platform's, like the registry."""
        return self.home / "platform" / "alerts.sqlite"

    @property
    def monitoring_config_path(self) -> Path:
        """Monitoring thresholds: RETAIL_INTEL_MONITORING, else the tenant's own ``monitoring.yml``,
        else the defaults shipped with the package (retail_intel/monitoring_config.py)."""
        if self.env.get("RETAIL_INTEL_MONITORING"):
            return Path(self.env["RETAIL_INTEL_MONITORING"]).resolve()
        own = self.tenant_dir / "monitoring.yml"
        return own if own.exists() else _PACKAGE_DIR / "monitoring.yml"

    @property
    def engine_switch_path(self) -> Path:
        """The recommendation engine's on/frozen/off state; its audit log sits beside it."""
        return self.tenant_dir / "engine_switch.json"

    @property
    def experiments_path(self) -> Path:
        """The tenant's online experiments and their audit (retail_intel/experiments.py)."""
        return self.tenant_dir / "experiments.sqlite"

    @property
    def events_path(self) -> Path:
        """DuckDB file of serving events (impressions, clicks, ...). Not the published warehouse
        file: that one is replaced by every run and opened read-only by the service."""
        return self.tenant_dir / "serving_events.duckdb"

    @property
    def campaigns_dir(self) -> Path:
        return self.tenant_dir / "campaigns"

    @property
    def tableau_dir(self) -> Path:
        """Where ``retail-intel export tableau`` writes the tenant's extracts and data sources."""
        return self.tenant_dir / "tableau"

    def registered_model_name(self, model: str) -> str:
        return f"{self.tenant_id}.{model}"

    @property
    def postgres_dsn_description(self) -> str:
        """Where PostgreSQL is, for messages: never includes the password."""
        env = self.env or os.environ
        return (
            f"postgresql://{env.get('PGUSER', 'postgres')}@{env.get('PGHOST', 'localhost')}:"
            f"{env.get('PGPORT', '5432')}/{env.get('PGDATABASE', 'retail_intel')}"
        )

    @property
    def publish_lock_timeout_seconds(self) -> float:
        """How long a PostgreSQL publish waits for the locks that readers hold on the tables it
        replaces before it gives up, names them and leaves the published schemas as they were."""
        raw = (self.env or os.environ).get("RETAIL_INTEL_PG_LOCK_TIMEOUT", "60")
        try:
            seconds = float(raw)
        except ValueError:
            raise ValueError(f"RETAIL_INTEL_PG_LOCK_TIMEOUT must be a number of seconds, got {raw!r}") from None
        if not 0 < seconds < 86_400:
            raise ValueError(f"RETAIL_INTEL_PG_LOCK_TIMEOUT must lie between 0 and 86400 seconds, got {raw!r}")
        return seconds
