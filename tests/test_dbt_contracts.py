"""The marts that BI tools, the Tableau data source and the models read keep their columns and
types under an enforced dbt contract: a change of name or type fails the dbt build, not a
dashboard later."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import yaml
from dbt.cli.main import dbtRunner

from retail_intel.settings import resource_dir

MARTS_YML = Path("models") / "marts" / "_marts__models.yml"
# Written so that DuckDB and PostgreSQL name the type alike when dbt compares the model's
# columns with the contract (it casts null to each declared type on the target itself).
PORTABLE_TYPES = {"text", "date", "timestamp", "boolean", "integer", "bigint", "numeric(18,2)", "double precision"}


def _mart_models(project: Path) -> list[dict]:
    return yaml.safe_load((project / MARTS_YML).read_text())["models"]


def test_every_mart_has_an_enforced_contract_with_portable_types():
    project = resource_dir("dbt_project")
    folder_config = yaml.safe_load((project / "dbt_project.yml").read_text())["models"]["retail_intel"]["marts"]
    assert folder_config["+contract"] == {"enforced": True}
    mart_files = sorted(path.stem for path in (project / "models" / "marts").glob("*.sql"))
    models = _mart_models(project)
    assert sorted(model["name"] for model in models) == mart_files
    for model in models:
        for column in model["columns"]:
            assert column.get("data_type") in PORTABLE_TYPES, (model["name"], column["name"], column.get("data_type"))


def _dbt_run(project: Path, warehouse: Path, select: str) -> tuple[bool, str]:
    """``dbt run`` of one model of ``project`` on a copy of a built DuckDB file."""
    environ = {"RETAIL_INTEL_DUCKDB_PATH": str(warehouse), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    saved = {name: os.environ.get(name) for name in environ}
    os.environ.update(environ)
    messages: list[str] = []
    try:
        result = dbtRunner(callbacks=[lambda event: messages.append(event.info.msg)]).invoke(
            [
                "run",
                "--select",
                select,
                "--project-dir",
                str(project),
                "--profiles-dir",
                str(project),
                "--target",
                "duckdb",
                "--target-path",
                str(project / "target"),
                "--log-path",
                str(project / "logs"),
            ]
        )
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return result.success, "\n".join(str(message) for message in messages)


def test_a_type_change_fails_the_build(built_duckdb, tmp_path):
    settings, _ = built_duckdb
    project = tmp_path / "dbt_project"
    shutil.copytree(resource_dir("dbt_project"), project, ignore=shutil.ignore_patterns("target", "logs"))
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(settings.warehouse_path, warehouse)

    unchanged, output = _dbt_run(project, warehouse, "daily_revenue")
    assert unchanged, output

    # What a careless edit would do: revenue becomes a whole number of reais.
    marts_yml = project / MARTS_YML
    text = marts_yml.read_text()
    daily_revenue = text.index("  - name: daily_revenue")
    revenue = text.index("      - name: revenue\n        data_type: numeric(18,2)", daily_revenue)
    marts_yml.write_text(text[:revenue] + text[revenue:].replace("numeric(18,2)", "bigint", 1))
    changed, output = _dbt_run(project, warehouse, "daily_revenue")
    assert not changed
    # dbt's table of mismatches names the column and both types.
    assert re.search(r"^\s*\|\s*revenue\s*\|.*\|.*BIGINT.*\|.*mismatch", output, re.IGNORECASE | re.MULTILINE), output
